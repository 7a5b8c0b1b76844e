// The SDK's error hierarchy, keyed by cause. Callers test `instanceof` or `err.name`, never text.

export class SilkError extends Error {
  override name = 'SilkError'
}

/** The provider could not be reached or the session broke. Retryable on another provider. */
export class ConnectionError extends SilkError {
  override name = 'ConnectionError'
}

export class TimeoutError extends SilkError {
  override name = 'TimeoutError'
}

export class AbortError extends SilkError {
  override name = 'AbortError'
}

export type ProviderRejection =
  | 'NOT_ED25519' | 'NOT_REGISTERED' | 'KEY_MISMATCH' | 'STAKE_TOO_LOW' | 'NOT_ACTIVE' | 'WRONG_PROVIDER' | 'TEE_REQUIRED' | 'MODEL_NOT_ALLOWED'
  /** the Welcome's price of a model differs from the provider's advert */
  | 'PRICE_MISMATCH'
  /** the Welcome's price of the model asked for is above the caller's maxPricePerUnit */
  | 'PRICE_TOO_HIGH'
  /** the Welcome states another determinism or execution path for a model than the advert */
  | 'OFFER_MISMATCH'

/** The provider failed the on-chain or offer checks: not registered, key mismatch, stake too low, not active, price bait. */
export class ProviderRejectedError extends SilkError {
  override name = 'ProviderRejectedError'
  constructor (readonly reason: ProviderRejection, message: string) {
    super(message)
  }
}

/** The node answered a job or voucher with a typed error frame. */
export class JobFailedError extends SilkError {
  override name = 'JobFailedError'
  constructor (readonly code: string, message: string, readonly jobId: bigint) {
    super(`${code}: ${message}`)
  }
}

/** Why a receipt is refused (client/verify.ts checks each). */
export type ReceiptErrorCode =
  | 'MALFORMED'
  | 'BAD_SIGNATURE' // not signed by the node key the session proved
  | 'WRONG_NETWORK' // signed for another network (global_id)
  | 'WRONG_EPOCH' // names another registration than the Provider's current one
  | 'WRONG_CHANNEL'
  | 'WRONG_JOB'
  | 'WRONG_MODEL'
  | 'SPEC_MISMATCH' // the job spec (input, parameters, execution path) is not what was sent
  | 'OUTPUT_MISMATCH' // the output hash is not that of what was received
  | 'WRONG_PRICE' // another price per unit than the provider's offer
  | 'WRONG_DETERMINISM' // claims another determinism than the provider's offer
  | 'INCOMPLETE' // says the result is partial where a whole one was due
  | 'WRONG_UNITS' // more units than the request allows, or not the units delivered
  | 'TOO_EXPENSIVE' // costs more than the job's maxCost

/** A result whose receipt does not prove what it must; it is not paid for. */
export class InvalidReceiptError extends SilkError {
  override name = 'InvalidReceiptError'
  constructor (readonly reason: ReceiptErrorCode, message: string) {
    super(message)
  }
}

/** Two receipts that do not prove equivocation: the Provider contract would refuse them, so no proof is built. */
export class NotEquivocationError extends SilkError {
  override name = 'NotEquivocationError'
  constructor (readonly reason: 'INCOMPLETE' | 'NOT_DETERMINISTIC' | 'DIFFERENT_NETWORK' | 'DIFFERENT_EPOCH' | 'DIFFERENT_MODEL' | 'DIFFERENT_SPEC' | 'SAME_OUTPUT', message: string) {
    super(message)
  }
}

/** Opening, funding or reading the payment channel failed. */
export class ChannelError extends SilkError {
  override name = 'ChannelError'
}

export class UnknownModelError extends SilkError {
  override name = 'UnknownModelError'
}

/**
 * The job could cost more than the caller's maxCost (its most units at the offered price), so it
 * was not sent: nothing ran and nothing is owed. Not the provider's fault, so never a failover.
 */
export class BudgetExceededError extends SilkError {
  override name = 'BudgetExceededError'
  constructor (readonly worstCase: bigint, readonly maxCost: bigint) {
    super(`this job may cost up to ${worstCase} nanoton, more than the maxCost of ${maxCost}; it was not sent`)
  }
}

/** One place decides what is worth retrying (on the same or another provider). */
export function isRetryable (err: unknown): boolean {
  if (err instanceof ConnectionError || err instanceof TimeoutError) return true
  return err instanceof JobFailedError && (err.code === 'OVERLOADED' || err.code === 'INTERNAL')
}
