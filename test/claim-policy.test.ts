import { describe, expect, it } from 'vitest'
import { Address, beginCell, toNano, type Message, type Transaction } from '@ton/core'
import { Op } from '../contracts/index.ts'
import {
  CLAIM_COSTS, channelPhase, EXPIRY_WINDOW_SECONDS, claimFees, claimMessages, decideClaim, DEFAULT_CLAIM_POLICY, minEconomicClaim, ownerReceived, type ClaimPolicy
} from '../node/settlement.ts'

// The claim policy of node/settlement.ts as pure functions: no chain, no clock.
// Fees by default: 9,800,000 (the node's claim) + 400,000 (the owner's receiving transaction) = 0.0102 TON.

const FEES = 10_200_000n
const policy = (maxFeeBps: number, claim: bigint = CLAIM_COSTS.claim, ownerReceive: bigint = CLAIM_COSTS.ownerReceive): ClaimPolicy => ({ maxFeeBps, costs: { claim, ownerReceive } })

describe('claim fees and the economic minimum', () => {
  it('adds the node\'s claim cost and the owner\'s receiving fee; the default share is 1 %', () => {
    expect(CLAIM_COSTS).toEqual({ claim: 9_800_000n, ownerReceive: 400_000n })
    expect(DEFAULT_CLAIM_POLICY.maxFeeBps).toBe(100)
    expect(claimFees()).toBe(FEES)
    expect(claimFees(policy(100, 7n, 5n))).toBe(12n)
  })

  it('the smallest economic claim is fees / share, rounded up', () => {
    expect(minEconomicClaim()).toBe(toNano('1.02'))
    expect(minEconomicClaim(policy(10_000))).toBe(FEES)
    expect(minEconomicClaim(policy(5_000))).toBe(2n * FEES)
    // 12 nanoton of fees at 7 bps: 12 * 10000 / 7 = 17142.86 → 17143
    expect(minEconomicClaim(policy(7, 7n, 5n))).toBe(17_143n)
    // the minimum itself passes and one nanoton less does not
    const p = policy(7, 7n, 5n)
    expect(decideClaim(17_143n, 'open', p).claim).toBe(true)
    expect(decideClaim(17_142n, 'open', p).claim).toBe(false)
  })
})

describe('decideClaim', () => {
  it('an open channel is claimed only when the fees are within the share of the value', () => {
    expect(decideClaim(toNano('1.02'), 'open')).toEqual({ claim: true, reason: 'economic', fees: FEES })
    expect(decideClaim(toNano('1.02') - 1n, 'open')).toEqual({ claim: false, reason: 'uneconomic', fees: FEES })
    expect(decideClaim(toNano('5'), 'open')).toEqual({ claim: true, reason: 'economic', fees: FEES })
    // the small claims: 0.0001–0.0003 TON never start
    for (const v of [toNano('0.0001'), toNano('0.0003'), toNano('0.01'), toNano('1')]) expect(decideClaim(v, 'open').claim).toBe(false)
  })

  it('a closing channel gets its last claim when the value still exceeds the fees, not otherwise', () => {
    expect(decideClaim(FEES + 1n, 'closing')).toEqual({ claim: true, reason: 'last-chance', fees: FEES })
    expect(decideClaim(FEES, 'closing')).toEqual({ claim: false, reason: 'below-fees', fees: FEES })
    expect(decideClaim(FEES - 1n, 'closing')).toEqual({ claim: false, reason: 'below-fees', fees: FEES })
    // an economic claim stays economic while closing
    expect(decideClaim(toNano('2'), 'closing')).toEqual({ claim: true, reason: 'economic', fees: FEES })
  })

  it('nothing owed and closed channels are never claimed', () => {
    expect(decideClaim(0n, 'open')).toEqual({ claim: false, reason: 'nothing-owed', fees: FEES })
    expect(decideClaim(-5n, 'closing')).toEqual({ claim: false, reason: 'nothing-owed', fees: FEES })
    expect(decideClaim(toNano('100'), 'closed')).toEqual({ claim: false, reason: 'closed', fees: FEES })
  })

  it('follows the configured share', () => {
    expect(decideClaim(2n * FEES, 'open', policy(5_000)).claim).toBe(true)
    expect(decideClaim(2n * FEES - 1n, 'open', policy(5_000)).claim).toBe(false)
    expect(decideClaim(FEES, 'open', policy(10_000)).claim).toBe(true)
    expect(decideClaim(FEES - 1n, 'open', policy(10_000)).reason).toBe('uneconomic')
  })
})

describe('channelPhase', () => {
  it('open until a close starts, closing until close_at, closed from then on', () => {
    expect(channelPhase({ closeAt: 0, closed: false }, 1000)).toBe('open')
    expect(channelPhase({ closeAt: 1001, closed: false }, 1000)).toBe('closing')
    expect(channelPhase({ closeAt: 1000, closed: false }, 1000)).toBe('closed')
    expect(channelPhase({ closeAt: 999, closed: false }, 1000)).toBe('closed')
    expect(channelPhase({ closeAt: 0, closed: true }, 1000)).toBe('closed')
    expect(channelPhase({ closeAt: 5000, closed: true }, 1000)).toBe('closed')
  })

  it('a channel whose lifetime ends within the window is closing; past its lifetime, closed', () => {
    const week = EXPIRY_WINDOW_SECONDS
    expect(week).toBe(7 * 86_400)
    expect(channelPhase({ closeAt: 0, closed: false, expiresAt: 1000 + week + 1 }, 1000)).toBe('open')
    expect(channelPhase({ closeAt: 0, closed: false, expiresAt: 1000 + week }, 1000)).toBe('closing')
    expect(channelPhase({ closeAt: 0, closed: false, expiresAt: 1001 }, 1000)).toBe('closing')
    expect(channelPhase({ closeAt: 0, closed: false, expiresAt: 1000 }, 1000)).toBe('closed')
    expect(channelPhase({ closeAt: 0, closed: false, expiresAt: 0 }, 1000)).toBe('open')
    expect(channelPhase({ closeAt: 0, closed: false, expiresAt: 1100 }, 1000, 50)).toBe('open')
    expect(channelPhase({ closeAt: 0, closed: false, expiresAt: 1050 }, 1000, 50)).toBe('closing')
    // a started close counts whatever the lifetime
    expect(channelPhase({ closeAt: 2000, closed: false, expiresAt: 1000 + 10 * week }, 1000)).toBe('closing')
    expect(channelPhase({ closeAt: 2000, closed: false, expiresAt: 900 }, 1000)).toBe('closed')
  })
})

const channel = new Address(0, Buffer.alloc(32, 1))
const owner = new Address(0, Buffer.alloc(32, 2))
const registry = new Address(0, Buffer.alloc(32, 3))
const node = new Address(0, Buffer.alloc(32, 4))

function message (dest: Address, value: bigint, op: number | undefined, createdLt: bigint): Message {
  const body = op === undefined ? beginCell().endCell() : beginCell().storeUint(op, 32).storeUint(0, 64).endCell()
  return {
    info: { type: 'internal', ihrDisabled: true, bounce: false, bounced: false, src: channel, dest, value: { coins: value }, ihrFee: 0n, forwardFee: 1n, createdLt, createdAt: 0 },
    body
  }
}

/** The parts of a transaction these readers look at, as the chain returns them. */
function transaction (parts: { out?: Message[], inValue?: bigint, fees?: bigint }): Transaction {
  const out = parts.out ?? []
  return {
    outMessages: { values: () => out },
    inMessage: parts.inValue === undefined ? undefined : message(owner, parts.inValue, Op.payout, 7n),
    totalFees: { coins: parts.fees ?? 0n }
  } as unknown as Transaction
}

describe('reading a claim and the owner\'s payout transaction', () => {
  it('claimMessages separates the payout, the protocol fee and the excesses', () => {
    const read = claimMessages(transaction({
      out: [message(owner, 975_000n, Op.payout, 42n), message(registry, 25_000n, Op.protocolFee, 43n), message(node, 20_000_000n, Op.excesses, 44n)]
    }))
    expect(read).toEqual({ payout: 975_000n, payoutLt: 42n, owner, protocolFee: 25_000n, excesses: 20_000_000n })
  })

  it('a claim whose delta was all fee sends no payout; bodies without an op are ignored', () => {
    const read = claimMessages(transaction({ out: [message(registry, 3n, Op.protocolFee, 1n), message(node, 5n, undefined, 2n)] }))
    expect(read).toEqual({ payout: 0n, protocolFee: 3n, excesses: 0n })
  })

  it('an op alone (no query id) still counts; external messages (logs) are never value', () => {
    const bare: Message = { ...message(node, 9n, undefined, 3n), body: beginCell().storeUint(Op.excesses, 32).endCell() }
    const log = { info: { type: 'external-out', src: channel, dest: null, createdLt: 4n, createdAt: 0 }, body: beginCell().storeUint(Op.payout, 32).endCell() } as unknown as Message
    expect(claimMessages(transaction({ out: [bare, log] }))).toEqual({ payout: 0n, protocolFee: 0n, excesses: 9n })
  })

  it('ownerReceived is the payout less the owner\'s own fees, and 0 when the fees ate it (exit -14)', () => {
    expect(ownerReceived(transaction({ inValue: 975_000n, fees: 396_403n }))).toBe(578_597n)
    expect(ownerReceived(transaction({ inValue: 97_500n, fees: 97_203n }))).toBe(297n)
    expect(ownerReceived(transaction({ inValue: 97_500n, fees: 97_500n }))).toBe(0n)
    expect(ownerReceived(transaction({ inValue: 97_500n, fees: 100_000n }))).toBe(0n)
    expect(ownerReceived(transaction({ fees: 5n }))).toBe(0n)
  })
})
