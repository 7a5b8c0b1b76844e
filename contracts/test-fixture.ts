import { Blockchain, type SandboxContract, type TreasuryContract } from '@ton/sandbox'
import { expect } from 'vitest'
import { Address, toNano, type Cell, type Transaction } from '@ton/core'
import { keyPairFromSeed, type KeyPair } from '@ton/crypto'
import { flattenTransaction, findTransactionRequired, type FlatTransactionComparable } from '@ton/test-utils'
import { buildVoucher, signCell, ZERO_ROOT } from '../protocol/cells.ts'
import { Registry } from './Registry.ts'
import { Provider } from './Provider.ts'
import { Channel } from './Channel.ts'

// Shared sandbox setup for the contract tests: a Registry, a registered Provider and an open Channel.

// Addresses parsed from a getter carry cached fields that a fresh Address lacks: compare by value.
expect.addEqualityTesters([
  (a: unknown, b: unknown) => a instanceof Address && b instanceof Address ? a.equals(b) : undefined
])

export const START = 1_750_000_000
export const FEE_BPS = 250
export const MIN_STAKE = toNano('10')
export const CLOSE_DELAY = 3600
export const STAKE = toNano('20')
export const DEPOSIT = toNano('5')

export interface Fixture {
  blockchain: Blockchain
  owner: SandboxContract<TreasuryContract>
  providerOwner: SandboxContract<TreasuryContract>
  client: SandboxContract<TreasuryContract>
  stranger: SandboxContract<TreasuryContract>
  /** the node's own wallet, which sends claims (anyone may) */
  nodeWallet: SandboxContract<TreasuryContract>
  clientKeys: KeyPair
  nodeKeys: KeyPair
  registry: SandboxContract<Registry>
}

export async function deployRegistry (): Promise<Fixture> {
  const blockchain = await Blockchain.create()
  blockchain.now = START
  const owner = await blockchain.treasury('owner')
  const providerOwner = await blockchain.treasury('provider-owner')
  const client = await blockchain.treasury('client')
  const stranger = await blockchain.treasury('stranger')
  const nodeWallet = await blockchain.treasury('node-wallet')
  const registry = blockchain.openContract(Registry.createFromConfig({
    owner: owner.address, feeBps: FEE_BPS, minStake: MIN_STAKE, closeDelay: CLOSE_DELAY
  }))
  const result = await registry.sendDeploy(owner.getSender(), toNano('1'))
  findTransactionRequired(result.transactions, { from: owner.address, to: registry.address, deploy: true, success: true })
  return {
    blockchain, owner, providerOwner, client, stranger, nodeWallet, registry,
    clientKeys: keyPairFromSeed(Buffer.alloc(32, 1)),
    nodeKeys: keyPairFromSeed(Buffer.alloc(32, 2))
  }
}

export interface ChannelFixture extends Fixture {
  provider: SandboxContract<Provider>
  channel: SandboxContract<Channel>
}

export async function openChannel (): Promise<ChannelFixture> {
  const f = await deployRegistry()
  await f.registry.sendRegisterProvider(f.providerOwner.getSender(), { nodeKey: f.nodeKeys.publicKey, stake: STAKE })
  const provider = f.blockchain.openContract(Provider.createFromAddress(
    await f.registry.getProviderAddress(f.providerOwner.address, f.nodeKeys.publicKey)))
  await f.registry.sendOpenChannel(f.client.getSender(), {
    clientKey: f.clientKeys.publicKey, providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey, deposit: DEPOSIT
  })
  const channel = f.blockchain.openContract(Channel.createFromAddress(await f.registry.getChannelAddress(
    f.client.address, f.clientKeys.publicKey, f.providerOwner.address, f.nodeKeys.publicKey)))
  return { ...f, provider, channel }
}

/** A voucher for `channel`, signed by the client and counter-signed by the node (or by the given keys). */
export function signedVoucher (
  f: Pick<Fixture, 'clientKeys' | 'nodeKeys'>,
  opts: { channel: Address, seqno: number, amount: bigint, receiptsRoot?: Buffer, clientKey?: KeyPair, nodeKey?: KeyPair }
): { voucher: Cell, clientSig: Buffer, nodeSig: Buffer } {
  const voucher = buildVoucher({ channel: opts.channel, seqno: opts.seqno, amount: opts.amount, receiptsRoot: opts.receiptsRoot ?? ZERO_ROOT })
  return {
    voucher,
    clientSig: signCell(voucher, (opts.clientKey ?? f.clientKeys).secretKey),
    nodeSig: signCell(voucher, (opts.nodeKey ?? f.nodeKeys).secretKey)
  }
}

/** The value carried by the one message matching `cmp`. */
export function valueOf (txs: Transaction[], cmp: FlatTransactionComparable): bigint {
  const value = flattenTransaction(findTransactionRequired(txs, cmp)).value
  if (value === undefined) throw new Error('transaction has no inbound value')
  return value
}

/** Everything a message cascade burnt in fees: each transaction's fees plus the forward fees of its outgoing messages. */
export function cascadeFees (txs: Transaction[]): bigint {
  let total = 0n
  for (const tx of txs) {
    total += tx.totalFees.coins
    for (const msg of tx.outMessages.values()) {
      if (msg.info.type === 'internal') total += msg.info.forwardFee
    }
  }
  return total
}

export function computeGas (tx: Transaction): bigint {
  if (tx.description.type !== 'generic' || tx.description.computePhase.type !== 'vm') return 0n
  return tx.description.computePhase.gasUsed
}

export function storageFees (tx: Transaction): bigint {
  if (tx.description.type !== 'generic') return 0n
  return tx.description.storagePhase?.storageFeesCollected ?? 0n
}
