import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bundleDigest, fileDigest } from '../protocol/bundle.ts'
import { float32Tensor, float32Values, type Tensor } from '../protocol/tensor.ts'
import { encodeModel, valueInfo } from '../scripts/build-models.ts'
import { Batcher } from './batcher.ts'
import { BadInputError } from './errors.ts'
import { ModelStore, ORT_VERSION, type TensorManifest, type TensorSpec } from './models.ts'

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

  it('batch-shift attack: jobs with wrong trailing dims are refused as they are alone and shift no neighbour', async () => {
    const batcher = new Batcher(store)
    // Behind a first job that occupies the model, 64 + 60 + 64 + 68 floats fill exactly four
    // 64-wide rows: merged blindly, the honest job would get a row shifted into its neighbour's.
    const short = float32Tensor('x', [1, 60], Array.from({ length: 60 }, (_, i) => i + 1000))
    const long = float32Tensor('x', [1, 68], Array.from({ length: 68 }, (_, i) => -i - 1000))
    const honest = row(7)
    const alone = await Promise.all([short, long].map(async (t) => await store.run(mlp, [t]).catch((e: unknown) => e)))
    const results = await Promise.allSettled([row(1), row(2), short, honest, long].map(async (t) => await batcher.run(mlp, [t])))
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected'])
    for (const [i, index] of [[0, 2], [1, 4]] as const) {
      const err = (results[index] as PromiseRejectedResult).reason as BadInputError
      expect(err).toBeInstanceOf(BadInputError)
      expect(err.code).toBe('BAD_INPUT')
      expect(err.message).toBe((alone[i] as Error).message)
    }
    const want = await store.run(mlp, [honest])
    const got = (results[3] as PromiseFulfilledResult<Awaited<ReturnType<Batcher['run']>>>).value
    expect(Buffer.from(got.outputs[0]!.data).equals(Buffer.from(want.outputs[0]!.data))).toBe(true)
  })

  it('states in each model\'s execution path whether its jobs are merged', () => {
    const on = new Batcher(store)
    const off = new Batcher(store, { enabled: false })
    const path = (b: Batcher, name: string): string | undefined => b.list().find((m) => m.name === name)?.execution
    expect(path(on, 'mlp-64-10')).toBe(`cpu;ort=${ORT_VERSION};intra=1;inter=1;batch=on`)
    expect(path(on, 'tiny-chat')).toBe(`cpu;ort=${ORT_VERSION};intra=1;inter=1;batch=off`)
    expect(path(off, 'mlp-64-10')).toBe(`cpu;ort=${ORT_VERSION};intra=1;inter=1;batch=off`)
    expect(store.get('mlp-64-10')?.execution).toBe(`cpu;ort=${ORT_VERSION};intra=1;inter=1;batch=off`)
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

describe('Batcher with a dynamic non-batch axis', () => {
  // y = x for x float32 [N, L]: every valid job gets back exactly its own input.
  const x: TensorSpec = { name: 'x', dtype: 'float32', shape: ['N', 'L'] }
  const y: TensorSpec = { name: 'y', dtype: 'float32', shape: ['N', 'L'] }
  let dir = ''
  let store: ModelStore
  let hash: Buffer
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'silk-batcher-'))
    const bytes = encodeModel({ name: 'identity', node: [{ opType: 'Identity', input: ['x'], output: ['y'] }], input: [valueInfo(x)], output: [valueInfo(y)] })
    const files = { 'model.onnx': fileDigest(bytes) }
    const manifest: TensorManifest = {
      name: 'identity-rows',
      task: 'tensor',
      file: 'model.onnx',
      files,
      sha256: bundleDigest({ task: 'tensor', graph: 'model.onnx', files, inputs: [x], outputs: [y] }).toString('hex'),
      pricePerUnit: '1',
      unit: 'row',
      deterministic: true,
      inputs: [x],
      outputs: [y],
      maxBatch: 16
    }
    await mkdir(join(dir, 'identity'))
    await writeFile(join(dir, 'identity', 'model.onnx'), bytes)
    await writeFile(join(dir, 'identity', 'manifest.json'), JSON.stringify(manifest))
    store = new ModelStore({ dir })
    await store.start()
    hash = Buffer.from(manifest.sha256, 'hex')
  })
  afterAll(async () => {
    await store.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('never merges valid jobs whose lengths differ, even when their sizes would add up', async () => {
    const batcher = new Batcher(store)
    const job = (len: number, base: number): Tensor => float32Tensor('x', [1, len], Array.from({ length: len }, (_, i) => base + i))
    // behind a first job that occupies the model, lengths 4, 5 and 3 would fill three rows of 4
    const jobs = [job(4, 0), job(4, 100), job(5, 200), job(3, 300), job(4, 400)]
    const results = await Promise.all(jobs.map(async (t) => await batcher.run(hash, [t])))
    results.forEach((r, i) => {
      expect(r.outputs[0]!.dims).toEqual(jobs[i]!.dims)
      expect(float32Values(r.outputs[0]!)).toEqual(float32Values(jobs[i]!))
    })
    // the two later length-4 jobs still went together
    expect(batcher.stats.runs).toBe(4)
  })
})
