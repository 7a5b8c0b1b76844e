// Chat through the OpenAI-compatible gateway vs the SDK directly, on one local network in this
// process: end-to-end latency and time to first token, p50/p95 over the same requests.
//   npx tsx bench/gateway.bench.ts   (part of npm run bench)
import '../protocol/polyfill.ts'
import { cpus, loadavg } from 'node:os'
import { toNano } from '@ton/core'
import OpenAI from 'openai'
import { ProviderPool } from '../client/index.ts'
import { startGateway } from '../gateway/index.ts'
import { startLocalNet } from '../test/localnet.ts'

const N = Number(process.env.BENCH_GATEWAY_N ?? 30)
const MAX_TOKENS = 32
const messages = [{ role: 'user' as const, content: 'Tell me about TON.' }]

function pct (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!
}
const fmt = (xs: number[]): string => `p50 ${pct(xs, 0.5).toFixed(1)} ms  p95 ${pct(xs, 0.95).toFixed(1)} ms`

console.log('Silk gateway benchmark')
console.log(`machine : ${cpus()[0]?.model ?? '?'}, ${cpus().length} cores; Node ${process.version}; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
console.log(`sizes   : ${N} sequential chat requests per row after 5 warm-up, tiny-chat, max ${MAX_TOKENS} new tokens (greedy)`)

const net = await startLocalNet()
const { node } = await net.addNode()
const { client } = await net.addClient()
const address = node.addresses[0]!.toString()
const pool = new ProviderPool(client, { candidates: async () => [{ address }], deposit: toNano('2') })
const gateway = await startGateway({ pool, models: () => [{ id: 'tiny-chat', task: 'text-generation' }] })
const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 })

const direct = async (): Promise<{ total: number, first: number }> => {
  const t0 = performance.now()
  let first = 0
  await pool.use('tiny-chat', async (p) => {
    const stream = p.session.chat('tiny-chat', { messages, maxNewTokens: MAX_TOKENS })
    for await (const _ of stream) { if (first === 0) first = performance.now() - t0 }
    return { result: await stream.result }
  })
  return { total: performance.now() - t0, first }
}
const viaGateway = async (): Promise<number> => {
  const t0 = performance.now()
  await openai.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: MAX_TOKENS })
  return performance.now() - t0
}
const viaGatewayStream = async (): Promise<number> => {
  const t0 = performance.now()
  let first = 0
  const stream = await openai.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: MAX_TOKENS, stream: true })
  for await (const chunk of stream) { if (first === 0 && (chunk.choices[0]?.delta.content ?? '') !== '') first = performance.now() - t0 }
  return first
}

for (let i = 0; i < 5; i++) { await direct(); await viaGateway(); await viaGatewayStream() }
const d: Array<{ total: number, first: number }> = []
const g: number[] = []
const gFirst: number[] = []
for (let i = 0; i < N; i++) {
  d.push(await direct())
  g.push(await viaGateway())
  gFirst.push(await viaGatewayStream())
}
const dTotal = d.map((r) => r.total)
const dFirst = d.map((r) => r.first)
console.log('\nchat request, end to end (verified and paid)')
console.log(`   SDK directly (pool.use + session.chat) : ${fmt(dTotal)}`)
console.log(`   gateway, openai client, not streamed   : ${fmt(g)}`)
console.log(`   gateway / SDK                          : p50 ${(pct(g, 0.5) / pct(dTotal, 0.5)).toFixed(2)}x, p95 ${(pct(g, 0.95) / pct(dTotal, 0.95)).toFixed(2)}x`)
console.log('time to first token')
console.log(`   SDK stream                             : ${fmt(dFirst)}`)
console.log(`   gateway SSE stream (openai client)     : ${fmt(gFirst)}`)

await gateway.close()
await pool.close()
await net.close()
process.exit(0)
