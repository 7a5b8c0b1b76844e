// Text models through the ModelStore: the committed fixtures in models/tiny-chat and
// models/tiny-moderation (random weights, built by scripts/build-text-models.py), real
// onnxruntime, real transformers, no mocks. Tests assert structure and determinism, not content.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import onnxProto from 'onnx-proto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bundleDigest, bundleDigestOfFiles } from '../protocol/bundle.ts'
import { float32Tensor } from '../protocol/tensor.ts'
import { DEFAULT_MODELS_DIR } from '../scripts/build-models.ts'
import { AbortedError, BadInputError, BadManifestError, ModelHashMismatchError, NotStartedError, UnknownModelError } from './errors.ts'
import { ModelStore, type ChatMessage, type GenerateRequest } from './models.ts'
import { loadTransformers } from './text-models.ts'

const CHAT_DIR = join(DEFAULT_MODELS_DIR, 'tiny-chat')
const MODERATION_DIR = join(DEFAULT_MODELS_DIR, 'tiny-moderation')
const LABELS = ['toxic', 'spam', 'ok']
const HELLO: ChatMessage[] = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Hello! How are you today? 🙂 é' }
]

const temps: string[] = []
afterAll(async () => {
  await Promise.all(temps.map(async (d) => await rm(d, { recursive: true, force: true })))
})

/** A folder with copies of the two text fixtures only, which a test may damage. */
async function copyOfTextModels (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'silk-text-models-'))
  temps.push(dir)
  await cp(CHAT_DIR, join(dir, 'tiny-chat'), { recursive: true })
  await cp(MODERATION_DIR, join(dir, 'tiny-moderation'), { recursive: true })
  return dir
}

async function editJson (file: string, edit: (m: Record<string, any>) => void): Promise<void> {
  const m = JSON.parse(await readFile(file, 'utf8')) as Record<string, any>
  edit(m)
  await writeFile(file, JSON.stringify(m, null, 2))
}

/** Recomputes a manifest's bundle digest from its file list, as a rebuild would. */
function reseal (m: Record<string, any>): void {
  m.sha256 = bundleDigest({ task: m.task, graph: m.file, files: m.files }).toString('hex')
}

/** Edits an asset and records its new hash and bundle digest in the manifest, as an operator rebuilding it would. */
async function editAsset (dir: string, folder: string, asset: string, edit: (m: Record<string, any>) => void): Promise<void> {
  await editJson(join(dir, folder, asset), edit)
  const hash = createHash('sha256').update(await readFile(join(dir, folder, asset))).digest('hex')
  await editJson(join(dir, folder, 'manifest.json'), (m) => { m.files[asset] = hash; reseal(m) })
}

/** The bundle digest of a text model folder, from its files' bytes. */
async function digestOfFolder (folder: string, task: string, paths: string[]): Promise<Buffer> {
  const files: Record<string, Buffer> = {}
  for (const p of paths) files[p] = await readFile(join(folder, p))
  return bundleDigestOfFiles({ task, graph: 'onnx/model.onnx' }, files)
}

async function startError (dir: string): Promise<unknown> {
  const store = new ModelStore({ dir })
  const err = await store.start().catch((e: unknown) => e)
  expect(store.isStarted()).toBe(false)
  return err
}

function scoreBytes (labels: Array<Array<{ score: number }>>): Buffer {
  return Buffer.from(Float64Array.from(labels.flat().map((l) => l.score)).buffer)
}

describe('text models in the ModelStore', () => {
  const store = new ModelStore({ dir: DEFAULT_MODELS_DIR })
  let chat: Buffer
  let moderation: Buffer
  let mlp: Buffer

  beforeAll(async () => {
    await store.start()
    chat = store.get('tiny-chat')?.hash ?? Buffer.alloc(32)
    moderation = store.get('tiny-moderation')?.hash ?? Buffer.alloc(32)
    mlp = store.get('mlp-64-10')?.hash ?? Buffer.alloc(32)
  })
  afterAll(async () => { await store.stop() })

  const generate = async (req: Omit<GenerateRequest, 'maxNewTokens'> & { maxNewTokens?: number }) => {
    const pieces: string[] = []
    const result = await store.generate(chat, { maxNewTokens: 16, ...req }, (p) => { pieces.push(p) })
    return { ...result, pieces }
  }

  it('loads both text models; the model hash is the bundle digest of the graph, tokenizer and configs', async () => {
    const chatHash = await digestOfFolder(CHAT_DIR, 'text-generation', ['onnx/model.onnx', 'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json'])
    const modHash = await digestOfFolder(MODERATION_DIR, 'text-classification', ['onnx/model.onnx', 'config.json', 'tokenizer.json', 'tokenizer_config.json'])
    expect(chat.equals(chatHash)).toBe(true)
    expect(moderation.equals(modHash)).toBe(true)
    expect(store.get(chatHash)).toMatchObject({
      name: 'tiny-chat',
      task: 'text-generation',
      unit: 'token',
      pricePerUnit: 1000n,
      deterministic: true,
      inputs: [],
      outputs: [],
      maxBatch: undefined,
      executionProvider: 'cpu',
      generation: { maxNewTokens: 256, maxInputBytes: 8192, maxMessages: 32, contextTokens: 512 }
    })
    expect(store.get(modHash)).toMatchObject({
      name: 'tiny-moderation',
      task: 'text-classification',
      unit: 'call',
      pricePerUnit: 20000n,
      deterministic: true,
      classification: { labels: LABELS, activation: 'sigmoid', maxTexts: 32, maxTextBytes: 2048, maxTokens: 512 }
    })
    const tasks = Object.fromEntries(store.list().map((m) => [m.name, m.task]))
    expect(tasks).toEqual({ 'add-4': 'tensor', 'mlp-64-10': 'tensor', 'tiny-chat': 'text-generation', 'tiny-moderation': 'text-classification' })
  })

  it('streams pieces whose concatenation is the final text; one unit per generated token', async () => {
    const r = await generate({ messages: HELLO, maxNewTokens: 24 })
    expect(r.tokens).toBeGreaterThanOrEqual(1)
    expect(r.tokens).toBeLessThanOrEqual(24)
    expect(r.units).toBe(r.tokens)
    expect(r.pieces.length).toBeGreaterThan(0)
    expect(r.pieces.length).toBeLessThanOrEqual(r.tokens)
    expect(r.pieces.every((p) => p.length > 0)).toBe(true)
    expect(r.pieces.join('')).toBe(r.text)
  })

  it('gives identical text on re-runs, also when runs overlap', async () => {
    const first = await generate({ messages: HELLO, maxNewTokens: 32 })
    const again = await Promise.all(Array.from({ length: 4 }, async () => await generate({ messages: HELLO, maxNewTokens: 32 })))
    for (const r of again) {
      expect(r.text).toBe(first.text)
      expect(r.tokens).toBe(first.tokens)
      expect(r.pieces).toEqual(first.pieces)
    }
    const prompt = await generate({ prompt: 'The quick brown fox', maxNewTokens: 12 })
    expect(await generate({ prompt: 'The quick brown fox', maxNewTokens: 12 })).toEqual(prompt)
  })

  it('respects maxNewTokens', async () => {
    const long = await generate({ messages: HELLO, maxNewTokens: 40 })
    for (const n of [1, 2, 7, 20]) {
      const r = await generate({ messages: HELLO, maxNewTokens: n })
      expect(r.tokens).toBeLessThanOrEqual(n)
      // Greedy: a shorter budget is a prefix of a longer one, and stops early only at the end token.
      if (long.tokens > n) expect(r.tokens).toBe(n)
      expect(long.text.startsWith(r.text)).toBe(true)
    }
  })

  it('computes the same tokens as a plain greedy loop over the raw graph without a cache', async () => {
    // Checks the KV-cache export and the greedy decoding through transformers against full
    // recomputation of every prefix in onnxruntime directly.
    const t = await loadTransformers()
    const json = async (f: string): Promise<unknown> => JSON.parse(await readFile(join(CHAT_DIR, f), 'utf8'))
    const tokenizer = new t.PreTrainedTokenizer(await json('tokenizer.json'), await json('tokenizer_config.json'))
    const config = await json('config.json') as { eos_token_id: number, num_hidden_layers: number, num_key_value_heads: number, head_dim: number }
    const prompt = tokenizer.apply_chat_template(HELLO, { add_generation_prompt: true, tokenize: true, return_dict: true, return_tensor: true })
    const ids = (prompt.input_ids?.tolist()[0] as bigint[]).map(Number)
    const session = await ort.InferenceSession.create(await readFile(join(CHAT_DIR, 'onnx', 'model.onnx')), { intraOpNumThreads: 1 })
    const steps = 20
    const generated: bigint[] = []
    try {
      for (let step = 0; step < steps; step++) {
        const all = [...ids, ...generated.map(Number)]
        const n = all.length
        const feeds: Record<string, ort.Tensor> = {
          input_ids: new ort.Tensor('int64', BigInt64Array.from(all, BigInt), [1, n]),
          attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
          position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), [1, n])
        }
        for (let i = 0; i < config.num_hidden_layers; i++) {
          for (const kind of ['key', 'value']) {
            feeds[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, config.num_key_value_heads, 0, config.head_dim])
          }
        }
        const logits = (await session.run(feeds)).logits as ort.Tensor
        const vocab = logits.dims[2] as number
        const last = (logits.data as Float32Array).subarray((n - 1) * vocab, n * vocab)
        let best = 0
        for (let v = 1; v < vocab; v++) if ((last[v] as number) > (last[best] as number)) best = v
        generated.push(BigInt(best))
        if (best === config.eos_token_id) break
      }
    } finally {
      await session.release()
    }
    const r = await generate({ messages: HELLO, maxNewTokens: steps })
    expect(r.tokens).toBe(generated.length)
    expect(r.text).toBe(tokenizer.decode(generated, { skip_special_tokens: true }))
  })

  it('stops promptly on abort and rejects with AbortedError carrying what was streamed', async () => {
    const controller = new AbortController()
    const pieces: string[] = []
    const err = await store.generate(chat, { messages: HELLO, maxNewTokens: 200, signal: controller.signal }, (p) => {
      pieces.push(p)
      if (pieces.length === 3) controller.abort()
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AbortedError)
    expect(err).toMatchObject({ name: 'AbortedError', code: 'ABORTED', model: 'tiny-chat' })
    const aborted = err as AbortedError
    expect(aborted.text).toBe(pieces.join(''))
    // The abort is seen after the token that produced the third piece: nothing after it is decoded.
    expect(pieces).toHaveLength(3)
    expect(aborted.tokens).toBeGreaterThanOrEqual(3)
    expect(aborted.tokens).toBeLessThan(200)
    // An abort from outside (a timer) stops a long run too, and the store keeps serving.
    const timed = new AbortController()
    const started = performance.now()
    const running = store.generate(chat, { messages: HELLO, maxNewTokens: 256, signal: timed.signal })
    setTimeout(() => { timed.abort() }, 5)
    const err2 = await running.catch((e: unknown) => e)
    if (err2 instanceof AbortedError) expect(err2.tokens).toBeLessThan(256)
    else expect((err2 as { tokens: number }).tokens).toBe(256) // finished before the timer fired
    expect(performance.now() - started).toBeLessThan(5_000)
    expect((await generate({ messages: HELLO, maxNewTokens: 3 })).tokens).toBeLessThanOrEqual(3)
  })

  it('rejects an already aborted signal before generating anything', async () => {
    const controller = new AbortController()
    controller.abort()
    const pieces: string[] = []
    const err = await store.generate(chat, { prompt: 'hi', maxNewTokens: 5, signal: controller.signal }, (p) => { pieces.push(p) }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ABORTED', tokens: 0, text: '' })
    expect(pieces).toEqual([])
  })

  it('stops and rejects with the error when onToken throws', async () => {
    let calls = 0
    const boom = new Error('client went away')
    const err = await store.generate(chat, { messages: HELLO, maxNewTokens: 100 }, () => { calls++; throw boom }).catch((e: unknown) => e)
    expect(err).toBe(boom)
    expect(calls).toBe(1)
    expect((await generate({ messages: HELLO, maxNewTokens: 2 })).tokens).toBeLessThanOrEqual(2)
  })

  const generateCases: Array<[string, () => GenerateRequest, RegExp]> = [
    ['maxNewTokens 0', () => ({ messages: HELLO, maxNewTokens: 0 }), /maxNewTokens must be a positive integer, got 0/],
    ['fractional maxNewTokens', () => ({ messages: HELLO, maxNewTokens: 1.5 }), /maxNewTokens must be a positive integer/],
    ['maxNewTokens above the manifest cap', () => ({ messages: HELLO, maxNewTokens: 257 }), /maxNewTokens 257 exceeds the model's limit 256/],
    ['neither messages nor prompt', () => ({ maxNewTokens: 4 }), /exactly one of messages and prompt/],
    ['both messages and prompt', () => ({ messages: HELLO, prompt: 'x', maxNewTokens: 4 }), /exactly one of messages and prompt/],
    ['an empty prompt', () => ({ prompt: '', maxNewTokens: 4 }), /prompt must be a non-empty string/],
    ['a prompt that is not a string', () => ({ prompt: 42 as unknown as string, maxNewTokens: 4 }), /prompt must be a non-empty string/],
    ['no messages', () => ({ messages: [], maxNewTokens: 4 }), /messages must be a non-empty array/],
    ['an unknown role', () => ({ messages: [{ role: 'root' as 'user', content: 'x' }], maxNewTokens: 4 }), /messages\[0\]\.role must be one of system, user, assistant/],
    ['content that is not a string', () => ({ messages: [{ role: 'user', content: { text: 'x' } as unknown as string }], maxNewTokens: 4 }), /messages\[0\]\.content must be a string/],
    ['only empty messages', () => ({ messages: [{ role: 'user', content: '' }], maxNewTokens: 4 }), /every message is empty/],
    ['too many messages', () => ({ messages: Array.from({ length: 33 }, () => ({ role: 'user' as const, content: 'x' })), maxNewTokens: 4 }), /33 messages, at most 32/],
    ['a prompt above maxInputBytes', () => ({ prompt: 'a'.repeat(8193), maxNewTokens: 4 }), /prompt is 8193 bytes, at most 8192/],
    ['messages above maxInputBytes', () => ({ messages: [{ role: 'user', content: 'é'.repeat(3000) }, { role: 'user', content: 'é'.repeat(1097) }], maxNewTokens: 4 }), /messages hold 8194 bytes of content, at most 8192/],
    ['a prompt that overflows the context', () => ({ prompt: '\u00ff\u0100'.repeat(500), maxNewTokens: 4 }), /prompt tokens \+ maxNewTokens 4 exceed the context of 512 tokens/]
  ]
  for (const [label, request, message] of generateCases) {
    it(`refuses ${label} with BadInputError and keeps serving`, async () => {
      const pieces: string[] = []
      const err = await store.generate(chat, request(), (p) => { pieces.push(p) }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(BadInputError)
      expect(err).toMatchObject({ name: 'BadInputError', code: 'BAD_INPUT' })
      expect((err as Error).message).toMatch(/model "tiny-chat"/)
      expect((err as Error).message).toMatch(message)
      expect(pieces).toEqual([])
      expect((await generate({ messages: HELLO, maxNewTokens: 2 })).tokens).toBeLessThanOrEqual(2)
    })
  }

  it('classifies: every label of the config per text, scores in [0, 1], one unit per text', async () => {
    const texts = ['Buy now!!! Free money', 'Hello, how are you?', 'You are stupid', '🙂 é ü 日本']
    const { labels, units } = await store.classify(moderation, texts)
    expect(units).toBe(texts.length)
    expect(labels).toHaveLength(texts.length)
    for (const row of labels) {
      expect(row.map((l) => l.label)).toEqual(LABELS)
      for (const { score } of row) {
        expect(score).toBeGreaterThanOrEqual(0)
        expect(score).toBeLessThanOrEqual(1)
      }
    }
    // Not constant: different texts get different scores.
    expect(new Set(labels.map((row) => row[0]?.score)).size).toBeGreaterThan(1)
  })

  it('gives byte-identical scores on re-runs, independent of the other texts in the call', async () => {
    const texts = ['first message', 'a second, longer message with more words in it', 'third']
    const first = await store.classify(moderation, texts)
    const again = await Promise.all(Array.from({ length: 8 }, async () => await store.classify(moderation, texts)))
    for (const r of again) expect(scoreBytes(r.labels).equals(scoreBytes(first.labels))).toBe(true)
    const alone = await store.classify(moderation, [texts[1] as string])
    expect(scoreBytes(alone.labels).equals(scoreBytes([first.labels[1] ?? []]))).toBe(true)
  })

  const classifyCases: Array<[string, () => string[], RegExp]> = [
    ['no texts', () => [], /texts must be a non-empty array of strings/],
    ['too many texts', () => Array.from({ length: 33 }, () => 'x'), /33 texts, at most 32/],
    ['an empty text', () => ['ok', ''], /texts\[1\] must be a non-empty string/],
    ['a text that is not a string', () => [7 as unknown as string], /texts\[0\] must be a non-empty string/],
    ['a text above maxTextBytes', () => ['b'.repeat(2049)], /texts\[0\] is 2049 bytes, at most 2048/],
    ['a text above the token limit', () => ['\u00ff\u0100'.repeat(500)], /texts\[0\] is \d+ tokens, at most 512/]
  ]
  for (const [label, texts, message] of classifyCases) {
    it(`refuses ${label} with BadInputError and keeps serving`, async () => {
      const err = await store.classify(moderation, texts()).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(BadInputError)
      expect(err).toMatchObject({ code: 'BAD_INPUT' })
      expect((err as Error).message).toMatch(/model "tiny-moderation"/)
      expect((err as Error).message).toMatch(message)
      expect((await store.classify(moderation, ['fine'])).units).toBe(1)
    })
  }

  it('refuses the wrong call for a model\'s task with BadInputError naming the right one', async () => {
    const x = [float32Tensor('x', [1, 64], new Float32Array(64))]
    await expect(store.run(chat, x)).rejects.toThrow(/model "tiny-chat" is a text-generation model: use generate\(\), not run\(\)/)
    await expect(store.run(moderation, x)).rejects.toThrow(/model "tiny-moderation" is a text-classification model: use classify\(\), not run\(\)/)
    await expect(store.classify(chat, ['x'])).rejects.toThrow(/use generate\(\), not classify\(\)/)
    await expect(store.generate(moderation, { prompt: 'x', maxNewTokens: 1 })).rejects.toThrow(/use classify\(\), not generate\(\)/)
    await expect(store.generate(mlp, { prompt: 'x', maxNewTokens: 1 })).rejects.toThrow(/model "mlp-64-10" is a tensor model: use run\(\), not generate\(\)/)
    await expect(store.classify(mlp, ['x'])).rejects.toMatchObject({ name: 'BadInputError', code: 'BAD_INPUT' })
    await expect(store.classify(Buffer.alloc(32, 9), ['x'])).rejects.toBeInstanceOf(UnknownModelError)
    await expect(store.generate(Buffer.alloc(32, 9), { prompt: 'x', maxNewTokens: 1 })).rejects.toBeInstanceOf(UnknownModelError)
    expect((await store.run(mlp, x)).units).toBe(1)
  })
})

describe('text model lifecycle', () => {
  it('generate and classify need a started store; stop lets a generation in flight finish', async () => {
    const dir = await copyOfTextModels()
    const store = new ModelStore({ dir })
    const hash = Buffer.from(JSON.parse(await readFile(join(dir, 'tiny-chat', 'manifest.json'), 'utf8')).sha256, 'hex')
    await expect(store.generate(hash, { prompt: 'x', maxNewTokens: 1 })).rejects.toBeInstanceOf(NotStartedError)
    await expect(store.classify(hash, ['x'])).rejects.toBeInstanceOf(NotStartedError)
    await store.start()
    const running = store.generate(hash, { messages: HELLO, maxNewTokens: 64 })
    await store.stop()
    const r = await running
    expect(r.tokens).toBeGreaterThan(0)
    await expect(store.generate(hash, { prompt: 'x', maxNewTokens: 1 })).rejects.toMatchObject({ code: 'NOT_STARTED' })
  })
})

describe('the store refuses text models it cannot vouch for', () => {
  it('fails start with ModelHashMismatchError when onnx/model.onnx was altered', async () => {
    const dir = await copyOfTextModels()
    const file = join(dir, 'tiny-chat', 'onnx', 'model.onnx')
    const bytes = await readFile(file)
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] as number) ^ 0x01
    await writeFile(file, bytes)
    const err = await startError(dir)
    expect(err).toBeInstanceOf(ModelHashMismatchError)
    expect(err).toMatchObject({ code: 'MODEL_HASH_MISMATCH', model: 'tiny-chat' })
    expect((err as Error).message).toContain(file)
  })

  for (const [folder, asset] of [['tiny-chat', 'tokenizer.json'], ['tiny-chat', 'generation_config.json'], ['tiny-moderation', 'config.json']]) {
    it(`fails start with ModelHashMismatchError when ${folder}/${asset} was altered`, async () => {
      const dir = await copyOfTextModels()
      await editJson(join(dir, folder as string, asset as string), (m) => { m.tampered = true })
      const err = await startError(dir)
      expect(err).toBeInstanceOf(ModelHashMismatchError)
      expect(err).toMatchObject({ model: folder })
      expect((err as Error).message).toContain(join(dir, folder as string, asset as string))
    })
  }

  const manifestCases: Array<[string, string, (m: Record<string, any>) => void, string]> = [
    ['an unknown task', 'tiny-chat', (m) => { m.task = 'text-to-image' }, 'task'],
    ['a unit that does not fit the task', 'tiny-chat', (m) => { m.unit = 'row' }, 'unit'],
    ['a classifier billed per token', 'tiny-moderation', (m) => { m.unit = 'token' }, 'unit'],
    ['a missing maxNewTokens', 'tiny-chat', (m) => { delete m.maxNewTokens }, 'maxNewTokens'],
    ['a missing tokenizer in files', 'tiny-chat', (m) => { delete m.files['tokenizer.json']; reseal(m) }, 'files'],
    ['a graph missing from files', 'tiny-chat', (m) => { delete m.files['onnx/model.onnx'] }, 'files'],
    ['tensor fields on a text model', 'tiny-moderation', (m) => { m.maxBatch = 4 }, ''],
    ['a file outside the folder', 'tiny-chat', (m) => { m.files['../tiny-moderation/config.json'] = m.files['config.json'] }, 'files.../tiny-moderation/config.json'],
    ['a model file outside the folder', 'tiny-moderation', (m) => { m.file = '../tiny-chat/onnx/model.onnx' }, 'file']
  ]
  for (const [label, folder, edit, field] of manifestCases) {
    it(`fails start with BadManifestError for ${label}`, async () => {
      const dir = await copyOfTextModels()
      await editJson(join(dir, folder, 'manifest.json'), edit)
      const err = await startError(dir)
      expect(err).toBeInstanceOf(BadManifestError)
      expect(err).toMatchObject({ code: 'BAD_MANIFEST', file: join(dir, folder, 'manifest.json') })
      if (field !== '') expect((err as BadManifestError).field).toBe(field)
    })
  }

  const configCases: Array<[string, string, string, (m: Record<string, any>) => void, RegExp]> = [
    ['a layer count the graph does not have', 'tiny-chat', 'config.json', (c) => { c.num_hidden_layers = 3 }, /the graph lacks "past_key_values\.2\.key"/],
    ['fewer layers than the graph has', 'tiny-chat', 'config.json', (c) => { c.num_hidden_layers = 1 }, /2 more cache inputs than num_hidden_layers = 1/],
    ['a model type that is not a causal LM', 'tiny-chat', 'config.json', (c) => { c.model_type = 'bert' }, /model_type "bert" is not a causal language model/],
    ['a label count the graph does not have', 'tiny-moderation', 'config.json', (c) => { c.id2label = { 0: 'toxic', 1: 'spam' } }, /names 2 labels but the graph's logits have 3/],
    ['id2label with a gap', 'tiny-moderation', 'config.json', (c) => { c.id2label = { 0: 'toxic', 1: 'spam', 5: 'ok' } }, /"2" is missing/]
  ]
  for (const [label, folder, asset, edit, message] of configCases) {
    it(`fails start with BadManifestError for ${label}`, async () => {
      const dir = await copyOfTextModels()
      await editAsset(dir, folder, asset, edit)
      const err = await startError(dir)
      expect(err).toBeInstanceOf(BadManifestError)
      expect((err as Error).message).toMatch(message)
    })
  }

  it('fails start when an asset is not JSON', async () => {
    const dir = await copyOfTextModels()
    const file = join(dir, 'tiny-moderation', 'tokenizer_config.json')
    await writeFile(file, '{ not json')
    await editJson(join(dir, 'tiny-moderation', 'manifest.json'), (m) => { m.files['tokenizer_config.json'] = createHash('sha256').update('{ not json').digest('hex'); reseal(m) })
    const err = await startError(dir)
    expect(err).toBeInstanceOf(BadManifestError)
    expect(err).toMatchObject({ field: 'files.tokenizer_config.json' })
  })
})

// Debian's python3-torch and python3-onnx, when installed (the committed fixtures are what the other tests use).
const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch, onnx'], { stdio: 'ignore' }).status === 0

describe('scripts/build-text-models.py', () => {
  it.skipIf(!hasTorch)('rebuilds the committed folders: same JSON files; same ONNX bytes and hashes on the same torch build', async () => {
    const out = await mkdtemp(join(tmpdir(), 'silk-text-build-'))
    temps.push(out)
    const run = spawnSync('/usr/bin/python3', [join(DEFAULT_MODELS_DIR, '..', 'scripts', 'build-text-models.py'), out], { encoding: 'utf8' })
    expect(run.status, run.stderr).toBe(0)
    for (const folder of ['tiny-chat', 'tiny-moderation']) {
      const committed = join(DEFAULT_MODELS_DIR, folder)
      const manifest = JSON.parse(await readFile(join(out, folder, 'manifest.json'), 'utf8')) as { sha256: string, task: string, file: string, files: Record<string, string> }
      // The rebuilt manifest's hashes describe the rebuilt files, and its digest the whole bundle.
      const onnxBytes = await readFile(join(out, folder, manifest.file))
      expect(bundleDigest({ task: manifest.task, graph: manifest.file, files: manifest.files }).toString('hex')).toBe(manifest.sha256)
      for (const [asset, hash] of Object.entries(manifest.files)) {
        const bytes = await readFile(join(out, folder, asset))
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(hash)
        if (asset !== manifest.file) expect(bytes.equals(await readFile(join(committed, asset))), `${folder}/${asset}`).toBe(true)
      }
      const producer = (bytes: Uint8Array): string => onnxProto.onnx.ModelProto.decode(bytes).producerVersion ?? ''
      const committedOnnx = await readFile(join(committed, manifest.file))
      if (producer(onnxBytes) === producer(committedOnnx)) {
        expect(onnxBytes.equals(committedOnnx), `${folder}/${manifest.file}`).toBe(true)
        expect((await readFile(join(out, folder, 'manifest.json'))).equals(await readFile(join(committed, 'manifest.json')))).toBe(true)
      }
    }
  })
})
