import { describe, expect, it } from 'vitest'
import { AbortError, ConnectionError, JobFailedError } from './errors.ts'
import { withRetry } from './retry.ts'

describe('withRetry', () => {
  it('retries connection failures with back-off and reports each retry', async () => {
    const seen: number[] = []
    const result = await withRetry(async (n) => {
      if (n < 2) throw new ConnectionError('gone')
      return n
    }, { minDelayMs: 1, onRetry: (_e, attempt) => seen.push(attempt) })
    expect(result).toBe(2)
    expect(seen).toEqual([1, 2])
  })

  it('does not retry a failure that another attempt cannot fix', async () => {
    let calls = 0
    const err = await withRetry(async () => { calls++; throw new JobFailedError('BAD_INPUT', 'shape', 1n) }, { minDelayMs: 1 }).catch((e: unknown) => e)
    expect(calls).toBe(1)
    expect((err as JobFailedError).code).toBe('BAD_INPUT')
  })

  it('gives up after the last retry with the last error, and stops at once when aborted', async () => {
    let calls = 0
    await expect(withRetry(async () => { calls++; throw new ConnectionError(`try ${calls}`) }, { retries: 3, minDelayMs: 1 })).rejects.toThrow('try 4')
    const ctl = new AbortController()
    const pending = withRetry(async () => { throw new ConnectionError('x') }, { retries: 1000, minDelayMs: 10_000, maxDelayMs: 10_000, signal: ctl.signal })
    setTimeout(() => { ctl.abort() }, 20)
    await expect(pending).rejects.toBeInstanceOf(AbortError)
  })
})
