import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'node:http'
import { toNano } from '@ton/core'
import OpenAI, { BadRequestError, RateLimitError } from 'openai'
import { BudgetExceededError, ProviderPool, type VerifiedProvider } from '../client/index.ts'
import { GatewayConfigError, parseGatewayConfig, SpendingLimits, startGateway, type Gateway, type GatewayModel } from '../gateway/index.ts'
import { startLocalNet, type LocalNet } from './localnet.ts'

const MODELS: GatewayModel[] = [{ id: 'tiny-chat', task: 'text-generation' }]
const CHAT = JSON.stringify({ model: 'tiny-chat', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4 })

/** A raw HTTP request, as a browser page or a rebinding attacker would send it. */
async function post (url: string, headers: Record<string, string>, body = CHAT): Promise<{ status: number, headers: Record<string, unknown>, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe('spending limits', () => {
  it('reserve per request, count per key and overall, refuse at the limit with insufficient_quota, and reset each period', () => {
    let now = 0
    const limits = new SpendingLimits({ total: 100n, perKey: 60n, perRequest: 40n, periodMs: 1000 }, () => now)
    const a = limits.reserve('a')
    expect(a.amount).toBe(40n)
    const b = limits.reserve('a')
    expect(b.amount).toBe(20n) // what is left of a's 60
    expect(() => limits.reserve('a')).toThrow(expect.objectContaining({ status: 429, code: 'insufficient_quota', type: 'insufficient_quota' }))
    limits.settle(a, 5n) // the job cost less than reserved: the rest is free again
    limits.settle(b, 0n) // failed: nothing paid
    expect(limits.spent('a')).toBe(5n)
    expect(limits.reserve('a').amount).toBe(40n)
    const c = limits.reserve('b')
    expect(c.amount).toBe(40n)
    expect(limits.spent()).toBe(85n)
    expect(limits.reserve('c').amount).toBe(15n) // the overall limit binds before c's own
    expect(() => limits.reserve('c')).toThrow(expect.objectContaining({ status: 429 }))
    now = 1000
    expect(limits.spent()).toBe(0n)
    expect(limits.reserve('c').amount).toBe(40n)
  })

  it('count a job that finishes in the next period in that period', () => {
    let now = 0
    const limits = new SpendingLimits({ total: 100n, perRequest: 50n, periodMs: 1000 }, () => now)
    const r = limits.reserve('k')
    now = 1500
    limits.settle(r, 30n)
    expect(limits.spent()).toBe(30n)
  })
})

describe('gateway config', () => {
  const base = { chain: { network: 'local', endpoint: 'http://127.0.0.1:1/jsonRPC', registry: '0:' + 'cd'.repeat(32) }, providers: ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE'] }
  it('spends at most 1 TON a day and 0.05 TON a request unless told otherwise, with no web origin allowed', () => {
    const c = parseGatewayConfig(base)
    expect(c.spending).toEqual({ periodHours: 24, total: 1_000_000_000n, perRequest: 50_000_000n })
    expect(c.corsOrigins).toEqual([])
  })
  it('takes spending limits, origins and hosts, and names a bad field', () => {
    const c = parseGatewayConfig({ ...base, spending: { total: '5000000000', perKey: '1000000000', perRequest: '10000000', periodHours: 1 }, corsOrigins: ['https://app.example'], allowedHosts: ['gw.example'] })
    expect(c.spending).toEqual({ periodHours: 1, total: 5_000_000_000n, perKey: 1_000_000_000n, perRequest: 10_000_000n })
    expect(() => parseGatewayConfig({ ...base, spending: { total: '-1' } })).toThrow(/spending\.total/)
    expect(() => parseGatewayConfig({ ...base, corsOrigins: ['not a url'] })).toThrow(/corsOrigins/)
  })
})

describe('the gateway spends only what its owner allows (real node, real pool)', () => {
  let net: LocalNet
  let pool: ProviderPool
  let gateway: Gateway
  let paid = 0n
  let jobs = 0

  beforeAll(async () => {
    net = await startLocalNet()
    const { node } = await net.addNode()
    const address = node.addresses[0]!.toString()
    const { client } = await net.addClient()
    pool = new ProviderPool(client, { candidates: async () => [{ address }], deposit: toNano('1'), retry: { minDelayMs: 10 } })
    const counted = {
      use: async <T>(model: string, work: (p: VerifiedProvider) => Promise<T>, signal?: AbortSignal) => await pool.use(model, async (p) => {
        const r = await work(p)
        jobs++
        paid += BigInt((r as { result: { cost: bigint } }).result.cost)
        return r
      }, signal)
    }
    gateway = await startGateway({
      pool: counted,
      models: () => MODELS,
      corsOrigins: ['https://app.example'],
      // a chat of 4 tokens at 1,000 nanoton each costs at most 4,000
      spending: { total: 10_000n, perRequest: 4_000n }
    })
  })
  afterAll(async () => {
    await gateway?.close()
    await pool?.close()
    await net?.close()
  })

  it('refuses a cross-origin text/plain POST (no preflight needed by a browser) and pays for nothing', async () => {
    const host = new URL(gateway.url).host
    const page = await post(`${gateway.url}/v1/chat/completions`, { host, origin: 'https://evil.example', 'content-type': 'text/plain' })
    expect(page.status).toBe(403)
    expect(JSON.parse(page.body).error.code).toBe('origin_not_allowed')
    const plain = await post(`${gateway.url}/v1/chat/completions`, { host, 'content-type': 'text/plain' })
    expect(plain.status).toBe(415)
    const form = await post(`${gateway.url}/v1/chat/completions`, { host, 'content-type': 'application/x-www-form-urlencoded' })
    expect(form.status).toBe(415)
    expect(jobs).toBe(0)
    expect(paid).toBe(0n)
  })

  it('refuses a rebinding Host (a web page reaching 127.0.0.1 under its own name)', async () => {
    const r = await post(`${gateway.url}/v1/chat/completions`, { host: `attacker.example:${new URL(gateway.url).port}`, 'content-type': 'application/json' })
    expect(r.status).toBe(421)
    expect(JSON.parse(r.body).error.code).toBe('host_not_allowed')
    expect(jobs).toBe(0)
  })

  it('answers an allowed origin, with CORS headers on its preflight and its answer', async () => {
    const host = new URL(gateway.url).host
    const pre = await new Promise<{ status: number, headers: Record<string, unknown> }>((resolve, reject) => {
      request(`${gateway.url}/v1/chat/completions`, { method: 'OPTIONS', headers: { host, origin: 'https://app.example', 'access-control-request-method': 'POST' } }, (res) => {
        res.resume()
        resolve({ status: res.statusCode!, headers: res.headers })
      }).on('error', reject).end()
    })
    expect(pre.status).toBe(204)
    expect(pre.headers['access-control-allow-origin']).toBe('https://app.example')
    const r = await post(`${gateway.url}/v1/chat/completions`, { host, origin: 'https://app.example', 'content-type': 'application/json' })
    expect(r.status).toBe(200)
    expect(r.headers['access-control-allow-origin']).toBe('https://app.example')
    expect(jobs).toBe(1)
  })

  it('the SDK does not send a job whose worst case is above its maxCost: nothing runs, nothing is owed, the provider stays in use', async () => {
    const err = await pool.use('tiny-chat', async (p) => await p.session.chat('tiny-chat', { prompt: 'Hi', maxNewTokens: 4 }, { maxCost: 3_999n }).result)
      .then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(BudgetExceededError)
    expect((err as BudgetExceededError).worstCase).toBe(4_000n)
    const ok = await pool.use('tiny-chat', async (p) => await p.session.chat('tiny-chat', { prompt: 'Hi', maxNewTokens: 4 }, { maxCost: 4_000n }).result)
    expect(ok.cost).toBeLessThanOrEqual(4_000n)
  })

  it('refuses a request whose worst case is above the per-request cap as a 400 naming max_tokens, before anything runs', async () => {
    const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 })
    const err = await openai.chat.completions.create({ model: 'tiny-chat', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5 }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(BadRequestError)
    expect(err).toMatchObject({ code: 'request_too_expensive', param: 'max_tokens' })
  })

  it('stops at the spending limit with an OpenAI-shaped insufficient_quota error, having paid no more than the limit', async () => {
    const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 })
    let refused: unknown
    for (let i = 0; i < 10 && refused === undefined; i++) {
      try {
        await openai.chat.completions.create({ model: 'tiny-chat', messages: [{ role: 'user', content: `Hi ${i}` }], max_tokens: 4 })
      } catch (err) { refused = err }
    }
    expect(refused).toBeInstanceOf(RateLimitError)
    expect((refused as RateLimitError).code).toBe('insufficient_quota')
    expect(paid).toBeGreaterThan(0n)
    expect(paid).toBeLessThanOrEqual(10_000n)
  })

  it('refuses to listen beyond loopback without API keys', async () => {
    await expect(startGateway({ pool, models: () => MODELS, host: '0.0.0.0' })).rejects.toBeInstanceOf(GatewayConfigError)
  })
})
