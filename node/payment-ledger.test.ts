import { Address, beginCell, type Cell } from '@ton/core'
import { keyPairFromSeed } from '@ton/crypto'
import { describe, expect, it } from 'vitest'
import { buildReceipt, buildVoucher, GLOBAL_IDS, nextReceiptsRoot, signCell, ZERO_ROOT, type Voucher } from '../protocol/cells.ts'
import { helloProof, NONCE_BYTES } from '../protocol/wire/hello.ts'
import { JobError } from './errors.ts'
import { authorizeHello, PaymentLedger, type ChannelTerms, type Owed } from './ledger.ts'

// node/ledger.ts, the node's money decisions, one check at a time: who may bind a channel, whether
// a job may start on credit, and which voucher pays for which receipts. Amounts in nanoton.

const clientKeys = keyPairFromSeed(Buffer.alloc(32, 1))
const strangerKeys = keyPairFromSeed(Buffer.alloc(32, 2))
const nodeKey = keyPairFromSeed(Buffer.alloc(32, 3)).publicKey
const channel = Address.parse('0:' + '11'.repeat(32))
const otherChannel = Address.parse('0:' + '12'.repeat(32))
const globalId = GLOBAL_IDS.testnet
const nonce = Buffer.alloc(NONCE_BYTES, 7)
const terms: ChannelTerms = { clientKey: clientKeys.publicKey, deposit: 1_000n, closeDelay: 3600, feeBps: 100 }
const limits = { minCloseDelay: 3600, maxFeeBps: 100 }

function code (fn: () => unknown): string {
  try { fn() } catch (err) { if (err instanceof JobError) return err.code; throw err }
  return 'accepted'
}

function failure (fn: () => unknown): { code: string, message: string } {
  try { fn() } catch (err) { if (err instanceof JobError) return { code: err.code, message: err.message }; throw err }
  return { code: 'accepted', message: '' }
}

describe('authorizeHello', () => {
  const signature = signCell(helloProof({ globalId, channel, nodeKey, nonce }), clientKeys.secretKey)
  const hello = { globalId, channel, nodeKey, nonce, signature, terms, limits }

  it('binds the channel for its client key over this network, channel, node and nonce', () => {
    expect(code(() => authorizeHello(hello))).toBe('accepted')
  })

  it('BAD_HELLO: another signer, network, channel, node or nonce', () => {
    const bySomeoneElse = signCell(helloProof({ globalId, channel, nodeKey, nonce }), strangerKeys.secretKey)
    expect(failure(() => authorizeHello({ ...hello, signature: bySomeoneElse }))).toEqual({ code: 'BAD_HELLO', message: 'the Hello is not signed by the channel\'s client key over this node and nonce' })
    expect(code(() => authorizeHello({ ...hello, globalId: GLOBAL_IDS.mainnet }))).toBe('BAD_HELLO')
    expect(code(() => authorizeHello({ ...hello, channel: otherChannel }))).toBe('BAD_HELLO')
    expect(code(() => authorizeHello({ ...hello, nodeKey: strangerKeys.publicKey }))).toBe('BAD_HELLO')
    expect(code(() => authorizeHello({ ...hello, nonce: Buffer.alloc(NONCE_BYTES, 8) }))).toBe('BAD_HELLO')
  })

  it('BAD_HELLO: no fresh nonce (already used, or none sent)', () => {
    expect(failure(() => authorizeHello({ ...hello, nonce: undefined }))).toEqual({ code: 'BAD_HELLO', message: 'no fresh nonce to sign: open the session with an unbound Hello first' })
    expect(code(() => authorizeHello({ ...hello, nonce: nonce.subarray(1) }))).toBe('BAD_HELLO')
  })

  it('CHANNEL_TERMS: a close delay too short to claim, or a fee above the limit, each exact at the bound', () => {
    expect(code(() => authorizeHello({ ...hello, terms: { ...terms, closeDelay: 3600, feeBps: 100 } }))).toBe('accepted')
    expect(failure(() => authorizeHello({ ...hello, terms: { ...terms, closeDelay: 3599 } }))).toEqual({
      code: 'CHANNEL_TERMS', message: 'the channel\'s close delay of 3599 s is below the 3600 s this node needs to claim'
    })
    expect(failure(() => authorizeHello({ ...hello, terms: { ...terms, feeBps: 101 } }))).toEqual({
      code: 'CHANNEL_TERMS', message: 'the channel\'s protocol fee of 101 bps is above the 100 bps this node accepts'
    })
  })
})

/** A receipt owed on the channel, distinct per job. */
function owed (jobId: number, cost: bigint): Owed {
  const receipt = buildReceipt({
    globalId, channel, epoch: 1, jobId: BigInt(jobId), units: 1, price: cost, deterministic: true, complete: true, time: 1_760_000_000,
    modelHash: Buffer.alloc(32, 1), specHash: Buffer.alloc(32, 2), outputHash: Buffer.alloc(32, jobId)
  })
  return { receipt, signature: Buffer.alloc(64), cost }
}

function rootOf (prev: Buffer, ...receipts: Owed[]): Buffer {
  return receipts.reduce((root, o) => nextReceiptsRoot(root, o.receipt), prev)
}

function signedVoucher (v: Partial<Voucher>, key = clientKeys.secretKey): { boc: Uint8Array, signature: Buffer, cell: Cell } {
  const cell = buildVoucher({ globalId, channel, seqno: 1, amount: 0n, receiptsRoot: ZERO_ROOT, ...v })
  return { boc: cell.toBoc(), signature: signCell(cell, key), cell }
}

function ledgerOwing (...items: Owed[]): PaymentLedger {
  const l = new PaymentLedger(channel, globalId, { seqno: 0, amount: 0n, root: ZERO_ROOT }, 1_000n)
  for (const o of items) {
    l.admit(o.cost, terms.deposit)
    l.finish(o.cost, o)
  }
  return l
}

describe('PaymentLedger: admitting jobs on credit', () => {
  it('starts settled at the given position; the position is a copy', () => {
    const l = new PaymentLedger(channel, globalId, { seqno: 4, amount: 50n, root: Buffer.alloc(32, 9) }, 100n)
    expect(l.channel.equals(channel) && l.globalId === globalId && l.credit === 100n).toBe(true)
    expect(l.position).toEqual({ seqno: 4, amount: 50n, root: Buffer.alloc(32, 9) })
    l.position.seqno = 99
    expect(l.position.seqno).toBe(4)
    expect(l.settled).toBe(true)
    expect(l.owed).toEqual([])
    expect(l.owedAmount).toBe(0n)
  })

  it('one job always starts; more only while owed plus running stays below the credit', () => {
    const l = new PaymentLedger(channel, globalId, { seqno: 0, amount: 0n, root: ZERO_ROOT }, 100n)
    l.admit(60n, 1_000n)
    expect(l.settled).toBe(false)
    l.admit(50n, 1_000n) // 60 running < 100
    expect(failure(() => l.admit(1n, 1_000n))).toEqual({ code: 'PAYMENT_REQUIRED', message: '110 nanoton of results are unpaid or running; send a voucher first' })
    l.release(50n)
    l.finish(60n, owed(1, 40n))
    expect(l.owedAmount).toBe(40n)
    l.admit(59n, 1_000n) // 40 owed < 100
    l.release(59n)
    l.finish(0n, owed(2, 0n))
    expect(l.owed.map((o) => o.cost)).toEqual([40n, 0n])
  })

  it('credit 0: one unpaid job at a time, and a free receipt still blocks the next', () => {
    const l = new PaymentLedger(channel, globalId, { seqno: 0, amount: 0n, root: ZERO_ROOT }, 0n)
    l.admit(10n, 1_000n)
    expect(code(() => l.admit(10n, 1_000n))).toBe('PAYMENT_REQUIRED')
    l.finish(10n, owed(1, 0n))
    expect(l.settled).toBe(false)
    expect(code(() => l.admit(10n, 1_000n))).toBe('PAYMENT_REQUIRED')
  })

  it('the exact credit is the limit: pending equal to the credit refuses', () => {
    const l = new PaymentLedger(channel, globalId, { seqno: 0, amount: 0n, root: ZERO_ROOT }, 100n)
    l.admit(99n, 1_000n)
    l.admit(1n, 1_000n)
    expect(code(() => l.admit(1n, 1_000n))).toBe('PAYMENT_REQUIRED')
  })

  it('DEPOSIT_EXHAUSTED: paid + owed + running + this job may not exceed the deposit, exact at the bound', () => {
    const l = new PaymentLedger(channel, globalId, { seqno: 2, amount: 900n, root: ZERO_ROOT }, 1_000n)
    l.admit(60n, 1_000n)
    l.finish(60n, owed(1, 50n))
    l.admit(30n, 1_000n) // 900 + 50 + 30 = 980
    l.admit(20n, 1_000n) // 900 + 50 + 30 + 20 = 1000
    expect(failure(() => l.admit(1n, 1_000n))).toEqual({ code: 'DEPOSIT_EXHAUSTED', message: 'this job may cost 1 nanoton, more than the channel deposit has left; top it up' })
  })

  it('a job cannot cost more than it was admitted for; release and finish free its reservation', () => {
    const l = new PaymentLedger(channel, globalId, { seqno: 0, amount: 0n, root: ZERO_ROOT }, 1_000n)
    l.admit(10n, 1_000n)
    expect(() => l.finish(10n, owed(1, 11n))).toThrow(new RangeError('a job admitted for 10 cannot cost 11'))
    l.finish(10n, owed(1, 10n))
    l.admit(5n, 1_000n)
    l.release(5n)
    expect(l.owedAmount).toBe(10n)
    const voucher = signedVoucher({ seqno: 1, amount: 10n, receiptsRoot: rootOf(ZERO_ROOT, l.owed[0]!) })
    l.commit(l.check(voucher.boc, voucher.signature, terms))
    expect(l.settled).toBe(true)
  })
})

describe('PaymentLedger: vouchers', () => {
  const a = owed(1, 100n)
  const b = owed(2, 200n)
  const c = owed(3, 300n)

  it('a voucher paying a prefix of the owed receipts is accepted and commits that prefix', () => {
    const l = ledgerOwing(a, b, c)
    const v = signedVoucher({ seqno: 1, amount: 300n, receiptsRoot: rootOf(ZERO_ROOT, a, b) })
    const accepted = l.check(v.boc, v.signature, terms)
    expect(accepted.covered).toBe(2)
    expect(accepted.from).toEqual({ seqno: 0, amount: 0n, root: ZERO_ROOT })
    expect(accepted.to).toEqual({ seqno: 1, amount: 300n, root: rootOf(ZERO_ROOT, a, b) })
    expect(accepted.cell.equals(v.cell)).toBe(true)
    expect(accepted.signature).toEqual(v.signature)
    expect(accepted.voucher.amount).toBe(300n)
    // checking changed nothing
    expect(l.position.seqno).toBe(0)
    expect(l.owed).toHaveLength(3)
    l.commit(accepted)
    expect(l.position).toEqual(accepted.to)
    expect(l.owed).toEqual([c])
    expect(l.owedAmount).toBe(300n)
    // the next voucher continues the chain
    const next = signedVoucher({ seqno: 5, amount: 600n, receiptsRoot: rootOf(ZERO_ROOT, a, b, c) })
    l.commit(l.check(next.boc, next.signature, terms))
    expect(l.position).toEqual({ seqno: 5, amount: 600n, root: rootOf(ZERO_ROOT, a, b, c) })
    expect(l.settled).toBe(true)
  })

  it('MALFORMED_VOUCHER: not a BOC, or not a voucher', () => {
    const l = ledgerOwing(a)
    expect(code(() => l.check(Buffer.from('garbage'), Buffer.alloc(64), terms))).toBe('MALFORMED_VOUCHER')
    expect(failure(() => l.check(a.receipt.toBoc(), Buffer.alloc(64), terms))).toEqual({ code: 'MALFORMED_VOUCHER', message: 'not a voucher (bad tag)' })
  })

  it('WRONG_NETWORK, WRONG_CHANNEL, BAD_SIGNATURE', () => {
    const l = ledgerOwing(a)
    const ok = { seqno: 1, amount: 100n, receiptsRoot: rootOf(ZERO_ROOT, a) }
    let v = signedVoucher({ ...ok, globalId: GLOBAL_IDS.mainnet })
    expect(failure(() => l.check(v.boc, v.signature, terms))).toEqual({ code: 'WRONG_NETWORK', message: 'the voucher is for network -239, this node runs on -3' })
    v = signedVoucher({ ...ok, channel: otherChannel })
    expect(failure(() => l.check(v.boc, v.signature, terms))).toEqual({ code: 'WRONG_CHANNEL', message: 'the voucher names another channel' })
    v = signedVoucher(ok, strangerKeys.secretKey)
    expect(failure(() => l.check(v.boc, v.signature, terms))).toEqual({ code: 'BAD_SIGNATURE', message: 'voucher signature does not match the channel client key' })
    v = signedVoucher(ok)
    expect(l.check(v.boc, v.signature, terms).covered).toBe(1)
  })

  it('STALE_VOUCHER: a seqno not above the last one', () => {
    const l = new PaymentLedger(channel, globalId, { seqno: 3, amount: 0n, root: ZERO_ROOT }, 1_000n)
    l.admit(100n, terms.deposit)
    l.finish(100n, a)
    for (const seqno of [2, 3]) {
      const v = signedVoucher({ seqno, amount: 100n, receiptsRoot: rootOf(ZERO_ROOT, a) })
      expect(failure(() => l.check(v.boc, v.signature, terms))).toEqual({ code: 'STALE_VOUCHER', message: `voucher seqno ${seqno} is not above 3` })
    }
    const v = signedVoucher({ seqno: 4, amount: 100n, receiptsRoot: rootOf(ZERO_ROOT, a) })
    expect(l.check(v.boc, v.signature, terms).to.seqno).toBe(4)
  })

  it('OVER_DEPOSIT: an amount above the deposit, exact at the bound', () => {
    const l = ledgerOwing(a)
    const v = signedVoucher({ seqno: 1, amount: 100n, receiptsRoot: rootOf(ZERO_ROOT, a) })
    expect(l.check(v.boc, v.signature, { ...terms, deposit: 100n }).covered).toBe(1)
    expect(failure(() => l.check(v.boc, v.signature, { ...terms, deposit: 99n }))).toEqual({ code: 'OVER_DEPOSIT', message: 'the voucher\'s 100 nanoton exceed the channel deposit of 99' })
  })

  it('UNDERPAID: nothing new paid, or an amount between receipt boundaries, or more than is owed', () => {
    const l = ledgerOwing(a, b)
    for (const amount of [0n, 50n, 150n, 400n]) {
      const v = signedVoucher({ seqno: 1, amount, receiptsRoot: rootOf(ZERO_ROOT, a) })
      expect(failure(() => l.check(v.boc, v.signature, terms))).toEqual({ code: 'UNDERPAID', message: `voucher pays ${amount} nanoton in total; the receipts issued come to 300` })
    }
    const empty = ledgerOwing()
    const v = signedVoucher({ seqno: 1, amount: 0n })
    expect(code(() => empty.check(v.boc, v.signature, terms))).toBe('UNDERPAID')
  })

  it('BAD_RECEIPTS_ROOT: the right amount over other receipts, another order, or no root', () => {
    const l = ledgerOwing(a, b)
    for (const root of [rootOf(ZERO_ROOT, b, a), rootOf(ZERO_ROOT, a), ZERO_ROOT, rootOf(Buffer.alloc(32, 1), a, b)]) {
      const v = signedVoucher({ seqno: 1, amount: 300n, receiptsRoot: root })
      expect(failure(() => l.check(v.boc, v.signature, terms))).toEqual({ code: 'BAD_RECEIPTS_ROOT', message: 'voucher receipts root does not match the receipts issued' })
    }
  })

  it('a checked voucher commits only on the position it was checked against', () => {
    const l = ledgerOwing(a, b)
    const first = signedVoucher({ seqno: 1, amount: 100n, receiptsRoot: rootOf(ZERO_ROOT, a) })
    const second = signedVoucher({ seqno: 2, amount: 100n, receiptsRoot: rootOf(ZERO_ROOT, a) })
    const acceptedFirst = l.check(first.boc, first.signature, terms)
    const acceptedSecond = l.check(second.boc, second.signature, terms)
    l.commit(acceptedSecond)
    expect(failure(() => l.commit(acceptedFirst))).toEqual({ code: 'STALE_VOUCHER', message: 'another voucher was accepted on this channel meanwhile' })
    expect(l.position.seqno).toBe(2)
    expect(l.owed).toEqual([b])
    const l2 = ledgerOwing(a, b)
    const x = l2.check(first.boc, first.signature, terms)
    const y = signedVoucher({ seqno: 1, amount: 300n, receiptsRoot: rootOf(ZERO_ROOT, a, b) })
    // a position that moved in amount only, or in seqno only, refuses it too
    const moved = new PaymentLedger(channel, globalId, { seqno: 0, amount: 5n, root: ZERO_ROOT }, 1_000n)
    expect(code(() => moved.commit(x))).toBe('STALE_VOUCHER')
    const bumped = new PaymentLedger(channel, globalId, { seqno: 1, amount: 0n, root: ZERO_ROOT }, 1_000n)
    expect(code(() => bumped.commit(x))).toBe('STALE_VOUCHER')
    l2.commit(l2.check(y.boc, y.signature, terms))
    expect(l2.settled).toBe(true)
  })
})

describe('PaymentLedger: oversize vouchers', () => {
  it('a BOC over the size bound, or a cell that is no voucher, is MALFORMED_VOUCHER', () => {
    const big = beginCell().storeBuffer(Buffer.alloc(100)).endCell()
    const l = ledgerOwing()
    expect(code(() => l.check(new Uint8Array(5000), Buffer.alloc(64), terms))).toBe('MALFORMED_VOUCHER')
    expect(code(() => l.check(big.toBoc(), Buffer.alloc(64), terms))).toBe('MALFORMED_VOUCHER')
  })
})
