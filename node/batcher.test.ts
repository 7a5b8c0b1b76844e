import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { float32Tensor, type Tensor } from '../protocol/tensor.ts'
import { Batcher } from './batcher.ts'
import { ModelStore } from './models.ts'

const MODELS = new URL('../models', import.meta.url).pathname
const row = (seed: number, n = 1): Tensor => float32Tensor('x', [n, 64], Array.from({ length: 64 * n }, (_, i) => Math.cos(seed * 13 + i)))

describe('Batcher', () => {
  const store = new ModelStore({ dir: MODELS })
  let mlp: Buffer
  beforeAll(async () => { await store.start(); mlp = store.get('mlp-64-10')!.hash })
  afterAll(async () => { await store.stop() })

  it('merges concurrent jobs into fewer runs and gives each job exactly the bytes it would get alone', async () => {
    const batcher = new Batcher(store)
    const inputs = Array.from({ length: 12 }, (_, i) => row(i, 1 + (i % 3)))
    const batched = await Promise.all(inputs.map(async (x) => await batcher.run(mlp, [x])))
    expect(batcher.stats.jobs).toBe(12)
    // the first job finds the model idle and runs alone; the rest queue behind it and go together
    expect(batcher.stats.runs).toBeLessThan(12)
    for (let i = 0; i < inputs.length; i++) {
      const alone = await store.run(mlp, [inputs[i]!])
      expect(batched[i]!.units).toBe(alone.units)
      expect(batched[i]!.outputs[0]!.dims).toEqual(alone.outputs[0]!.dims)
      expect(Buffer.from(batched[i]!.outputs[0]!.data).equals(Buffer.from(alone.outputs[0]!.data))).toBe(true)
    }
  })

  it('a bad job in a batch fails alone; its neighbours still get results', async () => {
    const batcher = new Batcher(store)
    const bad = { name: 'x', dtype: 'float32' as const, dims: [1, 64], data: new Uint8Array(12) }
    const results = await Promise.allSettled([batcher.run(mlp, [row(1)]), batcher.run(mlp, [bad]), batcher.run(mlp, [row(2)])])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((results[1] as PromiseRejectedResult).reason.code).toBe('BAD_INPUT')
  })

  it('refuses work beyond its queue bound with OVERLOADED instead of growing without limit', async () => {
    const batcher = new Batcher(store, { maxQueue: 4 })
    const results = await Promise.allSettled(Array.from({ length: 6 }, async (_, i) => await batcher.run(mlp, [row(i)])))
    const refused = results.filter((r) => r.status === 'rejected')
    expect(refused).toHaveLength(2)
    expect((refused[0] as PromiseRejectedResult).reason.code).toBe('OVERLOADED')
  })

  it('with batching off, every job is its own run', async () => {
    const batcher = new Batcher(store, { enabled: false })
    await Promise.all([1, 2, 3].map(async (i) => await batcher.run(mlp, [row(i)])))
    expect(batcher.stats.runs).toBe(3)
  })
})
