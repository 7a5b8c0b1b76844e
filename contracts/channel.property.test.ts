import { describe, it, expect, beforeAll } from 'vitest'
import { toNano, type Address, type Transaction } from '@ton/core'
import { keyPairFromSeed } from '@ton/crypto'
import type { BlockchainSnapshot, SandboxContract, SendMessageResult } from '@ton/sandbox'
import { buildReceipt, signCell, ZERO_ROOT, type Receipt } from '../protocol/cells.ts'
import { Bounds, Errors, Fees, Op } from './constants.ts'
import { Channel, channelAddress } from './Channel.ts'
import { Registry, type RegistryParams } from './Registry.ts'
import { ProviderState } from './Provider.ts'
import {
  openChannel, signedVoucher, signedCloseRequest, ledgerFor, expectFeeAccepted, balanceEffects,
  CLOSE_DELAY, DEPOSIT, FEE_BPS, FLAT_GAS_PRICE, GLOBAL_ID, MIN_STAKE, NONCE, SLASH_SHARE_BPS, STAKE, START, UNBONDING_DELAY, type ChannelFixture
} from './test-fixture.ts'

// Random sequences of deposits, top-ups, claims (valid and invalid), start/finish close,
// cooperative close, reopening with a new nonce, slashing the Provider, governance changes (valid
// and out of bounds) and time jumps of years, against the real contracts, with a model predicting
// each outcome and the invariants checked after every step:
// - no value is created or lost: every account moved by exactly its transactions' flows and fees,
//   and over the whole sequence, the sum of all balances + the fees burned = what was there before;
// - no party receives more than was signed to it (payouts + protocol fees = paid, an amount the
//   client signed; a reporter gets at most the slash share of the stake);
// - deposit - paid is always held by an open channel, and refunded in full at its close;
// - nothing is stranded: after each sequence everything is closed, withdrawn and drained, and
//   only the Registry's storage reserve and a slashed Provider's record reserve remain.
// Seeded, so a failure names the seed that reproduces it.

const SEQUENCES = 24
const MIN_STEPS = 10
const MAX_STEPS = 22
const YEAR = 365 * 86_400
/** A message to a destroyed (fully closed) channel: no code runs, a bounceable one comes back. */
const GONE = -1

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

type Action = 'topUp' | 'strangerTopUp' | 'claim' | 'smallClaim' | 'badClaim' | 'startClose' | 'wait' | 'years' | 'finishClose'
  | 'coopClose' | 'badCoopClose' | 'reopen' | 'slash' | 'setParams'
const ACTIONS: readonly Action[] = [
  'topUp', 'strangerTopUp', 'claim', 'claim', 'smallClaim', 'badClaim', 'badClaim', 'startClose', 'wait', 'wait', 'years',
  'finishClose', 'coopClose', 'badCoopClose', 'reopen', 'reopen', 'slash', 'setParams'
]
/** smallClaim adds at most this (fee up to 500,000 nanoton, often below the 40,000 that buys any gas) */
const SMALL_CLAIM = toNano('0.02')
/**
 * The channel's storage reserve (Fees.channelDeployGas less the deployment's fees) covers its
 * lifetime and about 3 years more; time jumps stay within 2 years past expiry, the window in which
 * docs/CONTRACTS.md promises a full refund to a client who never closes.
 */
const GRACE_AFTER_EXPIRY = 2 * YEAR

interface ChannelModel {
  address: Address
  nonce: bigint
  deposit: bigint
  paid: bigint
  seqno: number
  closeAt: number
  expiresAt: number
  closed: boolean
  feeBps: number
  closeDelay: number
  /** every amount the client ever signed for this channel (vouchers and close requests) */
  signed: Set<bigint>
}

interface Totals {
  /** value of every message the current channel received, and of everything it sent, by kind */
  inbound: bigint
  feesReceived: bigint
  payouts: bigint
  fees: bigint
  refunds: bigint
  /** excesses and bounces back to senders */
  returned: bigint
  /** every fee the channel's own transactions paid (total fees + forward fees of what it sent) */
  gas: bigint
}

const emptyTotals = (): Totals => ({ inbound: 0n, feesReceived: 0n, payouts: 0n, fees: 0n, refunds: 0n, returned: 0n, gas: 0n })

/** Fees burned by a cascade: each transaction's total fees and the forward fees of what it sent. */
function burned (txs: Transaction[]): bigint {
  let total = 0n
  for (const tx of txs) {
    total += tx.totalFees.coins
    for (const msg of tx.outMessages.values()) if (msg.info.type === 'internal') total += msg.info.forwardFee
  }
  return total
}

describe('Silk contracts under random sequences (property test)', () => {
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

  /** Adds what `channel`'s transactions in `txs` received, sent and paid; checks every fee delivery to the registry. */
  function tally (txs: Transaction[], channel: Address, t: Totals, deliveries: { ran: number, belowGas: number }): void {
    for (const tx of txs) {
      if (account(tx)?.equals(f.registry.address) === true) {
        const info = tx.inMessage?.info
        const body = tx.inMessage?.body.beginParse()
        if (info?.type !== 'internal' || body === undefined || body.remainingBits < 32 || body.loadUint(32) !== Op.protocolFee) continue
        // every fee delivery succeeds (or, below 40,000 nanoton, runs no code and is credited whole)
        expectFeeAccepted(tx, info.value.coins)
        t.feesReceived += info.value.coins
        if (info.value.coins >= FLAT_GAS_PRICE) deliveries.ran++
        else deliveries.belowGas++
        continue
      }
      if (account(tx)?.equals(channel) !== true) continue
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

  /** The channel's state read straight from its account (channel_storage$_); null once destroyed. */
  async function readChannel (address: Address): Promise<{ data: { deposit: bigint, paid: bigint, seqno: number, closed: boolean }, balance: bigint } | null> {
    const contract = await f.blockchain.getContract(address)
    const state = contract.accountState
    if (state === undefined) return null
    if (state.type !== 'active' || state.state.data == null) throw new Error(`channel is ${state.type}`)
    const s = state.state.data.beginParse()
    s.loadAddress(); s.loadAddress(); s.loadRef()
    const st = s.loadMaybeRef()!.beginParse()
    const deposit = st.loadCoins()
    const paid = st.loadCoins()
    const seqno = st.loadUint(32)
    st.skip(256 + 16 + 32 + 32)
    return { data: { deposit, paid, seqno, closed: st.loadBit() }, balance: contract.balance }
  }

  function outcome (result: SendMessageResult, to: Address): { success: boolean, exitCode: number } {
    const tx = result.transactions.find((t) => account(t)?.equals(to) === true)
    if (tx === undefined || tx.description.type !== 'generic') throw new Error('the contract did not run')
    const cp = tx.description.computePhase
    if (cp.type === 'skipped') return { success: false, exitCode: GONE }
    const success = cp.success && tx.description.actionPhase?.success === true
    return { success, exitCode: cp.exitCode }
  }

  it(`${SEQUENCES} seeded sequences of ${MIN_STEPS}–${MAX_STEPS} steps keep every invariant, and leave nothing stranded`, async () => {
    const seen = new Map<string, number>()
    const deliveries = { ran: 0, belowGas: 0 }
    for (let seed = 1; seed <= SEQUENCES; seed++) {
      await f.blockchain.loadFrom(opened)
      let now = START
      f.blockchain.now = now
      const r = prng(seed)
      const registryData = await f.registry.getRegistryData()
      let params: RegistryParams = {
        feeBps: registryData.feeBps, minStake: registryData.minStake, unbondingDelay: registryData.unbondingDelay,
        closeDelay: registryData.closeDelay, slashShareBps: registryData.slashShareBps
      }
      const first = await f.channel.getChannelData()
      let m: ChannelModel = {
        address: f.channel.address, nonce: NONCE, deposit: DEPOSIT, paid: 0n, seqno: 0, closeAt: 0, expiresAt: first.expiresAt, closed: false,
        feeBps: FEE_BPS, closeDelay: CLOSE_DELAY, signed: new Set()
      }
      let channel: SandboxContract<Channel> = f.channel
      let t = emptyTotals()
      let initialBalance = await channel.getBalance()
      let slashed = false
      let reporterRewards = 0n
      const ledger = ledgerFor(f, f.provider.address, f.channel.address)
      const everyone = (): Address[] => [f.owner, f.providerOwner, f.client, f.stranger, f.nodeWallet].map((w) => w.address)
        .concat([f.registry.address, f.provider.address], channels)
      const channels: Address[] = [f.channel.address]
      const total = async (): Promise<bigint> => {
        let sum = 0n
        for (const a of everyone()) sum += (await f.blockchain.getContract(a)).balance
        return sum
      }
      const totalBefore = await total()
      let burnt = 0n
      const steps = MIN_STEPS + r.int(MAX_STEPS - MIN_STEPS + 1)

      /** Runs one cascade; checks every account to the nanoton and counts what it burnt. */
      const run = async (send: () => Promise<SendMessageResult>): Promise<SendMessageResult> => {
        await ledger.snap()
        const result = await send()
        await ledger.expectExact(result.transactions)
        // every account touched is one the ledger tracks: value went nowhere else
        for (const key of balanceEffects(result.transactions).keys()) {
          expect(everyone().map((a) => a.toRawString())).toContain(key)
        }
        burnt += burned(result.transactions)
        return result
      }

      for (let step = 0; step < steps; step++) {
        const where = `seed ${seed}, step ${step}`
        const effClosed = m.closed || (m.closeAt !== 0 && now >= m.closeAt) || now >= m.expiresAt
        let action = r.pick(ACTIONS)
        // a client reopens (new nonce) only once its channel is closed
        if (action === 'reopen' && !m.closed) action = 'claim'
        const paidBefore = m.paid
        let result: SendMessageResult
        let target: Address = m.address
        /** predicted exit code (0: accepted, GONE: the channel no longer exists) and what the model becomes if accepted */
        let expected: number
        let apply = (): void => {}

        switch (action) {
          case 'topUp': {
            const amount = big(r, toNano('2'))
            result = await run(async () => await channel.sendTopUp(f.client.getSender(), { amount }))
            expected = m.closed ? GONE : effClosed ? Errors.channelClosed : 0
            apply = () => { m.deposit += amount }
            break
          }
          case 'strangerTopUp': {
            result = await run(async () => await channel.sendTopUp(f.stranger.getSender(), { amount: toNano('1') }))
            expected = m.closed ? GONE : Errors.unauthorized
            break
          }
          case 'claim': {
            const seqno = m.seqno + 1 + r.int(3)
            const amount = m.paid + big(r, m.deposit - m.paid)
            m.signed.add(amount)
            result = await run(async () => await channel.sendClaim(f.nodeWallet.getSender(), signedVoucher(f, { channel: m.address, seqno, amount, receiptsRoot: Buffer.alloc(32, seqno & 0xff) })))
            expected = m.closed ? GONE : effClosed ? Errors.channelClosed : 0
            apply = () => { m.paid = amount; m.seqno = seqno }
            break
          }
          case 'smallClaim': {
            const seqno = m.seqno + 1
            const amount = m.paid + big(r, m.deposit - m.paid < SMALL_CLAIM ? m.deposit - m.paid : SMALL_CLAIM)
            m.signed.add(amount)
            result = await run(async () => await channel.sendClaim(f.nodeWallet.getSender(), signedVoucher(f, { channel: m.address, seqno, amount })))
            expected = m.closed ? GONE : effClosed ? Errors.channelClosed : 0
            apply = () => { m.paid = amount; m.seqno = seqno }
            break
          }
          case 'badClaim': {
            const kind = r.pick(['forgedClient', 'forgedNode', 'replay', 'aboveDeposit', 'belowPaid', 'lowValue', 'otherNetwork'] as const)
            let seqno = m.seqno + 1
            let amount = m.paid + big(r, m.deposit - m.paid)
            let code: number
            let keys = {}
            let value: bigint | undefined
            let globalId: number = GLOBAL_ID
            if (kind === 'forgedClient') { keys = { clientKey: forger }; code = Errors.badClientSignature } else if (kind === 'forgedNode') { keys = { nodeKey: forger }; code = Errors.badNodeSignature } else if (kind === 'replay') { seqno = m.seqno; code = Errors.seqnoNotIncreasing } else if (kind === 'aboveDeposit') { amount = m.deposit + 1n + big(r, toNano('1')); code = Errors.amountAboveDeposit } else if (kind === 'belowPaid' && m.paid > 0n) { amount = m.paid - 1n - big(r, m.paid - 1n); code = Errors.amountBelowPaid } else if (kind === 'otherNetwork') { globalId = -239; code = Errors.wrongNetwork } else { value = Fees.claimGas - 1n; code = Errors.notEnoughValue }
            if (kind !== 'forgedClient') m.signed.add(amount)
            const signed = signedVoucher(f, { channel: m.address, seqno, amount, globalId, ...keys })
            result = await run(async () => await channel.sendClaim(f.nodeWallet.getSender(), { ...signed, value }))
            expected = m.closed ? GONE : effClosed ? Errors.channelClosed : code
            break
          }
          case 'startClose': {
            result = await run(async () => await channel.sendStartClose(f.client.getSender()))
            expected = m.closed ? GONE : m.closeAt !== 0 ? Errors.alreadyClosing : 0
            apply = () => { m.closeAt = now + m.closeDelay }
            break
          }
          case 'wait': {
            now += r.chance(0.3) ? m.closeDelay : r.int(Math.floor(m.closeDelay * 0.6))
            f.blockchain.now = now
            // a plain (bounceable) transfer from a stranger: kept and refunded to the client on close; bounced once the channel is gone
            result = await run(async () => await f.stranger.send({ to: m.address, value: toNano('0.01'), bounce: true }))
            expected = m.closed ? GONE : 0
            break
          }
          case 'years': {
            // months to years at once, never past the refund window after the current channel's expiry
            now = Math.max(now, Math.min(now + Math.floor(YEAR / 4) + r.int(2 * YEAR), m.expiresAt + GRACE_AFTER_EXPIRY))
            f.blockchain.now = now
            result = await run(async () => await f.stranger.send({ to: m.address, value: toNano('0.01'), bounce: true }))
            expected = m.closed ? GONE : 0
            break
          }
          case 'finishClose': {
            result = await run(async () => await channel.sendFinishClose(r.chance(0.5) ? f.client.getSender() : f.stranger.getSender(), { value: toNano(r.chance(0.5) ? '0.02' : '3') }))
            expected = m.closed ? GONE : ((m.closeAt !== 0 && now >= m.closeAt) || now >= m.expiresAt) ? 0 : Errors.closeNotReady
            apply = () => { m.closed = true }
            break
          }
          case 'coopClose': {
            const seqno = m.seqno + r.int(2)
            const amount = m.paid + big(r, m.deposit - m.paid)
            m.signed.add(amount)
            const via = r.chance(0.5) ? f.client : f.nodeWallet
            result = await run(async () => await channel.sendCooperativeClose(via.getSender(), signedCloseRequest(f, { channel: m.address, seqno, amount, receiptsRoot: ZERO_ROOT })))
            expected = m.closed ? GONE : effClosed ? Errors.channelClosed : 0
            apply = () => { m.paid = amount; m.seqno = seqno; m.closed = true }
            break
          }
          case 'badCoopClose': {
            const amount = m.paid + big(r, m.deposit - m.paid)
            m.signed.add(amount)
            result = await run(async () => await channel.sendCooperativeClose(f.nodeWallet.getSender(), signedCloseRequest(f, { channel: m.address, seqno: m.seqno + 1, amount, nodeKey: forger })))
            expected = m.closed ? GONE : effClosed ? Errors.channelClosed : Errors.badNodeSignature
            break
          }
          case 'reopen': {
            // a client reopens with a new nonce: a new address with the Registry's current parameters
            const nonce = m.nonce + 1n
            const deposit = toNano('1') + big(r, toNano('4'))
            const address = channelAddress(f.registry.address, f.client.address, f.clientKeys.publicKey, f.providerOwner.address, f.nodeKeys.publicKey, nonce)
            channels.push(address)
            ledger.add(address)
            target = f.registry.address
            result = await run(async () => await f.registry.sendOpenChannel(f.client.getSender(), {
              clientKey: f.clientKeys.publicKey, providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey, deposit, nonce
            }))
            expected = 0
            apply = () => {
              m = {
                address, nonce, deposit, paid: 0n, seqno: 0, closeAt: 0, expiresAt: now + Bounds.channelLifetime, closed: false,
                feeBps: params.feeBps, closeDelay: params.closeDelay, signed: new Set()
              }
              channel = f.blockchain.openContract(Channel.createFromAddress(address))
            }
            break
          }
          case 'slash': {
            target = f.provider.address
            const receipt: Receipt = {
              globalId: GLOBAL_ID, channel: m.address, epoch: 1, jobId: BigInt(step), units: 1, price: 1n, deterministic: true, complete: true, time: now,
              modelHash: Buffer.alloc(32, 1), specHash: Buffer.alloc(32, step & 0xff), outputHash: Buffer.alloc(32, 3)
            }
            const a = buildReceipt(receipt)
            const b = buildReceipt({ ...receipt, outputHash: Buffer.alloc(32, 4) })
            result = await run(async () => await f.provider.sendReportEquivocation(f.stranger.getSender(), {
              receiptA: a, sigA: signCell(a, f.nodeKeys.secretKey), receiptB: b, sigB: signCell(b, f.nodeKeys.secretKey)
            }))
            expected = slashed ? Errors.alreadySlashed : 0
            apply = () => { slashed = true }
            for (const tx of result.transactions) {
              const info = tx.inMessage?.info
              const body = tx.inMessage!.body.beginParse()
              if (info?.type === 'internal' && info.src.equals(f.provider.address) && !info.bounced && body.remainingBits >= 32 && body.loadUint(32) === Op.slashReward) reporterRewards += info.value.coins
            }
            break
          }
          case 'setParams': {
            target = f.registry.address
            const next: RegistryParams = {
              feeBps: r.int(Bounds.maxFeeBps + 1),
              minStake: MIN_STAKE,
              unbondingDelay: Bounds.minUnbondingDelay + r.int(Bounds.maxUnbondingDelay - Bounds.minUnbondingDelay + 1),
              closeDelay: Bounds.minCloseDelay + r.int(Bounds.maxCloseDelay - Bounds.minCloseDelay + 1),
              slashShareBps: r.int(Bounds.maxSlashShareBps + 1)
            }
            const bad = r.pick(['none', 'none', 'fee', 'slash', 'close', 'unbonding'] as const)
            if (bad === 'fee') next.feeBps = Bounds.maxFeeBps + 1 + r.int(10_000 - Bounds.maxFeeBps)
            if (bad === 'slash') next.slashShareBps = Bounds.maxSlashShareBps + 1 + r.int(10_000 - Bounds.maxSlashShareBps)
            if (bad === 'close') next.closeDelay = r.chance(0.5) ? r.int(Bounds.minCloseDelay) : Bounds.maxCloseDelay + 1 + r.int(0x7fffffff)
            if (bad === 'unbonding') next.unbondingDelay = r.chance(0.5) ? r.int(Bounds.minUnbondingDelay) : Bounds.maxUnbondingDelay + 1 + r.int(0x7fffffff)
            result = await run(async () => await f.owner.send({ to: f.registry.address, value: toNano('0.05'), body: Registry.setParamsMessageUnchecked(next) }))
            expected = { none: 0, fee: Errors.feeTooHigh, slash: Errors.slashShareTooHigh, close: Errors.closeDelayOutOfRange, unbonding: Errors.unbondingDelayOutOfRange }[bad]
            apply = () => { params = next }
            break
          }
        }

        seen.set(`${action}:${expected}`, (seen.get(`${action}:${expected}`) ?? 0) + 1)
        const got = outcome(result, target)
        expect({ where, action, success: got.success, exitCode: got.success ? 0 : got.exitCode })
          .toEqual({ where, action, success: expected === 0, exitCode: expected })
        if (expected === 0) apply()
        if (action === 'reopen') {
          t = emptyTotals()
          initialBalance = await channel.getBalance()
          continue
        }
        tally(result.transactions, m.address, t, deliveries)

        // the whole system: every balance + every fee burnt = what there was before the sequence
        expect(await total() + burnt, where).toBe(totalBefore)

        const state = await readChannel(m.address)
        // the channel's balance is exactly what it started with, plus what came in, less what went out and its fees
        const balance = state?.balance ?? 0n
        expect(balance, where).toBe(initialBalance + t.inbound - t.payouts - t.fees - t.refunds - t.returned - t.gas)
        // the provider owner received exactly paid less the protocol fees: never more than the client signed
        const paid = state?.data.paid ?? m.paid
        expect(t.payouts + t.fees, where).toBe(paid)
        expect(paid === 0n || m.signed.has(paid), where).toBe(true)
        expect(paid, where).toBeGreaterThanOrEqual(paidBefore)
        expect(t.feesReceived, where).toBe(t.fees)
        // a reporter never gets more than the slash share of the stake
        expect(reporterRewards, where).toBeLessThanOrEqual(STAKE * BigInt(SLASH_SHARE_BPS) / 10_000n + toNano('0.03'))
        if (state !== null) {
          expect({ where, deposit: state.data.deposit, paid: state.data.paid, seqno: state.data.seqno, closed: state.data.closed })
            .toEqual({ where, deposit: m.deposit, paid: m.paid, seqno: m.seqno, closed: m.closed })
          // storage never eats the deposit: an open channel holds at least deposit - paid, whatever its age
          expect(balance, where).toBeGreaterThanOrEqual(m.deposit - m.paid)
        } else {
          // a closed channel is destroyed and the client got back at least its unspent deposit
          expect(m.closed, where).toBe(true)
          expect(t.refunds, where).toBeGreaterThanOrEqual(m.deposit - m.paid)
        }
      }

      // ---------- nothing stranded: close, withdraw and drain everything ----------
      const where = `seed ${seed}, drain`
      if (!m.closed) {
        if (m.closeAt === 0 && now < m.expiresAt) {
          await run(async () => await channel.sendStartClose(f.client.getSender()))
          m.closeAt = now + m.closeDelay
        }
        now = Math.max(now, Math.min(m.closeAt === 0 ? m.expiresAt : m.closeAt, m.expiresAt))
        f.blockchain.now = now
        const finish = await run(async () => await channel.sendFinishClose(f.stranger.getSender()))
        tally(finish.transactions, m.address, t, deliveries)
        expect(t.refunds, where).toBeGreaterThanOrEqual(m.deposit - m.paid)
      }
      for (const address of channels) {
        expect((await f.blockchain.getContract(address)).balance, `${where}: channel ${address.toString()}`).toBe(0n)
      }
      if (!slashed) {
        await run(async () => await f.provider.sendUnbond(f.providerOwner.getSender()))
        now += UNBONDING_DELAY
        f.blockchain.now = now
        await run(async () => await f.provider.sendWithdraw(f.providerOwner.getSender()))
        expect((await f.blockchain.getContract(f.provider.address)).balance, where).toBe(0n)
      } else {
        expect((await f.provider.getProviderData()).state, where).toBe(ProviderState.slashed)
        expect((await f.blockchain.getContract(f.provider.address)).balance, where).toBeLessThanOrEqual(Fees.providerStorageReserve)
      }
      if (await f.registry.getTreasuryAvailable() > 0n) {
        await run(async () => await f.registry.sendWithdrawTreasury(f.owner.getSender(), { amount: 0n, destination: f.owner.address }))
      }
      expect(await f.registry.getBalance(), where).toBeLessThanOrEqual(Fees.registryStorageReserve)
      // less only its own storage since the sequence began (0.038 TON a year, measured)
      expect(await f.registry.getBalance(), where).toBeGreaterThan(Fees.registryStorageReserve - toNano('0.05') * BigInt(Math.ceil((now - START) / YEAR)) - toNano('0.01'))
      expect(await total() + burnt, where).toBe(totalBefore)
    }
    // fee deliveries of both kinds happened (each checked in tally)
    expect(deliveries.ran).toBeGreaterThan(0)
    expect(deliveries.belowGas).toBeGreaterThan(0)
    // the sequences reach every kind of step, both accepted and rejected
    for (const key of ['claim:0', 'smallClaim:0', `claim:${Errors.channelClosed}`, `claim:${GONE}`, 'coopClose:0', 'finishClose:0', `finishClose:${Errors.closeNotReady}`,
      'topUp:0', `badClaim:${Errors.badClientSignature}`, `badClaim:${Errors.wrongNetwork}`, `badCoopClose:${Errors.badNodeSignature}`,
      'reopen:0', 'slash:0', `slash:${Errors.alreadySlashed}`, 'setParams:0', `setParams:${Errors.closeDelayOutOfRange}`, 'years:0']) {
      expect(seen.get(key) ?? 0, key).toBeGreaterThan(0)
    }
  })
})
