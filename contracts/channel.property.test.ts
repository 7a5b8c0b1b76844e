import { describe, it, expect, beforeAll } from 'vitest'
import { toNano, type Address, type Transaction } from '@ton/core'
import { keyPairFromSeed } from '@ton/crypto'
import type { BlockchainSnapshot, SendMessageResult } from '@ton/sandbox'
import { ZERO_ROOT } from '../protocol/cells.ts'
import { Errors, Fees, Op } from './constants.ts'
import {
  openChannel, signedVoucher, signedCloseRequest, ledgerFor, expectFeeAccepted, CLOSE_DELAY, DEPOSIT, FEE_BPS, FLAT_GAS_PRICE, START, type ChannelFixture
} from './test-fixture.ts'

// Random sequences of deposits, top-ups, claims (valid and invalid), start/finish close and
// cooperative close against the real contracts, with a model predicting each outcome and the
// invariants checked after every step. Seeded, so a failure names the seed that reproduces it.

const SEQUENCES = 30
const MIN_STEPS = 10
const MAX_STEPS = 20

/** mulberry32: a small seeded PRNG. */
function prng (seed: number): { int: (n: number) => number, pick: <T>(xs: readonly T[]) => T, chance: (p: number) => boolean } {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number): number => Math.floor(next() * n)
  return { int, pick: (xs) => xs[int(xs.length)]!, chance: (p) => next() < p }
}

const big = (r: ReturnType<typeof prng>, max: bigint): bigint =>
  max <= 0n ? 0n : (BigInt(r.int(0x7fffffff)) * (max + 1n)) / 0x7fffffffn

const feeOf = (delta: bigint): bigint => delta * BigInt(FEE_BPS) / 10_000n

type Action = 'topUp' | 'strangerTopUp' | 'claim' | 'smallClaim' | 'badClaim' | 'startClose' | 'wait' | 'finishClose' | 'coopClose' | 'badCoopClose'
const ACTIONS: readonly Action[] = [
  'topUp', 'strangerTopUp', 'claim', 'claim', 'smallClaim', 'badClaim', 'badClaim', 'startClose', 'wait', 'wait', 'finishClose', 'coopClose', 'badCoopClose'
]
/** smallClaim adds at most this (fee up to 500,000 nanoton, often below the 40,000 that buys any gas) */
const SMALL_CLAIM = toNano('0.02')

interface Model {
  deposit: bigint
  paid: bigint
  seqno: number
  closeAt: number
  closed: boolean
  /** every amount the client ever signed (vouchers and close requests) */
  signed: Set<bigint>
}

interface Totals {
  /** value of every message the channel received, and of everything it sent, by kind */
  inbound: bigint
  /** protocol fees the registry received, and how many arrived with at least / less than 40,000 nanoton */
  feesReceived: bigint
  feeDeliveries: { ran: number, belowGas: number }
  payouts: bigint
  fees: bigint
  refunds: bigint
  /** excesses and bounces back to senders */
  returned: bigint
  /** every fee the channel's own transactions paid (total fees + forward fees of what it sent) */
  gas: bigint
}

describe('Channel under random sequences (property test)', () => {
  let f: ChannelFixture
  let opened: BlockchainSnapshot
  const forger = keyPairFromSeed(Buffer.alloc(32, 0x77))
  beforeAll(async () => {
    f = await openChannel()
    opened = f.blockchain.snapshot()
  })

  function account (tx: Transaction): Address | undefined {
    const info = tx.inMessage?.info
    return info?.type === 'internal' || info?.type === 'external-in' ? info.dest : undefined
  }

  /** Adds what the channel's transactions in `txs` received, sent and paid; checks every fee delivery to the registry. */
  function tally (txs: Transaction[], t: Totals): void {
    for (const tx of txs) {
      if (account(tx)?.equals(f.registry.address) === true) {
        const info = tx.inMessage?.info
        const body = tx.inMessage?.body.beginParse()
        if (info?.type !== 'internal' || body === undefined || body.remainingBits < 32 || body.loadUint(32) !== Op.protocolFee) continue
        // every fee delivery succeeds (or, below 40,000 nanoton, runs no code and is credited whole)
        expectFeeAccepted(tx, info.value.coins)
        t.feesReceived += info.value.coins
        if (info.value.coins >= FLAT_GAS_PRICE) t.feeDeliveries.ran++
        else t.feeDeliveries.belowGas++
        continue
      }
      if (account(tx)?.equals(f.channel.address) !== true) continue
      t.gas += tx.totalFees.coins
      const info = tx.inMessage?.info
      if (info?.type === 'internal') t.inbound += info.value.coins
      for (const msg of tx.outMessages.values()) {
        if (msg.info.type !== 'internal') continue
        t.gas += msg.info.forwardFee
        const v = msg.info.value.coins
        const body = msg.body.beginParse()
        const op = msg.info.bounced || body.remainingBits < 32 ? 0 : body.loadUint(32)
        if (op === Op.payout) t.payouts += v
        else if (op === Op.protocolFee) t.fees += v
        else if (op === Op.refund) t.refunds += v
        else t.returned += v
      }
    }
  }

  /** The channel's state read straight from its account (channel_storage$_), faster than the getter. */
  async function readChannel (): Promise<{ data: { deposit: bigint, paid: bigint, seqno: number, closed: boolean }, balance: bigint }> {
    const contract = await f.blockchain.getContract(f.channel.address)
    const state = contract.accountState
    if (state?.type !== 'active' || state.state.data == null) throw new Error('channel not active')
    const s = state.state.data.beginParse()
    s.loadAddress(); s.loadAddress(); s.loadRef()
    const st = s.loadMaybeRef()!.beginParse()
    const deposit = st.loadCoins()
    const paid = st.loadCoins()
    const seqno = st.loadUint(32)
    st.skip(256 + 16 + 32 + 32)
    return { data: { deposit, paid, seqno, closed: st.loadBit() }, balance: contract.balance }
  }

  function outcome (result: SendMessageResult): { success: boolean, exitCode: number } {
    const tx = result.transactions.find((t) => account(t)?.equals(f.channel.address) === true)
    if (tx === undefined || tx.description.type !== 'generic') throw new Error('the channel did not run')
    const cp = tx.description.computePhase
    const success = cp.type === 'vm' && cp.success && tx.description.actionPhase?.success === true
    return { success, exitCode: cp.type === 'vm' ? cp.exitCode : -1 }
  }

  it(`${SEQUENCES} seeded sequences of ${MIN_STEPS}–${MAX_STEPS} steps keep every invariant`, async () => {
    const seen = new Map<string, number>()
    const deliveries = { ran: 0, belowGas: 0 }
    for (let seed = 1; seed <= SEQUENCES; seed++) {
      await f.blockchain.loadFrom(opened)
      let now = START
      f.blockchain.now = now
      const r = prng(seed)
      const m: Model = { deposit: DEPOSIT, paid: 0n, seqno: 0, closeAt: 0, closed: false, signed: new Set() }
      const t: Totals = { inbound: 0n, feesReceived: 0n, feeDeliveries: deliveries, payouts: 0n, fees: 0n, refunds: 0n, returned: 0n, gas: 0n }
      const initialBalance = await f.channel.getBalance()
      const ledger = ledgerFor(f, f.channel.address)
      const steps = MIN_STEPS + r.int(MAX_STEPS - MIN_STEPS + 1)

      for (let step = 0; step < steps; step++) {
        const where = `seed ${seed}, step ${step}`
        const effClosed = m.closed || (m.closeAt !== 0 && now >= m.closeAt)
        const action = r.pick(ACTIONS)
        await ledger.snap()
        const paidBefore = m.paid
        let result: SendMessageResult
        /** predicted exit code (0: accepted) and what the model becomes if accepted */
        let expected: number
        let apply = (): void => {}

        switch (action) {
          case 'topUp': {
            const amount = big(r, toNano('2'))
            result = await f.channel.sendTopUp(f.client.getSender(), { amount })
            expected = effClosed ? Errors.channelClosed : 0
            apply = () => { m.deposit += amount }
            break
          }
          case 'strangerTopUp': {
            result = await f.channel.sendTopUp(f.stranger.getSender(), { amount: toNano('1') })
            expected = Errors.unauthorized
            break
          }
          case 'claim': {
            const seqno = m.seqno + 1 + r.int(3)
            const amount = m.paid + big(r, m.deposit - m.paid)
            m.signed.add(amount)
            result = await f.channel.sendClaim(f.nodeWallet.getSender(), signedVoucher(f, { channel: f.channel.address, seqno, amount, receiptsRoot: Buffer.alloc(32, seqno & 0xff) }))
            expected = effClosed ? Errors.channelClosed : 0
            apply = () => { m.paid = amount; m.seqno = seqno }
            break
          }
          case 'smallClaim': {
            const seqno = m.seqno + 1
            const amount = m.paid + big(r, m.deposit - m.paid < SMALL_CLAIM ? m.deposit - m.paid : SMALL_CLAIM)
            m.signed.add(amount)
            result = await f.channel.sendClaim(f.nodeWallet.getSender(), signedVoucher(f, { channel: f.channel.address, seqno, amount }))
            expected = effClosed ? Errors.channelClosed : 0
            apply = () => { m.paid = amount; m.seqno = seqno }
            break
          }
          case 'badClaim': {
            const kind = r.pick(['forgedClient', 'forgedNode', 'replay', 'aboveDeposit', 'belowPaid', 'lowValue'] as const)
            let seqno = m.seqno + 1
            let amount = m.paid + big(r, m.deposit - m.paid)
            let code: number
            let keys = {}
            let value: bigint | undefined
            if (kind === 'forgedClient') { keys = { clientKey: forger }; code = Errors.badClientSignature } else if (kind === 'forgedNode') { keys = { nodeKey: forger }; code = Errors.badNodeSignature } else if (kind === 'replay') { seqno = m.seqno; code = Errors.seqnoNotIncreasing } else if (kind === 'aboveDeposit') { amount = m.deposit + 1n + big(r, toNano('1')); code = Errors.amountAboveDeposit } else if (kind === 'belowPaid' && m.paid > 0n) { amount = m.paid - 1n - big(r, m.paid - 1n); code = Errors.amountBelowPaid } else { value = Fees.claimGas - 1n; code = Errors.notEnoughValue }
            if (kind !== 'forgedClient') m.signed.add(amount)
            const signed = signedVoucher(f, { channel: f.channel.address, seqno, amount, ...keys })
            result = await f.channel.sendClaim(f.nodeWallet.getSender(), { ...signed, value })
            expected = effClosed ? Errors.channelClosed : code
            break
          }
          case 'startClose': {
            result = await f.channel.sendStartClose(f.client.getSender())
            expected = m.closed ? Errors.channelClosed : m.closeAt !== 0 ? Errors.alreadyClosing : 0
            apply = () => { m.closeAt = now + CLOSE_DELAY }
            break
          }
          case 'wait': {
            now += r.chance(0.3) ? CLOSE_DELAY : r.int(Math.floor(CLOSE_DELAY * 0.6))
            f.blockchain.now = now
            // a plain transfer from a stranger: kept and refunded to the client on close; refused once closed
            result = await f.stranger.send({ to: f.channel.address, value: toNano('0.01') })
            expected = m.closed ? Errors.channelClosed : 0
            break
          }
          case 'finishClose': {
            result = await f.channel.sendFinishClose(r.chance(0.5) ? f.client.getSender() : f.stranger.getSender())
            expected = m.closed ? Errors.channelClosed : (m.closeAt !== 0 && now >= m.closeAt) ? 0 : Errors.closeNotReady
            apply = () => { m.closed = true }
            break
          }
          case 'coopClose': {
            const seqno = m.seqno + r.int(2)
            const amount = m.paid + big(r, m.deposit - m.paid)
            m.signed.add(amount)
            const via = r.chance(0.5) ? f.client : f.nodeWallet
            result = await f.channel.sendCooperativeClose(via.getSender(), signedCloseRequest(f, { channel: f.channel.address, seqno, amount, receiptsRoot: ZERO_ROOT }))
            expected = effClosed ? Errors.channelClosed : 0
            apply = () => { m.paid = amount; m.seqno = seqno; m.closed = true }
            break
          }
          case 'badCoopClose': {
            const amount = m.paid + big(r, m.deposit - m.paid)
            m.signed.add(amount)
            result = await f.channel.sendCooperativeClose(f.nodeWallet.getSender(), signedCloseRequest(f, { channel: f.channel.address, seqno: m.seqno + 1, amount, nodeKey: forger }))
            expected = effClosed ? Errors.channelClosed : Errors.badNodeSignature
            break
          }
        }

        seen.set(`${action}:${expected}`, (seen.get(`${action}:${expected}`) ?? 0) + 1)
        const got = outcome(result)
        expect({ where, action, success: got.success, exitCode: got.success ? 0 : got.exitCode })
          .toEqual({ where, action, success: expected === 0, exitCode: expected })
        if (expected === 0) apply()
        tally(result.transactions, t)

        // no value created or lost: every party's balance moved by exactly its transactions' flows and fees
        await ledger.expectExact(result.transactions)

        const { data, balance } = await readChannel()
        expect({ where, deposit: data.deposit, paid: data.paid, seqno: data.seqno, closed: data.closed })
          .toEqual({ where, deposit: m.deposit, paid: m.paid, seqno: m.seqno, closed: m.closed })
        // paid never decreases; it is always an amount the client signed
        expect(data.paid, where).toBeGreaterThanOrEqual(paidBefore)
        expect(data.paid === 0n || m.signed.has(data.paid), where).toBe(true)
        // the provider owner received exactly paid less the protocol fees: never more than the client signed
        expect(t.payouts + t.fees, where).toBe(data.paid)
        // and the registry received every protocol fee the channel sent
        expect(t.feesReceived, where).toBe(t.fees)
        if (data.paid > paidBefore) {
          const delta = data.paid - paidBefore
          expect(t.fees - (t.fees - feeOf(delta)), where).toBe(feeOf(delta))
        }
        // the deposit never pays a fee: while open the channel holds at least deposit - paid
        if (!m.closed) expect(balance, where).toBeGreaterThanOrEqual(data.deposit - data.paid)
        // the channel's balance is exactly what it started with, plus what came in, less what went out and its fees
        expect(balance, where).toBe(initialBalance + t.inbound - t.payouts - t.fees - t.refunds - t.returned - t.gas)
        if (m.closed) {
          expect(balance, where).toBe(0n)
          // client refunds + payouts + protocol fees (+ unused gas back to senders) = all that came in - gas
          expect(t.refunds + t.payouts + t.fees + t.returned, where).toBe(initialBalance + t.inbound - t.gas)
          // and the client got back at least its unspent deposit
          expect(t.refunds, where).toBeGreaterThanOrEqual(data.deposit - data.paid)
        }
      }
    }
    // fee deliveries of both kinds happened (each checked in tally)
    expect(deliveries.ran).toBeGreaterThan(0)
    expect(deliveries.belowGas).toBeGreaterThan(0)
    // the sequences reach every kind of step, both accepted and rejected
    for (const key of ['claim:0', 'smallClaim:0', `claim:${Errors.channelClosed}`, 'coopClose:0', 'finishClose:0', `finishClose:${Errors.closeNotReady}`,
      'topUp:0', `badClaim:${Errors.badClientSignature}`, `badClaim:${Errors.amountAboveDeposit}`, `badCoopClose:${Errors.badNodeSignature}`]) {
      expect(seen.get(key) ?? 0, key).toBeGreaterThan(0)
    }
  })
})
