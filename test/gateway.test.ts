import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Address, Cell, toNano } from '@ton/core'
import { pino } from 'pino'
import OpenAI, { AuthenticationError, BadRequestError, NotFoundError } from 'openai'
import { InvalidReceiptError, NoProviderError, ProviderPool, type ChatResult, type VerifiedProvider } from '../client/index.ts'
import { launchGateway, parseGatewayConfig, startGateway, type Gateway, type GatewayModel, type GatewayPool } from '../gateway/index.ts'
import { parseReceipt, verifyCell } from '../protocol/cells.ts'
import { startLocalNet, type LocalNet } from './localnet.ts'

const MODELS: GatewayModel[] = [
  { id: 'tiny-chat', task: 'text-generation' },
  { id: 'tiny-moderation', task: 'text-classification' },
  { id: 'mlp-64-10', task: 'tensor' }
]
const CHAT_PRICE = 1000n // tiny-chat, nanoton per token
const messages = [{ role: 'system' as const, content: 'You are terse.' }, { role: 'user' as const, content: 'Tell me about TON.' }]

describe('the OpenAI-compatible gateway, driven by the official openai client against a local Silk network', () => {
  let net: LocalNet
  let pool: ProviderPool
  let gateway: Gateway
  let openai: OpenAI
  let nodeKey: Buffer
  let nodeAddress: string
  /** every chat job the gateway finished, as the node billed it */
  const chats: ChatResult[] = []

  beforeAll(async () => {
    net = await startLocalNet()
    const { node, identity } = await net.addNode()
    nodeKey = Buffer.from(identity.keyPair.publicKey)
    nodeAddress = node.addresses[0]!.toString()
    const { client } = await net.addClient()
    pool = new ProviderPool(client, {
      candidates: async () => [{ address: nodeAddress }],
      deposit: toNano('1'),
      retry: { minDelayMs: 10 }
    })
    // the real pool, watched: what each job cost at the node
    const watched: GatewayPool = {
      use: async (model, work, signal) => await pool.use(model, async (p: VerifiedProvider) => {
        const r = await work(p)
        const result = (r as { result?: unknown }).result
        if (typeof result === 'object' && result !== null && 'tokens' in result) chats.push(result as ChatResult)
        return r
      }, signal)
    }
    // spending limits wide enough that the node, not the gateway, refuses the over-long request below
    gateway = await startGateway({ pool: watched, models: () => MODELS, spending: { total: toNano('10'), perRequest: toNano('1') } })
    openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 })
  })
  afterAll(async () => {
    await gateway?.close()
    await pool?.close()
    await net?.close()
  })

  it('lists the models in the OpenAI shape', async () => {
    const ids: string[] = []
    for await (const m of openai.models.list()) {
      expect(m).toMatchObject({ object: 'model', owned_by: 'silk' })
      expect(m.created).toBeTypeOf('number')
      ids.push(m.id)
    }
    expect(ids).toEqual(['tiny-chat', 'tiny-moderation', 'mlp-64-10'])
    expect((await openai.models.retrieve('tiny-chat')).id).toBe('tiny-chat')
  })

  it('answers a chat completion with text, usage, and a receipt signed by the node that anyone can check', async () => {
    const r = await openai.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 16 })
    expect(r.object).toBe('chat.completion')
    expect(r.model).toBe('tiny-chat')
    const text = r.choices[0]!.message.content!
    expect(text.length).toBeGreaterThan(0)
    expect(r.usage).toEqual({ prompt_tokens: 0, completion_tokens: r.usage!.completion_tokens, total_tokens: r.usage!.completion_tokens })
    const tokens = r.usage!.completion_tokens
    expect(tokens).toBeGreaterThan(0)
    expect(tokens).toBeLessThanOrEqual(16)
    expect(r.choices[0]!.finish_reason).toBe(tokens === 16 ? 'length' : 'stop')

    const silk = (r as unknown as { silk: Record<string, string | number> }).silk
    expect(silk).toMatchObject({ cost: (BigInt(tokens) * CHAT_PRICE).toString(), units: tokens, node_key: nodeKey.toString('hex'), tier: 'none' })
    const cell = Cell.fromBoc(Buffer.from(silk.receipt_boc as string, 'base64'))[0]!
    expect(cell.hash().toString('hex')).toBe(silk.receipt)
    expect(verifyCell(cell, Buffer.from(silk.signature as string, 'hex'), nodeKey)).toBe(true)
    expect(parseReceipt(cell).units).toBe(tokens)
    expect(Address.isFriendly(silk.provider as string)).toBe(true)
  })

  it('streams chunks whose deltas make up exactly the text of the same request unstreamed; the last chunk carries the proof', async () => {
    const whole = await openai.chat.completions.create({ model: 'tiny-chat', messages, max_completion_tokens: 40 })
    const stream = await openai.chat.completions.create({ model: 'tiny-chat', messages, max_completion_tokens: 40, stream: true })
    const chunks = []
    for await (const chunk of stream) chunks.push(chunk)
    expect(chunks.length).toBeGreaterThan(2)
    for (const c of chunks) expect(c.object).toBe('chat.completion.chunk')
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant')
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(whole.choices[0]!.message.content)
    const last = chunks.at(-1)!
    expect(last.choices[0]!.finish_reason).toBe(whole.choices[0]!.finish_reason)
    const silk = (last as unknown as { silk: { receipt: string, units: number } }).silk
    expect(silk.units).toBe(whole.usage!.completion_tokens)
    expect(chunks.slice(0, -1).every((c) => !('silk' in c))).toBe(true)

    // with stream_options.include_usage, usage (and the proof) come in a final chunk without choices
    const counted = await openai.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 8, stream: true, stream_options: { include_usage: true } })
    const all = []
    for await (const chunk of counted) all.push(chunk)
    expect(all.at(-1)!.choices).toEqual([])
    expect(all.at(-1)!.usage!.completion_tokens).toBeLessThanOrEqual(8)
    expect('silk' in all.at(-1)!).toBe(true)
  })

  it('moderates each input: every non-"ok" label is a category with its score, flagged above 0.5', async () => {
    const res = await openai.moderations.create({ model: 'tiny-moderation', input: ['buy cheap coins now!!!', 'hello, how are you?'] })
    expect(res.model).toBe('tiny-moderation')
    expect(res.results).toHaveLength(2)
    for (const r of res.results) {
      expect(Object.keys(r.categories).sort()).toEqual(['spam', 'toxic'])
      const scores = r.category_scores as unknown as Record<string, number>
      const categories = r.categories as unknown as Record<string, boolean>
      for (const label of ['spam', 'toxic']) {
        expect(scores[label]).toBeGreaterThanOrEqual(0)
        expect(scores[label]).toBeLessThanOrEqual(1)
        expect(categories[label]).toBe(scores[label]! > 0.5)
      }
      expect(r.flagged).toBe(Object.values(categories).some(Boolean))
    }
    expect((res as unknown as { silk: { units: number } }).silk.units).toBe(2)
    // a single string, and no model: the gateway's moderation model
    const one = await openai.moderations.create({ input: 'hello, how are you?' })
    expect(one.results).toHaveLength(1)
    expect(one.results[0]!.category_scores).toEqual(res.results[1]!.category_scores)
  })

  it('answers malformed requests with OpenAI error bodies and keeps serving', async () => {
    const post = async (path: string, body: string | object, headers: Record<string, string> = {}): Promise<{ status: number, error: Record<string, unknown> }> => {
      const res = await fetch(`${gateway.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body)
      })
      const json = await res.json() as { error: Record<string, unknown> }
      expect(Object.keys(json.error).sort()).toEqual(['code', 'message', 'param', 'type'])
      return { status: res.status, error: json.error }
    }
    const chat = '/v1/chat/completions'
    expect(await post(chat, '{"model": "tiny-chat", "messages": [')).toMatchObject({ status: 400, error: { type: 'invalid_request_error', code: 'invalid_json' } })
    expect(await post(chat, '')).toMatchObject({ status: 400, error: { code: 'invalid_json' } })
    expect(await post(chat, [1, 2])).toMatchObject({ status: 400, error: { type: 'invalid_request_error' } })
    expect(await post(chat, { messages })).toMatchObject({ status: 400, error: { param: 'model', code: 'missing_required_parameter' } })
    expect(await post(chat, { model: 'tiny-chat' })).toMatchObject({ status: 400, error: { param: 'messages' } })
    expect(await post(chat, { model: 'tiny-chat', messages: 'hi' })).toMatchObject({ status: 400, error: { param: 'messages' } })
    expect(await post(chat, { model: 'tiny-chat', messages: [] })).toMatchObject({ status: 400, error: { param: 'messages' } })
    expect(await post(chat, { model: 'tiny-chat', messages: [{ role: 'tool', content: 'x' }] })).toMatchObject({ status: 400, error: { param: 'messages[0].role' } })
    expect(await post(chat, { model: 'tiny-chat', messages: [{ role: 'user', content: 5 }] })).toMatchObject({ status: 400, error: { param: 'messages[0].content' } })
    expect(await post(chat, { model: 'tiny-chat', messages, max_tokens: -3 })).toMatchObject({ status: 400, error: { param: 'max_tokens' } })
    expect(await post(chat, { model: 'tiny-chat', messages, max_tokens: '7' })).toMatchObject({ status: 400, error: { param: 'max_tokens' } })
    expect(await post(chat, { model: 'tiny-chat', messages, stream: 'yes' })).toMatchObject({ status: 400, error: { param: 'stream' } })
    expect(await post(chat, { model: 'tiny-chat', messages, n: 3 })).toMatchObject({ status: 400, error: { param: 'n' } })
    expect(await post(chat, { model: 'tiny-chat', messages, stop: ['\n'] })).toMatchObject({ status: 400, error: { param: 'stop' } })
    expect(await post(chat, { model: 'gpt-4o', messages })).toMatchObject({ status: 404, error: { code: 'model_not_found', param: 'model' } })
    expect(await post(chat, { model: 'tiny-moderation', messages })).toMatchObject({ status: 400, error: { code: 'invalid_model' } })
    // beyond the model's own limit (256 new tokens): the node refuses, nothing is paid
    expect(await post(chat, { model: 'tiny-chat', messages, max_tokens: 100_000 })).toMatchObject({ status: 400, error: { code: 'bad_input' } })
    expect(await post(chat, { model: 'tiny-chat', messages: [{ role: 'user', content: 'x'.repeat(2 * 1024 * 1024) }] })).toMatchObject({ status: 413, error: { code: 'request_too_large' } })
    expect(await post('/v1/moderations', { input: [] })).toMatchObject({ status: 400, error: { param: 'input' } })
    expect(await post('/v1/moderations', { input: [{ type: 'image_url', image_url: { url: 'x' } }] })).toMatchObject({ status: 400 })
    expect(await post('/v1/moderations', { model: 'tiny-chat', input: 'hi' })).toMatchObject({ status: 400, error: { code: 'invalid_model' } })
    expect(await post('/v1/embeddings', { model: 'tiny-chat', input: 'hi' })).toMatchObject({ status: 404, error: { code: 'unknown_url' } })
    const get = await fetch(`${gateway.url}${chat}`)
    expect(get.status).toBe(405)
    expect((await fetch(`${gateway.url}/v1/models/%E0%A4%A`)).status).toBe(404)
    // a body without a length, streamed past the limit
    const big = new Uint8Array(256 * 1024).fill(0x20)
    const chunked = await fetch(`${gateway.url}${chat}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({ start (c) { for (let i = 0; i < 6; i++) c.enqueue(big); c.close() } }),
      duplex: 'half'
    } as RequestInit)
    expect(chunked.status).toBe(413)

    // the official client raises its typed errors from these bodies
    await expect(openai.chat.completions.create({ model: 'nope', messages })).rejects.toBeInstanceOf(NotFoundError)
    await expect(openai.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 100_000 })).rejects.toBeInstanceOf(BadRequestError)
    await expect(openai.chat.completions.create({ model: 'nope', messages, stream: true })).rejects.toMatchObject({ status: 404, code: 'model_not_found' })

    const after = await openai.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 4 })
    expect(after.choices[0]!.message.content!.length).toBeGreaterThan(0)
  })

  it('a caller aborting a stream cancels the job at the node: only the tokens made so far are paid, and the next request works', async () => {
    const before = chats.length
    const abort = new AbortController()
    const stream = await openai.chat.completions.create(
      { model: 'tiny-chat', messages: [{ role: 'user', content: 'Write a very long story.' }], max_tokens: 256, stream: true },
      { signal: abort.signal })
    let seen = 0
    // the openai client ends the loop quietly once its signal aborts
    for await (const _ of stream) if (++seen === 3) abort.abort()
    expect(seen).toBeLessThan(10)
    // the cancelled job still ends in a verified, paid result, short of the limit
    for (let i = 0; i < 200 && chats.length === before; i++) await new Promise((resolve) => setTimeout(resolve, 25))
    const cancelled = chats[before]!
    expect(cancelled.tokens).toBeGreaterThanOrEqual(3)
    expect(cancelled.tokens).toBeLessThan(256)
    expect(cancelled.cost).toBe(BigInt(cancelled.tokens) * CHAT_PRICE)

    const next = await openai.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 8, stream: true })
    let text = ''
    for await (const chunk of next) text += chunk.choices[0]?.delta.content ?? ''
    expect(text.length).toBeGreaterThan(0)
  })

  it('with API keys set, requires one as a bearer token', async () => {
    const locked = await startGateway({ pool, models: () => MODELS, apiKeys: ['sk-silk-1', 'sk-silk-2'] })
    try {
      const wrong = new OpenAI({ baseURL: `${locked.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 })
      await expect(wrong.models.list()).rejects.toBeInstanceOf(AuthenticationError)
      const right = new OpenAI({ baseURL: `${locked.url}/v1`, apiKey: 'sk-silk-2', maxRetries: 0 })
      expect((await right.models.list()).data).toHaveLength(3)
    } finally {
      await locked.close()
    }
  })

  it('launches from a config file as `silk gateway` does, offering the text models its providers serve', async () => {
    const { wallet } = await net.addClient()
    const config = parseGatewayConfig({
      chain: { network: 'local', endpoint: net.devnet.endpoint, registry: net.registry.toString() },
      providers: [nodeAddress],
      deposit: '100000000',
      port: 0
    })
    const launched = await launchGateway(config, { wallet, apiKeys: ['sk-local'] }, pino({ level: 'silent' }))
    try {
      const api = new OpenAI({ baseURL: `${launched.url}/v1`, apiKey: 'sk-local', maxRetries: 0 })
      expect((await api.models.list()).data.map((m) => m.id).sort()).toEqual(['tiny-chat', 'tiny-moderation'])
      const r = await api.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 4 })
      expect(r.usage!.completion_tokens).toBeGreaterThan(0)
    } finally {
      await launched.close()
    }
    expect(() => parseGatewayConfig({ chain: { network: 'local', endpoint: net.devnet.endpoint, registry: net.registry.toString() } })).toThrow(/models: with no providers/)
    // no network, no default: the development attestation must be chosen explicitly
    expect(() => parseGatewayConfig({ chain: { endpoint: net.devnet.endpoint, registry: net.registry.toString() }, providers: [nodeAddress] })).toThrow(/chain\.network/)
  })
})

describe('the gateway when providers fail', () => {
  /** A pool whose one provider streams two pieces, then fails verification of the whole. */
  const failing: GatewayPool = {
    use: async (_model, work) => {
      const result = Promise.reject(new InvalidReceiptError('OUTPUT_MISMATCH', 'the streamed pieces differ from the final text'))
      result.catch(() => {})
      async function * pieces (): AsyncGenerator<string, void, undefined> {
        yield 'Hello'
        yield ' world'
        await result
      }
      const session = { chat: () => Object.assign(pieces(), { result, cancel: async () => {} }) }
      return { ...await work({ session } as unknown as VerifiedProvider), address: '/ip4/127.0.0.1/tcp/1/p2p/fake' }
    }
  }

  it('a stream whose result fails verification ends in an error event, never in a proof', async () => {
    const gateway = await startGateway({ pool: failing, models: () => MODELS })
    try {
      const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 })
      const stream = await openai.chat.completions.create({ model: 'tiny-chat', messages, stream: true })
      const deltas: string[] = []
      await expect((async () => {
        for await (const chunk of stream) deltas.push(chunk.choices[0]?.delta.content ?? '')
      })()).rejects.toMatchObject({ code: 'invalid_receipt', type: 'api_error' })
      expect(deltas).toEqual(['Hello', ' world'])
      // unstreamed, the same failure is a 502 before anything is sent
      await expect(openai.chat.completions.create({ model: 'tiny-chat', messages })).rejects.toMatchObject({ status: 502, code: 'invalid_receipt' })
    } finally {
      await gateway.close()
    }
  })

  it('no provider for a model is a 503 with an OpenAI error body', async () => {
    const none: GatewayPool = { use: async () => { throw new NoProviderError('no provider available for tiny-chat') } }
    const gateway = await startGateway({ pool: none, models: () => MODELS })
    try {
      const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 })
      await expect(openai.chat.completions.create({ model: 'tiny-chat', messages, stream: true })).rejects.toMatchObject({ status: 503, code: 'no_provider', type: 'api_error' })
      await expect(openai.moderations.create({ input: 'hi' })).rejects.toMatchObject({ status: 503, code: 'no_provider' })
    } finally {
      await gateway.close()
    }
  })
})
