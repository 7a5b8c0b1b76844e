import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { cp, mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import onnxProto from 'onnx-proto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bundleDigest, bundleDigestOfFiles, fileDigest } from '../protocol/bundle.ts'
import { bytesOf, float32Tensor, float32Values, type Tensor } from '../protocol/tensor.ts'
import { buildModels, DEFAULT_MODELS_DIR, encodeModel, MLP_SIZES, valueInfo } from '../scripts/build-models.ts'
import { BadInputError, BadManifestError, ModelHashMismatchError, NodeError, NotStartedError, UnknownModelError } from './errors.ts'
import { ModelStore, ORT_VERSION, type Manifest, type ModelStoreLogger, type TensorSpec } from './models.ts'

const { onnx } = onnxProto
const MLP_FILE = join(DEFAULT_MODELS_DIR, 'mlp', 'model.onnx')
/** Every model in models/: the two tensor models and the two text fixtures (node/text-models.test.ts). */
const BUNDLED = ['add-4', 'mlp-64-10', 'tiny-chat', 'tiny-moderation']

const temps: string[] = []
async function tempDir (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'silk-models-'))
  temps.push(dir)
  return dir
}
afterAll(async () => {
  await Promise.all(temps.map(async (d) => await rm(d, { recursive: true, force: true })))
})

/** A copy of the bundled models that a test may damage. */
async function copyOfModels (): Promise<string> {
  const dir = await tempDir()
  await cp(DEFAULT_MODELS_DIR, dir, { recursive: true })
  return dir
}

/** Edits a manifest and re-seals its bundle digest, so the check under test is the one that fires. */
async function editManifest (dir: string, folder: string, edit: (m: Record<string, unknown>) => void): Promise<void> {
  const file = join(dir, folder, 'manifest.json')
  const m = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
  edit(m)
  try {
    m.sha256 = bundleDigest({ task: m.task, graph: m.file, files: m.files, inputs: m.inputs, outputs: m.outputs } as never).toString('hex')
  } catch {} // a malformed manifest stays as edited: the schema refuses it first
  await writeFile(file, JSON.stringify(m))
}

function recordingLogger (): ModelStoreLogger & { warnings: Array<{ obj: object, msg?: string }> } {
  const warnings: Array<{ obj: object, msg?: string }> = []
  return { warnings, info () {}, error () {}, warn (obj, msg) { warnings.push({ obj, msg }) } }
}

/** The MLP computed in plain TypeScript (float64 accumulation) from the initializers stored in the .onnx file. */
async function referenceMlp (x: Float32Array, batch: number): Promise<Float64Array> {
  const model = onnx.ModelProto.decode(await readFile(MLP_FILE))
  const weight = (name: string): Float32Array => {
    const t = (model.graph?.initializer ?? []).find((i) => i.name === name)
    if (t?.rawData == null) throw new Error(`no initializer ${name}`)
    // rawData is a Buffer view into the decoded file: copy before reinterpreting.
    return new Float32Array(Uint8Array.from(t.rawData).buffer)
  }
  const [w1, b1, w2, b2] = [weight('w1'), weight('b1'), weight('w2'), weight('b2')]
  const { input: nIn, hidden: nHidden, output: nOut } = MLP_SIZES
  const y = new Float64Array(batch * nOut)
  for (let r = 0; r < batch; r++) {
    const h = new Float64Array(nHidden)
    for (let j = 0; j < nHidden; j++) {
      let s = b1[j] as number
      for (let k = 0; k < nIn; k++) s += (x[r * nIn + k] as number) * (w1[k * nHidden + j] as number)
      h[j] = Math.max(0, s)
    }
    for (let j = 0; j < nOut; j++) {
      let s = b2[j] as number
      for (let k = 0; k < nHidden; k++) s += (h[k] as number) * (w2[k * nOut + j] as number)
      y[r * nOut + j] = s
    }
  }
  return y
}

function sampleInput (batch: number, width = MLP_SIZES.input): Float32Array {
  return Float32Array.from({ length: batch * width }, (_, i) => Math.sin(i * 0.37) * 2)
}

describe('ModelStore with the bundled models', () => {
  const store = new ModelStore({ dir: DEFAULT_MODELS_DIR })
  let mlpHash: Buffer
  let addHash: Buffer

  beforeAll(async () => {
    await store.start()
    mlpHash = store.get('mlp-64-10')?.hash ?? Buffer.alloc(32)
    addHash = store.get('add-4')?.hash ?? Buffer.alloc(32)
  })
  afterAll(async () => { await store.stop() })

  it('loads every bundled model; the model hash is the bundle digest of its files and declared tensors', async () => {
    const x = { name: 'x', dtype: 'float32', shape: ['N', 64] }
    const y = { name: 'y', dtype: 'float32', shape: ['N', 10] }
    const fileHash = bundleDigestOfFiles({ task: 'tensor', graph: 'model.onnx', inputs: [x], outputs: [y] }, { 'model.onnx': await readFile(MLP_FILE) })
    expect(fileHash.equals(createHash('sha256').update(await readFile(MLP_FILE)).digest())).toBe(false)
    const mlp = store.get('mlp-64-10')
    expect(mlp?.hash.equals(fileHash)).toBe(true)
    expect(mlp?.hashHex).toBe(fileHash.toString('hex'))
    expect(mlp).toMatchObject({
      task: 'tensor',
      unit: 'row',
      deterministic: true,
      pricePerUnit: 50000n,
      maxBatch: 64,
      executionProvider: 'cpu',
      execution: `cpu;ort=${ORT_VERSION};intra=1;inter=1;batch=off`,
      inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 64] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['N', 10] }]
    })
    expect(store.list().map((m) => m.name).sort()).toEqual(BUNDLED)
    expect(store.get(fileHash)?.name).toBe('mlp-64-10')
    expect(store.get(fileHash.toString('hex'))?.name).toBe('mlp-64-10')
    expect(store.get('nope')).toBeUndefined()
  })

  it('computes the same MLP as plain TypeScript over the stored weights', async () => {
    const x = sampleInput(2)
    const { outputs, units } = await store.run(mlpHash, [float32Tensor('x', [2, 64], x)])
    expect(units).toBe(2)
    expect(outputs).toHaveLength(1)
    const y = outputs[0] as Tensor
    expect(y).toMatchObject({ name: 'y', dtype: 'float32', dims: [2, 10] })
    const got = float32Values(y)
    const want = await referenceMlp(x, 2)
    for (let i = 0; i < want.length; i++) expect(Math.abs((got[i] as number) - (want[i] as number))).toBeLessThan(1e-5)
    // Non-trivial output: the check above would pass vacuously on zeros.
    expect(want.some((v) => Math.abs(v) > 0.05)).toBe(true)
  })

  it('gives byte-identical outputs on re-runs, also when runs overlap', async () => {
    const input = [float32Tensor('x', [5, 64], sampleInput(5))]
    const first = await store.run(mlpHash, input)
    const again = await Promise.all(Array.from({ length: 16 }, async () => await store.run(mlpHash, input)))
    for (const r of again) expect(Buffer.from(r.outputs[0]?.data ?? []).equals(Buffer.from(first.outputs[0]?.data ?? []))).toBe(true)
  })

  it('counts one unit per row of the batch', async () => {
    const { outputs, units } = await store.run(mlpHash, [float32Tensor('x', [3, 64], sampleInput(3))])
    expect(units).toBe(3)
    expect(outputs[0]?.dims).toEqual([3, 10])
  })

  it('runs a model with two inputs', async () => {
    const { outputs, units } = await store.run(addHash, [
      float32Tensor('b', [2, 4], [10, 20, 30, 40, 50, 60, 70, 80]),
      float32Tensor('a', [2, 4], [1, 2, 3, 4, 5, 6, 7, 8])
    ])
    expect(units).toBe(2)
    expect([...float32Values(outputs[0] as Tensor)]).toEqual([11, 22, 33, 44, 55, 66, 77, 88])
  })

  it('accepts tensor bytes at an unaligned offset', async () => {
    const backing = new Uint8Array(1 + 64 * 4)
    backing.set(bytesOf(sampleInput(1)), 1)
    const x: Tensor = { name: 'x', dtype: 'float32', dims: [1, 64], data: backing.subarray(1) }
    const aligned = await store.run(mlpHash, [float32Tensor('x', [1, 64], sampleInput(1))])
    const unaligned = await store.run(mlpHash, [x])
    expect(Buffer.from(unaligned.outputs[0]?.data ?? []).equals(Buffer.from(aligned.outputs[0]?.data ?? []))).toBe(true)
  })

  const x1 = (): Tensor => float32Tensor('x', [1, 64], sampleInput(1))
  const badCases: Array<[string, () => Tensor[], RegExp]> = [
    ['missing input', () => [], /missing input "x" \(float32 \[N,64\]\)/],
    ['extra input', () => [x1(), float32Tensor('z', [1], [0])], /unexpected input "z"; it takes "x"/],
    ['same input twice', () => [x1(), x1()], /input "x" given twice/],
    ['wrong dtype', () => [{ name: 'x', dtype: 'int32', dims: [1, 64], data: new Uint8Array(256) }], /input "x" must be float32, got int32/],
    ['wrong rank', () => [float32Tensor('x', [64], sampleInput(1))], /input "x" must have rank 2 \[N,64\], got \[64\]/],
    ['fixed axis mismatch', () => [float32Tensor('x', [2, 32], sampleInput(1))], /input "x" axis 1 must be 64/],
    ['batch over maxBatch', () => [float32Tensor('x', [65, 64], sampleInput(65))], /batch 65 exceeds maxBatch 64/],
    ['empty batch', () => [float32Tensor('x', [0, 64], [])], /batch \(axis 0\) must be at least 1/],
    ['bytes inconsistent with dims', () => [{ name: 'x', dtype: 'float32', dims: [1, 64], data: new Uint8Array(255) }], /need 256 bytes, got 255/],
    ['unknown dtype', () => [{ name: 'x', dtype: 'float16' as 'float32', dims: [1, 64], data: new Uint8Array(128) }], /unknown dtype float16/]
  ]
  for (const [label, inputs, message] of badCases) {
    it(`refuses ${label} with BadInputError and keeps serving`, async () => {
      const err = await store.run(mlpHash, inputs()).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(BadInputError)
      expect(err).toMatchObject({ name: 'BadInputError', code: 'BAD_INPUT' })
      expect((err as Error).message).toMatch(/model "mlp-64-10"/)
      expect((err as Error).message).toMatch(message)
      const ok = await store.run(mlpHash, [x1()])
      expect(ok.outputs[0]?.dims).toEqual([1, 10])
    })
  }

  it('refuses inputs whose batch symbols disagree', async () => {
    const err = await store.run(addHash, [float32Tensor('a', [2, 4], new Float32Array(8)), float32Tensor('b', [3, 4], new Float32Array(12))]).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(BadInputError)
    expect((err as Error).message).toMatch(/input "b" axis 0 \(N\) is 3, but input "a" has N = 2/)
  })

  it('refuses an unknown model hash with UnknownModelError', async () => {
    const unknown = Buffer.alloc(32, 7)
    const err = await store.run(unknown, [x1()]).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnknownModelError)
    expect(err).toBeInstanceOf(NodeError)
    expect(err).toMatchObject({ name: 'UnknownModelError', code: 'UNKNOWN_MODEL', model: unknown.toString('hex') })
  })
})

describe('ModelStore limits and lifecycle', () => {
  it('refuses inputs above maxInputBytes', async () => {
    const store = new ModelStore({ dir: DEFAULT_MODELS_DIR, maxInputBytes: 1024 })
    await store.start()
    try {
      const hash = store.get('mlp-64-10')?.hash ?? Buffer.alloc(32)
      expect((await store.run(hash, [float32Tensor('x', [4, 64], sampleInput(4))])).units).toBe(4)
      const err = await store.run(hash, [float32Tensor('x', [5, 64], sampleInput(5))]).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(BadInputError)
      expect((err as Error).message).toMatch(/1280 bytes exceeds 1024/)
    } finally {
      await store.stop()
    }
  })

  it('start and stop are safe to call twice; run needs a started store', async () => {
    const store = new ModelStore({ dir: DEFAULT_MODELS_DIR })
    await store.stop()
    const hash = Buffer.from((JSON.parse(await readFile(join(DEFAULT_MODELS_DIR, 'mlp', 'manifest.json'), 'utf8')) as { sha256: string }).sha256, 'hex')
    await expect(store.run(hash, [])).rejects.toBeInstanceOf(NotStartedError)
    await Promise.all([store.start(), store.start()])
    await store.start()
    expect(store.list()).toHaveLength(BUNDLED.length)
    await store.stop()
    await store.stop()
    expect(store.list()).toHaveLength(0)
    await expect(store.run(hash, [float32Tensor('x', [1, 64], sampleInput(1))])).rejects.toMatchObject({ code: 'NOT_STARTED' })
    await store.start()
    expect((await store.run(hash, [float32Tensor('x', [1, 64], sampleInput(1))])).units).toBe(1)
    await store.stop()
  })

  it('lets runs in flight finish when stopped', async () => {
    const store = new ModelStore({ dir: DEFAULT_MODELS_DIR })
    await store.start()
    const hash = store.get('mlp-64-10')?.hash ?? Buffer.alloc(32)
    const running = store.run(hash, [float32Tensor('x', [1, 64], sampleInput(1))])
    await store.stop()
    expect((await running).units).toBe(1)
  })
})

describe('ModelStore refuses models it cannot vouch for', () => {
  it('fails start with ModelHashMismatchError when the .onnx bytes were altered', async () => {
    const dir = await copyOfModels()
    const file = join(dir, 'mlp', 'model.onnx')
    const bytes = await readFile(file)
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] as number) ^ 0x01
    await writeFile(file, bytes)
    const store = new ModelStore({ dir })
    const err = await store.start().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ModelHashMismatchError)
    expect(err).toMatchObject({ name: 'ModelHashMismatchError', code: 'MODEL_HASH_MISMATCH', model: 'mlp-64-10' })
    expect((err as Error).message).toMatch(/model "mlp-64-10"/)
    expect(store.isStarted()).toBe(false)
    expect(store.list()).toHaveLength(0)
  })

  it('fails start with ModelHashMismatchError when declared tensors change under the same model hash', async () => {
    const dir = await copyOfModels()
    const file = join(dir, 'mlp', 'manifest.json')
    const m = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
    // Same graph, same files: only the output's declared name differs, which changes what a job gets back.
    m.outputs = [{ name: 'z', dtype: 'float32', shape: ['N', 10] }]
    await writeFile(file, JSON.stringify(m))
    const err = await new ModelStore({ dir }).start().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ModelHashMismatchError)
    expect(err).toMatchObject({ model: 'mlp-64-10', expected: m.sha256 })
    expect((err as Error).message).toContain(file)
  })

  const manifestCases: Array<[string, string, (m: Record<string, unknown>) => void, string]> = [
    ['a price that is not a string', 'mlp', (m) => { m.pricePerUnit = 12 }, 'pricePerUnit'],
    ['an unknown dtype', 'mlp', (m) => { m.inputs = [{ name: 'x', dtype: 'float16', shape: ['N', 64] }] }, 'inputs.0.dtype'],
    ['a missing maxBatch on a per-row model', 'add', (m) => { delete m.maxBatch }, 'maxBatch'],
    ['an unknown field', 'mlp', (m) => { m.colour = 'red' }, ''],
    ['a file outside the folder', 'add', (m) => { m.file = '../mlp/model.onnx' }, 'file'],
    ['a graph not listed in files', 'add', (m) => { m.file = 'other.onnx' }, 'files'],
    ['a non-canonical file path', 'add', (m) => { m.files = { './model.onnx': (m.files as Record<string, string>)['model.onnx'] }; m.file = './model.onnx' }, 'file'],
    ['a file entry that is not a sha256', 'add', (m) => { m.files = { 'model.onnx': 'abc' } }, 'files.model.onnx'],
    ['a dtype the graph does not have', 'mlp', (m) => { m.inputs = [{ name: 'x', dtype: 'int32', shape: ['N', 64] }] }, 'inputs.0.dtype'],
    ['a fixed axis the graph does not have', 'mlp', (m) => { m.outputs = [{ name: 'y', dtype: 'float32', shape: ['N', 11] }] }, 'outputs.0.shape.1'],
    ['an input name the graph does not have', 'add', (m) => { m.inputs = [{ name: 'a', dtype: 'float32', shape: ['N', 4] }, { name: 'c', dtype: 'float32', shape: ['N', 4] }] }, 'inputs']
  ]
  for (const [label, folder, edit, field] of manifestCases) {
    it(`fails start with BadManifestError naming the field for ${label}`, async () => {
      const dir = await copyOfModels()
      await editManifest(dir, folder, edit)
      const store = new ModelStore({ dir })
      const err = await store.start().catch((e: unknown) => e)
      expect(err).toBeInstanceOf(BadManifestError)
      expect(err).toMatchObject({ name: 'BadManifestError', code: 'BAD_MANIFEST', file: join(dir, folder, 'manifest.json') })
      expect((err as Error).message).toContain(join(dir, folder, 'manifest.json'))
      if (field !== '') {
        expect((err as BadManifestError).field).toBe(field)
        expect((err as Error).message).toContain(`"${field}"`)
      } else {
        expect((err as Error).message).toMatch(/colour/)
      }
      expect(store.isStarted()).toBe(false)
    })
  }

  it('fails start when two folders serve the same model', async () => {
    const dir = await copyOfModels()
    await cp(join(dir, 'mlp'), join(dir, 'mlp-again'), { recursive: true })
    const err = await new ModelStore({ dir }).start().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(BadManifestError)
    expect((err as Error).message).toMatch(/duplicates the name of model "mlp-64-10"/)
  })

  it('ignores folders without a manifest', async () => {
    const dir = await copyOfModels()
    await mkdir(join(dir, 'scratch'))
    const store = new ModelStore({ dir })
    await store.start()
    expect(store.list()).toHaveLength(BUNDLED.length)
    await store.stop()
  })
})

// Present only where a GPU owner re-ran onnxruntime-node's install with CUDA.
const ortBin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch)
const cudaLibraries = existsSync(join(ortBin, 'libonnxruntime_providers_cuda.so'))

describe('execution providers', () => {
  it.skipIf(cudaLibraries)('falls back from CUDA to the CPU with one warning when CUDA is missing', async () => {
    const logger = recordingLogger()
    const store = new ModelStore({ dir: DEFAULT_MODELS_DIR, executionProviders: ['cuda', 'cpu'], logger })
    await store.start()
    try {
      expect(store.list().map((m) => m.executionProvider)).toEqual(BUNDLED.map(() => 'cpu'))
      // The fallback is stated in the execution path, so its receipts carry another spec hash than CUDA ones.
      expect(store.list().map((m) => m.execution)).toEqual(BUNDLED.map(() => `cpu;ort=${ORT_VERSION};intra=1;inter=1;batch=off`))
      expect(logger.warnings).toHaveLength(1)
      expect(logger.warnings[0]?.msg).toMatch(/CUDA execution provider unavailable; falling back to CPU/)
      const hash = store.get('mlp-64-10')?.hash ?? Buffer.alloc(32)
      const x = sampleInput(1)
      const y = float32Values((await store.run(hash, [float32Tensor('x', [1, 64], x)])).outputs[0] as Tensor)
      const want = await referenceMlp(x, 1)
      for (let i = 0; i < want.length; i++) expect(Math.abs((y[i] as number) - (want[i] as number))).toBeLessThan(1e-5)
    } finally {
      await store.stop()
    }
  })
})

describe('execution path', () => {
  it('states the thread count the sessions were created with', async () => {
    const store = new ModelStore({ dir: DEFAULT_MODELS_DIR, intraOpThreads: 2 })
    await store.start()
    try {
      expect(store.get('mlp-64-10')?.execution).toBe(`cpu;ort=${ORT_VERSION};intra=2;inter=1;batch=off`)
    } finally {
      await store.stop()
    }
  })
})

describe('tensor dtypes', () => {
  const specs: TensorSpec[] = [
    { name: 'f64', dtype: 'float64', shape: ['N', 2] },
    { name: 'i32', dtype: 'int32', shape: ['N', 2] },
    { name: 'i64', dtype: 'int64', shape: ['N', 2] },
    { name: 'u8', dtype: 'uint8', shape: ['N', 2] },
    { name: 'flag', dtype: 'bool', shape: ['N', 2] }
  ]
  const outSpecs = specs.map((s) => ({ ...s, name: `${s.name}_out` }))
  const store = { current: undefined as ModelStore | undefined, hash: Buffer.alloc(0) }

  beforeAll(async () => {
    const dir = await tempDir()
    const bytes = encodeModel({
      name: 'identity',
      node: specs.map((s) => ({ opType: 'Identity', input: [s.name], output: [`${s.name}_out`] })),
      input: specs.map(valueInfo),
      output: outSpecs.map(valueInfo)
    })
    const files = { 'model.onnx': fileDigest(bytes) }
    const manifest: Manifest = {
      name: 'identity-dtypes',
      task: 'tensor',
      file: 'model.onnx',
      files,
      sha256: bundleDigest({ task: 'tensor', graph: 'model.onnx', files, inputs: specs, outputs: outSpecs }).toString('hex'),
      pricePerUnit: '7',
      unit: 'call',
      deterministic: true,
      inputs: specs,
      outputs: outSpecs
    }
    await mkdir(join(dir, 'identity'))
    await writeFile(join(dir, 'identity', 'model.onnx'), bytes)
    await writeFile(join(dir, 'identity', 'manifest.json'), JSON.stringify(manifest))
    store.current = new ModelStore({ dir })
    await store.current.start()
    store.hash = Buffer.from(manifest.sha256, 'hex')
  })
  afterAll(async () => { await store.current?.stop() })

  it('round-trips float64, int32, int64, uint8 and bool bytes; unit "call" counts 1', async () => {
    const inputs: Tensor[] = [
      { name: 'f64', dtype: 'float64', dims: [3, 2], data: bytesOf(Float64Array.from([0.1, -2.5, 1e300, -0, Math.PI, 7])) },
      { name: 'i32', dtype: 'int32', dims: [3, 2], data: bytesOf(Int32Array.from([1, -1, 2 ** 31 - 1, -(2 ** 31), 0, 42])) },
      { name: 'i64', dtype: 'int64', dims: [3, 2], data: bytesOf(BigInt64Array.from([1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 0n, 42n])) },
      { name: 'u8', dtype: 'uint8', dims: [3, 2], data: Uint8Array.from([0, 1, 127, 128, 254, 255]) },
      { name: 'flag', dtype: 'bool', dims: [3, 2], data: Uint8Array.from([0, 1, 1, 0, 0, 1]) }
    ]
    const { outputs, units } = await (store.current as ModelStore).run(store.hash, inputs)
    expect(units).toBe(1)
    expect(outputs.map((o) => o.name)).toEqual(outSpecs.map((s) => s.name))
    outputs.forEach((o, i) => {
      const input = inputs[i] as Tensor
      expect(o.dtype).toBe(input.dtype)
      expect(o.dims).toEqual([3, 2])
      expect(Buffer.from(o.data).equals(Buffer.from(input.data))).toBe(true)
    })
  })

  it('refuses bool bytes other than 0 and 1', async () => {
    const inputs: Tensor[] = specs.map((s) => ({ name: s.name, dtype: s.dtype, dims: [1, 2], data: new Uint8Array(2 * ({ float64: 8, int32: 4, int64: 8, uint8: 1, bool: 1, float32: 4 })[s.dtype]) }))
    ;(inputs[4] as Tensor).data = Uint8Array.from([0, 2])
    await expect((store.current as ModelStore).run(store.hash, inputs)).rejects.toThrow(/input "flag" is bool but holds bytes other than 0 and 1/)
  })
})

describe('scripts/build-models.ts', () => {
  it('writes byte-identical models and manifests on every run, equal to the committed ones', async () => {
    const [a, b] = [await tempDir(), await tempDir()]
    const built = await buildModels(a)
    await buildModels(b)
    expect(built.map((m) => m.folder)).toEqual(['mlp', 'add', 'external-weights/mlp'])
    for (const { folder, files } of built) {
      for (const name of [...Object.keys(files), 'manifest.json']) {
        const first = await readFile(join(a, folder, name))
        expect(first.equals(await readFile(join(b, folder, name)))).toBe(true)
        expect(first.equals(await readFile(join(DEFAULT_MODELS_DIR, folder, name)))).toBe(true)
      }
    }
  })
})
