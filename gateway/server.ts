import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pino, type Logger } from 'pino'
import { loggerOptions } from '../protocol/logging.ts'
import { BudgetExceededError, type ChatRequest, type PaidJob, type ProviderPool, type RunOptions, type VerifiedProvider } from '../client/index.ts'
import type { ProviderView } from '../client/pool.ts'
import { GatewayConfigError } from './config.ts'
import { DEFAULTS } from './constants.ts'
import { GatewayError, invalidRequest, modelNotFound, toGatewayError } from './errors.ts'
import { isLoopbackHost, RequestGuard, SpendingLimits, type Reservation, type SpendingLimitsOptions } from './guard.ts'
import {
  ChatCompletionRequest, chatChunk, chatCompletion, chatTurns, CompletionRequest, completionChunk, completionPrompt, ModerationRequest,
  moderationTexts, moderationVerdict, parseBody, textCompletion, usageOf, type ModelEntry, type SilkProof
} from './openai.ts'

/** What the gateway needs of a ProviderPool: run work on the best provider of a model, with failover. */
export type GatewayPool = Pick<ProviderPool, 'use'>

export interface GatewayModel {
  id: string
  /** 'text-generation' serves /v1/chat/completions, 'text-classification' /v1/moderations */
  task: string
  /** unix seconds; default: when the gateway started */
  created?: number
}

export interface GatewayOptions {
  pool: GatewayPool
  /** the models to offer; asked on every request, so it may follow discovery */
  models: () => GatewayModel[] | Promise<GatewayModel[]>
  host?: string
  /** 0 picks a free port */
  port?: number
  /** when set, requests need `Authorization: Bearer <one of these>`; required to listen beyond loopback */
  apiKeys?: readonly string[]
  /** Host header names accepted; default the loopback names (or the listen host when it is not loopback) */
  allowedHosts?: readonly string[]
  /** browser origins allowed to call the API (CORS); default none: requests with another Origin get 403 */
  corsOrigins?: readonly string[]
  /** what the gateway's wallet may spend, per API key and overall per period; default DEFAULTS.spending */
  spending?: SpendingLimitsOptions
  logger?: Logger
  /** a moderation category is flagged above this score; default 0.5 */
  moderationThreshold?: number
  /** labels that mean "nothing wrong" and are no category; default ['ok'] */
  safeLabels?: readonly string[]
  /** for /v1/moderations without a model; default the first text-classification model */
  moderationModel?: string
  /** max_tokens when the request names none; default 128 */
  defaultMaxTokens?: number
  /** default 1 MiB */
  maxBodyBytes?: number
  /** per job, once a provider is chosen; default the client's */
  jobTimeoutMs?: number
  /** the pool's view of its providers, shown by /health (e.g. ProviderPool.view) */
  health?: () => ProviderView[] | Promise<ProviderView[]>
}

export interface Gateway {
  /** e.g. http://127.0.0.1:41234 — the OpenAI base URL is this plus /v1 */
  url: string
  /** stops accepting requests, cancels running generations, and closes every connection */
  close: () => Promise<void>
}

type Task = 'text-generation' | 'text-classification'
interface Generated { text: string, tokens: number, maxNewTokens: number, silk: SilkProof }

/** How one endpoint shapes a generation: its whole answer, its chunks, and the request. */
interface GenerationShape {
  model: string
  request: ChatRequest
  stream: boolean
  includeUsage: boolean
  whole: (g: Generated) => object
  piece: (piece: string, first: boolean) => object
  /** sent before the last chunk when nothing was streamed */
  opening?: () => object
  last: (g: Generated, extra: object) => object
  usage: (extra: object) => object
}

/**
 * Serves the OpenAI HTTP API (models, chat completions with streaming, moderations) from Silk
 * providers. Every answer is a verified, paid result and carries its proof in a `silk` field.
 */
export async function startGateway (options: GatewayOptions): Promise<Gateway> {
  const log = options.logger ?? pino(loggerOptions('silent'))
  const started = Math.floor(Date.now() / 1000)
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULTS.maxBodyBytes
  const keyHashes = (options.apiKeys ?? []).map(sha256)
  const runOptions: RunOptions = options.jobTimeoutMs !== undefined ? { timeoutMs: options.jobTimeoutMs } : {}
  const running = new Map<Promise<void>, AbortController>()
  const listenHost = options.host ?? '127.0.0.1'
  if (!isLoopbackHost(listenHost) && keyHashes.length === 0) {
    throw new GatewayConfigError(`refusing to listen on ${listenHost} without API keys: anyone who reaches it would spend the wallet; set API keys or listen on 127.0.0.1`)
  }
  const guard = new RequestGuard(listenHost, {
    ...(options.allowedHosts !== undefined ? { allowedHosts: options.allowedHosts } : {}),
    ...(options.corsOrigins !== undefined ? { corsOrigins: options.corsOrigins } : {})
  })
  const limits = new SpendingLimits(options.spending ?? DEFAULTS.spending)

  const server = createServer({ noDelay: true }, (req, res) => {
    const gone = new AbortController()
    // 'close' before the response finished: the caller went away
    res.on('close', () => { if (!res.writableFinished) gone.abort() })
    const handling: Promise<void> = handle(req, res, gone.signal)
      .catch((err: unknown) => { log.error({ err }, 'unhandled gateway failure'); res.destroy() })
      .finally(() => running.delete(handling))
    running.set(handling, gone)
  })

  async function handle (req: IncomingMessage, res: ServerResponse, gone: AbortSignal): Promise<void> {
    const t0 = performance.now()
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '')
    const facts: Record<string, unknown> = {}
    try {
      for (const [name, value] of Object.entries(guard.corsHeaders(req))) res.setHeader(name, value)
      if (req.method === 'OPTIONS') {
        // a CORS preflight: allowed origins get the headers above, the rest 403 from the guard
        guard.check(req)
        res.writeHead(204).end()
        return
      }
      guard.check(req)
      if (path === '/health') {
        // for load balancers and monitors: no API key, and nothing secret (provider addresses are public)
        allow(req, 'GET')
        sendJson(res, 200, await health())
        return
      }
      const caller = callerKey(req)
      if (caller === undefined) throw new GatewayError(401, 'authentication_error', 'invalid_api_key', 'Incorrect or missing API key: send Authorization: Bearer <key>')
      facts.caller = caller
      if (path === '/v1/models') {
        allow(req, 'GET')
        sendJson(res, 200, { object: 'list', data: (await options.models()).map(entry) })
      } else if (path.startsWith('/v1/models/')) {
        allow(req, 'GET')
        const raw = path.slice('/v1/models/'.length)
        let id = raw
        try { id = decodeURIComponent(raw) } catch {}
        const m = (await options.models()).find((x) => x.id === id)
        if (m === undefined) throw modelNotFound(id, 'model')
        sendJson(res, 200, entry(m))
      } else if (path === '/v1/chat/completions') {
        allow(req, 'POST')
        await chat(req, res, gone, facts, caller)
      } else if (path === '/v1/completions') {
        allow(req, 'POST')
        await complete(req, res, gone, facts, caller)
      } else if (path === '/v1/moderations') {
        allow(req, 'POST')
        await moderate(req, res, gone, facts, caller)
      } else {
        throw invalidRequest(`Unknown request URL: ${req.method ?? ''} ${path}`, null, 'unknown_url', 404)
      }
    } catch (err) {
      const e = toGatewayError(err)
      facts.error = e.code
      if (e.status >= 500 && !gone.aborted) log.warn({ err, code: e.code }, 'request failed')
      sendJson(res, e.status, e.body, e.status === 413 ? { connection: 'close' } : {})
    } finally {
      // never the content of prompts or answers
      log.info({ method: req.method, path, status: res.statusCode, ms: Math.round(performance.now() - t0), ...facts, ...(gone.aborted ? { gone: true } : {}) }, 'request')
    }
  }

  /** Who pays, for the spending limits: a short id of the caller's API key; undefined when refused. */
  function callerKey (req: IncomingMessage): string | undefined {
    if (keyHashes.length === 0) return 'anonymous'
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')
    if (m === null) return undefined
    const given = sha256(m[1]!)
    return keyHashes.some((h) => timingSafeEqual(h, given)) ? given.subarray(0, 6).toString('hex') : undefined
  }

  /** Runs paid work under a reservation of the caller's budget; settles it with what was paid. */
  async function spending<T extends { silk: SilkProof }> (caller: string, work: (maxCost: bigint) => Promise<T>): Promise<T> {
    const reservation: Reservation = limits.reserve(caller)
    let cost = 0n
    try {
      const done = await work(reservation.amount)
      cost = BigInt(done.silk.cost)
      return done
    } catch (err) {
      // above the per-request cap, no later retry helps: the request itself is too expensive
      if (err instanceof BudgetExceededError && reservation.amount === limits.perRequest) {
        throw invalidRequest(`This request could cost up to ${err.worstCase} nanoton, above this gateway's limit of ${limits.perRequest} per request; lower max_tokens`, 'max_tokens', 'request_too_expensive')
      }
      throw err
    } finally {
      limits.settle(reservation, cost)
    }
  }

  function entry (m: GatewayModel): ModelEntry {
    return { id: m.id, object: 'model', created: m.created ?? started, owned_by: 'silk' }
  }

  async function requireModel (id: string, task: Task): Promise<void> {
    const m = (await options.models()).find((x) => x.id === id)
    if (m === undefined) throw modelNotFound(id)
    if (m.task !== task) {
      const where = m.task === 'text-classification' ? '/v1/moderations' : m.task === 'text-generation' ? '/v1/chat/completions' : 'no endpoint of this gateway'
      throw invalidRequest(`The model \`${id}\` is a ${m.task} model; use it with ${where}`, 'model', 'invalid_model')
    }
  }

  async function readJson (req: IncomingMessage): Promise<unknown> {
    const tooLarge = (): GatewayError => invalidRequest(`The request body is larger than ${maxBodyBytes} bytes`, null, 'request_too_large', 413)
    if (Number(req.headers['content-length'] ?? 0) > maxBodyBytes) throw tooLarge()
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length
      // past the limit, read on (discarding) so the caller gets the 413; cut off a flood
      if (size <= maxBodyBytes) chunks.push(chunk)
      else if (size > DEFAULTS.maxBodyDrainFactor * maxBodyBytes) break
    }
    if (size > maxBodyBytes) throw tooLarge()
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch {
      throw invalidRequest('We could not parse the JSON body of your request: send a JSON object with Content-Type: application/json', null, 'invalid_json')
    }
  }

  async function chat (req: IncomingMessage, res: ServerResponse, gone: AbortSignal, facts: Record<string, unknown>, caller: string): Promise<void> {
    const body = parseBody(ChatCompletionRequest, await readJson(req))
    await requireModel(body.model, 'text-generation')
    const id = `chatcmpl-${randomBytes(12).toString('hex')}`
    const created = Math.floor(Date.now() / 1000)
    const model = body.model
    await serveGeneration(res, gone, facts, caller, {
      model,
      request: { messages: chatTurns(body.messages), maxNewTokens: body.max_completion_tokens ?? body.max_tokens ?? options.defaultMaxTokens ?? DEFAULTS.maxTokens },
      stream: body.stream === true,
      includeUsage: body.stream_options?.include_usage === true,
      whole: (g) => chatCompletion(id, created, model, g.text, finishReason(g), g.tokens, g.silk),
      piece: (piece, first) => chatChunk(id, created, model, { delta: first ? { role: 'assistant', content: piece } : { content: piece }, finish_reason: null }),
      // a chat stream always opens with the assistant's role, even when no text came
      opening: () => chatChunk(id, created, model, { delta: { role: 'assistant', content: '' }, finish_reason: null }),
      last: (g, extra) => chatChunk(id, created, model, { delta: {}, finish_reason: finishReason(g) }, extra),
      usage: (extra) => chatChunk(id, created, model, null, extra)
    })
  }

  /** Legacy text completions: the prompt as raw text (no chat template), streamed or whole. */
  async function complete (req: IncomingMessage, res: ServerResponse, gone: AbortSignal, facts: Record<string, unknown>, caller: string): Promise<void> {
    const body = parseBody(CompletionRequest, await readJson(req))
    await requireModel(body.model, 'text-generation')
    const id = `cmpl-${randomBytes(12).toString('hex')}`
    const created = Math.floor(Date.now() / 1000)
    const model = body.model
    await serveGeneration(res, gone, facts, caller, {
      model,
      request: { prompt: completionPrompt(body.prompt), maxNewTokens: body.max_tokens ?? options.defaultMaxTokens ?? DEFAULTS.maxTokens },
      stream: body.stream === true,
      includeUsage: body.stream_options?.include_usage === true,
      whole: (g) => textCompletion(id, created, model, g.text, finishReason(g), g.tokens, g.silk),
      piece: (piece) => completionChunk(id, created, model, { text: piece, finish_reason: null }),
      last: (g, extra) => completionChunk(id, created, model, { text: '', finish_reason: finishReason(g) }, extra),
      usage: (extra) => completionChunk(id, created, model, null, extra)
    })
  }

  /**
   * One generation served as one JSON answer or as server-sent events: chat and legacy
   * completions differ only in the shape of their bodies and chunks.
   */
  async function serveGeneration (res: ServerResponse, gone: AbortSignal, facts: Record<string, unknown>, caller: string, g: GenerationShape): Promise<void> {
    facts.model = g.model
    if (!g.stream) {
      const done = await spending(caller, async (maxCost) => await generate(g.model, g.request, gone, maxCost))
      Object.assign(facts, { tokens: done.tokens, cost: done.silk.cost })
      sendJson(res, 200, g.whole(done))
      return
    }
    const events = new EventStream(res)
    try {
      const done = await spending(caller, async (maxCost) => await generate(g.model, g.request, gone, maxCost, (piece) => {
        events.send(g.piece(piece, !events.started))
      }))
      Object.assign(facts, { tokens: done.tokens, cost: done.silk.cost })
      if (!events.started && g.opening !== undefined) events.send(g.opening())
      // the proof rides on the last chunk: streamed text is provisional until it arrives
      events.send(g.last(done, g.includeUsage ? {} : { silk: done.silk }))
      if (g.includeUsage) events.send(g.usage({ usage: usageOf(done.tokens), silk: done.silk }))
      events.done()
    } catch (err) {
      if (!events.started) throw err
      const e = toGatewayError(err)
      facts.error = e.code
      if (!gone.aborted) log.warn({ err, code: e.code }, 'stream failed after it began')
      events.fail(e)
    }
  }

  /** What /health shows: the gateway is up; the models it offers; the providers as the pool sees them. */
  async function health (): Promise<object> {
    const models = (await options.models()).map((m) => m.id)
    const providers = options.health !== undefined ? await options.health() : undefined
    const usable = providers === undefined || providers.length === 0 || providers.some((p) => p.state !== 'cooling_down')
    return { status: usable ? 'ok' : 'degraded', models, ...(providers !== undefined ? { providers } : {}) }
  }

  /**
   * Runs a chat job through the pool. A caller that goes away cancels the job at the node (which
   * bills only the tokens made so far), so the session stays usable. Once pieces have been sent,
   * a failure is final: another provider would stream the text again from the start.
   */
  async function generate (model: string, request: ChatRequest, gone: AbortSignal, maxCost: bigint, onPiece?: (piece: string) => void): Promise<Generated> {
    let streamed = false
    const done = await options.pool.use(model, async (p) => {
      const stream = p.session.chat(model, request, { ...runOptions, maxCost })
      const cancel = (): void => { void stream.cancel() }
      gone.addEventListener('abort', cancel, { once: true })
      try {
        for await (const piece of stream) {
          if (gone.aborted) break // cancels, also when the job had no id yet at the abort
          if (onPiece !== undefined) {
            streamed = true
            onPiece(piece)
          }
        }
        return { result: await stream.result, provider: p }
      } catch (err) {
        if (!streamed) throw err
        const e = toGatewayError(err)
        throw new GatewayError(e.status, e.type, e.code, e.message, e.param, { cause: err })
      } finally {
        gone.removeEventListener('abort', cancel)
      }
    }, gone)
    const { text, tokens } = done.result
    return { text, tokens, maxNewTokens: request.maxNewTokens!, silk: proof(done.result, done.provider, done.address) }
  }

  async function moderate (req: IncomingMessage, res: ServerResponse, gone: AbortSignal, facts: Record<string, unknown>, caller: string): Promise<void> {
    const body = parseBody(ModerationRequest, await readJson(req))
    const model = body.model ?? options.moderationModel ?? (await options.models()).find((m) => m.task === 'text-classification')?.id
    if (model === undefined) throw invalidRequest('This gateway serves no moderation model', 'model', 'model_not_found', 404)
    await requireModel(model, 'text-classification')
    facts.model = model
    const texts = moderationTexts(body.input)
    const { done, silk } = await spending(caller, async (maxCost) => {
      const done = await options.pool.use(model, async (p) => ({ result: await p.session.classify(model, texts, { ...runOptions, maxCost }), provider: p }), gone)
      return { done, silk: proof(done.result, done.provider, done.address) }
    })
    Object.assign(facts, { texts: texts.length, cost: silk.cost })
    const threshold = options.moderationThreshold ?? DEFAULTS.moderationThreshold
    const safe = options.safeLabels ?? DEFAULTS.safeLabels
    sendJson(res, 200, {
      id: `modr-${randomBytes(12).toString('hex')}`,
      model,
      results: done.result.labels.map((labels) => moderationVerdict(labels, threshold, safe)),
      silk
    })
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, listenHost, () => { server.off('error', reject); resolve() })
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  const url = `http://${host}:${address.port}`
  log.info({ url }, 'gateway listening')

  let closing: Promise<void> | undefined
  return {
    url,
    async close () {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => { server.close(() => { resolve() }) })
        for (const gone of running.values()) gone.abort()
        // cancelled generations end within a decoding step; don't wait forever for a stuck one
        await Promise.race([Promise.allSettled(running.keys()), new Promise((resolve) => setTimeout(resolve, DEFAULTS.closeGraceMs).unref())])
        server.closeAllConnections()
        await stopped
      })()
      await closing
    }
  }
}

function finishReason (g: Generated): 'stop' | 'length' {
  return g.tokens >= g.maxNewTokens ? 'length' : 'stop'
}

function proof (result: PaidJob, p: VerifiedProvider, peer: string): SilkProof {
  return {
    receipt: result.receiptCell.hash().toString('hex'),
    receipt_boc: result.receiptCell.toBoc().toString('base64'),
    signature: result.signature.toString('hex'),
    node_key: p.nodeKey.toString('hex'),
    cost: result.cost.toString(),
    units: result.receipt.units,
    provider: p.provider.toString(),
    peer,
    tier: result.tier
  }
}

function allow (req: IncomingMessage, method: 'GET' | 'POST'): void {
  if (req.method !== method) throw invalidRequest(`${req.url ?? ''} accepts ${method} only`, null, 'method_not_allowed', 405)
}

function sha256 (s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

function sendJson (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

/** Server-sent events as OpenAI sends them: `data: <json>` per chunk, then `data: [DONE]`. */
class EventStream {
  started = false

  constructor (private readonly res: ServerResponse) {}

  send (data: object): void {
    if (this.res.destroyed || this.res.writableEnded) return
    if (!this.started) {
      this.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' })
      this.started = true
    }
    this.res.write(`data: ${JSON.stringify(data)}\n\n`)
  }

  done (): void {
    if (!this.res.destroyed && !this.res.writableEnded) this.res.end('data: [DONE]\n\n')
  }

  /** The openai clients raise an APIError for a data event with an `error` field. */
  fail (e: GatewayError): void {
    this.send(e.body)
    this.done()
  }
}
