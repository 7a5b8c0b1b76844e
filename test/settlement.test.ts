import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Address, fromNano, internal, toNano } from '@ton/core'
import type { TonClient } from '@ton/ton'
import { pino } from 'pino'
import { deployRegistry, registerProvider, waitUntil } from '../chain/operations.ts'
import { chainClient, faucet, sendAndWait, walletFromKey, walletSender, type KeyWallet } from '../chain/client.ts'
import { Channel, channelAddress, Registry } from '../contracts/index.ts'
import { startDevnet, type Devnet } from '../devnet/server.ts'
import { NodeMetrics } from '../node/metrics.ts'
import { CLAIM_COSTS, explorerFor, Settlement, type SettledPayout } from '../node/settlement.ts'
import { VoucherStore } from '../node/vouchers.ts'
import { buildVoucher, GLOBAL_IDS, signCell } from '../protocol/cells.ts'
import { identityFromSeed, type Identity } from '../protocol/keys.ts'

// Settlement against a local chain: the claim policy decides what is sent, and what the owner's
// wallet really received is recorded and shown by `silk payouts`. The fee share is 50 % here, so
// the economic minimum is 0.0204 TON (fees 0.0102 TON) and small vouchers show each branch.

const GLOBAL_ID = GLOBAL_IDS.local
const MAX_FEE_BPS = 5_000
const CLI = new URL('../cli/bin.js', import.meta.url).pathname
const run = promisify(execFile)

describe('claim economics on a local chain', () => {
  let devnet: Devnet
  let chain: TonClient
  let registry: Address
  let dir: string
  let node: Identity
  let owner: KeyWallet
  let client: KeyWallet
  let vouchers: VoucherStore
  let settlement: Settlement
  let metrics: NodeMetrics
  let nonce = 0

  beforeAll(async () => {
    devnet = await startDevnet()
    chain = chainClient(devnet.endpoint)
    dir = await mkdtemp(join(tmpdir(), 'silk-settle-'))
    const governor = walletFromKey(randomBytes(32))
    await faucet(devnet.baseUrl, governor.address, toNano('10'))
    registry = (await deployRegistry(chain, governor, { globalId: GLOBAL_ID, feeBps: 250, minStake: toNano('10'), closeDelay: 3600 })).address
    node = await identityFromSeed(randomBytes(32))
    owner = walletFromKey(randomBytes(32))
    client = walletFromKey(randomBytes(32))
    await faucet(devnet.baseUrl, owner.address, toNano('20'))
    await faucet(devnet.baseUrl, client.address, toNano('20'))
    const gas = walletFromKey(node.keyPair)
    await faucet(devnet.baseUrl, gas.address, toNano('2'))
    // deploy the gas wallet first, so the claims below cost what a running node's claims cost
    await sendAndWait(chain, gas, { messages: [internal({ to: owner.address, value: 1n, bounce: false })] })
    await registerProvider(chain, registry, owner, node.keyPair, toNano('10'), GLOBAL_ID)
    vouchers = new VoucherStore(join(dir, 'data'))
    await vouchers.start()
    metrics = new NodeMetrics()
    settlement = new Settlement(
      { chain, identity: node, vouchers, logger: pino({ level: 'silent' }), metrics },
      { threshold: 0n, policy: { maxFeeBps: MAX_FEE_BPS, costs: CLAIM_COSTS }, explorer: explorerFor('local', devnet.endpoint), watchIntervalMs: 0 }
    )
  }, 120_000)

  afterAll(async () => {
    await settlement?.stop()
    await vouchers?.stop()
    await devnet?.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** A fresh channel from the client to this node holding a voucher for `amount`, as the job service would store it. */
  async function channelOwing (amount: bigint): Promise<Address> {
    const n = nonce++
    await chain.open(Registry.createFromAddress(registry)).sendOpenChannel(walletSender(chain, client), {
      clientKey: client.keyPair.publicKey, providerOwner: owner.address, nodeKey: node.keyPair.publicKey, deposit: toNano('1'), nonce: n
    })
    const channel = channelAddress(registry, client.address, client.keyPair.publicKey, owner.address, node.keyPair.publicKey, n)
    await waitUntil(async () => await chain.open(Channel.createFromAddress(channel)).getChannelData(), (d) => d.initialized, 'the channel to open')
    const voucher = buildVoucher({ globalId: GLOBAL_ID, channel, seqno: 1, amount, receiptsRoot: Buffer.alloc(32, 7) })
    await vouchers.update(channel, (l) => ({ ...l, seqno: 1, amount, root: Buffer.alloc(32, 7), voucher: voucher.toBoc(), clientSig: signCell(voucher, client.keyPair.secretKey) }))
    return channel
  }

  async function startClose (channel: Address): Promise<void> {
    const c = chain.open(Channel.createFromAddress(channel))
    await c.sendStartClose(walletSender(chain, client))
    await waitUntil(async () => await c.getChannelData(), (d) => d.closeAt !== 0, 'the close to start')
  }

  const paid = async (channel: Address): Promise<bigint> => (await chain.open(Channel.createFromAddress(channel)).getChannelData()).paid
  const skipped = async (reason: string): Promise<number> =>
    (await metrics.claims.get()).values.find((v) => v.labels.outcome === `skipped_${reason}`)?.value ?? 0

  it('an open channel owed less than the economic minimum is not claimed; a closing one is, when it still pays', async () => {
    // 0.015 TON: fees of 0.0102 TON are 68 % of it, above the 50 % share
    const channel = await channelOwing(toNano('0.015'))
    expect(await settlement.claim(channel)).toBeUndefined()
    expect(await settlement.claimAll()).toEqual([])
    expect(await skipped('uneconomic')).toBe(2)
    expect(await paid(channel)).toBe(0n)

    // the client starts closing: this is the last chance, and 0.015 TON is worth more than 0.0102 TON of fees
    await startClose(channel)
    const before = await chain.getBalance(owner.address)
    const [payout] = await settlement.claimClosing() as SettledPayout[]
    expect(payout).toBeDefined()
    expect(payout!.reason).toBe('last-chance')
    expect(await paid(channel)).toBe(toNano('0.015'))
    // what the record says the owner received is exactly what the owner's balance gained
    await waitUntil(async () => await chain.getBalance(owner.address), (b) => b !== before, 'the payout to arrive')
    const gained = (await chain.getBalance(owner.address)) - before
    expect(BigInt(payout!.received!)).toBe(gained)
    // 0.015 less the 2.5 % protocol fee, less the owner wallet's own fee
    expect(BigInt(payout!.protocolFee!)).toBe(375_000n)
    expect(BigInt(payout!.payout!)).toBe(toNano('0.015') - 375_000n)
    expect(BigInt(payout!.payout!) - gained).toBeGreaterThan(0n)
    expect(BigInt(payout!.payout!) - gained).toBeLessThanOrEqual(CLAIM_COSTS.ownerReceive)
    // the node's gas wallet spent no more than the measured claim cost
    expect(BigInt(payout!.claimFees!)).toBeGreaterThan(0n)
    expect(BigInt(payout!.claimFees!)).toBeLessThanOrEqual(CLAIM_COSTS.claim)
    // the owner's transaction is on the owner's account and took the payout from this channel
    const txs = await chain.getTransactions(owner.address, { limit: 10 })
    const ownerTx = txs.find((t) => t.hash().toString('hex') === payout!.ownerTxHash)
    expect(ownerTx?.inMessage?.info.src?.toString()).toBe(channel.toString())
  }, 120_000)

  it('a closing channel owed no more than the fees is left alone; an economic one is claimed while open', async () => {
    const small = await channelOwing(toNano('0.008'))
    await startClose(small)
    expect(await settlement.claimClosing()).toEqual([])
    expect(await skipped('below_fees')).toBe(1)
    expect(await paid(small)).toBe(0n)

    const big = await channelOwing(toNano('0.05'))
    const payouts = await settlement.claimAll() as SettledPayout[]
    expect(payouts.map((p) => [p.channel, p.reason, p.amount])).toEqual([[big.toString(), 'economic', toNano('0.05').toString()]])
    expect(await paid(big)).toBe(toNano('0.05'))
    expect(await paid(small)).toBe(0n)
  }, 120_000)

  it('`silk payouts` shows what the owner received, with the owner\'s transaction and the claim', async () => {
    const records = await vouchers.payouts() as SettledPayout[]
    expect(records).toHaveLength(2)
    const configFile = join(dir, 'config.json')
    await writeFile(configFile, JSON.stringify({
      keyFile: 'unused', providerOwner: owner.address.toString(), modelsDir: dir, dataDir: 'data',
      chain: { network: 'local', endpoint: devnet.endpoint, registry: registry.toString() }
    }))
    const { stdout } = await run(process.execPath, [CLI, 'payouts', '--config', configFile])
    const link = explorerFor('local', devnet.endpoint)
    let total = 0n
    for (const r of records) {
      expect(stdout).toContain(`owner received ${fromNano(BigInt(r.received!))} TON`)
      expect(stdout).toContain(`owner tx ${r.ownerTxHash!}  ${link(r.ownerTxHash!)}`)
      expect(stdout).toContain(`claim tx ${r.txHash}  ${link(r.txHash)}`)
      expect(stdout).toContain(`claimed ${fromNano(BigInt(r.amount))} TON`)
      total += BigInt(r.received!)
    }
    expect(stdout).toContain(`total received by the owner: ${fromNano(total)} TON`)
  }, 60_000)
})
