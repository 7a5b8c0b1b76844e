import {
  AbortError, BudgetExceededError, ChannelError, ConnectionError, DiscoveryError, InvalidReceiptError, JobFailedError, NoProviderError,
  ProviderRejectedError, TimeoutError, UnknownModelError
} from '../client/index.ts'

/** The `type` of an OpenAI error body. */
export type ErrorType = 'invalid_request_error' | 'authentication_error' | 'api_error' | 'insufficient_quota'

/**
 * A failure the gateway answers with an OpenAI-style error body:
 * `{ error: { message, type, param, code } }` and an HTTP status.
 */
export class GatewayError extends Error {
  override name = 'GatewayError'
  constructor (
    readonly status: number,
    readonly type: ErrorType,
    readonly code: string | null,
    message: string,
    readonly param: string | null = null,
    options?: ErrorOptions
  ) {
    super(message, options)
  }

  get body (): { error: { message: string, type: ErrorType, param: string | null, code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } }
  }
}

export function invalidRequest (message: string, param: string | null = null, code: string | null = null, status = 400): GatewayError {
  return new GatewayError(status, 'invalid_request_error', code, message, param)
}

export function modelNotFound (model: string, param = 'model'): GatewayError {
  return new GatewayError(404, 'invalid_request_error', 'model_not_found', `The model \`${model}\` does not exist or is not served by this gateway`, param)
}

/**
 * The gateway's own client wallet holds too little to open or top up a payment channel: nothing
 * ran. The operator must fund it; callers get an OpenAI `insufficient_quota` error naming it.
 */
export class WalletUnfundedError extends Error {
  override name = 'WalletUnfundedError'
  constructor (readonly wallet: string, readonly balance: bigint, readonly needed: bigint, options?: ErrorOptions) {
    super(`This gateway's wallet ${wallet} holds ${balance} nanoton, less than the ${needed} nanoton a payment channel with a provider needs; its operator must fund it`, options)
  }
}

/** Job errors that say the request itself is wrong, as opposed to the provider or the payment. */
const REQUEST_FAULTS = new Set(['BAD_INPUT', 'MALFORMED_TENSOR', 'TENSOR_TOO_LARGE'])

/**
 * What the SDK's typed errors mean to an HTTP caller. The pool has already failed over and retried
 * by the time one reaches here, so 5xx means "no provider could do it right now".
 */
export function toGatewayError (err: unknown): GatewayError {
  if (err instanceof GatewayError) return err
  const api = (status: number, code: string, message: string): GatewayError => new GatewayError(status, 'api_error', code, message, null, { cause: err })
  if (err instanceof JobFailedError) {
    if (REQUEST_FAULTS.has(err.code)) return new GatewayError(400, 'invalid_request_error', err.code.toLowerCase(), err.message, null, { cause: err })
    if (err.code === 'UNKNOWN_MODEL') return new GatewayError(404, 'invalid_request_error', 'model_not_found', err.message, 'model', { cause: err })
    if (err.code === 'OVERLOADED' || err.code === 'SHUTTING_DOWN') return api(503, err.code.toLowerCase(), `the providers are busy: ${err.message}`)
    return api(502, err.code.toLowerCase(), `the provider failed the job: ${err.message}`)
  }
  if (err instanceof WalletUnfundedError) return new GatewayError(402, 'insufficient_quota', 'wallet_unfunded', err.message, null, { cause: err })
  // the request's worst case is above what the caller may still spend: nothing ran
  if (err instanceof BudgetExceededError) return new GatewayError(429, 'insufficient_quota', 'insufficient_quota', `This request could cost more than this gateway may still spend in the current period (${err.worstCase} > ${err.maxCost} nanoton); try a smaller max_tokens or later`, null, { cause: err })
  if (err instanceof UnknownModelError) return new GatewayError(404, 'invalid_request_error', 'model_not_found', err.message, 'model', { cause: err })
  if (err instanceof NoProviderError || err instanceof DiscoveryError) return api(503, 'no_provider', err.message)
  if (err instanceof TimeoutError) return api(504, 'timeout', err.message)
  if (err instanceof InvalidReceiptError) return api(502, 'invalid_receipt', `a provider's result failed verification (${err.reason}); it was not paid for`)
  if (err instanceof ProviderRejectedError) return api(502, 'provider_rejected', `${err.reason}: ${err.message}`)
  if (err instanceof ConnectionError) return api(502, 'provider_unreachable', err.message)
  if (err instanceof ChannelError) return api(502, 'payment_channel', err.message)
  if (err instanceof AbortError) return api(499, 'aborted', 'the request was aborted')
  return api(500, 'internal_error', 'internal gateway error')
}
