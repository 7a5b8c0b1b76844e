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

/** The provider failed the on-chain checks: not registered, key mismatch, stake too low, not active. */
export class ProviderRejectedError extends SilkError {
  override name = 'ProviderRejectedError'
  constructor (readonly reason: 'NOT_ED25519' | 'NOT_REGISTERED' | 'KEY_MISMATCH' | 'STAKE_TOO_LOW' | 'NOT_ACTIVE' | 'WRONG_PROVIDER' | 'TEE_REQUIRED' | 'MODEL_NOT_ALLOWED', message: string) {
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

/** A result whose receipt does not prove what it must; it is not paid for. */
export class InvalidReceiptError extends SilkError {
  override name = 'InvalidReceiptError'
  constructor (readonly reason: 'MALFORMED' | 'BAD_SIGNATURE' | 'WRONG_CHANNEL' | 'WRONG_JOB' | 'WRONG_MODEL' | 'INPUT_MISMATCH' | 'OUTPUT_MISMATCH' | 'WRONG_PRICE' | 'WRONG_UNITS' | 'TOO_EXPENSIVE', message: string) {
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

/** One place decides what is worth retrying (on the same or another provider). */
export function isRetryable (err: unknown): boolean {
  if (err instanceof ConnectionError || err instanceof TimeoutError) return true
  return err instanceof JobFailedError && (err.code === 'OVERLOADED' || err.code === 'INTERNAL')
}
