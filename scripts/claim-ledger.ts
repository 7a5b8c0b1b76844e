// Where every nanoton of one claim went, read from the transactions of its cascade (nothing
// assumed): the voucher's value splits into the payout and the protocol fee; the owner's wallet
// pays its own fee to take the payout in; the node's gas wallet pays for the claim separately.
import type { Address, Transaction } from '@ton/core'
import { Op } from '../contracts/constants.ts'

/** The transactions of one claim's cascade. */
export interface ClaimCascade {
  /** the node's gas wallet sending the claim (external in, one out message to the channel) */
  send: Transaction
  /** the channel taking the claim in */
  claim: Transaction
  /** the owner's wallet taking the payout in */
  payout: Transaction
  /** the Registry taking the protocol fee in */
  protocolFee: Transaction
  /** the gas wallet taking the excesses back */
  excesses: Transaction
}

export interface ClaimLedger {
  /** what the voucher moved: payout + protocol fee */
  claimed: bigint
  protocolFee: bigint
  /** sent to the owner */
  payout: bigint
  /** the owner wallet's own transaction fee for taking the payout in */
  receivingFee: bigint
  /** payout − receivingFee: what the owner's balance rose by */
  ownerGain: bigint
  /** what the Registry kept of the protocol fee after its own transaction fee */
  registryGain: bigint
  gas: {
    /** fees of the gas wallet's own transaction */
    sendFees: bigint
    /** the forward fee of the claim message, paid by the gas wallet on top of its value */
    forwardFee: bigint
    /** the value sent with the claim (Fees.claimGas) */
    claimValue: bigint
    /** what came back of it */
    excesses: bigint
    /** the fee of the gas wallet's transaction taking the excesses in */
    excessesFees: bigint
    /** sendFees + forwardFee + (claimValue − excesses) + excessesFees: what the gas wallet's balance fell by */
    total: bigint
  }
}

/**
 * How a transaction changed its account's balance: the value in, less every out message's value
 * and the forward fee it carries, less the transaction's fees (which hold the rest of the
 * forward fees). Exact for transactions that carry no extra currencies.
 */
export function balanceChange (tx: Transaction): bigint {
  const inInfo = tx.inMessage?.info
  let change = inInfo?.type === 'internal' ? inInfo.value.coins : 0n
  for (const m of tx.outMessages.values()) {
    if (m.info.type === 'internal') change -= m.info.value.coins + m.info.forwardFee
  }
  return change - tx.totalFees.coins
}

export function opOf (tx: Transaction): number | undefined {
  const body = tx.inMessage?.body
  if (body === undefined) return undefined
  const s = body.beginParse()
  return s.remainingBits >= 32 ? s.preloadUint(32) : undefined
}

/** The value of the claim transaction's out messages with `op`, and to whom. */
function sent (claim: Transaction, op: number): { value: bigint, to?: Address } {
  let value = 0n
  let to: Address | undefined
  for (const m of claim.outMessages.values()) {
    if (m.info.type !== 'internal') continue
    const s = m.body.beginParse()
    if (s.remainingBits >= 32 && s.preloadUint(32) === op) {
      value += m.info.value.coins
      to = m.info.dest
    }
  }
  return { value, to }
}

function internalValue (tx: Transaction): bigint {
  const info = tx.inMessage?.info
  return info?.type === 'internal' ? info.value.coins : 0n
}

export class LedgerMismatch extends Error {
  override name = 'LedgerMismatch'
}

/** Reads the ledger from the cascade; throws LedgerMismatch when the transactions do not fit together. */
export function claimLedger (c: ClaimCascade): ClaimLedger {
  if (opOf(c.claim) !== Op.claim) throw new LedgerMismatch('the channel transaction is not a claim')
  const payout = sent(c.claim, Op.payout).value
  const protocolFee = sent(c.claim, Op.protocolFee).value
  const excesses = sent(c.claim, Op.excesses).value
  if (internalValue(c.payout) !== payout) throw new LedgerMismatch('the owner took in another value than the payout')
  if (internalValue(c.protocolFee) !== protocolFee) throw new LedgerMismatch('the Registry took in another value than the protocol fee')
  if (internalValue(c.excesses) !== excesses) throw new LedgerMismatch('the gas wallet took in another value than the excesses')
  const claimMsg = [...c.send.outMessages.values()].find((m) => m.info.type === 'internal')
  if (claimMsg?.info.type !== 'internal') throw new LedgerMismatch('the gas wallet sent no claim')
  const claimValue = claimMsg.info.value.coins
  if (claimValue !== internalValue(c.claim)) throw new LedgerMismatch('the channel took in another value than the gas wallet sent')
  const gas = {
    sendFees: c.send.totalFees.coins,
    forwardFee: claimMsg.info.forwardFee,
    claimValue,
    excesses,
    excessesFees: c.excesses.totalFees.coins,
    total: 0n
  }
  gas.total = gas.sendFees + gas.forwardFee + (gas.claimValue - gas.excesses) + gas.excessesFees
  // the two ways of counting the gas wallet's spending must agree to the nanoton
  if (gas.total !== -(balanceChange(c.send) + balanceChange(c.excesses))) throw new LedgerMismatch('the gas wallet\'s fees do not add up')
  return {
    claimed: payout + protocolFee,
    protocolFee,
    payout,
    receivingFee: c.payout.totalFees.coins,
    ownerGain: balanceChange(c.payout),
    registryGain: balanceChange(c.protocolFee),
    gas
  }
}
