import { describe, expect, it } from 'vitest'
import { ChainCache } from './chain-cache.ts'

describe('ChainCache', () => {
  it('answers repeated reads from memory until the time to live ends, and never keeps failures', async () => {
    const cache = new ChainCache(50)
    let reads = 0
    const read = async (): Promise<number> => ++reads
    expect(await cache.get('a', read)).toBe(1)
    expect(await cache.get('a', read)).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(await cache.get('a', read)).toBe(2)
    await expect(cache.get('b', async () => { throw new Error('api down') })).rejects.toThrow('api down')
    expect(await cache.get('b', read)).toBe(3)
  })
})
