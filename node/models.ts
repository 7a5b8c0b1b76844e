// The node's inference module: loads the model folder, checks every model's bundle (graph,
// external weights, tokenizer, configs, …) against its manifest's bundle digest — the model hash —
// and runs jobs in onnxruntime-node: tensor models directly, text models (chat generation,
// classification) through node/text-models.ts on sessions created here.
import { readdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import * as ort from 'onnxruntime-node'
import { z } from 'zod'
import { bundlePathError } from '../protocol/bundle.ts'
import { ProtocolError } from '../protocol/errors.ts'
import { checkTensor, DTYPES, elementCount, TENSOR_LIMITS, type DTypeName, type Tensor } from '../protocol/tensor.ts'
import {
  BadInputError,
  BadManifestError,
  InferenceFailedError,
  ModelHashMismatchError,
  NotStartedError,
  UnknownModelError
} from './errors.ts'
import { readBundle, type GraphSource } from './bundle.ts'
import {
  TEXT_ASSETS,
  TextClassifier,
  TextGenerator,
  type ClassificationInfo,
  type ClassifyResult,
  type GenerateRequest,
  type GenerateResult,
  type GenerationInfo,
  type TextModelFiles
} from './text-models.ts'

export type { ChatMessage, ChatRole, ClassificationInfo, ClassifyResult, GenerateRequest, GenerateResult, GenerationInfo, LabelScore } from './text-models.ts'

export const MANIFEST_FILE = 'manifest.json'
/** Default cap on the summed byte size of one job's input tensors. */
export const DEFAULT_MAX_INPUT_BYTES = 16 * 1024 * 1024
/** Default cap on the messages of one conversation for text-generation models. */
export const DEFAULT_MAX_MESSAGES = 64
/** Largest price a TON `Coins` field holds (VarUInteger 16). */
const MAX_PRICE = (1n << 120n) - 1n

const DTYPE_NAMES = Object.keys(DTYPES) as [DTypeName, ...DTypeName[]]
const SYMBOL = /^[A-Za-z_][A-Za-z0-9_]*$/

const tensorSpecSchema = z.strictObject({
  name: z.string().min(1).refine((s) => Buffer.byteLength(s) <= TENSOR_LIMITS.maxNameBytes, `at most ${TENSOR_LIMITS.maxNameBytes} bytes`),
  dtype: z.enum(DTYPE_NAMES),
  /** Fixed sizes are positive integers; dynamic axes are symbols, equal symbols take equal sizes within a job. */
  shape: z.array(z.union([z.number().int().positive(), z.string().regex(SYMBOL, 'a dimension symbol like "N"')])).max(TENSOR_LIMITS.maxDims)
})

function uniqueNames (list: Array<{ name: string }>, field: string, ctx: z.RefinementCtx): void {
  const seen = new Set<string>()
  list.forEach((t, i) => {
    if (seen.has(t.name)) ctx.addIssue({ code: 'custom', path: [field, i, 'name'], message: `duplicate name "${t.name}"` })
    seen.add(t.name)
  })
}

const nameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_", "-"; at most 64')
const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits')
/** Nanoton per unit, as a decimal string (bigint-safe). */
const priceSchema = z.string().regex(/^(0|[1-9][0-9]*)$/, 'a decimal integer string (nanoton)')
  .refine((s) => s.length <= 37 && BigInt(s) <= MAX_PRICE, 'at most 2^120 - 1')
const bundlePathSchema = z.string().superRefine((p, ctx) => {
  const why = bundlePathError(p)
  if (why !== undefined) ctx.addIssue({ code: 'custom', message: why })
})

/**
 * Every file of the model, graph included, relative path → hex sha256 of its bytes: external
 * weights (model.onnx_data), config.json (labels), tokenizer.json, tokenizer_config.json (chat
 * template), generation_config.json, chat_template.jinja, … Each is checked at load.
 */
const filesSchema = z.record(bundlePathSchema, sha256Schema)
  .refine((a) => Object.keys(a).length >= 1 && Object.keys(a).length <= 256, '1 to 256 files')

/** Fields every manifest has. */
const commonFields = {
  name: nameSchema,
  /** The ONNX graph, relative to the manifest's folder (e.g. "model.onnx", "onnx/model.onnx"); listed in files. */
  file: bundlePathSchema,
  files: filesSchema,
  /**
   * The bundle digest (protocol/bundle.ts) over task, graph path, declared tensors and every
   * entry of files: the model hash that adverts, jobs, receipts and the Registry carry.
   */
  sha256: sha256Schema,
  pricePerUnit: priceSchema,
  deterministic: z.boolean()
}

function graphListed (m: { file: string, files: Record<string, string> }, ctx: z.RefinementCtx): void {
  if (!Object.hasOwn(m.files, m.file)) ctx.addIssue({ code: 'custom', path: ['files'], message: `must list the graph "${m.file}"` })
}

export const tensorManifestSchema = z.strictObject({
  ...commonFields,
  task: z.literal('tensor'),
  /** "row": billed per row of the batch (first axis); "call": billed once per job. */
  unit: z.enum(['row', 'call']),
  inputs: z.array(tensorSpecSchema).min(1).max(TENSOR_LIMITS.maxTensors),
  outputs: z.array(tensorSpecSchema).min(1).max(TENSOR_LIMITS.maxTensors),
  /** Largest accepted first axis. Required for unit "row"; when set, every input's first axis is the same symbol. */
  maxBatch: z.number().int().positive().max(1_000_000).optional()
}).superRefine((m, ctx) => {
  graphListed(m, ctx)
  uniqueNames(m.inputs, 'inputs', ctx)
  uniqueNames(m.outputs, 'outputs', ctx)
  if (m.unit === 'row' && m.maxBatch === undefined) {
    ctx.addIssue({ code: 'custom', path: ['maxBatch'], message: 'required when unit is "row"' })
  }
  if (m.maxBatch !== undefined) {
    const batch = m.inputs[0]?.shape[0]
    m.inputs.forEach((t, i) => {
      const first = t.shape[0]
      if (typeof first !== 'string' || first !== batch) {
        ctx.addIssue({ code: 'custom', path: ['inputs', i, 'shape', 0], message: 'with maxBatch, every input\'s first axis must be the same batch symbol (e.g. "N")' })
      }
    })
  }
})

/** Text models read their config and tokenizer: a manifest that omits them is incomplete. */
function requireFiles (names: readonly string[]) {
  return (m: { file: string, files: Record<string, string> }, ctx: z.RefinementCtx): void => {
    graphListed(m, ctx)
    for (const name of names) {
      if (!Object.hasOwn(m.files, name)) ctx.addIssue({ code: 'custom', path: ['files'], message: `must list "${name}"` })
    }
  }
}

export const textGenerationManifestSchema = z.strictObject({
  ...commonFields,
  task: z.literal('text-generation'),
  /** Billed per generated token. */
  unit: z.literal('token'),
  /** Cap on a request's maxNewTokens. */
  maxNewTokens: z.number().int().positive().max(65_536),
  /** Cap on the UTF-8 bytes of a prompt (or of all message contents together). */
  maxInputBytes: z.number().int().positive().max(16 * 1024 * 1024),
  /** Cap on the messages of one conversation (default 64). */
  maxMessages: z.number().int().positive().max(4096).optional()
}).superRefine(requireFiles([TEXT_ASSETS.config, TEXT_ASSETS.tokenizer, TEXT_ASSETS.tokenizerConfig]))

export const textClassificationManifestSchema = z.strictObject({
  ...commonFields,
  task: z.literal('text-classification'),
  /** Billed one unit per text classified (each text is one classification call). */
  unit: z.literal('call'),
  /** Cap on the texts of one classify call. */
  maxTexts: z.number().int().positive().max(4096),
  /** Cap on one text's UTF-8 bytes. */
  maxTextBytes: z.number().int().positive().max(1024 * 1024)
}).superRefine(requireFiles([TEXT_ASSETS.config, TEXT_ASSETS.tokenizer, TEXT_ASSETS.tokenizerConfig]))

export const manifestSchema = z.discriminatedUnion('task', [tensorManifestSchema, textGenerationManifestSchema, textClassificationManifestSchema])

export type Manifest = z.infer<typeof manifestSchema>
export type TensorManifest = z.infer<typeof tensorManifestSchema>
export type TextGenerationManifest = z.infer<typeof textGenerationManifestSchema>
export type TextClassificationManifest = z.infer<typeof textClassificationManifestSchema>
export type TensorSpec = z.infer<typeof tensorSpecSchema>
export type ModelTask = Manifest['task']
export type ModelUnit = Manifest['unit']
export type ExecutionProvider = 'cuda' | 'cpu'

export interface ModelInfo {
  readonly name: string
  /** The bundle digest (protocol/bundle.ts): commits to every file and output-shaping field of the model. */
  readonly hash: Buffer
  readonly hashHex: string
  readonly task: ModelTask
  /** Nanoton per unit. */
  readonly pricePerUnit: bigint
  readonly unit: ModelUnit
  readonly deterministic: boolean
  /** Tensor models: the declared inputs and outputs. Empty for text models (use generate/classify). */
  readonly inputs: readonly TensorSpec[]
  readonly outputs: readonly TensorSpec[]
  readonly maxBatch: number | undefined
  /** The provider the session was created with ('cuda' may still place some nodes on the CPU). */
  readonly executionProvider: ExecutionProvider
  /**
   * The pinned execution path the outputs come from, e.g. "cpu;ort=1.30.0;intra=1;inter=1;batch=off":
   * provider actually in use, onnxruntime version, thread counts, batching. Deterministic models
   * are byte-stable on this path only; it goes into every job's spec hash (protocol/spec.ts), so
   * results of another path (a CUDA→CPU fallback, another thread count) never pair with these.
   * The store runs each job alone ("batch=off"); the Batcher states "batch=on" for models it merges.
   */
  readonly execution: string
  /** text-generation models only: request limits. */
  readonly generation?: GenerationInfo
  /** text-classification models only: labels and request limits. */
  readonly classification?: ClassificationInfo
}

export interface RunResult {
  /** In manifest order. */
  outputs: Tensor[]
  /** Billing units: the batch size for unit "row", 1 for unit "call". */
  units: number
}

type LogFn = (obj: object, msg?: string) => void
/** The subset of pino the store uses. */
export interface ModelStoreLogger {
  info: LogFn
  warn: LogFn
  error: LogFn
}

/** Model loading progress: `loaded` of `total` folders done; `folder` is the one loading now. */
export interface LoadProgress { loaded: number, total: number, folder?: string }

export interface ModelStoreOptions {
  /** Folder whose subfolders each hold a manifest.json and its model file. */
  dir: string
  /** Tried in order; 'cuda' falls back to 'cpu' with a warning when its libraries are missing. Default ['cpu']. */
  executionProviders?: ExecutionProvider[]
  logger?: ModelStoreLogger
  /** Cap on one job's summed input bytes. Default DEFAULT_MAX_INPUT_BYTES. */
  maxInputBytes?: number
  /** Threads per session (default 1). Any fixed value keeps deterministic models byte-stable on one machine. */
  intraOpThreads?: number
  /** told before each model folder is loaded and once at the end (for a progress bar) */
  onProgress?: (progress: LoadProgress) => void
  /** Parent folder of the private copies external-weight models load from (removed after load). Default os.tmpdir(). */
  scratchDir?: string
}

/** onnxruntime's version: another build may compute other bytes, so it is part of the execution path. */
export const ORT_VERSION: string = (ort.env.versions as Record<string, string | undefined>).node ?? ort.env.versions.common

/** The pinned execution path string (see ModelInfo.execution). */
export function executionPath (p: { provider: ExecutionProvider, intraOpThreads: number, interOpThreads: number, batching: boolean }): string {
  return `${p.provider};ort=${ORT_VERSION};intra=${p.intraOpThreads};inter=${p.interOpThreads};batch=${p.batching ? 'on' : 'off'}`
}

/** The same path with batching stated on or off (the Batcher's view of a model). */
export function withBatching (execution: string, batching: boolean): string {
  return execution.replace(/;batch=(on|off)$/, `;batch=${batching ? 'on' : 'off'}`)
}

/** Reads and validates one manifest; errors name the file and the offending field. */
export async function loadManifest (file: string): Promise<Manifest> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new BadManifestError(file, undefined, `cannot read: ${(err as Error).message}`, { cause: err })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new BadManifestError(file, undefined, `not valid JSON: ${(err as Error).message}`, { cause: err })
  }
  const parsed = manifestSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const field = issue === undefined || issue.path.length === 0 ? undefined : issue.path.map(String).join('.')
    throw new BadManifestError(file, field, issue?.message ?? 'invalid', { cause: parsed.error })
  }
  return parsed.data
}

const NOOP_LOGGER: ModelStoreLogger = { info () {}, warn () {}, error () {} }

type OrtTypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array
const ARRAY_OF: Record<DTypeName, new (buffer: ArrayBuffer) => OrtTypedArray> = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  bool: Uint8Array
}

interface LoadedModel {
  info: ModelInfo
  session: ort.InferenceSession
  generator?: TextGenerator
  classifier?: TextClassifier
}

const USE_INSTEAD: Record<ModelTask, string> = {
  tensor: 'run()',
  'text-generation': 'generate()',
  'text-classification': 'classify()'
}

function formatShape (shape: ReadonlyArray<number | string>): string {
  return `[${shape.join(',')}]`
}

/**
 * Serves the models of one folder. `start()` loads and verifies every model (any bad model fails
 * start: an operator must notice); `run()` validates a job's tensors against the manifest before
 * anything reaches onnxruntime. Sessions use fixed settings so deterministic models give identical
 * output bytes on re-runs.
 */
export class ModelStore {
  readonly #dir: string
  readonly #requestedProviders: ExecutionProvider[]
  readonly #log: ModelStoreLogger
  readonly #onProgress: ((p: LoadProgress) => void) | undefined
  readonly #maxInputBytes: number
  readonly #intraOpThreads: number
  readonly #scratchDir: string | undefined
  #providers: ExecutionProvider[] = []
  #byHash = new Map<string, LoadedModel>()
  #byName = new Map<string, LoadedModel>()
  #started = false
  #starting: Promise<void> | undefined
  #stopping: Promise<void> | undefined
  readonly #inFlight = new Set<Promise<unknown>>()

  constructor (options: ModelStoreOptions) {
    this.#dir = resolve(options.dir)
    this.#requestedProviders = [...new Set<ExecutionProvider>(options.executionProviders ?? ['cpu'])]
    this.#log = options.logger ?? NOOP_LOGGER
    this.#maxInputBytes = options.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES
    this.#intraOpThreads = options.intraOpThreads ?? 1
    this.#scratchDir = options.scratchDir
    this.#onProgress = options.onProgress
  }

  isStarted (): boolean {
    return this.#started
  }

  async start (): Promise<void> {
    if (this.#started) return
    await this.#stopping
    this.#starting ??= this.#load().finally(() => { this.#starting = undefined })
    await this.#starting
  }

  async stop (): Promise<void> {
    await this.#starting?.catch(() => {})
    if (!this.#started) return
    this.#started = false
    this.#stopping ??= this.#unload().finally(() => { this.#stopping = undefined })
    await this.#stopping
  }

  /** Loaded models in folder order; empty before start. */
  list (): ModelInfo[] {
    return [...this.#byHash.values()].map((m) => m.info)
  }

  /** By 32-byte hash, hex hash or name. */
  get (hashOrName: Uint8Array | string): ModelInfo | undefined {
    return this.#find(hashOrName)?.info
  }

  /**
   * Checks a tensor job exactly as run() would (names, dtypes, every axis, sizes) without running
   * it; returns its billing units' batch size. Throws what run() would throw (BadInputError, …).
   */
  checkInputs (modelHash: Uint8Array, inputs: readonly Tensor[]): number {
    return this.#validate(this.#modelFor(modelHash, 'tensor').info, inputs)
  }

  async run (modelHash: Uint8Array, inputs: readonly Tensor[]): Promise<RunResult> {
    const model = this.#modelFor(modelHash, 'tensor')
    const batch = this.#validate(model.info, inputs)
    const feeds: Record<string, ort.Tensor> = {}
    for (const t of inputs) feeds[t.name] = toOrt(t)
    const outputs = await this.#track(this.#infer(model, feeds))
    return { outputs, units: model.info.unit === 'row' ? batch : 1 }
  }

  /**
   * Scores every text with a text-classification model: per text, all labels of the model in
   * config order (id2label) with scores in [0, 1] (sigmoid for multi-label models, else softmax).
   * One unit per text. Texts run one at a time, so a text's scores do not depend on its companions.
   */
  async classify (modelHash: Uint8Array, texts: string[]): Promise<ClassifyResult> {
    const model = this.#modelFor(modelHash, 'text-classification')
    return await this.#track((model.classifier as TextClassifier).classify(texts))
  }

  /**
   * Greedy (deterministic) generation with a text-generation model from a conversation (rendered
   * with the model's chat template) or a raw prompt. Each piece of decoded text goes to onToken as
   * soon as it is final; the resolved `text` is exactly the concatenation of those pieces. One unit
   * per generated token (an end token included). Aborting `signal` stops within one decoding step
   * and rejects with AbortedError, which carries the partial text and token count. If onToken
   * throws, generation stops and generate() rejects with that error.
   */
  async generate (modelHash: Uint8Array, request: GenerateRequest, onToken?: (text: string) => void): Promise<GenerateResult> {
    const model = this.#modelFor(modelHash, 'text-generation')
    return await this.#track((model.generator as TextGenerator).generate(request, onToken))
  }

  #modelFor (modelHash: Uint8Array, task: ModelTask): LoadedModel {
    if (!this.#started) throw new NotStartedError()
    const model = this.#find(modelHash)
    if (model === undefined) throw new UnknownModelError(Buffer.from(modelHash).toString('hex'))
    if (model.info.task !== task) {
      throw new BadInputError(`model "${model.info.name}" is a ${model.info.task} model: use ${USE_INSTEAD[model.info.task]}, not ${USE_INSTEAD[task]}`)
    }
    return model
  }

  /** Keeps the promise in the set stop() waits for. */
  async #track<T> (running: Promise<T>): Promise<T> {
    this.#inFlight.add(running)
    try {
      return await running
    } finally {
      this.#inFlight.delete(running)
    }
  }

  #find (key: Uint8Array | string): LoadedModel | undefined {
    if (typeof key !== 'string') return this.#byHash.get(Buffer.from(key).toString('hex'))
    return this.#byName.get(key) ?? this.#byHash.get(key.toLowerCase())
  }

  async #infer (model: LoadedModel, feeds: Record<string, ort.Tensor>): Promise<Tensor[]> {
    let result: ort.InferenceSession.ReturnType
    try {
      result = await model.session.run(feeds)
    } catch (err) {
      throw new InferenceFailedError(`model "${model.info.name}": ${(err as Error).message}`, { cause: err })
    }
    return model.info.outputs.map((spec) => {
      const value = result[spec.name]
      if (!(value instanceof ort.Tensor)) throw new InferenceFailedError(`model "${model.info.name}": no tensor output "${spec.name}"`)
      return fromOrt(spec.name, value)
    })
  }

  /** Checks names, dtypes, shapes and sizes; returns the batch size (first axis of the first input, 1 for scalars). */
  #validate (info: ModelInfo, inputs: readonly Tensor[]): number {
    const model = `model "${info.name}"`
    if (inputs.length > TENSOR_LIMITS.maxTensors) throw new BadInputError(`${model}: ${inputs.length} input tensors, at most ${TENSOR_LIMITS.maxTensors}`)
    const given = new Map<string, Tensor>()
    for (const t of inputs) {
      if (given.has(t.name)) throw new BadInputError(`${model}: input "${t.name}" given twice`)
      if (!info.inputs.some((s) => s.name === t.name)) {
        throw new BadInputError(`${model}: unexpected input "${t.name}"; it takes ${info.inputs.map((s) => `"${s.name}"`).join(', ')}`)
      }
      given.set(t.name, t)
    }
    const symbols = new Map<string, { size: number, from: string }>()
    let totalBytes = 0
    for (const spec of info.inputs) {
      const expected = `${spec.dtype} ${formatShape(spec.shape)}`
      const t = given.get(spec.name)
      if (t === undefined) throw new BadInputError(`${model}: missing input "${spec.name}" (${expected})`)
      try {
        checkTensor(t, this.#maxInputBytes)
      } catch (err) {
        if (err instanceof ProtocolError) throw new BadInputError(`${model}: ${err.message}`, { cause: err })
        throw err
      }
      if (t.dtype !== spec.dtype) throw new BadInputError(`${model}: input "${spec.name}" must be ${spec.dtype}, got ${t.dtype}`)
      if (t.dims.length !== spec.shape.length) {
        throw new BadInputError(`${model}: input "${spec.name}" must have rank ${spec.shape.length} ${formatShape(spec.shape)}, got ${formatShape(t.dims)}`)
      }
      spec.shape.forEach((want, axis) => {
        const got = t.dims[axis] as number
        if (typeof want === 'number') {
          if (got !== want) throw new BadInputError(`${model}: input "${spec.name}" axis ${axis} must be ${want} (${expected}), got ${formatShape(t.dims)}`)
          return
        }
        const bound = symbols.get(want)
        if (bound === undefined) symbols.set(want, { size: got, from: spec.name })
        else if (bound.size !== got) {
          throw new BadInputError(`${model}: input "${spec.name}" axis ${axis} (${want}) is ${got}, but input "${bound.from}" has ${want} = ${bound.size}`)
        }
      })
      if (spec.dtype === 'bool' && t.data.some((b) => b > 1)) throw new BadInputError(`${model}: input "${spec.name}" is bool but holds bytes other than 0 and 1`)
      totalBytes += t.data.byteLength
    }
    if (totalBytes > this.#maxInputBytes) throw new BadInputError(`${model}: inputs total ${totalBytes} bytes, at most ${this.#maxInputBytes}`)
    const first = info.inputs[0]
    const batch = first === undefined || first.shape.length === 0 ? 1 : (given.get(first.name)?.dims[0] ?? 1)
    if (info.maxBatch !== undefined) {
      if (batch < 1) throw new BadInputError(`${model}: batch (axis 0) must be at least 1`)
      if (batch > info.maxBatch) throw new BadInputError(`${model}: batch ${batch} exceeds maxBatch ${info.maxBatch}`)
    }
    return batch
  }

  async #load (): Promise<void> {
    this.#providers = [...this.#requestedProviders]
    const entries = (await readdir(this.#dir, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort()
    const byHash = new Map<string, LoadedModel>()
    const byName = new Map<string, LoadedModel>()
    try {
      for (const [index, folder] of entries.entries()) {
        this.#onProgress?.({ loaded: index, total: entries.length, folder })
        const manifestFile = join(this.#dir, folder, MANIFEST_FILE)
        const manifest = await loadManifest(manifestFile).catch((err: unknown) => {
          // A folder without a manifest is not a model (e.g. scratch files); anything else is an error.
          if (err instanceof BadManifestError && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined
          throw err
        })
        if (manifest === undefined) continue
        const model = await this.#loadModel(join(this.#dir, folder), manifestFile, manifest)
        const hashHex = model.info.hashHex
        const sameName = byName.get(manifest.name)
        const sameHash = byHash.get(hashHex)
        const clash = sameName ?? sameHash
        if (clash !== undefined) {
          await model.session.release()
          throw new BadManifestError(manifestFile, sameName !== undefined ? 'name' : 'sha256', `model "${manifest.name}" duplicates the ${sameName !== undefined ? 'name' : 'hash'} of model "${clash.info.name}"`)
        }
        byHash.set(hashHex, model)
        byName.set(manifest.name, model)
        this.#log.info({ model: manifest.name, hash: hashHex, executionProvider: model.info.executionProvider }, 'model loaded')
      }
    } catch (err) {
      await Promise.allSettled([...byHash.values()].map(async (m) => await m.session.release()))
      throw err
    }
    this.#onProgress?.({ loaded: entries.length, total: entries.length })
    this.#byHash = byHash
    this.#byName = byName
    this.#started = true
    this.#log.info({ dir: this.#dir, models: byHash.size }, 'model store started')
  }

  async #loadModel (folder: string, manifestFile: string, manifest: Manifest): Promise<LoadedModel> {
    // Every file is hash-checked against the manifest, whose digest commits to all of them.
    const bundle = await readBundle(folder, manifestFile, manifest, this.#scratchDir === undefined ? {} : { scratchDir: this.#scratchDir })
    let created: { session: ort.InferenceSession, provider: ExecutionProvider }
    try {
      created = await this.#createSession(bundle.graph, manifest.name, manifestFile)
    } finally {
      // onnxruntime has read (or mapped) the private copy; nothing needs the path any more.
      await bundle.release()
    }
    const { session, provider } = created
    try {
      const base = {
        name: manifest.name,
        hash: bundle.digest,
        hashHex: bundle.digest.toString('hex'),
        pricePerUnit: BigInt(manifest.pricePerUnit),
        deterministic: manifest.deterministic,
        executionProvider: provider,
        execution: executionPath({ provider, intraOpThreads: this.#intraOpThreads, interOpThreads: 1, batching: false })
      }
      if (manifest.task === 'tensor') {
        checkAgainstGraph(manifestFile, 'inputs', manifest.inputs, session.inputMetadata)
        checkAgainstGraph(manifestFile, 'outputs', manifest.outputs, session.outputMetadata)
        const info: ModelInfo = { ...base, task: manifest.task, unit: manifest.unit, inputs: manifest.inputs, outputs: manifest.outputs, maxBatch: manifest.maxBatch }
        return { info, session }
      }
      const files = textFiles(manifestFile, bundle.json, bundle.text)
      const ctx = { name: manifest.name, manifestFile, session, files }
      if (manifest.task === 'text-generation') {
        const generator = await TextGenerator.load(ctx, {
          maxNewTokens: manifest.maxNewTokens,
          maxInputBytes: manifest.maxInputBytes,
          maxMessages: manifest.maxMessages ?? DEFAULT_MAX_MESSAGES
        })
        const info: ModelInfo = { ...base, task: manifest.task, unit: manifest.unit, inputs: [], outputs: [], maxBatch: undefined, generation: generator.info }
        return { info, session, generator }
      }
      const classifier = await TextClassifier.load(ctx, { maxTexts: manifest.maxTexts, maxTextBytes: manifest.maxTextBytes })
      const info: ModelInfo = { ...base, task: manifest.task, unit: manifest.unit, inputs: [], outputs: [], maxBatch: undefined, classification: classifier.info }
      return { info, session, classifier }
    } catch (err) {
      await session.release()
      throw err
    }
  }

  /**
   * Sessions on the pinned path: fixed thread counts, sequential execution, deterministic kernels
   * (onnxruntime's use_deterministic_compute, which matters on CUDA). The provider that actually
   * took the session is returned and stated in the execution path.
   */
  async #createSession (graph: GraphSource, model: string, manifestFile: string): Promise<{ session: ort.InferenceSession, provider: ExecutionProvider }> {
    const options: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      intraOpNumThreads: this.#intraOpThreads,
      interOpNumThreads: 1,
      logSeverityLevel: 3,
      extra: { session: { use_deterministic_compute: '1' } }
    }
    const create = async (o: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> =>
      graph.kind === 'bytes' ? await ort.InferenceSession.create(graph.bytes, o) : await ort.InferenceSession.create(graph.path, o)
    if (this.#providers.includes('cuda')) {
      try {
        const session = await create({ ...options, executionProviders: this.#providers })
        return { session, provider: 'cuda' }
      } catch (err) {
        // Missing CUDA libraries fail every session alike: warn once and use the CPU from here on.
        this.#log.warn({ model, err: (err as Error).message }, 'CUDA execution provider unavailable; falling back to CPU')
        this.#providers = ['cpu']
      }
    }
    try {
      const session = await create({ ...options, executionProviders: ['cpu'] })
      return { session, provider: 'cpu' }
    } catch (err) {
      throw new BadManifestError(manifestFile, 'file', `onnxruntime cannot load the model: ${(err as Error).message}`, { cause: err })
    }
  }

  async #unload (): Promise<void> {
    await Promise.allSettled(this.#inFlight)
    const models = [...this.#byHash.values()]
    this.#byHash = new Map()
    this.#byName = new Map()
    await Promise.allSettled(models.map(async (m) => await m.session.release()))
    this.#log.info({ dir: this.#dir }, 'model store stopped')
  }
}

/** The parsed files a text model needs, from the verified bundle. */
function textFiles (manifestFile: string, json: Map<string, Record<string, unknown>>, text: Map<string, string>): TextModelFiles {
  const need = (path: string): Record<string, unknown> => {
    const value = json.get(path)
    if (value === undefined) throw new BadManifestError(manifestFile, 'files', `must list "${path}"`)
    return value
  }
  const files: TextModelFiles = { config: need(TEXT_ASSETS.config), tokenizer: need(TEXT_ASSETS.tokenizer), tokenizerConfig: need(TEXT_ASSETS.tokenizerConfig) }
  const generationConfig = json.get(TEXT_ASSETS.generationConfig)
  if (generationConfig !== undefined) files.generationConfig = generationConfig
  const chatTemplate = text.get(TEXT_ASSETS.chatTemplate)
  if (chatTemplate !== undefined) files.chatTemplate = chatTemplate
  return files
}

/** The manifest must describe the graph it ships with: same names and dtypes, no looser fixed axes. */
function checkAgainstGraph (
  manifestFile: string,
  field: 'inputs' | 'outputs',
  specs: readonly TensorSpec[],
  metadata: readonly ort.InferenceSession.ValueMetadata[]
): void {
  const graphNames = metadata.map((m) => m.name)
  const missing = graphNames.filter((n) => !specs.some((s) => s.name === n))
  if (missing.length > 0 || specs.length !== graphNames.length) {
    throw new BadManifestError(manifestFile, field, `the graph's ${field} are ${graphNames.map((n) => `"${n}"`).join(', ')}; the manifest lists ${specs.map((s) => `"${s.name}"`).join(', ')}`)
  }
  specs.forEach((spec, i) => {
    const meta = metadata.find((m) => m.name === spec.name)
    if (meta === undefined) throw new BadManifestError(manifestFile, `${field}.${i}.name`, `the graph has no ${field.slice(0, -1)} "${spec.name}"`)
    if (!meta.isTensor) throw new BadManifestError(manifestFile, `${field}.${i}`, `"${spec.name}" is not a tensor in the graph`)
    if (meta.type !== spec.dtype) throw new BadManifestError(manifestFile, `${field}.${i}.dtype`, `"${spec.name}" is ${meta.type} in the graph, not ${spec.dtype}`)
    // An empty graph shape may mean "unknown"; only compare when the graph states a rank.
    if (meta.shape.length === 0 && spec.shape.length !== 0) return
    if (meta.shape.length !== spec.shape.length) {
      throw new BadManifestError(manifestFile, `${field}.${i}.shape`, `"${spec.name}" has rank ${meta.shape.length} ${formatShape(meta.shape)} in the graph`)
    }
    meta.shape.forEach((g, axis) => {
      if (typeof g === 'number' && spec.shape[axis] !== g) {
        throw new BadManifestError(manifestFile, `${field}.${i}.shape.${axis}`, `"${spec.name}" axis ${axis} is fixed to ${g} in the graph`)
      }
    })
  })
}

/** Copies into a fresh, aligned typed array: wire bytes may sit at any offset, and the caller may reuse them. */
function toOrt (t: Tensor): ort.Tensor {
  const buffer = new ArrayBuffer(t.data.byteLength)
  new Uint8Array(buffer).set(t.data)
  const data = new ARRAY_OF[t.dtype](buffer)
  return new ort.Tensor(t.dtype, data as never, t.dims)
}

function fromOrt (name: string, value: ort.Tensor): Tensor {
  const dtype = value.type
  if (!Object.hasOwn(DTYPES, dtype)) throw new InferenceFailedError(`output "${name}" has unsupported type ${dtype}`)
  const data = value.data as OrtTypedArray
  const dims = [...value.dims]
  if (elementCount(dims) * DTYPES[dtype as DTypeName] !== data.byteLength) {
    throw new InferenceFailedError(`output "${name}": dims ${formatShape(dims)} disagree with ${data.byteLength} bytes`)
  }
  return { name, dtype: dtype as DTypeName, dims, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }
}
