import { AbortError, isRetryable } from './errors.ts'

export interface RetryOptions {
  /** attempts after the first; default 2 */
  retries?: number
  /** first back-off, ms; default 100 */
  minDelayMs?: number
  /** longest back-off, ms; default 2000 */
  maxDelayMs?: number
  signal?: AbortSignal
  /** which failures are worth another attempt; default isRetryable */
  retryable?: (err: unknown) => boolean
  /** told before each new attempt (e.g. to fail over to another provider) */
  onRetry?: (err: unknown, attempt: number) => void
}

/**
 * The one retry policy of the SDK: exponential back-off with full jitter, so many clients that
 * lost the same provider do not come back in lockstep.
 */
export async function withRetry<T> (attempt: (n: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const retries = options.retries ?? 2
  const min = options.minDelayMs ?? 100
  const max = options.maxDelayMs ?? 2000
  const retryable = options.retryable ?? isRetryable
  for (let n = 0; ; n++) {
    if (aborted(options.signal)) throw new AbortError('aborted')
    try {
      return await attempt(n)
    } catch (err) {
      if (n >= retries || !retryable(err) || aborted(options.signal)) throw err
      options.onRetry?.(err, n + 1)
      const ceiling = Math.min(max, min * 2 ** n)
      await sleep(Math.random() * ceiling, options.signal)
    }
  }
}

function aborted (signal?: AbortSignal): boolean {
  return signal?.aborted === true
}

async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(timer); reject(new AbortError('aborted')) }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
