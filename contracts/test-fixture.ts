import { Blockchain, type SandboxContract, type TreasuryContract } from '@ton/sandbox'
import { expect } from 'vitest'
import { Address, toNano, type Cell, type Transaction } from '@ton/core'
import { keyPairFromSeed, type KeyPair } from '@ton/crypto'
import { flattenTransaction, findTransactionRequired, type FlatTransactionComparable } from '@ton/test-utils'
import { createPrivateKey, sign as nodeSign, type KeyObject } from 'node:crypto'
import { buildCloseRequest, buildVoucher, GLOBAL_IDS, ZERO_ROOT } from '../protocol/cells.ts'
import { configWithGlobalId } from './network.ts'
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
export const UNBONDING_DELAY = 7 * 86_400
export const SLASH_SHARE_BPS = 3_000
/** The sandbox runs as the local network (config param 19 = -7331), as the devnet does. */
export const GLOBAL_ID = GLOBAL_IDS.local
/** The first channel's nonce. */
export const NONCE = 1n
/**
 * Basechain gas prices (config param 21): a message's value buys 100 gas flat for 40,000 nanoton,
 * then 400 nanoton per gas; below 40,000 nanoton it buys none and the compute phase is skipped.
 */
export const FLAT_GAS_PRICE = 40_000n
export const FLAT_GAS_LIMIT = 100n
/** Gas the Registry's code root spends accepting a protocol_fee (contracts/compile.ts). */
export const PROTOCOL_FEE_GAS = 93n

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

/** A sandbox whose config param 19 says `globalId` (default: the local network). */
export async function sandbox (globalId: number = GLOBAL_ID): Promise<Blockchain> {
  const blockchain = await Blockchain.create()
  blockchain.setConfig(configWithGlobalId(blockchain.config, globalId))
  blockchain.now = START
  return blockchain
}

export async function deployRegistry (): Promise<Fixture> {
  const blockchain = await sandbox()
  const owner = await blockchain.treasury('owner')
  const providerOwner = await blockchain.treasury('provider-owner')
  const client = await blockchain.treasury('client')
  const stranger = await blockchain.treasury('stranger')
  const nodeWallet = await blockchain.treasury('node-wallet')
  const registry = blockchain.openContract(Registry.createFromConfig({
    owner: owner.address, globalId: GLOBAL_ID, feeBps: FEE_BPS, minStake: MIN_STAKE, closeDelay: CLOSE_DELAY,
    unbondingDelay: UNBONDING_DELAY, slashShareBps: SLASH_SHARE_BPS
  }))
  const result = await registry.sendDeploy(owner.getSender(), toNano('3'))
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

/** The node key's signature over the Registration of `owner` at the fixture's Registry. */
export function registrationSig (f: Pick<Fixture, 'registry'>, owner: Address, nodeKeys: KeyPair, globalId: number = GLOBAL_ID): Buffer {
  return Registry.signRegistration({ globalId, registry: f.registry.address, owner, nodeSecretKey: nodeKeys.secretKey })
}

/** register_provider from `owner` (default: the provider owner) for `nodeKeys` (default: the node's), properly signed. */
export async function register (
  f: Fixture, opts: { owner?: SandboxContract<TreasuryContract>, nodeKeys?: KeyPair, stake?: bigint, value?: bigint } = {}
): Promise<Awaited<ReturnType<SandboxContract<Registry>['sendRegisterProvider']>>> {
  const owner = opts.owner ?? f.providerOwner
  const nodeKeys = opts.nodeKeys ?? f.nodeKeys
  return await f.registry.sendRegisterProvider(owner.getSender(), {
    nodeKey: nodeKeys.publicKey, stake: opts.stake ?? STAKE, signature: registrationSig(f, owner.address, nodeKeys), value: opts.value
  })
}

export async function openChannel (): Promise<ChannelFixture> {
  const f = await deployRegistry()
  await register(f)
  const provider = f.blockchain.openContract(Provider.createFromAddress(
    await f.registry.getProviderAddress(f.providerOwner.address, f.nodeKeys.publicKey)))
  await f.registry.sendOpenChannel(f.client.getSender(), {
    clientKey: f.clientKeys.publicKey, providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey, deposit: DEPOSIT, nonce: NONCE
  })
  const channel = f.blockchain.openContract(Channel.createFromAddress(await f.registry.getChannelAddress(
    f.client.address, f.clientKeys.publicKey, f.providerOwner.address, f.nodeKeys.publicKey, NONCE)))
  return { ...f, provider, channel }
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const nodeKeys = new Map<string, KeyObject>()

/**
 * Ed25519 over the cell hash, as protocol/cells.ts signCell, through node:crypto (native, ~100x
 * faster than the pure-JS signer; Ed25519 is deterministic, so the signature bytes are identical).
 */
export function fastSignCell (cell: Cell, secretKey: Buffer): Buffer {
  const seed = secretKey.subarray(0, 32)
  const id = seed.toString('hex')
  let key = nodeKeys.get(id)
  if (key === undefined) {
    key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' })
    nodeKeys.set(id, key)
  }
  return nodeSign(null, cell.hash(), key)
}

/** A voucher for `channel`, signed by the client and counter-signed by the node (or by the given keys). */
export function signedVoucher (
  f: Pick<Fixture, 'clientKeys' | 'nodeKeys'>,
  opts: { channel: Address, seqno: number, amount: bigint, receiptsRoot?: Buffer, clientKey?: KeyPair, nodeKey?: KeyPair, globalId?: number }
): { voucher: Cell, clientSig: Buffer, nodeSig: Buffer } {
  const voucher = buildVoucher({ globalId: opts.globalId ?? GLOBAL_ID, channel: opts.channel, seqno: opts.seqno, amount: opts.amount, receiptsRoot: opts.receiptsRoot ?? ZERO_ROOT })
  return {
    voucher,
    clientSig: fastSignCell(voucher, (opts.clientKey ?? f.clientKeys).secretKey),
    nodeSig: fastSignCell(voucher, (opts.nodeKey ?? f.nodeKeys).secretKey)
  }
}

/** A close_request for `channel`, signed by the client and by the node (or by the given keys). */
export function signedCloseRequest (
  f: Pick<Fixture, 'clientKeys' | 'nodeKeys'>,
  opts: { channel: Address, seqno: number, amount: bigint, receiptsRoot?: Buffer, clientKey?: KeyPair, nodeKey?: KeyPair, globalId?: number }
): { request: Cell, clientSig: Buffer, nodeSig: Buffer } {
  const request = buildCloseRequest({ globalId: opts.globalId ?? GLOBAL_ID, channel: opts.channel, seqno: opts.seqno, amount: opts.amount, receiptsRoot: opts.receiptsRoot ?? ZERO_ROOT })
  return {
    request,
    clientSig: fastSignCell(request, (opts.clientKey ?? f.clientKeys).secretKey),
    nodeSig: fastSignCell(request, (opts.nodeKey ?? f.nodeKeys).secretKey)
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

/** Forward fees of everything a transaction sent. */
export function forwardFees (tx: Transaction): bigint {
  let total = 0n
  for (const msg of tx.outMessages.values()) if (msg.info.type === 'internal') total += msg.info.forwardFee
  return total
}

export function computeGas (tx: Transaction): bigint {
  if (tx.description.type !== 'generic' || tx.description.computePhase.type !== 'vm') return 0n
  return tx.description.computePhase.gasUsed
}

/** How the compute phase of `tx` went: gas and exit code, or skipped with its reason. */
export function computeOutcome (tx: Transaction): { skipped: false, gas: bigint, exitCode: number, success: boolean } | { skipped: true, reason: string } {
  if (tx.description.type !== 'generic') throw new Error('not an ordinary transaction')
  const cp = tx.description.computePhase
  if (cp.type === 'skipped') return { skipped: true, reason: cp.reason }
  return { skipped: false, gas: cp.gasUsed, exitCode: cp.exitCode, success: cp.success && tx.description.actionPhase?.success !== false && !tx.description.aborted }
}

/**
 * Checks the Registry's transaction for a protocol_fee of `value`: from 40,000 nanoton up it succeeds
 * with exit code 0 on PROTOCOL_FEE_GAS (all paid by the flat price); below, the network runs no code,
 * and the value is credited whole. Either way the Registry keeps value − its fees and sends nothing.
 */
export function expectFeeAccepted (tx: Transaction, value: bigint): void {
  expect(tx.outMessagesCount).toBe(0)
  const outcome = computeOutcome(tx)
  if (value >= FLAT_GAS_PRICE) {
    expect(outcome).toEqual({ skipped: false, gas: PROTOCOL_FEE_GAS, exitCode: 0, success: true })
    expect(tx.totalFees.coins - storageFees(tx)).toBe(FLAT_GAS_PRICE)
  } else {
    expect(outcome).toEqual({ skipped: true, reason: 'no-gas' })
    expect(tx.totalFees.coins).toBe(storageFees(tx))
  }
}

export function storageFees (tx: Transaction): bigint {
  if (tx.description.type !== 'generic') return 0n
  return tx.description.storagePhase?.storageFeesCollected ?? 0n
}

function accountOf (tx: Transaction): Address | undefined {
  const info = tx.inMessage?.info
  return info === undefined || info.type === 'external-out' ? undefined : info.dest
}

/**
 * What each transaction did to its account's balance, from its own record: + the inbound value,
 * - every outbound value and forward fee, - the transaction's total fees (storage, import, compute,
 * action). Keyed by raw address.
 */
export function balanceEffects (txs: Transaction[]): Map<string, bigint> {
  const effects = new Map<string, bigint>()
  for (const tx of txs) {
    const account = accountOf(tx)
    if (account === undefined) throw new Error('transaction without a destination')
    let delta = -tx.totalFees.coins
    const info = tx.inMessage?.info
    if (info?.type === 'internal') delta += info.value.coins
    for (const msg of tx.outMessages.values()) {
      if (msg.info.type === 'internal') delta -= msg.info.value.coins + msg.info.forwardFee
    }
    const key = account.toRawString()
    effects.set(key, (effects.get(key) ?? 0n) + delta)
  }
  return effects
}

/**
 * Balance bookkeeping to the nanoton: `snap()` the balances of every party, run a cascade, then
 * `expectExact(txs)` checks that each party's balance moved by exactly what its transactions
 * received, sent and paid in fees — no value created or lost anywhere — and that no transaction
 * touched an account outside the list.
 */
export class Ledger {
  private before = new Map<string, bigint>()
  constructor (private readonly blockchain: Blockchain, private readonly addresses: Address[]) {}

  add (address: Address): void { this.addresses.push(address) }

  async balance (address: Address): Promise<bigint> {
    return (await this.blockchain.getContract(address)).balance
  }

  async snap (): Promise<void> {
    this.before = new Map()
    for (const a of this.addresses) this.before.set(a.toRawString(), await this.balance(a))
  }

  /** Balance change of `address` since snap(). */
  async delta (address: Address): Promise<bigint> {
    const before = this.before.get(address.toRawString())
    if (before === undefined) throw new Error(`${address.toString()} is not tracked`)
    return await this.balance(address) - before
  }

  async expectExact (txs: Transaction[]): Promise<void> {
    const effects = balanceEffects(txs)
    for (const key of effects.keys()) expect(this.before.has(key), `untracked account ${key} took part`).toBe(true)
    for (const a of this.addresses) {
      expect(await this.delta(a), `balance of ${a.toString()}`).toBe(effects.get(a.toRawString()) ?? 0n)
    }
  }
}

export function ledgerFor (f: Fixture, ...more: Address[]): Ledger {
  return new Ledger(f.blockchain, [
    f.owner.address, f.providerOwner.address, f.client.address, f.stranger.address, f.nodeWallet.address, f.registry.address, ...more
  ])
}

/** Total fees of the transactions matching `cmp`, e.g. what a payee paid to receive a payout. */
export function feesOf (txs: Transaction[], cmp: FlatTransactionComparable): bigint {
  return findTransactionRequired(txs, cmp).totalFees.coins
}
