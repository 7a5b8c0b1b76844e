import { describe, expect, it } from 'vitest'
import { Address, beginCell, type Cell } from '@ton/core'
import { keyPairFromSeed } from '@ton/crypto'
import { buildReceipt, buildVoucher, GLOBAL_IDS, nextReceiptsRoot, signCell, ZERO_ROOT, type Receipt } from '../protocol/cells.ts'
import { helloProof } from '../protocol/wire/hello.ts'
import { JobError } from './errors.ts'
import { authorizeHello, PaymentLedger, type ChannelTerms, type Owed } from './ledger.ts'

// The node's money decisions without a network: each refusal code is provoked once, and each
// acceptance is checked to move exactly the nanotons it should.

const GLOBAL_ID: number = GLOBAL_IDS.local
const client = keyPairFromSeed(Buffer.alloc(32, 1))
const stranger = keyPairFromSeed(Buffer.alloc(32, 2))
const node = keyPairFromSeed(Buffer.alloc(32, 3))
const channel = new Address(0, Buffer.alloc(32, 0xc1))
const otherChannel = new Address(0, Buffer.alloc(32, 0xc2))
const nonce = Buffer.alloc(32, 0x4e)
const terms: ChannelTerms = { clientKey: client.publicKey, deposit: 1_000n, closeDelay: 3600, feeBps: 250 }
const limits = { minCloseDelay: 3600, maxFeeBps: 1000 }

function code (fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    if (err instanceof JobError) {
      expect(err.message).not.toBe('') // every refusal says why
      return err.code
    }
    throw err
  }
  return undefined
}

function hello (over: Partial<Parameters<typeof authorizeHello>[0]> = {}, signer = client.secretKey, signed: Parameters<typeof helloProof>[0] = { globalId: GLOBAL_ID, channel, nodeKey: node.publicKey, nonce }): () => void {
  const signature = signCell(helloProof(signed), signer)
  return () => { authorizeHello({ globalId: GLOBAL_ID, channel, nodeKey: node.publicKey, nonce, signature, terms, limits, ...over }) }
}

describe('authorizeHello: only the channel client key binds a channel, on acceptable terms', () => {
  it('accepts the client key over (network, channel, node key, nonce), at the limits exactly', () => {
    expect(code(hello())).toBeUndefined()
    expect(code(hello({ terms: { ...terms, closeDelay: 3600, feeBps: 1000 } }))).toBeUndefined()
  })

  it('BAD_HELLO: a stranger\'s key, or a proof made for another network, channel, node or nonce', () => {
    expect(code(hello({}, stranger.secretKey))).toBe('BAD_HELLO')
    expect(code(hello({}, client.secretKey, { globalId: GLOBAL_IDS.testnet, channel, nodeKey: node.publicKey, nonce }))).toBe('BAD_HELLO')
    expect(code(hello({}, client.secretKey, { globalId: GLOBAL_ID, channel: otherChannel, nodeKey: node.publicKey, nonce }))).toBe('BAD_HELLO')
    expect(code(hello({}, client.secretKey, { globalId: GLOBAL_ID, channel, nodeKey: stranger.publicKey, nonce }))).toBe('BAD_HELLO')
    expect(code(hello({}, client.secretKey, { globalId: GLOBAL_ID, channel, nodeKey: node.publicKey, nonce: Buffer.alloc(32, 9) }))).toBe('BAD_HELLO')
    expect(code(hello({ signature: new Uint8Array(0) }))).toBe('BAD_HELLO')
  })

  it('BAD_HELLO: no fresh nonce (none sent yet, or already used)', () => {
    expect(code(hello({ nonce: undefined }))).toBe('BAD_HELLO')
    expect(code(hello({ nonce: Buffer.alloc(31) }))).toBe('BAD_HELLO')
  })

  it('CHANNEL_TERMS: a channel that stops accepting claims before the node could claim', () => {
    const now = 1_700_000_000
    expect(code(hello({ now, terms: { ...terms, expiresAt: now + 3599 } }))).toBe('CHANNEL_TERMS')
    expect(code(hello({ now, terms: { ...terms, expiresAt: now + 3600 } }))).toBeUndefined()
    expect(code(hello({ now, terms: { ...terms, expiresAt: 0 } }))).toBeUndefined() // not initialized: no limit known
    expect(code(hello({ terms: { ...terms, expiresAt: 1 } }))).toBeUndefined() // no clock given: not judged
  })

  it('CHANNEL_TERMS: a close delay too short to claim in, or a protocol fee above the limit', () => {
    expect(code(hello({ terms: { ...terms, closeDelay: 3599 } }))).toBe('CHANNEL_TERMS')
    expect(code(hello({ terms: { ...terms, feeBps: 1001 } }))).toBe('CHANNEL_TERMS')
  })
})

function receipt (jobId: number, units: number, price = 10n): Owed {
  const r: Receipt = {
    globalId: GLOBAL_ID,
    channel,
    epoch: 1,
    jobId: BigInt(jobId),
    units,
    price,
    deterministic: true,
    complete: true,
    time: 1_700_000_000,
    modelHash: Buffer.alloc(32, 1),
    specHash: Buffer.alloc(32, 2),
    outputHash: Buffer.alloc(32, jobId)
  }
  const cell = buildReceipt(r)
  return { receipt: cell, signature: signCell(cell, node.secretKey), cost: BigInt(units) * price }
}

function voucher (v: { seqno: number, amount: bigint, receiptsRoot: Buffer, globalId?: number, channel?: Address }, signer = client.secretKey): { boc: Buffer, sig: Buffer, cell: Cell } {
  const cell = buildVoucher({ globalId: v.globalId ?? GLOBAL_ID, channel: v.channel ?? channel, seqno: v.seqno, amount: v.amount, receiptsRoot: v.receiptsRoot })
  return { boc: cell.toBoc(), sig: signCell(cell, signer), cell }
}

function rootOf (...owed: Owed[]): Buffer {
  let root: Buffer = ZERO_ROOT
  for (const o of owed) root = nextReceiptsRoot(root, o.receipt)
  return root
}

/** a ledger with jobs run: each admitted for its cost and finished */
function ledgerWith (credit: bigint, ...owed: Owed[]): PaymentLedger {
  const ledger = new PaymentLedger(channel, GLOBAL_ID, { seqno: 0, amount: 0n, root: ZERO_ROOT }, credit)
  for (const o of owed) {
    ledger.admit(o.cost, terms.deposit)
    ledger.finish(o.cost, o)
  }
  return ledger
}

describe('PaymentLedger.admit: credit and deposit bound what is owed plus what runs', () => {
  it('with no credit: one job at a time, the next only after the last is paid', () => {
    const ledger = ledgerWith(0n)
    expect(ledger.settled).toBe(true)
    ledger.admit(50n, 1_000n)
    expect(ledger.settled).toBe(false) // a job running is not settled either
    expect(code(() => { ledger.admit(1n, 1_000n) })).toBe('PAYMENT_REQUIRED') // one running
    const a = receipt(1, 3)
    ledger.finish(50n, a)
    expect(ledger.owedAmount).toBe(30n)
    expect(ledger.settled).toBe(false)
    expect(code(() => { ledger.admit(1n, 1_000n) })).toBe('PAYMENT_REQUIRED') // one owed
    const v = voucher({ seqno: 1, amount: 30n, receiptsRoot: rootOf(a) })
    ledger.commit(ledger.check(v.boc, v.sig, terms))
    expect(ledger.settled).toBe(true)
    expect(code(() => { ledger.admit(1n, 1_000n) })).toBeUndefined()
  })

  it('with credit: jobs go on while owed + running stays below it', () => {
    const ledger = ledgerWith(100n, receipt(1, 5)) // 50 owed
    expect(code(() => { ledger.admit(40n, 1_000n) })).toBeUndefined() // 50 + 0 < 100
    expect(code(() => { ledger.admit(10n, 1_000n) })).toBeUndefined() // 50 + 40 < 100
    expect(code(() => { ledger.admit(10n, 1_000n) })).toBe('PAYMENT_REQUIRED') // 50 + 50 = 100
    ledger.release(10n)
    expect(code(() => { ledger.admit(1n, 1_000n) })).toBeUndefined() // 50 + 40 < 100 again
  })

  it('DEPOSIT_EXHAUSTED: paid + owed + running + this job must fit the deposit', () => {
    const ledger = ledgerWith(10_000n, receipt(1, 30)) // 300 owed
    expect(code(() => { ledger.admit(701n, 1_000n) })).toBe('DEPOSIT_EXHAUSTED')
    expect(code(() => { ledger.admit(600n, 1_000n) })).toBeUndefined() // 300 owed + 600 running
    expect(code(() => { ledger.admit(101n, 1_000n) })).toBe('DEPOSIT_EXHAUSTED')
    expect(code(() => { ledger.admit(100n, 1_000n) })).toBeUndefined()
  })

  it('counts what is already paid against the deposit', () => {
    const ledger = new PaymentLedger(channel, GLOBAL_ID, { seqno: 4, amount: 900n, root: ZERO_ROOT }, 0n)
    expect(code(() => { ledger.admit(101n, 1_000n) })).toBe('DEPOSIT_EXHAUSTED')
    expect(code(() => { ledger.admit(100n, 1_000n) })).toBeUndefined()
  })

  it('a job cannot be billed above what it was admitted for', () => {
    const ledger = ledgerWith(0n)
    ledger.admit(10n, 1_000n)
    expect(() => { ledger.finish(10n, receipt(1, 2)) }).toThrow(RangeError)
  })
})

describe('PaymentLedger.check: a voucher pays exactly for a prefix of the owed receipts', () => {
  const a = receipt(1, 3) // 30
  const b = receipt(2, 5) // 50

  it('accepts a voucher for the first receipt, then one for the second; each moves exactly its nanotons', () => {
    const ledger = ledgerWith(1_000n, a, b)
    const v1 = voucher({ seqno: 1, amount: 30n, receiptsRoot: rootOf(a) })
    const first = ledger.check(v1.boc, v1.sig, terms)
    expect(first.covered).toBe(1)
    expect(first.to).toEqual({ seqno: 1, amount: 30n, root: rootOf(a) })
    expect(ledger.position.amount).toBe(0n) // check alone changes nothing
    ledger.commit(first)
    expect(ledger.position).toEqual({ seqno: 1, amount: 30n, root: rootOf(a) })
    expect(ledger.owed.map((o) => o.cost)).toEqual([50n])
    const v2 = voucher({ seqno: 2, amount: 80n, receiptsRoot: rootOf(a, b) })
    ledger.commit(ledger.check(v2.boc, v2.sig, terms))
    expect(ledger.position.amount).toBe(80n)
    expect(ledger.owedAmount).toBe(0n)
    expect(ledger.settled).toBe(true)
  })

  it('accepts one voucher for several receipts and a seqno that skips ahead', () => {
    const ledger = ledgerWith(1_000n, a, b)
    const v = voucher({ seqno: 7, amount: 80n, receiptsRoot: rootOf(a, b) })
    const accepted = ledger.check(v.boc, v.sig, terms)
    expect(accepted.covered).toBe(2)
    ledger.commit(accepted)
    expect(ledger.position.seqno).toBe(7)
  })

  it('MALFORMED_VOUCHER: not a BOC, or not a voucher', () => {
    const ledger = ledgerWith(1_000n, a)
    expect(code(() => ledger.check(Buffer.from('nope'), Buffer.alloc(64), terms))).toBe('MALFORMED_VOUCHER')
    const notVoucher = beginCell().storeUint(1, 32).endCell().toBoc()
    expect(code(() => ledger.check(notVoucher, Buffer.alloc(64), terms))).toBe('MALFORMED_VOUCHER')
  })

  it('WRONG_NETWORK: a voucher signed for another network', () => {
    const v = voucher({ seqno: 1, amount: 30n, receiptsRoot: rootOf(a), globalId: GLOBAL_IDS.mainnet })
    expect(code(() => ledgerWith(1_000n, a).check(v.boc, v.sig, terms))).toBe('WRONG_NETWORK')
  })

  it('WRONG_CHANNEL: a voucher naming another channel', () => {
    const v = voucher({ seqno: 1, amount: 30n, receiptsRoot: rootOf(a), channel: otherChannel })
    expect(code(() => ledgerWith(1_000n, a).check(v.boc, v.sig, terms))).toBe('WRONG_CHANNEL')
  })

  it('BAD_SIGNATURE: signed by anyone but the channel client key', () => {
    const v = voucher({ seqno: 1, amount: 30n, receiptsRoot: rootOf(a) }, stranger.secretKey)
    expect(code(() => ledgerWith(1_000n, a).check(v.boc, v.sig, terms))).toBe('BAD_SIGNATURE')
  })

  it('STALE_VOUCHER: a seqno not above the last accepted one', () => {
    const ledger = new PaymentLedger(channel, GLOBAL_ID, { seqno: 3, amount: 0n, root: ZERO_ROOT }, 1_000n)
    ledger.admit(30n, 1_000n)
    ledger.finish(30n, a)
    const v = voucher({ seqno: 3, amount: 30n, receiptsRoot: rootOf(a) })
    expect(code(() => ledger.check(v.boc, v.sig, terms))).toBe('STALE_VOUCHER')
    const ok = voucher({ seqno: 4, amount: 30n, receiptsRoot: rootOf(a) })
    expect(code(() => ledger.check(ok.boc, ok.sig, terms))).toBeUndefined()
  })

  it('OVER_DEPOSIT: a cumulative amount above the deposit', () => {
    const v = voucher({ seqno: 1, amount: 30n, receiptsRoot: rootOf(a) })
    expect(code(() => ledgerWith(1_000n, a).check(v.boc, v.sig, { ...terms, deposit: 29n }))).toBe('OVER_DEPOSIT')
    expect(code(() => ledgerWith(1_000n, a).check(v.boc, v.sig, { ...terms, deposit: 30n }))).toBeUndefined()
  })

  it('UNDERPAID: nothing owed, less than a receipt, or between receipts', () => {
    const none = voucher({ seqno: 1, amount: 30n, receiptsRoot: rootOf(a) })
    expect(code(() => ledgerWith(1_000n).check(none.boc, none.sig, terms))).toBe('UNDERPAID')
    const zero = voucher({ seqno: 1, amount: 0n, receiptsRoot: ZERO_ROOT })
    expect(code(() => ledgerWith(1_000n, a).check(zero.boc, zero.sig, terms))).toBe('UNDERPAID')
    const short = voucher({ seqno: 1, amount: 29n, receiptsRoot: rootOf(a) })
    expect(code(() => ledgerWith(1_000n, a).check(short.boc, short.sig, terms))).toBe('UNDERPAID')
    const between = voucher({ seqno: 1, amount: 31n, receiptsRoot: rootOf(a) })
    expect(code(() => ledgerWith(1_000n, a, b).check(between.boc, between.sig, terms))).toBe('UNDERPAID')
    const over = voucher({ seqno: 1, amount: 81n, receiptsRoot: rootOf(a, b) })
    expect(code(() => ledgerWith(1_000n, a, b).check(over.boc, over.sig, terms))).toBe('UNDERPAID')
  })

  it('BAD_RECEIPTS_ROOT: the right amount over other receipts', () => {
    const other = receipt(9, 3) // also 30 nanoton, another receipt
    const v = voucher({ seqno: 1, amount: 30n, receiptsRoot: rootOf(other) })
    expect(code(() => ledgerWith(1_000n, a).check(v.boc, v.sig, terms))).toBe('BAD_RECEIPTS_ROOT')
  })

  it('commit refuses a voucher checked against a position that has moved since (two sessions, one channel)', () => {
    const ledger = ledgerWith(1_000n, a, b)
    const v1 = voucher({ seqno: 1, amount: 30n, receiptsRoot: rootOf(a) })
    const v1b = voucher({ seqno: 2, amount: 30n, receiptsRoot: rootOf(a) })
    const first = ledger.check(v1.boc, v1.sig, terms)
    const second = ledger.check(v1b.boc, v1b.sig, terms)
    ledger.commit(first)
    expect(code(() => { ledger.commit(second) })).toBe('STALE_VOUCHER')
    expect(ledger.position).toEqual({ seqno: 1, amount: 30n, root: rootOf(a) })
  })
})
