// Text models (chat generation, classification) on @huggingface/transformers, driven by the
// ModelStore. The store reads and hash-checks every file and creates the onnxruntime session from
// the very bytes it hashed; this module only builds the tokenizer, config and model objects from
// those bytes, so nothing is fetched or re-read from disk (and no hub download can happen).
import type * as ort from 'onnxruntime-node'
import { BadInputError, BadManifestError, InferenceFailedError, AbortedError } from './errors.ts'
import { GENERATION_DECODING } from '../protocol/text.ts'

export type ChatRole = 'system' | 'user' | 'assistant'
export const CHAT_ROLES: readonly ChatRole[] = ['system', 'user', 'assistant']

export interface ChatMessage {
  role: ChatRole
  content: string
}

export interface GenerateRequest {
  /** A conversation, rendered with the model's chat template plus the assistant prompt. Exactly one of messages and prompt. */
  messages?: readonly ChatMessage[]
  /** Raw text, tokenized as is (no chat template). */
  prompt?: string
  /** At most this many tokens are generated (end token included); 1 … the manifest's maxNewTokens. */
  maxNewTokens: number
  /** Aborting stops generation within one decoding step; generate() then rejects with AbortedError. */
  signal?: AbortSignal
}

export interface GenerateResult {
  /** The generated text (special tokens left out); always the concatenation of the pieces given to onToken. */
  text: string
  /** Tokens generated, an end token included. */
  tokens: number
  /** Billing units: one per generated token (= tokens). */
  units: number
}

export interface LabelScore {
  label: string
  score: number
}

export interface ClassifyResult {
  /** Per text, every label of the model in config order (id2label), with a score in [0, 1]. */
  labels: LabelScore[][]
  /** Billing units: one per text. */
  units: number
}

export interface GenerationInfo {
  /** Cap on a request's maxNewTokens (manifest). */
  maxNewTokens: number
  /** Cap on the UTF-8 bytes of the prompt, or of all message contents together (manifest). */
  maxInputBytes: number
  /** Cap on the number of messages (manifest). */
  maxMessages: number
  /** Prompt tokens + maxNewTokens must fit here (config max_position_embeddings). */
  contextTokens: number
}

export interface ClassificationInfo {
  /** Label names in id order (config id2label). */
  labels: readonly string[]
  /** "sigmoid" for multi_label_classification, otherwise "softmax". */
  activation: 'sigmoid' | 'softmax'
  /** Cap on texts per call (manifest). */
  maxTexts: number
  /** Cap on one text's UTF-8 bytes (manifest). */
  maxTextBytes: number
  /** Cap on one text's tokens, special tokens included (config max_position_embeddings). */
  maxTokens: number
}

/** The parsed files a text model folder provides, each already hash-checked by the store (node/bundle.ts). */
export interface TextModelFiles {
  config: Record<string, unknown>
  tokenizer: Record<string, unknown>
  tokenizerConfig: Record<string, unknown>
  generationConfig?: Record<string, unknown>
  /** chat_template.jinja, as newer exports ship it; replaces tokenizer_config.json's chat_template. */
  chatTemplate?: string
}

export const TEXT_ASSETS = {
  config: 'config.json',
  tokenizer: 'tokenizer.json',
  tokenizerConfig: 'tokenizer_config.json',
  generationConfig: 'generation_config.json',
  chatTemplate: 'chat_template.jinja'
} as const

// ---------------------------------------------------------------- transformers, loaded on demand

// The few shapes of @huggingface/transformers this module uses, kept structural so the rest of
// Silk does not depend on its (large) type declarations.
interface TfTensor {
  dims: number[]
  data: ArrayLike<number | bigint>
  tolist: () => unknown[]
}
type Encoding = Record<string, TfTensor>
interface Tokenizer {
  (text: string, options?: Record<string, unknown>): Encoding
  apply_chat_template: (conversation: ChatMessage[], options: Record<string, unknown>) => Encoding
  decode: (ids: bigint[], options?: Record<string, unknown>) => string
}
interface PretrainedModel {
  (inputs: Encoding): Promise<{ logits: TfTensor }>
  generate: (options: Record<string, unknown>) => Promise<TfTensor>
  dispose: () => Promise<unknown>
}
type Ctor<T> = new (...args: any[]) => T
interface Transformers {
  env: Record<string, any>
  PretrainedConfig: Ctor<Record<string, unknown>>
  PreTrainedTokenizer: Ctor<Tokenizer>
  PreTrainedModel: Ctor<PretrainedModel>
  AutoModelForCausalLM: { MODEL_CLASS_MAPPINGS: Array<Map<string, string>> }
  AutoModelForSequenceClassification: { MODEL_CLASS_MAPPINGS: Array<Map<string, string>> }
  BaseStreamer: Ctor<{ put(value: bigint[][]): void, end(): void }>
  StoppingCriteria: Ctor<{ _call(inputIds: unknown[][]): boolean[] }>
  [name: string]: unknown
}

let transformers: Promise<Transformers> | undefined

/**
 * Imports transformers once (≈ 0.6 s, so only when a text model is loaded) and pins it offline:
 * no remote models, no file cache. The store never passes it a model id anyway: every object is
 * built from bytes the store read and hash-checked. Transformers loads onnxruntime-node with
 * require(), the same CommonJS module instance that node/models.ts imports, so its tensors and the
 * store's sessions interoperate.
 */
export async function loadTransformers (): Promise<Transformers> {
  transformers ??= import('@huggingface/transformers').then((mod) => {
    const t = mod as unknown as Transformers
    t.env.allowRemoteModels = false
    t.env.allowLocalModels = true
    t.env.useFSCache = false
    t.env.useBrowserCache = false
    t.env.useCustomCache = false
    return t
  })
  return await transformers
}

function classFor<T> (t: Transformers, name: string, base: Ctor<T>): Ctor<T> | undefined {
  const cls = t[name]
  if (typeof cls !== 'function') return undefined
  return cls === base || cls.prototype instanceof base ? cls as Ctor<T> : undefined
}

function buildTokenizer (t: Transformers, files: TextModelFiles): Tokenizer {
  // As AutoTokenizer does: the class named in tokenizer_config.json ("…Fast" stripped), else the base class.
  const declared = files.tokenizerConfig.tokenizer_class
  const name = typeof declared === 'string' ? declared.replace(/Fast$/, '') : 'PreTrainedTokenizer'
  const cls = classFor(t, name, t.PreTrainedTokenizer) ?? t.PreTrainedTokenizer
  return new cls(files.tokenizer, tokenizerConfigOf(files))
}

/** tokenizer_config.json with the chat template from chat_template.jinja when the bundle has one. */
function tokenizerConfigOf (files: TextModelFiles): Record<string, unknown> {
  return files.chatTemplate === undefined ? files.tokenizerConfig : { ...files.tokenizerConfig, chat_template: files.chatTemplate }
}

function modelClass (t: Transformers, auto: { MODEL_CLASS_MAPPINGS: Array<Map<string, string>> }, modelType: string): Ctor<PretrainedModel> | undefined {
  for (const mapping of auto.MODEL_CLASS_MAPPINGS) {
    const name = mapping.get(modelType)
    if (name !== undefined) return classFor(t, name, t.PreTrainedModel)
  }
  return undefined
}

function positiveInt (v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined
}

// ---------------------------------------------------------------- loading

export interface TextModelContext {
  name: string
  manifestFile: string
  session: ort.InferenceSession
  files: TextModelFiles
}

function bad (ctx: TextModelContext, field: string | undefined, message: string, cause?: unknown): BadManifestError {
  return new BadManifestError(ctx.manifestFile, field, message, cause === undefined ? undefined : { cause })
}

function buildParts (t: Transformers, ctx: TextModelContext): { config: Record<string, unknown>, tokenizer: Tokenizer } {
  let config: Record<string, unknown>
  let tokenizer: Tokenizer
  try {
    config = new t.PretrainedConfig(ctx.files.config)
  } catch (err) {
    throw bad(ctx, 'files', `${TEXT_ASSETS.config}: ${(err as Error).message}`, err)
  }
  try {
    tokenizer = buildTokenizer(t, ctx.files)
  } catch (err) {
    throw bad(ctx, 'files', `cannot build the tokenizer from ${TEXT_ASSETS.tokenizer}: ${(err as Error).message}`, err)
  }
  return { config, tokenizer }
}

/** A decoder-only language model with a KV cache, greedy decoding only. */
export class TextGenerator {
  private constructor (
    readonly name: string,
    readonly info: GenerationInfo,
    private readonly tokenizer: Tokenizer,
    private readonly model: PretrainedModel,
    private readonly t: Transformers,
    private readonly hasChatTemplate: boolean
  ) {}

  static async load (ctx: TextModelContext, limits: Omit<GenerationInfo, 'contextTokens'>): Promise<TextGenerator> {
    const t = await loadTransformers()
    const { config, tokenizer } = buildParts(t, ctx)
    const modelType = config.model_type
    if (typeof modelType !== 'string') throw bad(ctx, 'files', `${TEXT_ASSETS.config} has no model_type`)
    const cls = modelClass(t, t.AutoModelForCausalLM, modelType)
    if (cls === undefined) throw bad(ctx, 'files', `${TEXT_ASSETS.config}: model_type "${modelType}" is not a causal language model transformers knows`)
    const layers = positiveInt(config.num_hidden_layers)
    const contextTokens = positiveInt(config.max_position_embeddings)
    if (layers === undefined) throw bad(ctx, 'files', `${TEXT_ASSETS.config} needs a positive num_hidden_layers`)
    if (contextTokens === undefined) throw bad(ctx, 'files', `${TEXT_ASSETS.config} needs a positive max_position_embeddings`)
    const { inputNames, outputNames } = ctx.session
    const needIn = ['input_ids', 'attention_mask']
    const needOut = ['logits']
    for (let i = 0; i < layers; i++) {
      needIn.push(`past_key_values.${i}.key`, `past_key_values.${i}.value`)
      needOut.push(`present.${i}.key`, `present.${i}.value`)
    }
    const missing = [...needIn.filter((n) => !inputNames.includes(n)), ...needOut.filter((n) => !outputNames.includes(n))]
    if (missing.length > 0) {
      throw bad(ctx, 'file', `the graph lacks ${missing.map((n) => `"${n}"`).join(', ')} (num_hidden_layers is ${layers}; a KV-cache export is required)`)
    }
    const extraPast = inputNames.filter((n) => n.startsWith('past_key_values.') && !needIn.includes(n))
    if (extraPast.length > 0) throw bad(ctx, 'files', `the graph has ${extraPast.length} more cache inputs than num_hidden_layers = ${layers} accounts for`)
    const model = new cls(config, { model: ctx.session }, { generation_config: ctx.files.generationConfig ?? {} })
    const template = tokenizerConfigOf(ctx.files).chat_template
    const hasChatTemplate = typeof template === 'string' || Array.isArray(template)
    return new TextGenerator(ctx.name, { ...limits, contextTokens }, tokenizer, model, t, hasChatTemplate)
  }

  /** Checks the request and tokenizes the prompt; throws BadInputError. */
  private encode (req: GenerateRequest): Encoding {
    const model = `model "${this.name}"`
    if (typeof req !== 'object' || req === null) throw new BadInputError(`${model}: a generate request is an object`)
    const { messages, prompt, maxNewTokens } = req
    if (!Number.isSafeInteger(maxNewTokens) || maxNewTokens < 1) throw new BadInputError(`${model}: maxNewTokens must be a positive integer, got ${String(maxNewTokens)}`)
    if (maxNewTokens > this.info.maxNewTokens) throw new BadInputError(`${model}: maxNewTokens ${maxNewTokens} exceeds the model's limit ${this.info.maxNewTokens}`)
    if ((messages === undefined) === (prompt === undefined)) throw new BadInputError(`${model}: give exactly one of messages and prompt`)
    let encoding: Encoding
    if (prompt !== undefined) {
      if (typeof prompt !== 'string' || prompt.length === 0) throw new BadInputError(`${model}: prompt must be a non-empty string`)
      const bytes = Buffer.byteLength(prompt)
      if (bytes > this.info.maxInputBytes) throw new BadInputError(`${model}: prompt is ${bytes} bytes, at most ${this.info.maxInputBytes}`)
      encoding = this.tokenizer(prompt, { add_special_tokens: true })
    } else {
      if (!Array.isArray(messages) || messages.length === 0) throw new BadInputError(`${model}: messages must be a non-empty array`)
      if (messages.length > this.info.maxMessages) throw new BadInputError(`${model}: ${messages.length} messages, at most ${this.info.maxMessages}`)
      if (!this.hasChatTemplate) throw new BadInputError(`${model}: the model has no chat template; send a prompt`)
      let bytes = 0
      const clean: ChatMessage[] = messages.map((m: unknown, i) => {
        const { role, content } = (typeof m === 'object' && m !== null ? m : {}) as Record<string, unknown>
        if (typeof role !== 'string' || !(CHAT_ROLES as readonly string[]).includes(role)) {
          throw new BadInputError(`${model}: messages[${i}].role must be one of ${CHAT_ROLES.join(', ')}`)
        }
        if (typeof content !== 'string') throw new BadInputError(`${model}: messages[${i}].content must be a string`)
        bytes += Buffer.byteLength(content)
        return { role: role as ChatRole, content }
      })
      if (bytes === 0) throw new BadInputError(`${model}: every message is empty`)
      if (bytes > this.info.maxInputBytes) throw new BadInputError(`${model}: messages hold ${bytes} bytes of content, at most ${this.info.maxInputBytes}`)
      try {
        encoding = this.tokenizer.apply_chat_template(clean, { add_generation_prompt: true, tokenize: true, return_dict: true, return_tensor: true })
      } catch (err) {
        throw new BadInputError(`${model}: the chat template refused the messages: ${(err as Error).message}`, { cause: err })
      }
    }
    const promptTokens = encoding.input_ids?.dims.at(-1) ?? 0
    if (promptTokens === 0) throw new BadInputError(`${model}: the prompt encodes to no tokens`)
    if (promptTokens + maxNewTokens > this.info.contextTokens) {
      throw new BadInputError(`${model}: ${promptTokens} prompt tokens + maxNewTokens ${maxNewTokens} exceed the context of ${this.info.contextTokens} tokens`)
    }
    return encoding
  }

  async generate (req: GenerateRequest, onToken?: (text: string) => void): Promise<GenerateResult> {
    const encoding = this.encode(req)
    const signal = req.signal
    if (signal?.aborted === true) throw new AbortedError(this.name, '', 0, { cause: signal.reason })
    const generated: bigint[] = []
    let emitted = ''
    // Set from callbacks; a holder object so TypeScript does not narrow it away.
    const failure: { callback?: { error: unknown } } = {}
    const aborted = (): boolean => signal?.aborted === true
    const decode = (): string => this.tokenizer.decode(generated, { skip_special_tokens: true })
    const emit = (piece: string): void => {
      if (piece === '' || failure.callback !== undefined) return
      emitted += piece
      try {
        onToken?.(piece)
      } catch (error) {
        failure.callback = { error }
      }
    }
    const { BaseStreamer, StoppingCriteria } = this.t
    let promptSeen = false
    // generate() first puts the prompt, then each new token before checking the stopping criteria.
    const streamer = new (class extends BaseStreamer {
      override put (value: bigint[][]): void {
        if (!promptSeen) { promptSeen = true; return }
        for (const row of value) generated.push(...row)
        // Byte-level tokens may end inside a UTF-8 sequence (decoded as U+FFFD): hold such a tail
        // back until the next token completes it, so every piece is final text.
        const stable = decode().replace(/\uFFFD+$/, '')
        if (stable.startsWith(emitted)) emit(stable.slice(emitted.length))
      }

      override end (): void {}
    })()
    const stop = new (class extends StoppingCriteria {
      override _call (inputIds: unknown[][]): boolean[] {
        const halt = aborted() || failure.callback !== undefined
        return inputIds.map(() => halt)
      }
    })()
    try {
      await this.model.generate({
        ...encoding,
        max_new_tokens: req.maxNewTokens,
        // the decoding parameters every receipt's spec hash names (protocol/text.ts)
        do_sample: GENERATION_DECODING.doSample,
        num_beams: GENERATION_DECODING.numBeams,
        streamer,
        stopping_criteria: stop
      })
    } catch (err) {
      throw new InferenceFailedError(`model "${this.name}": ${(err as Error).message}`, { cause: err })
    }
    const rethrow = (): void => { if (failure.callback !== undefined) throw failure.callback.error }
    rethrow()
    if (generated.length > req.maxNewTokens) {
      throw new InferenceFailedError(`model "${this.name}": generated ${generated.length} tokens for maxNewTokens ${req.maxNewTokens}`)
    }
    // Flush what was held back (an unfinished UTF-8 tail stays U+FFFD). The result is always exactly
    // what was streamed: byte-level and SentencePiece decoders only ever extend the decoded text; a
    // tokenizer that rewrote already-streamed text would get no correction sent.
    const final = decode()
    if (final.startsWith(emitted)) emit(final.slice(emitted.length))
    rethrow()
    if (aborted()) throw new AbortedError(this.name, emitted, generated.length, { cause: signal?.reason })
    return { text: emitted, tokens: generated.length, units: generated.length }
  }

  async dispose (): Promise<void> {
    await this.model.dispose()
  }
}

/** A sequence classifier (BERT-like), one forward pass per text. */
export class TextClassifier {
  private constructor (
    readonly name: string,
    readonly info: ClassificationInfo,
    private readonly tokenizer: Tokenizer,
    private readonly model: PretrainedModel
  ) {}

  static async load (ctx: TextModelContext, limits: { maxTexts: number, maxTextBytes: number }): Promise<TextClassifier> {
    const t = await loadTransformers()
    const { config, tokenizer } = buildParts(t, ctx)
    const modelType = config.model_type
    if (typeof modelType !== 'string') throw bad(ctx, 'files', `${TEXT_ASSETS.config} has no model_type`)
    const cls = modelClass(t, t.AutoModelForSequenceClassification, modelType)
    if (cls === undefined) throw bad(ctx, 'files', `${TEXT_ASSETS.config}: model_type "${modelType}" is not a sequence classifier transformers knows`)
    const id2label = config.id2label
    if (typeof id2label !== 'object' || id2label === null) throw bad(ctx, 'files', `${TEXT_ASSETS.config} needs id2label`)
    const entries = Object.entries(id2label as Record<string, unknown>)
    const labels: string[] = []
    for (let i = 0; i < entries.length; i++) {
      const label = (id2label as Record<string, unknown>)[String(i)]
      if (typeof label !== 'string' || label === '') throw bad(ctx, 'files', `${TEXT_ASSETS.config}: id2label must map 0…${entries.length - 1} to names; "${i}" is missing`)
      labels.push(label)
    }
    if (labels.length === 0) throw bad(ctx, 'files', `${TEXT_ASSETS.config}: id2label is empty`)
    const maxTokens = positiveInt(config.max_position_embeddings)
    if (maxTokens === undefined) throw bad(ctx, 'files', `${TEXT_ASSETS.config} needs a positive max_position_embeddings`)
    const { inputNames, outputNames, outputMetadata } = ctx.session
    const missing = [...['input_ids', 'attention_mask'].filter((n) => !inputNames.includes(n)), ...['logits'].filter((n) => !outputNames.includes(n))]
    if (missing.length > 0) throw bad(ctx, 'file', `the graph lacks ${missing.map((n) => `"${n}"`).join(', ')}`)
    const logits = outputMetadata.find((m) => m.name === 'logits')
    const width = logits?.isTensor === true ? logits.shape.at(-1) : undefined
    if (typeof width === 'number' && width !== labels.length) {
      throw bad(ctx, 'files', `${TEXT_ASSETS.config} names ${labels.length} labels but the graph's logits have ${width}`)
    }
    const activation = config.problem_type === 'multi_label_classification' || labels.length === 1 ? 'sigmoid' : 'softmax'
    const model = new cls(config, { model: ctx.session }, {})
    return new TextClassifier(ctx.name, { labels, activation, maxTexts: limits.maxTexts, maxTextBytes: limits.maxTextBytes, maxTokens }, tokenizer, model)
  }

  private check (texts: readonly string[]): Encoding[] {
    const model = `model "${this.name}"`
    if (!Array.isArray(texts) || texts.length === 0) throw new BadInputError(`${model}: texts must be a non-empty array of strings`)
    if (texts.length > this.info.maxTexts) throw new BadInputError(`${model}: ${texts.length} texts, at most ${this.info.maxTexts}`)
    return texts.map((text: unknown, i) => {
      if (typeof text !== 'string' || text.length === 0) throw new BadInputError(`${model}: texts[${i}] must be a non-empty string`)
      const bytes = Buffer.byteLength(text)
      if (bytes > this.info.maxTextBytes) throw new BadInputError(`${model}: texts[${i}] is ${bytes} bytes, at most ${this.info.maxTextBytes}`)
      const encoding = this.tokenizer(text)
      const tokens = encoding.input_ids?.dims.at(-1) ?? 0
      if (tokens > this.info.maxTokens) throw new BadInputError(`${model}: texts[${i}] is ${tokens} tokens, at most ${this.info.maxTokens}`)
      return encoding
    })
  }

  /** Each text runs alone (no padding), so its scores do not depend on the other texts of the call. */
  async classify (texts: readonly string[]): Promise<ClassifyResult> {
    const encodings = this.check(texts)
    const labels: LabelScore[][] = []
    for (const encoding of encodings) {
      let logits: TfTensor
      try {
        logits = (await this.model(encoding)).logits
      } catch (err) {
        throw new InferenceFailedError(`model "${this.name}": ${(err as Error).message}`, { cause: err })
      }
      const values = Array.from(logits.data as ArrayLike<number>)
      if (values.length !== this.info.labels.length || values.some((v) => !Number.isFinite(v))) {
        throw new InferenceFailedError(`model "${this.name}": expected ${this.info.labels.length} finite logits, got [${values.join(', ')}]`)
      }
      labels.push(this.info.labels.map((label, i) => ({ label, score: scoreOf(values, i, this.info.activation) })))
    }
    return { labels, units: texts.length }
  }

  async dispose (): Promise<void> {
    await this.model.dispose()
  }
}

function scoreOf (logits: readonly number[], i: number, activation: 'sigmoid' | 'softmax'): number {
  const x = logits[i] as number
  if (activation === 'sigmoid') return 1 / (1 + Math.exp(-x))
  const max = Math.max(...logits)
  let sum = 0
  for (const v of logits) sum += Math.exp(v - max)
  return Math.exp(x - max) / sum
}
