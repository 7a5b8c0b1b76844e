import { Address, beginCell, type Message, type Transaction } from '@ton/core'
import { describe, expect, it } from 'vitest'
import { Op } from '../contracts/constants.ts'
import { ClaimError, claimMessages, ownerReceived } from './settlement.ts'

// Edges of node/settlement.ts's claim readers that test/claim-policy.test.ts leaves open: a body
// that is the bare op, an outbound external message (a log) in the claim transaction, and the
// typed error a failed claim raises.

const owner = new Address(0, Buffer.alloc(32, 2))
const channel = new Address(0, Buffer.alloc(32, 1))

function internal (value: bigint, body: ReturnType<typeof beginCell>): Message {
  return {
    info: { type: 'internal', ihrDisabled: true, bounce: false, bounced: false, src: channel, dest: owner, value: { coins: value }, ihrFee: 0n, forwardFee: 1n, createdLt: 9n, createdAt: 0 },
    body: body.endCell()
  }
}

/** An outbound external message (what a contract logs), whose body happens to start with the payout op. */
function log (): Message {
  return { info: { type: 'external-out', src: channel, dest: null, createdLt: 10n, createdAt: 0 }, body: beginCell().storeUint(Op.payout, 32).storeUint(0, 64).endCell() } as unknown as Message
}

function transaction (out: Message[], inValue = 0n, fees = 0n): Transaction {
  return { outMessages: { values: () => out }, inMessage: internal(inValue, beginCell()), totalFees: { coins: fees } } as unknown as Transaction
}

describe('claim readers at their edges', () => {
  it('a body of exactly the 32-bit op is read; shorter bodies are no op at all', () => {
    const read = claimMessages(transaction([internal(500n, beginCell().storeUint(Op.payout, 32)), internal(7n, beginCell().storeUint(Op.payout, 31))]))
    expect(read).toEqual({ payout: 500n, payoutLt: 9n, owner, protocolFee: 0n, excesses: 0n })
  })

  it('outbound external messages in the claim transaction are not money', () => {
    expect(claimMessages(transaction([log(), internal(300n, beginCell().storeUint(Op.payout, 32).storeUint(0, 64))]))).toEqual({ payout: 300n, payoutLt: 9n, owner, protocolFee: 0n, excesses: 0n })
  })

  it('the owner kept nothing when the fees ate the payout exactly, and the rest otherwise', () => {
    expect(ownerReceived(transaction([], 400n, 400n))).toBe(0n)
    expect(ownerReceived(transaction([], 401n, 400n))).toBe(1n)
  })

  it('a failed claim is a ClaimError carrying the exit code', () => {
    const err = new ClaimError(115, 'claim failed')
    expect(err).toBeInstanceOf(Error)
    expect(err.name).toBe('ClaimError')
    expect(err.exitCode).toBe(115)
    expect(err.message).toBe('claim failed')
  })
})
