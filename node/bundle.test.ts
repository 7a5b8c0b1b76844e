// The model hash is one bundle digest over every file the output depends on (protocol/bundle.ts),
// checked by the store at load (node/bundle.ts); external-weight models load from a private copy.
// Real files, real onnxruntime, real transformers.
import { createHash } from 'node:crypto'
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import onnxProto from 'onnx-proto'
import { afterAll, describe, expect, it } from 'vitest'
import { BUNDLE_VERSION, BundleError, bundleDigest, bundleDigestOfFiles, bundlePathError, type BundleDescription } from '../protocol/bundle.ts'
import { float32Tensor, type Tensor } from '../protocol/tensor.ts'
import { DEFAULT_MODELS_DIR, EXTERNAL_DATA_FILE } from '../scripts/build-models.ts'
import { BadManifestError, ModelHashMismatchError } from './errors.ts'
import { ModelStore } from './models.ts'

const EXTERNAL_DIR = join(DEFAULT_MODELS_DIR, 'external-weights')
const H = (c: string): string => c.repeat(64)

const temps: string[] = []
async function tempDir (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'silk-bundle-test-'))
  temps.push(dir)
  return dir
}
afterAll(async () => {
  await Promise.all(temps.map(async (d) => await rm(d, { recursive: true, force: true })))
})

async function copyOf (...folders: string[]): Promise<string> {
  const dir = await tempDir()
  for (const f of folders) await cp(join(DEFAULT_MODELS_DIR, f), join(dir, f.split('/').at(-1) as string), { recursive: true })
  return dir
}

async function readJson (file: string): Promise<Record<string, any>> {
  return JSON.parse(await readFile(file, 'utf8')) as Record<string, any>
}

async function editJson (file: string, edit: (m: Record<string, any>) => void): Promise<void> {
  const m = await readJson(file)
  edit(m)
  await writeFile(file, JSON.stringify(m, null, 2))
}

function reseal (m: Record<string, any>): void {
  m.sha256 = bundleDigest({ task: m.task, graph: m.file, files: m.files, inputs: m.inputs, outputs: m.outputs }).toString('hex')
}

const sha256 = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex')

async function started (dir: string, scratchDir?: string): Promise<ModelStore> {
  const store = new ModelStore({ dir, ...(scratchDir === undefined ? {} : { scratchDir }) })
  await store.start()
  return store
}

async function startError (dir: string): Promise<unknown> {
  const store = new ModelStore({ dir })
  const err = await store.start().catch((e: unknown) => e)
  expect(store.isStarted()).toBe(false)
  return err
}

describe('protocol/bundle.ts: the bundle digest', () => {
  const base: BundleDescription = {
    task: 'tensor',
    graph: 'model.onnx',
    files: { 'model.onnx': H('a'), 'model.onnx_data': H('b') },
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 64] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: ['N', 10] }]
  }

  it('is sha256 over the documented canonical JSON, independent of the order files are listed in', () => {
    const canonical = JSON.stringify([BUNDLE_VERSION, 'tensor', 'model.onnx', [['x', 'float32', ['N', 64]]], [['y', 'float32', ['N', 10]]], [['model.onnx', H('a')], ['model.onnx_data', H('b')]]])
    expect(bundleDigest(base).toString('hex')).toBe(createHash('sha256').update(canonical).digest('hex'))
    const reordered = { ...base, files: { 'model.onnx_data': H('b'), 'model.onnx': H('a') } }
    expect(bundleDigest(reordered).equals(bundleDigest(base))).toBe(true)
    expect(bundleDigestOfFiles(base, { 'model.onnx': Buffer.from('g'), 'model.onnx_data': Buffer.from('w') }))
      .toEqual(bundleDigest({ ...base, files: { 'model.onnx': createHash('sha256').update('g').digest('hex'), 'model.onnx_data': createHash('sha256').update('w').digest('hex') } }))
  })

  it('changes with every file, path, the graph, the task and each declared tensor', () => {
    const variants: BundleDescription[] = [
      { ...base, files: { ...base.files, 'model.onnx_data': H('c') } },
      { ...base, files: { 'model.onnx': H('a'), 'weights.bin': H('b') } },
      { ...base, files: { ...base.files, 'config.json': H('d') } },
      { ...base, graph: 'model.onnx_data' },
      { ...base, task: 'text-classification' },
      { ...base, inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 60] }] },
      { ...base, outputs: [{ name: 'z', dtype: 'float32', shape: ['N', 10] }] },
      { ...base, outputs: [{ name: 'y', dtype: 'float64', shape: ['N', 10] }] }
    ]
    const digests = new Set([base, ...variants].map((d) => bundleDigest(d).toString('hex')))
    expect(digests.size).toBe(variants.length + 1)
  })

  it('refuses non-canonical paths, bad hashes and a graph that is not among the files', () => {
    for (const path of ['/abs/model.onnx', '../x.onnx', 'a/./b.onnx', 'a//b', 'a\\b', 'ümlaut.json', '']) {
      expect(bundlePathError(path), path).toBeDefined()
      expect(() => bundleDigest({ ...base, files: { ...base.files, [path]: H('e') } }), path).toThrow(BundleError)
    }
    expect(bundlePathError('onnx/model.onnx_data')).toBeUndefined()
    expect(() => bundleDigest({ ...base, files: { 'model.onnx': 'A'.repeat(64) } })).toThrow(/64 lowercase hex/)
    expect(() => bundleDigest({ ...base, graph: 'other.onnx' })).toThrow(/not among the bundle's files/)
  })
})

/**
 * Each file a text model's output depends on. Editing it changes the model hash: the unchanged
 * manifest is refused, a manifest with only the file entry updated is refused (its digest no
 * longer matches), and only a fully resealed manifest loads — under another hash.
 */
const identityCases: Array<[string, string, string, (j: Record<string, any>) => void]> = [
  ['labels (id2label in config.json)', 'tiny-moderation', 'config.json', (c) => { c.id2label = { 0: 'ok', 1: 'spam', 2: 'toxic' }; c.label2id = { ok: 0, spam: 1, toxic: 2 } }],
  ['the tokenizer', 'tiny-moderation', 'tokenizer.json', (t) => { t.model.vocab['!'] = t.model.vocab['"'] }],
  ['the chat template (tokenizer_config.json)', 'tiny-chat', 'tokenizer_config.json', (t) => { t.chat_template = 'X' + String(t.chat_template) }],
  ['the generation config', 'tiny-chat', 'generation_config.json', (g) => { g.eos_token_id = 5 }]
]

describe('the model hash commits to every file of a text model', () => {
  for (const [what, folder, file, edit] of identityCases) {
    it(`changing ${what} changes the hash; a manifest still declaring the old one is refused`, async () => {
      const original = await readJson(join(DEFAULT_MODELS_DIR, folder, 'manifest.json'))
      const dir = await copyOf(folder)
      await editJson(join(dir, folder, file), edit)
      // 1. the file changed under an unchanged manifest
      const stale = await startError(dir)
      expect(stale).toBeInstanceOf(ModelHashMismatchError)
      expect(stale).toMatchObject({ code: 'MODEL_HASH_MISMATCH', model: folder, expected: original.files[file] })
      expect((stale as Error).message).toContain(join(dir, folder, file))
      // 2. the file entry updated, the declared model hash kept
      const fileHash = await sha256(join(dir, folder, file))
      await editJson(join(dir, folder, 'manifest.json'), (m) => { m.files[file] = fileHash })
      const kept = await startError(dir)
      expect(kept).toBeInstanceOf(ModelHashMismatchError)
      expect(kept).toMatchObject({ code: 'MODEL_HASH_MISMATCH', expected: original.sha256 })
      expect((kept as ModelHashMismatchError).actual).not.toBe(original.sha256)
      // 3. resealed: it loads, under a hash of its own
      await editJson(join(dir, folder, 'manifest.json'), reseal)
      const store = await started(dir)
      try {
        const model = store.get(folder)
        expect(model?.hashHex).toBe((kept as ModelHashMismatchError).actual)
        expect(model?.hashHex).not.toBe(original.sha256)
      } finally {
        await store.stop()
      }
    })
  }

  it('swapped labels give another model hash and the swapped labels (the attack the old .onnx-only hash let through)', async () => {
    const dir = await copyOf('tiny-moderation')
    await editJson(join(dir, 'tiny-moderation', 'config.json'), identityCases[0]![3])
    const hash = await sha256(join(dir, 'tiny-moderation', 'config.json'))
    await editJson(join(dir, 'tiny-moderation', 'manifest.json'), (m) => { m.files['config.json'] = hash; reseal(m) })
    const [honest, swapped] = [await started(join(DEFAULT_MODELS_DIR)), await started(dir)]
    try {
      const a = honest.get('tiny-moderation')!
      const b = swapped.get('tiny-moderation')!
      expect(a.hash.equals(b.hash)).toBe(false)
      const [ra, rb] = [await honest.classify(a.hash, ['hello there']), await swapped.classify(b.hash, ['hello there'])]
      expect(ra.labels[0]!.map((l) => l.label)).toEqual(['toxic', 'spam', 'ok'])
      expect(rb.labels[0]!.map((l) => l.label)).toEqual(['ok', 'spam', 'toxic'])
      expect(rb.labels[0]![0]!.score).toBe(ra.labels[0]![0]!.score)
    } finally {
      await Promise.all([honest.stop(), swapped.stop()])
    }
  })

  it('a chat_template.jinja in the bundle is the template used, and part of the hash', async () => {
    const dir = await copyOf('tiny-chat')
    // A template that ignores the conversation: every conversation renders to the same prompt.
    await writeFile(join(dir, 'tiny-chat', 'chat_template.jinja'), '<|im_start|>user\nfixed<|im_end|>\n<|im_start|>assistant\n')
    const hash = await sha256(join(dir, 'tiny-chat', 'chat_template.jinja'))
    await editJson(join(dir, 'tiny-chat', 'manifest.json'), (m) => { m.files['chat_template.jinja'] = hash; reseal(m) })
    const [honest, templated] = [await started(DEFAULT_MODELS_DIR), await started(dir)]
    try {
      const a = honest.get('tiny-chat')!
      const b = templated.get('tiny-chat')!
      expect(a.hash.equals(b.hash)).toBe(false)
      const ask = async (store: ModelStore, hash: Buffer, content: string): Promise<string> =>
        (await store.generate(hash, { messages: [{ role: 'user', content }], maxNewTokens: 12 })).text
      expect(await ask(templated, b.hash, 'first question')).toBe(await ask(templated, b.hash, 'an entirely different one'))
      expect(await ask(honest, a.hash, 'first question')).not.toBe(await ask(honest, a.hash, 'an entirely different one'))
    } finally {
      await Promise.all([honest.stop(), templated.stop()])
    }
  })
})

describe('external weights (model.onnx + model.onnx_data)', () => {
  const x: Tensor = float32Tensor('x', [3, 64], Array.from({ length: 192 }, (_, i) => Math.sin(i * 0.37) * 2))

  it('loads, and computes exactly the bytes of the inline model; its hash covers both files', async () => {
    const manifest = await readJson(join(EXTERNAL_DIR, 'mlp', 'manifest.json'))
    expect(Object.keys(manifest.files).sort()).toEqual(['model.onnx', EXTERNAL_DATA_FILE])
    // The graph really keeps its weights outside: every initializer points at model.onnx_data.
    const graph = onnxProto.onnx.ModelProto.decode(await readFile(join(EXTERNAL_DIR, 'mlp', 'model.onnx')))
    const inits = graph.graph?.initializer ?? []
    expect(inits.length).toBe(4)
    for (const t of inits) {
      expect(t.dataLocation).toBe(onnxProto.onnx.TensorProto.DataLocation.EXTERNAL)
      expect(t.externalData?.find((e) => e.key === 'location')?.value).toBe(EXTERNAL_DATA_FILE)
    }
    const scratch = await tempDir()
    const [inline, split] = [await started(DEFAULT_MODELS_DIR), await started(EXTERNAL_DIR, scratch)]
    try {
      const model = split.get('mlp-64-10-split')!
      expect(model.hashHex).toBe(manifest.sha256)
      expect(model.hash.equals(inline.get('mlp-64-10')!.hash)).toBe(false)
      const a = await inline.run(inline.get('mlp-64-10')!.hash, [x])
      const b = await split.run(model.hash, [x])
      expect(Buffer.from(b.outputs[0]!.data).equals(Buffer.from(a.outputs[0]!.data))).toBe(true)
      expect(b.units).toBe(3)
      // the private copy it loaded from is gone once the session exists
      expect(await readdir(scratch)).toEqual([])
    } finally {
      await Promise.all([inline.stop(), split.stop()])
    }
  })

  it('runs from the bytes it hashed: rewriting the weights file after load changes nothing', async () => {
    const dir = await copyOf('external-weights/mlp')
    const store = await started(dir)
    try {
      const hash = store.get('mlp-64-10-split')!.hash
      const before = await store.run(hash, [x])
      const data = join(dir, 'mlp', EXTERNAL_DATA_FILE)
      await writeFile(data, Buffer.alloc((await readFile(data)).length)) // same inode, zeroed in place
      const after = await store.run(hash, [x])
      expect(Buffer.from(after.outputs[0]!.data).equals(Buffer.from(before.outputs[0]!.data))).toBe(true)
    } finally {
      await store.stop()
    }
  })

  it('refuses altered weights with ModelHashMismatchError naming the weights file', async () => {
    const dir = await copyOf('external-weights/mlp')
    const data = join(dir, 'mlp', EXTERNAL_DATA_FILE)
    const bytes = await readFile(data)
    bytes[100] = (bytes[100] as number) ^ 0x01
    await writeFile(data, bytes)
    const err = await startError(dir)
    expect(err).toBeInstanceOf(ModelHashMismatchError)
    expect(err).toMatchObject({ model: 'mlp-64-10-split' })
    expect((err as Error).message).toContain(data)
  })

  it('never reads weights the manifest does not list, even when they sit in the folder', async () => {
    // Only the graph listed: it is loaded from memory, where its external weights cannot be found.
    const dir = await copyOf('external-weights/mlp')
    await editJson(join(dir, 'mlp', 'manifest.json'), (m) => { delete m.files[EXTERNAL_DATA_FILE]; reseal(m) })
    const err = await startError(dir)
    expect(err).toBeInstanceOf(BadManifestError)
    expect(err).toMatchObject({ field: 'file' })
    expect((err as Error).message).toMatch(/onnxruntime cannot load the model/)

    // Another file listed, the real weights under an unlisted name: the private copy lacks them.
    const other = await copyOf('external-weights/mlp')
    await writeFile(join(other, 'mlp', 'notes.bin'), 'unrelated')
    const notes = await sha256(join(other, 'mlp', 'notes.bin'))
    await editJson(join(other, 'mlp', 'manifest.json'), (m) => { delete m.files[EXTERNAL_DATA_FILE]; m.files['notes.bin'] = notes; reseal(m) })
    const err2 = await startError(other)
    expect(err2).toBeInstanceOf(BadManifestError)
    expect((err2 as Error).message).toMatch(/onnxruntime cannot load the model/)
  })
})
