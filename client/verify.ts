import type { Address, Cell } from '@ton/core'
import { parseReceipt, receiptCost, verifyCell, type Receipt } from '../protocol/cells.ts'
import { jobSpecHash } from '../protocol/spec.ts'
import { ProviderState, publicKeyToInt } from '../contracts/index.ts'
import { InvalidReceiptError, ProviderRejectedError } from './errors.ts'

/** What a receipt must say for the job the client sent and the result it received. */
export interface ExpectedReceipt {
  /** the node key the session proved in the Noise handshake (and the chain holds) */
  nodeKey: Buffer
  /** the network the client runs on */
  globalId: number
  /** the Provider's registration epoch, read from the chain */
  epoch: number
  channel: Address
  jobId: bigint
  /** the model as the provider offered it (Welcome, checked against its advert) */
  model: { hash: Uint8Array, pricePerUnit: bigint, deterministic: boolean, execution: string }
  /** the task's canonical input hash of what was sent (it covers every job parameter) */
  inputHash: Buffer
  /** the output hash of what was received */
  outputHash: Buffer
  /** the most units the request allows */
  maxUnits: number
  /** the units the delivered output is worth, when the client can count them */
  units?: { min: number, max: number }
  /** 'required': a whole result is due; 'any': the client cancelled, a partial one is fine */
  complete: 'required' | 'any'
  /** the most this job may cost, nanoton */
  maxCost: bigint
}

/**
 * Checks a receipt against what the client sent and received; returns it parsed, or throws
 * InvalidReceiptError with the first failed check. Pure: no network, no state.
 */
export function verifyReceipt (cell: Cell, signature: Uint8Array, want: ExpectedReceipt): Receipt {
  let r: Receipt
  try { r = parseReceipt(cell) } catch (err) { throw new InvalidReceiptError('MALFORMED', (err as Error).message) }
  if (!verifyCell(cell, signature, want.nodeKey)) throw new InvalidReceiptError('BAD_SIGNATURE', 'receipt is not signed by the provider\'s node key')
  if (r.globalId !== want.globalId) throw new InvalidReceiptError('WRONG_NETWORK', `receipt is for network ${r.globalId}, not ${want.globalId}`)
  if (r.epoch !== want.epoch) throw new InvalidReceiptError('WRONG_EPOCH', `receipt names registration epoch ${r.epoch}; the provider's is ${want.epoch}`)
  if (!r.channel.equals(want.channel)) throw new InvalidReceiptError('WRONG_CHANNEL', 'receipt names another channel')
  if (r.jobId !== want.jobId) throw new InvalidReceiptError('WRONG_JOB', `receipt is for job ${r.jobId}, not ${want.jobId}`)
  if (!r.modelHash.equals(Buffer.from(want.model.hash))) throw new InvalidReceiptError('WRONG_MODEL', 'receipt names another model')
  if (!r.specHash.equals(jobSpecHash(want.model.execution, want.inputHash))) {
    throw new InvalidReceiptError('SPEC_MISMATCH', 'receipt job spec (input, parameters, execution path) does not match what was sent')
  }
  if (!r.outputHash.equals(want.outputHash)) throw new InvalidReceiptError('OUTPUT_MISMATCH', 'receipt output hash does not match what was received')
  if (r.price !== want.model.pricePerUnit) {
    throw new InvalidReceiptError('WRONG_PRICE', `receipt charges ${r.price} per unit; the provider offered ${want.model.pricePerUnit}`)
  }
  if (r.deterministic !== want.model.deterministic) {
    throw new InvalidReceiptError('WRONG_DETERMINISM', `receipt says deterministic=${r.deterministic}; the provider offered ${want.model.deterministic}`)
  }
  if (want.complete === 'required' && !r.complete) throw new InvalidReceiptError('INCOMPLETE', 'receipt marks the result partial, but nothing was cancelled')
  if (r.units > want.maxUnits) throw new InvalidReceiptError('WRONG_UNITS', `receipt bills ${r.units} units; the request allows at most ${want.maxUnits}`)
  if (want.units !== undefined && (r.units < want.units.min || r.units > want.units.max)) {
    throw new InvalidReceiptError('WRONG_UNITS', `receipt bills ${r.units} units for a result worth ${want.units.min === want.units.max ? want.units.min : `${want.units.min}…${want.units.max}`}`)
  }
  const cost = receiptCost(r)
  if (cost > want.maxCost) throw new InvalidReceiptError('TOO_EXPENSIVE', `result costs ${cost} nanoton, above the limit of ${want.maxCost}`)
  return r
}

/** What connect() needs of a Provider contract's state (contracts ProviderData). */
export interface ProviderFacts { nodeKey: bigint, stake: bigint, state: number }

/**
 * Checks a Provider contract read from the chain against the peer: the very node key the peer
 * proved, at least the Registry's current minimum stake, and active (not unbonding or slashed).
 */
export function checkProvider (data: ProviderFacts, peerKey: Buffer, minStake: bigint): void {
  if (data.nodeKey !== publicKeyToInt(peerKey)) throw new ProviderRejectedError('KEY_MISMATCH', 'the on-chain node key is not the peer\'s key')
  if (data.stake < minStake) throw new ProviderRejectedError('STAKE_TOO_LOW', `stake ${data.stake} is below the minimum ${minStake}`)
  if (data.state !== ProviderState.active) throw new ProviderRejectedError('NOT_ACTIVE', 'the provider is unbonding or slashed')
}
