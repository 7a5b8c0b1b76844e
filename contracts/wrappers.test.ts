import { Address, beginCell, Cell, contractAddress, type Slice } from '@ton/core'
import { Blockchain, type SandboxContract, type TreasuryContract } from '@ton/sandbox'
import { flattenTransaction, type FlatTransaction } from '@ton/test-utils'
import { beforeAll, describe, expect, it } from 'vitest'
import { buildCloseRequest, buildReceipt, buildVoucher, GLOBAL_IDS, ZERO_ROOT } from '../protocol/cells.ts'
import { channelCode, providerCode } from './code.ts'
import { Fees, Op } from './constants.ts'
import { Channel, channelAddress, channelConfigToCell } from './Channel.ts'
import { Provider, providerAddress, providerConfigToCell } from './Provider.ts'

// The message builders and parsers of the Provider (slashing, stake) and Channel (claims, close)
// wrappers: what the node, the client and the reporter put on chain. Each layout is checked bit by
// bit against protocol/schema.tlb, independently of the wrapper's own parser; each parser refuses
// another op and trailing data; each send carries the documented value and body.

const registry = Address.parse('0:' + '01'.repeat(32))
const owner = Address.parse('0:' + '02'.repeat(32))
const client = Address.parse('0:' + '03'.repeat(32))
const nodeKey = Buffer.alloc(32, 0x0a)
const clientKey = Buffer.alloc(32, 0x0b)
const sigA = Buffer.alloc(64, 0x5a)
const sigB = Buffer.alloc(64, 0x5b)
const QUERY = 0x1122334455667788n

function expectEnd (s: Slice): void {
  expect(s.remainingBits).toBe(0)
  expect(s.remainingRefs).toBe(0)
}

/** The same cell followed by one more bit: trailing data a strict parser refuses. */
function trailing (cell: Cell): Cell {
  return beginCell().storeSlice(cell.beginParse()).storeUint(0, 1).endCell()
}

/** The same cell with its op replaced. */
function withOp (cell: Cell, op: number): Cell {
  return beginCell().storeUint(op >>> 0, 32).storeSlice(cell.beginParse().skip(32)).endCell()
}

/** The message with its `ref`-th reference (a signature cell) replaced by a longer one. */
function withLongSig (cell: Cell, ref: number, sig: Buffer): Cell {
  const refs = [...cell.refs]
  refs[ref] = beginCell().storeBuffer(sig).endCell()
  const b = beginCell().storeBits(cell.beginParse().loadBits(cell.bits.length))
  for (const r of refs) b.storeRef(r)
  return b.endCell()
}

function readSig (s: Slice): Buffer {
  const c = s.loadRef().beginParse()
  const sig = c.loadBuffer(64)
  expectEnd(c)
  return sig
}

const receipt = (outputByte: number): Cell => buildReceipt({
  globalId: GLOBAL_IDS.local, channel: client, epoch: 1, jobId: 9n, units: 1, price: 10n, deterministic: true, complete: true,
  time: 1_760_000_000, modelHash: Buffer.alloc(32, 1), specHash: Buffer.alloc(32, 2), outputHash: Buffer.alloc(32, outputByte)
})

describe('Provider: addresses and static init', () => {
  it('the init data is registry, owner, node key and an empty state, and fixes the address', () => {
    const data = providerConfigToCell({ registry, owner, nodeKey })
    const s = data.beginParse()
    expect(s.loadAddress().equals(registry)).toBe(true)
    expect(s.loadAddress().equals(owner)).toBe(true)
    expect(s.loadUintBig(256)).toBe(BigInt('0x' + nodeKey.toString('hex')))
    expect(s.loadMaybeRef()).toBeNull()
    expectEnd(s)
    const expected = contractAddress(0, { code: providerCode, data })
    expect(providerAddress(registry, owner, nodeKey).equals(expected)).toBe(true)
    expect(providerAddress(registry, owner, BigInt('0x' + nodeKey.toString('hex'))).equals(expected)).toBe(true)
    const p = Provider.createFromConfig({ registry, owner, nodeKey })
    expect(p.address.equals(expected)).toBe(true)
    expect(p.init?.code.equals(providerCode)).toBe(true)
    expect(p.init?.data.equals(data)).toBe(true)
    expect(Provider.createFromAddress(expected).address.equals(expected)).toBe(true)
    expect(Provider.createFromAddress(expected).init).toBeUndefined()
    // another code, owner or key is another Provider
    expect(providerAddress(registry, owner, nodeKey, Cell.EMPTY).equals(expected)).toBe(false)
    expect(Provider.createFromConfig({ registry, owner, nodeKey }, Cell.EMPTY).address.equals(expected)).toBe(false)
    expect(providerAddress(registry, client, nodeKey).equals(expected)).toBe(false)
    expect(providerAddress(registry, owner, clientKey).equals(expected)).toBe(false)
    expect(() => providerConfigToCell({ registry, owner, nodeKey: Buffer.alloc(31) })).toThrow(RangeError)
  })
})

describe('Provider: messages', () => {
  it('provider_init carries every parameter; defaults are 0', () => {
    const opts = { stake: 20n * 10n ** 9n, minStake: 10n ** 10n, unbondingDelay: 604_800, slashShareBps: 3000, epoch: 7, queryId: QUERY }
    const s = Provider.providerInitMessage(opts).beginParse()
    expect(s.loadUint(32)).toBe(Op.providerInit)
    expect(s.loadUintBig(64)).toBe(QUERY)
    expect(s.loadCoins()).toBe(opts.stake)
    expect(s.loadCoins()).toBe(opts.minStake)
    expect(s.loadUint(32)).toBe(604_800)
    expect(s.loadUint(16)).toBe(3000)
    expect(s.loadUint(32)).toBe(7)
    expectEnd(s)
    expect(Provider.parseProviderInit(Provider.providerInitMessage(opts))).toEqual(opts)
    expect(Provider.parseProviderInit(Provider.providerInitMessage({ stake: 1n, minStake: 2n }))).toEqual({
      queryId: 0n, stake: 1n, minStake: 2n, unbondingDelay: 0, slashShareBps: 0, epoch: 0
    })
    const cell = Provider.providerInitMessage(opts)
    expect(() => Provider.parseProviderInit(withOp(cell, Op.stakeTopUp))).toThrow('not a provider_init')
    expect(() => Provider.parseProviderInit(trailing(cell))).toThrow()
  })

  it('stake_top_up carries the amount', () => {
    const s = Provider.stakeTopUpMessage({ amount: 123n, queryId: QUERY }).beginParse()
    expect([s.loadUint(32), s.loadUintBig(64), s.loadCoins()]).toEqual([Op.stakeTopUp, QUERY, 123n])
    expectEnd(s)
    expect(Provider.parseStakeTopUp(Provider.stakeTopUpMessage({ amount: 5n }))).toEqual({ queryId: 0n, amount: 5n })
    expect(() => Provider.parseStakeTopUp(withOp(Provider.stakeTopUpMessage({ amount: 5n }), Op.channelTopUp))).toThrow('not a stake_top_up')
    expect(() => Provider.parseStakeTopUp(trailing(Provider.stakeTopUpMessage({ amount: 5n })))).toThrow()
  })

  const queryOnly = [
    { name: 'unbond', op: Op.unbond, build: Provider.unbondMessage, parse: Provider.parseUnbond },
    { name: 'withdraw_stake', op: Op.withdrawStake, build: Provider.withdrawStakeMessage, parse: Provider.parseWithdrawStake },
    { name: 'stake_withdrawal', op: Op.stakeWithdrawal, build: undefined, parse: Provider.parseStakeWithdrawal },
    { name: 'slash_reward', op: Op.slashReward, build: undefined, parse: Provider.parseSlashReward }
  ]
  for (const m of queryOnly) {
    it(`${m.name}: op and query id only, parsed strictly`, () => {
      const cell = m.build?.(QUERY) ?? beginCell().storeUint(m.op, 32).storeUint(QUERY, 64).endCell()
      const s = cell.beginParse()
      expect([s.loadUint(32), s.loadUintBig(64)]).toEqual([m.op, QUERY])
      expectEnd(s)
      expect(m.parse(cell)).toEqual({ queryId: QUERY })
      if (m.build !== undefined) expect(m.parse(m.build())).toEqual({ queryId: 0n })
      expect(() => m.parse(withOp(cell, m.op ^ 1))).toThrow(`not a ${m.name}`)
      expect(() => m.parse(trailing(cell))).toThrow()
      // a signature cell with one byte too many (either signature) is refused, as on chain
      const long = Buffer.alloc(65, 0x5c)
      expect(() => m.parse(withLongSig(cell, 1, long))).toThrow()
      expect(() => m.parse(withLongSig(cell, 2, long))).toThrow()
    })
  }

  it('report_equivocation holds receipt A, its signature, receipt B, its signature, in that order', () => {
    const receiptA = receipt(0xaa)
    const receiptB = receipt(0xbb)
    const cell = Provider.reportEquivocationMessage({ receiptA, sigA, receiptB, sigB, queryId: QUERY })
    const s = cell.beginParse()
    expect(s.loadUint(32)).toBe(Op.reportEquivocation)
    expect(s.loadUintBig(64)).toBe(QUERY)
    expect(s.loadRef().equals(receiptA)).toBe(true)
    expect(readSig(s)).toEqual(sigA)
    expect(s.loadRef().equals(receiptB)).toBe(true)
    expect(readSig(s)).toEqual(sigB)
    expectEnd(s)
    const parsed = Provider.parseReportEquivocation(cell)
    expect(parsed.queryId).toBe(QUERY)
    expect(parsed.receiptA.equals(receiptA) && parsed.receiptB.equals(receiptB)).toBe(true)
    expect(Buffer.from(parsed.sigA)).toEqual(sigA)
    expect(Buffer.from(parsed.sigB)).toEqual(sigB)
    expect(Provider.parseReportEquivocation(Provider.reportEquivocationMessage({ receiptA, sigA, receiptB, sigB })).queryId).toBe(0n)
    expect(() => Provider.parseReportEquivocation(withOp(cell, Op.claim))).toThrow('not a report_equivocation')
    expect(() => Provider.parseReportEquivocation(trailing(cell))).toThrow()
    // signature cells hold exactly 64 bytes (refs: receipt a, sig a, receipt b, sig b)
    expect(() => Provider.parseReportEquivocation(withLongSig(cell, 1, Buffer.alloc(65, 1)))).toThrow()
    expect(() => Provider.parseReportEquivocation(withLongSig(cell, 3, Buffer.alloc(65, 1)))).toThrow()
  })
})

describe('Channel: addresses and static init', () => {
  const config = { registry, client, clientKey, providerOwner: owner, nodeKey, nonce: 42n }

  it('the init data is registry, client, then the parties and nonce in a ref, and an empty state', () => {
    const data = channelConfigToCell(config)
    const s = data.beginParse()
    expect(s.loadAddress().equals(registry)).toBe(true)
    expect(s.loadAddress().equals(client)).toBe(true)
    const parties = s.loadRef().beginParse()
    expect(s.loadMaybeRef()).toBeNull()
    expectEnd(s)
    expect(parties.loadUintBig(256)).toBe(BigInt('0x' + clientKey.toString('hex')))
    expect(parties.loadAddress().equals(owner)).toBe(true)
    expect(parties.loadUintBig(256)).toBe(BigInt('0x' + nodeKey.toString('hex')))
    expect(parties.loadUintBig(64)).toBe(42n)
    expectEnd(parties)
    const expected = contractAddress(0, { code: channelCode, data })
    expect(channelAddress(registry, client, clientKey, owner, nodeKey, 42n).equals(expected)).toBe(true)
    expect(channelAddress(registry, client, clientKey, owner, nodeKey, 42).equals(expected)).toBe(true)
    const c = Channel.createFromConfig(config)
    expect(c.address.equals(expected)).toBe(true)
    expect(c.init?.code.equals(channelCode) && c.init.data.equals(data)).toBe(true)
    expect(Channel.createFromAddress(expected).address.equals(expected)).toBe(true)
    expect(Channel.createFromAddress(expected).init).toBeUndefined()
    expect(channelAddress(registry, client, clientKey, owner, nodeKey, 42n, Cell.EMPTY).equals(expected)).toBe(false)
    expect(Channel.createFromConfig(config, Cell.EMPTY).address.equals(expected)).toBe(false)
    expect(channelAddress(registry, client, clientKey, owner, nodeKey, 43n).equals(expected)).toBe(false)
  })

  it('the nonce is a uint64: both bounds are accepted, beyond them is a RangeError', () => {
    for (const nonce of [0n, 0, 2n ** 64n - 1n]) {
      expect(channelConfigToCell({ ...config, nonce }).beginParse().loadRef().beginParse().skip(256 + 267 + 256).loadUintBig(64)).toBe(BigInt(nonce))
    }
    for (const nonce of [-1n, -1, 2n ** 64n]) expect(() => channelConfigToCell({ ...config, nonce })).toThrow(new RangeError('nonce must be a uint64'))
  })
})

describe('Channel: messages', () => {
  const voucher = buildVoucher({ globalId: GLOBAL_IDS.local, channel: client, seqno: 3, amount: 1000n, receiptsRoot: ZERO_ROOT })
  const request = buildCloseRequest({ globalId: GLOBAL_IDS.local, channel: client, seqno: 4, amount: 2000n, receiptsRoot: ZERO_ROOT })

  it('channel_init carries deposit, fee and close delay', () => {
    const opts = { deposit: 5n * 10n ** 9n, feeBps: 250, closeDelay: 3600, queryId: QUERY }
    const s = Channel.channelInitMessage(opts).beginParse()
    expect([s.loadUint(32), s.loadUintBig(64), s.loadCoins(), s.loadUint(16), s.loadUint(32)]).toEqual([Op.channelInit, QUERY, opts.deposit, 250, 3600])
    expectEnd(s)
    expect(Channel.parseChannelInit(Channel.channelInitMessage(opts))).toEqual(opts)
    expect(Channel.parseChannelInit(Channel.channelInitMessage({ deposit: 1n, feeBps: 2, closeDelay: 3 })).queryId).toBe(0n)
    expect(() => Channel.parseChannelInit(withOp(Channel.channelInitMessage(opts), Op.providerInit))).toThrow('not a channel_init')
    expect(() => Channel.parseChannelInit(trailing(Channel.channelInitMessage(opts)))).toThrow()
  })

  it('channel_top_up carries the amount', () => {
    const s = Channel.topUpMessage({ amount: 77n, queryId: QUERY }).beginParse()
    expect([s.loadUint(32), s.loadUintBig(64), s.loadCoins()]).toEqual([Op.channelTopUp, QUERY, 77n])
    expectEnd(s)
    expect(Channel.parseTopUp(Channel.topUpMessage({ amount: 77n }))).toEqual({ queryId: 0n, amount: 77n })
    expect(() => Channel.parseTopUp(withOp(Channel.topUpMessage({ amount: 1n }), Op.stakeTopUp))).toThrow('not a channel_top_up')
    expect(() => Channel.parseTopUp(trailing(Channel.topUpMessage({ amount: 1n })))).toThrow()
  })

  const signed = [
    { name: 'claim', op: Op.claim, record: voucher, build: (q?: bigint) => Channel.claimMessage({ voucher, clientSig: sigA, nodeSig: sigB, ...(q !== undefined ? { queryId: q } : {}) }), parse: (c: Cell) => { const p = Channel.parseClaim(c); return { queryId: p.queryId, record: p.voucher, clientSig: p.clientSig, nodeSig: p.nodeSig } } },
    { name: 'cooperative_close', op: Op.cooperativeClose, record: request, build: (q?: bigint) => Channel.cooperativeCloseMessage({ request, clientSig: sigA, nodeSig: sigB, ...(q !== undefined ? { queryId: q } : {}) }), parse: (c: Cell) => { const p = Channel.parseCooperativeClose(c); return { queryId: p.queryId, record: p.request, clientSig: p.clientSig, nodeSig: p.nodeSig } } }
  ]
  for (const m of signed) {
    it(`${m.name} holds the signed record, the client's signature, then the node's`, () => {
      const cell = m.build(QUERY)
      const s = cell.beginParse()
      expect([s.loadUint(32), s.loadUintBig(64)]).toEqual([m.op, QUERY])
      expect(s.loadRef().equals(m.record)).toBe(true)
      expect(readSig(s)).toEqual(sigA)
      expect(readSig(s)).toEqual(sigB)
      expectEnd(s)
      const parsed = m.parse(cell)
      expect(parsed.queryId).toBe(QUERY)
      expect(parsed.record.equals(m.record)).toBe(true)
      expect(parsed.clientSig).toEqual(sigA)
      expect(parsed.nodeSig).toEqual(sigB)
      expect(m.parse(m.build()).queryId).toBe(0n)
      expect(() => m.parse(withOp(cell, m.op ^ 1))).toThrow(`not a ${m.name}`)
      expect(() => m.parse(trailing(cell))).toThrow()
      // a signature cell with one byte too many (either signature) is refused, as on chain
      const long = Buffer.alloc(65, 0x5c)
      expect(() => m.parse(withLongSig(cell, 1, long))).toThrow()
      expect(() => m.parse(withLongSig(cell, 2, long))).toThrow()
    })
  }

  const queryOnly = [
    { name: 'start_close', op: Op.startClose, build: Channel.startCloseMessage, parse: Channel.parseStartClose },
    { name: 'finish_close', op: Op.finishClose, build: Channel.finishCloseMessage, parse: Channel.parseFinishClose },
    { name: 'payout', op: Op.payout, build: undefined, parse: Channel.parsePayout },
    { name: 'refund', op: Op.refund, build: undefined, parse: Channel.parseRefund },
    { name: 'excesses', op: Op.excesses, build: undefined, parse: Channel.parseExcesses }
  ]
  for (const m of queryOnly) {
    it(`${m.name}: op and query id only, parsed strictly`, () => {
      const cell = m.build?.(QUERY) ?? beginCell().storeUint(m.op, 32).storeUint(QUERY, 64).endCell()
      const s = cell.beginParse()
      expect([s.loadUint(32), s.loadUintBig(64)]).toEqual([m.op, QUERY])
      expectEnd(s)
      expect(m.parse(cell)).toEqual({ queryId: QUERY })
      if (m.build !== undefined) expect(m.parse(m.build())).toEqual({ queryId: 0n })
      expect(() => m.parse(withOp(cell, m.op ^ 1))).toThrow(`not a ${m.name}`)
      expect(() => m.parse(trailing(cell))).toThrow()
      // a signature cell with one byte too many (either signature) is refused, as on chain
      const long = Buffer.alloc(65, 0x5c)
      expect(() => m.parse(withLongSig(cell, 1, long))).toThrow()
      expect(() => m.parse(withLongSig(cell, 2, long))).toThrow()
    })
  }
})

describe('sends: value and body of each message (sandbox, to an empty account)', () => {
  let blockchain: Blockchain
  let wallet: SandboxContract<TreasuryContract>
  const target = Address.parse('0:' + '7f'.repeat(32))
  beforeAll(async () => {
    blockchain = await Blockchain.create()
    wallet = await blockchain.treasury('wallet')
  })

  /** The one message the wallet sent to the target: its value and body. */
  function sent (result: { transactions: Parameters<typeof flattenTransaction>[0][] }): FlatTransaction {
    const txs = result.transactions.map(flattenTransaction).filter((t) => t.to?.equals(target) === true && t.from?.equals(wallet.address) === true)
    expect(txs).toHaveLength(1)
    return txs[0]!
  }

  it('Provider: top-up, unbond, withdraw and report_equivocation carry their default or given value', async () => {
    const provider = blockchain.openContract(Provider.createFromAddress(target))
    let t = sent(await provider.sendTopUp(wallet.getSender(), { amount: 1_000_000_000n, queryId: 5n }))
    expect(t.value).toBe(1_000_000_000n + Fees.topUpGas)
    expect(t.body?.equals(Provider.stakeTopUpMessage({ amount: 1_000_000_000n, queryId: 5n }))).toBe(true)
    expect(sent(await provider.sendTopUp(wallet.getSender(), { amount: 1n, value: 99_000_000n })).value).toBe(99_000_000n)
    t = sent(await provider.sendUnbond(wallet.getSender()))
    expect(t.value).toBe(20_000_000n)
    expect(t.body?.equals(Provider.unbondMessage(0n))).toBe(true)
    t = sent(await provider.sendUnbond(wallet.getSender(), { value: 30_000_000n, queryId: 6n }))
    expect(t.value).toBe(30_000_000n)
    expect(t.body?.equals(Provider.unbondMessage(6n))).toBe(true)
    t = sent(await provider.sendWithdraw(wallet.getSender()))
    expect(t.value).toBe(20_000_000n)
    expect(t.body?.equals(Provider.withdrawStakeMessage(0n))).toBe(true)
    t = sent(await provider.sendWithdraw(wallet.getSender(), { value: 31_000_000n, queryId: 7n }))
    expect(t.value).toBe(31_000_000n)
    expect(t.body?.equals(Provider.withdrawStakeMessage(7n))).toBe(true)
    const proof = { receiptA: receipt(1), sigA, receiptB: receipt(2), sigB }
    t = sent(await provider.sendReportEquivocation(wallet.getSender(), proof))
    expect(t.value).toBe(Fees.reportGas)
    expect(t.body?.equals(Provider.reportEquivocationMessage(proof))).toBe(true)
    t = sent(await provider.sendReportEquivocation(wallet.getSender(), { ...proof, value: 40_000_000n, queryId: 8n }))
    expect(t.value).toBe(40_000_000n)
    expect(t.body?.equals(Provider.reportEquivocationMessage({ ...proof, queryId: 8n }))).toBe(true)
  })

  it('Channel: top-up, claim, start/finish close and cooperative_close carry their default or given value', async () => {
    const channel = blockchain.openContract(Channel.createFromAddress(target))
    const voucher = buildVoucher({ globalId: GLOBAL_IDS.local, channel: target, seqno: 1, amount: 5n, receiptsRoot: ZERO_ROOT })
    const request = buildCloseRequest({ globalId: GLOBAL_IDS.local, channel: target, seqno: 1, amount: 5n, receiptsRoot: ZERO_ROOT })
    let t = sent(await channel.sendTopUp(wallet.getSender(), { amount: 2_000_000_000n, queryId: 1n }))
    expect(t.value).toBe(2_000_000_000n + Fees.topUpGas)
    expect(t.body?.equals(Channel.topUpMessage({ amount: 2_000_000_000n, queryId: 1n }))).toBe(true)
    expect(sent(await channel.sendTopUp(wallet.getSender(), { amount: 1n, value: 98_000_000n })).value).toBe(98_000_000n)
    t = sent(await channel.sendClaim(wallet.getSender(), { voucher, clientSig: sigA, nodeSig: sigB }))
    expect(t.value).toBe(Fees.claimGas)
    expect(t.body?.equals(Channel.claimMessage({ voucher, clientSig: sigA, nodeSig: sigB }))).toBe(true)
    t = sent(await channel.sendClaim(wallet.getSender(), { voucher, clientSig: sigA, nodeSig: sigB, value: 41_000_000n, queryId: 2n }))
    expect(t.value).toBe(41_000_000n)
    expect(t.body?.equals(Channel.claimMessage({ voucher, clientSig: sigA, nodeSig: sigB, queryId: 2n }))).toBe(true)
    t = sent(await channel.sendStartClose(wallet.getSender()))
    expect(t.value).toBe(20_000_000n)
    expect(t.body?.equals(Channel.startCloseMessage(0n))).toBe(true)
    t = sent(await channel.sendStartClose(wallet.getSender(), { value: 21_000_000n, queryId: 3n }))
    expect(t.value).toBe(21_000_000n)
    expect(t.body?.equals(Channel.startCloseMessage(3n))).toBe(true)
    t = sent(await channel.sendFinishClose(wallet.getSender()))
    expect(t.value).toBe(20_000_000n)
    expect(t.body?.equals(Channel.finishCloseMessage(0n))).toBe(true)
    t = sent(await channel.sendFinishClose(wallet.getSender(), { value: 22_000_000n, queryId: 4n }))
    expect(t.value).toBe(22_000_000n)
    expect(t.body?.equals(Channel.finishCloseMessage(4n))).toBe(true)
    t = sent(await channel.sendCooperativeClose(wallet.getSender(), { request, clientSig: sigA, nodeSig: sigB }))
    expect(t.value).toBe(Fees.cooperativeCloseGas)
    expect(t.body?.equals(Channel.cooperativeCloseMessage({ request, clientSig: sigA, nodeSig: sigB }))).toBe(true)
    t = sent(await channel.sendCooperativeClose(wallet.getSender(), { request, clientSig: sigA, nodeSig: sigB, value: 42_000_000n, queryId: 5n }))
    expect(t.value).toBe(42_000_000n)
    expect(t.body?.equals(Channel.cooperativeCloseMessage({ request, clientSig: sigA, nodeSig: sigB, queryId: 5n }))).toBe(true)
  })
})
