import { describe, expect, it } from 'vitest'
import { Address } from '@ton/core'
import { GLOBAL_IDS } from '../protocol/cells.ts'
import { FRAME_LIMITS } from '../protocol/wire/constants.ts'
import { JobService, type JobServiceComponents } from './job-service.ts'

// The per-peer byte budgets are bounded: peer ids cost nothing, so their table must not grow
// with them. (spend() touches no component; the service is not started.)

function service (maxSessions: number, maxBytesPerSecond = 1024): JobService {
  const owner = new Address(0, Buffer.alloc(32, 1))
  return new JobService({} as unknown as JobServiceComponents, {
    providerOwner: owner, provider: owner, globalId: GLOBAL_IDS.local, epoch: 1, maxSessions, maxBytesPerSecond
  })
}

describe('JobService byte budgets', () => {
  it('keep at most twice the session cap of peers, however many peer ids send', () => {
    const jobs = service(4)
    for (let i = 0; i < 1000; i++) jobs.spend(`peer-${i}`, 10)
    expect(jobs.budgetEntries).toBeLessThanOrEqual(8)
  })

  it('still hold back a peer that sends more than its budget', () => {
    const jobs = service(4)
    const burst = 2 * FRAME_LIMITS.maxFrameBytes // the bucket's size at 1 KiB/s
    expect(jobs.spend('greedy', burst)).toBe(true)
    expect(jobs.spend('greedy', 1024 * 1024)).toBe(false)
    expect(jobs.spend('modest', 1024)).toBe(true)
  })
})
