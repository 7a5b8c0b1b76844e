import type { LoggerOptions } from 'pino'

// One logging policy for every Silk process (node, gateway, devnet, CLI, bot): what may never
// reach a log, however an object is logged.

/**
 * Paths pino blanks out. Secrets travel in request headers (a TON API key), in wallet and key
 * objects, and in signed BOCs (a signed wallet message is a bearer instrument until it lands).
 */
export const LOG_REDACT_PATHS = [
  'headers', '*.headers', '*.*.headers',
  'authorization', '*.authorization',
  'apiKey', '*.apiKey', 'api_key', '*.api_key',
  'mnemonic', '*.mnemonic', 'mnemonics', '*.mnemonics',
  'secretKey', '*.secretKey', 'keyPair', '*.keyPair', 'seed', '*.seed',
  'boc', '*.boc', 'body', '*.body'
]

interface ErrorLike { name?: unknown, message?: unknown, code?: unknown, status?: unknown, stack?: unknown, cause?: unknown }

/**
 * Errors are logged as their type, message, code and stack (and the same of their causes) and
 * nothing else: an HTTP client's error carries its whole request (headers with API keys, the body
 * with a signed BOC) as enumerable fields, which pino's default serializer would write out.
 */
export function serializeError (err: unknown, depth = 0): Record<string, unknown> | unknown {
  if (err === null || typeof err !== 'object') return err
  const e = err as ErrorLike
  const out: Record<string, unknown> = {
    type: typeof e.name === 'string' ? e.name : (err as object).constructor?.name,
    message: typeof e.message === 'string' ? scrub(e.message) : undefined
  }
  if (typeof e.code === 'string' || typeof e.code === 'number') out.code = e.code
  if (typeof e.status === 'number') out.status = e.status
  if (typeof e.stack === 'string') out.stack = scrub(e.stack)
  if (e.cause !== undefined && depth < 4) out.cause = serializeError(e.cause, depth + 1)
  return out
}

/** Long base64 or hex runs in messages are BOCs or keys: cut them out. */
function scrub (text: string): string {
  return text.replace(/[A-Za-z0-9+/=_-]{96,}/g, '[redacted]')
}

/** pino options every Silk logger is created with. */
export function loggerOptions (level: string): LoggerOptions {
  return {
    level,
    redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError, error: serializeError }
  }
}
