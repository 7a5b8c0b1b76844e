import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, createServer } from 'node:net'
import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'
import { randomBytes } from 'node:crypto'
import OpenAI, { APIError } from 'openai'
import { walletFromKey } from '../chain/client.ts'
import { toNano } from '@ton/core'
import { ConnectionError, ProviderPool, type ChatResult, type VerifiedProvider } from '../client/index.ts'
import { launchGateway, parseGatewayConfig, startGateway, type Gateway, type GatewayPool } from '../gateway/index.ts'
import { AbortedError } from '../node/errors.ts'
import { loggerOptions } from '../protocol/logging.ts'
import type { Inference } from '../node/job-service.ts'
import { startLocalNet, type LocalNet } from './localnet.ts'

const messages = [{ role: 'user' as const, content: 'Tell me about TON.' }]

/** A port free right now, so a restarted node comes back where the gateway knows it. */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => { resolve() }))
  return port
}

/**
 * POSTs a streamed chat over a raw socket and destroys the socket once `stopAfter` content events
 * arrived; returns the text of every content event the socket had received by then.
 */
async function streamAndHangUp (base: string, body: object, stopAfter: number): Promise<string> {
  const url = new URL(base)
  const json = JSON.stringify(body)
  const socket = connect(Number(url.port), url.hostname)
  socket.setNoDelay(true)
  let raw = ''
  return await new Promise((resolve, reject) => {
    socket.on('error', reject)
    socket.on('close', () => { resolve(contents(raw).join('')) })
    socket.on('data', (data: Buffer) => {
      raw += data.toString('utf8')
      if (!raw.startsWith('HTTP/1.1 200')) { socket.destroy(); reject(new Error(raw.slice(0, 300))); return }
      const got = contents(raw)
      if (got.length >= stopAfter) { socket.destroy(); resolve(got.join('')) }
    })
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(json)}\r\n\r\n${json}`)
  })
}

/** The content deltas of the complete server-sent events in a raw HTTP response. */
function contents (raw: string): string[] {
  return [...raw.matchAll(/"delta":\{[^}]*?"content":("(?:[^"\\]|\\.)*")/g)].map((m) => JSON.parse(m[1]!) as string)
}

const TOKEN_MS = 5

/**
 * The honest model, decoding one token every `ms` like a served LLM: token n is the real model's
 * n-th (greedy, so a run of n tokens is the prefix of any longer run); as in the node's own
 * generation, a cancel that arrives while a token is being made stops after that token.
 */
function paced (ms: number): (honest: Inference) => Inference {
  return (honest) => {
    const prefixes = new Map<string, Array<{ text: string, tokens: number }>>()
    return {
      list: () => honest.list(),
      run: async (h, i) => await honest.run(h, i),
      classify: async (h, t) => await honest.classify(h, t),
      async generate (h, req, onToken) {
        const key = JSON.stringify([h.toString('hex'), req.messages, req.prompt])
        const runs = prefixes.get(key) ?? [{ text: '', tokens: 0 }]
        prefixes.set(key, runs)
        let emitted = ''
        for (let n = 1; n <= req.maxNewTokens; n++) {
          await new Promise((resolve) => setTimeout(resolve, ms))
          runs[n] ??= await honest.generate(h, { ...(req.messages !== undefined ? { messages: req.messages } : { prompt: req.prompt! }), maxNewTokens: n })
          const run = runs[n]!
          const last = run.tokens < n || n === req.maxNewTokens || req.signal?.aborted === true
          // a tail that ends inside a UTF-8 sequence is held back until the run ends, as the node does
          const shown = last ? run.text : run.text.replace(/\uFFFD+$/, '')
          if (shown.length > emitted.length) {
            onToken?.(shown.slice(emitted.length))
            emitted = shown
          }
          if (req.signal?.aborted === true) throw new AbortedError('tiny-chat', emitted, run.tokens)
          if (last) return { text: emitted, tokens: run.tokens, units: run.tokens }
        }
        throw new Error('maxNewTokens must be at least 1')
      }
    }
  }
}

/** Log lines the gateway wrote, as a collector for assertions on what reaches the log. */
function capturedLogger (): { logger: Logger, lines: string[] } {
  const lines: string[] = []
  const sink = new Writable({ write (chunk: Buffer, _enc, done) { lines.push(...chunk.toString('utf8').split('\n').filter(Boolean)); done() } })
  return { logger: pino(loggerOptions('info'), sink) as unknown as Logger, lines }
}

describe('a gateway that never sticks, against a real local network', () => {
  let net: LocalNet

  beforeAll(async () => {
    net = await startLocalNet()
  })
  afterAll(async () => {
    await net?.close()
  })

  async function gatewayFor (address: string, wallet?: Parameters<typeof launchGateway>[1]['wallet'], apiKey?: string): Promise<{ gateway: Gateway, openai: OpenAI, lines: string[] }> {
    const w = wallet ?? (await net.addClient()).wallet
    const { logger, lines } = capturedLogger()
    const config = parseGatewayConfig({
      chain: { network: 'local', endpoint: net.devnet.endpoint, registry: net.registry.toString() },
      providers: [address],
      models: [{ id: 'tiny-chat', task: 'text-generation' }],
      deposit: '100000000',
      port: 0
    })
    const gateway = await launchGateway(config, { wallet: w, ...(apiKey !== undefined ? { apiKeys: [apiKey] } : {}) }, logger)
    return { gateway, openai: new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: apiKey ?? 'unused', maxRetries: 0 }), lines }
  }

  it('a request after the node dropped the idle session succeeds, and so does every one after', async () => {
    const { node } = await net.addNode({ config: { limits: { idleTimeoutMs: 1500 } } })
    const { gateway, openai } = await gatewayFor(node.addresses[0]!.toString())
    try {
      const first = await openai.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 4 })
      expect(first.usage!.completion_tokens).toBeGreaterThan(0)
      for (let round = 0; round < 2; round++) {
        // well past the node's idle timeout: it has closed the session
        await new Promise((resolve) => setTimeout(resolve, 2500))
        const r = await openai.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 4 })
        expect(r.usage!.completion_tokens).toBeGreaterThan(0)
        const s = await openai.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 4, stream: true })
        let text = ''
        for await (const chunk of s) text += chunk.choices[0]?.delta.content ?? ''
        expect(text.length).toBeGreaterThan(0)
      }
    } finally {
      await gateway.close()
    }
  })

  it('the pool retries a job whose warm session broke on a fresh session to the same provider, without cooling it down', async () => {
    const { node } = await net.addNode()
    const { client } = await net.addClient()
    const address = node.addresses[0]!.toString()
    const pool = new ProviderPool(client, { candidates: async () => [{ address }], deposit: toNano('1'), retry: { retries: 0 } })
    const request = { messages, maxNewTokens: 4 }
    try {
      const first = await pool.use('tiny-chat', async (p) => ({ session: p.session, result: await p.session.chat('tiny-chat', request).result }))
      // the session breaks under the next job (as when the node's end went away between the
      // pool's check and the job's first frame): one fresh session, same provider, no failover
      const sessions: unknown[] = []
      const second = await pool.use('tiny-chat', async (p) => {
        sessions.push(p.session)
        if (sessions.length === 1) {
          await p.session.close()
          throw new ConnectionError('the session broke: reset')
        }
        return { session: p.session, result: await p.session.chat('tiny-chat', request).result }
      })
      expect(sessions).toHaveLength(2)
      expect(sessions[0]).toBe(first.session)
      expect(second.session).not.toBe(first.session)
      expect(second.result.tokens).toBeGreaterThan(0)
      expect(pool.view()).toEqual([expect.objectContaining({ address, state: 'connected' })])
      // a fresh session that breaks is the provider's failure: no second retry, and it cools down
      let calls = 0
      await expect(pool.use('tiny-chat', async (p) => {
        calls++
        await p.session.close()
        throw new ConnectionError('the session broke: reset')
      })).rejects.toBeInstanceOf(ConnectionError)
      expect(calls).toBe(2)
      expect(pool.view()).toEqual([expect.objectContaining({ address, state: 'cooling_down' })])
    } finally {
      await pool.close()
    }
  })

  it('callers that disconnect mid-stream are billed for no more than 5 % beyond the tokens they received (50 disconnects)', async () => {
    // a real node and model, decoding at 200 tokens/s: the test model's ~1,500 tokens/s is 10-100×
    // any served LLM, and would turn the hang-up's few milliseconds on loopback into tokens
    const { address } = await net.addRogueNode({ inference: paced(TOKEN_MS) })
    const { client } = await net.addClient()
    const pool = new ProviderPool(client, { candidates: async () => [{ address }], deposit: toNano('1'), retry: { minDelayMs: 10 } })
    const billed: ChatResult[] = []
    // the real pool, watched: every chat job as the node billed it (its receipt's units)
    const watched: GatewayPool = {
      use: async (model, work, signal) => await pool.use(model, async (p: VerifiedProvider) => {
        const r = await work(p)
        billed.push((r as unknown as { result: ChatResult }).result)
        return r
      }, signal)
    }
    const gateway = await startGateway({ pool: watched, models: () => [{ id: 'tiny-chat', task: 'text-generation' }], spending: { total: toNano('10'), perRequest: toNano('1') } })
    try {
      // greedy decoding is deterministic: the text after n tokens of one prompt is the same in every
      // job, so the tokens a caller received are the fewest whose unstreamed text holds what it got
      const request = { model: 'tiny-chat', messages: [{ role: 'user' as const, content: 'Write a very long story.' }] }
      const after: string[] = ['']
      const tokensFor = async (received: string): Promise<number> => {
        for (let n = 1; n <= 256; n++) {
          if (after[n] === undefined) {
            const r = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...request, max_tokens: n }) })
            const body = (await r.json()) as { choices: Array<{ message: { content: string } }> }
            expect(JSON.stringify(body)).toContain("choices")
            after[n] = body.choices[0]!.message.content
          }
          const stable = after[n]!.replace(/\uFFFD+$/, '')
          if (stable.length >= received.length) {
            expect(stable.startsWith(received)).toBe(true)
            return n
          }
        }
        throw new Error('received more text than 256 tokens make')
      }
      const rounds = 50
      const delivered: number[] = []
      for (let i = 0; i < rounds; i++) {
        // read a few events off the socket, then hang up abruptly: everything the socket received
        // before that counts as delivered
        const stopAfter = 12 + (i % 25)
        const text = await streamAndHangUp(gateway.url, { ...request, max_tokens: 64, stream: true }, stopAfter)
        delivered.push(await tokensFor(text))
        // the cancelled job's paid result reaches the pool before the next caller's
        for (let w = 0; w < 400 && billed.length < after.length + i; w++) await new Promise((resolve) => setTimeout(resolve, 10))
      }
      const cancelled = billed.filter((r) => !r.receipt.complete)
      expect(cancelled).toHaveLength(rounds)
      const units = cancelled.reduce((sum, r) => sum + r.tokens, 0)
      const received = delivered.reduce((sum, n) => sum + n, 0)
      expect(units).toBeGreaterThanOrEqual(received)
      expect(units).toBeLessThanOrEqual(Math.floor(received * 1.05))
      // what the node billed is what the client paid, nanoton for nanoton
      const paid = await pool.useAt(address, async (p) => p.session.paid.amount)
      expect(paid).toBeGreaterThan(0n)
      expect(paid).toBe(billed.reduce((sum, r) => sum + r.cost, 0n))
    } finally {
      await gateway.close()
      await pool.close()
    }
  })

  it('an unfunded client wallet is an OpenAI insufficient_quota error naming the wallet, and no BOC reaches the log', async () => {
    const { node } = await net.addNode()
    const broke = walletFromKey(randomBytes(32))
    const { gateway, openai, lines } = await gatewayFor(node.addresses[0]!.toString(), broke)
    try {
      const err = await openai.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 4 }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(APIError)
      const e = err as APIError
      expect(e.status).toBe(402)
      expect(e.type).toBe('insufficient_quota')
      expect(e.code).toBe('wallet_unfunded')
      expect(e.message).toContain(broke.address.toString({ bounceable: false, testOnly: true }))
      await expect(openai.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 4, stream: true })).rejects.toMatchObject({ status: 402, code: 'wallet_unfunded' })
      const log = lines.join('\n')
      expect(log).toContain('wallet_unfunded')
      // no signed message (a base64 BOC starts te6cc) and no oversized line
      expect(log).not.toMatch(/te6cc/)
      for (const line of lines) expect(line.length).toBeLessThan(4096)
    } finally {
      await gateway.close()
    }
  })

  it('/health answers without an API key with the pool\'s view and no secrets; /v1/completions serves legacy text completions', async () => {
    const { node } = await net.addNode()
    const address = node.addresses[0]!.toString()
    const apiKey = 'sk-silk-health-test'
    const { gateway, openai } = await gatewayFor(address, undefined, apiKey)
    try {
      const before = await fetch(`${gateway.url}/health`)
      expect(before.status).toBe(200)
      const text = await before.text()
      // the pool learns its providers at the first request for a model
      expect(JSON.parse(text)).toEqual({ status: 'ok', models: ['tiny-chat'], providers: [] })
      expect(text).not.toContain(apiKey)
      expect((await fetch(`${gateway.url}/v1/models`)).status).toBe(401)

      const whole = await openai.completions.create({ model: 'tiny-chat', prompt: 'Once upon a time', max_tokens: 12 })
      expect(whole.object).toBe('text_completion')
      expect(whole.choices).toHaveLength(1)
      expect(whole.choices[0]!.text.length).toBeGreaterThan(0)
      const tokens = whole.usage!.completion_tokens
      expect(tokens).toBeGreaterThan(0)
      expect(tokens).toBeLessThanOrEqual(12)
      expect(whole.choices[0]!.finish_reason).toBe(tokens === 12 ? 'length' : 'stop')
      expect((whole as unknown as { silk: { units: number } }).silk.units).toBe(tokens)
      // a one-element prompt list is the same prompt; streamed, the pieces make up the same text
      const stream = await openai.completions.create({ model: 'tiny-chat', prompt: ['Once upon a time'], max_tokens: 12, stream: true })
      const chunks = []
      for await (const chunk of stream) chunks.push(chunk)
      expect(chunks.every((c) => c.object === 'text_completion')).toBe(true)
      expect(chunks.map((c) => c.choices[0]?.text ?? '').join('')).toBe(whole.choices[0]!.text)
      expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe(whole.choices[0]!.finish_reason)
      expect((chunks.at(-1) as unknown as { silk: { units: number } }).silk.units).toBe(tokens)
      // a raw prompt is not a chat: the chat template makes another text of the same words
      const chat = await openai.chat.completions.create({ model: 'tiny-chat', messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 12 })
      expect(chat.choices[0]!.message.content).not.toBe(whole.choices[0]!.text)

      await expect(openai.completions.create({ model: 'tiny-chat', prompt: ['a', 'b'] })).rejects.toMatchObject({ status: 400, param: 'prompt' })
      await expect(openai.completions.create({ model: 'tiny-chat', prompt: 'a', echo: true })).rejects.toMatchObject({ status: 400, param: 'echo' })
      await expect(openai.completions.create({ model: 'nope', prompt: 'a' })).rejects.toMatchObject({ status: 404, code: 'model_not_found' })

      const after = await (await fetch(`${gateway.url}/health`)).json() as { providers: Array<{ state: string, latencyMs: number }> }
      expect(after.providers).toEqual([expect.objectContaining({ address, state: 'connected', inFlight: 0, tier: 'none' })])
      expect(after.providers[0]!.latencyMs).toBeGreaterThan(0)
    } finally {
      await gateway.close()
    }
  })

  it('a request right after the provider node process restarted succeeds', async () => {
    const port = await freePort()
    const first = await net.addNodeProcess({ listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    const { gateway, openai } = await gatewayFor(first.address)
    try {
      expect((await openai.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 4 })).usage!.completion_tokens).toBeGreaterThan(0)
      let current = first
      // a crash, then an orderly stop: either way the next request finds the node again
      for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
        const exited = new Promise((resolve) => current.child.once('exit', resolve))
        current.child.kill(signal)
        await exited
        current = await first.restart()
        expect(current.address).toBe(first.address)
        const r = await openai.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 4 })
        expect(r.usage!.completion_tokens).toBeGreaterThan(0)
      }
    } finally {
      await gateway.close()
    }
  })
})

