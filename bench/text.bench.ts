// Measures the text fixtures through the ModelStore on this machine (CPU EP, 1 intra-op thread):
// tokens/s for tiny-chat greedy generation, ms per text for tiny-moderation.
//   npx tsx bench/text.bench.ts [modelsDir]  (part of npm run bench)
import { resolve } from 'node:path'
import { DEFAULT_MODELS_DIR } from '../scripts/build-models.ts'
import { ModelStore, type ChatMessage } from '../node/models.ts'

const dir = process.argv[2] === undefined ? DEFAULT_MODELS_DIR : resolve(process.argv[2])
const store = new ModelStore({ dir })
let t = performance.now()
await store.start()
console.log(`store start (4 models, transformers import included): ${(performance.now() - t).toFixed(0)} ms`)

const chat = store.get('tiny-chat')
const moderation = store.get('tiny-moderation')
if (chat === undefined || moderation === undefined) throw new Error(`no tiny-chat / tiny-moderation in ${dir}`)

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

const messages: ChatMessage[] = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Please write a short story about a fox and a dog.' }
]
for (const maxNewTokens of [32, 128, 256]) {
  await store.generate(chat.hash, { messages, maxNewTokens }) // warm-up
  const rates: number[] = []
  const firsts: number[] = []
  let tokens = 0
  for (let i = 0; i < 10; i++) {
    t = performance.now()
    let first = 0
    const r = await store.generate(chat.hash, { messages, maxNewTokens }, () => { if (first === 0) first = performance.now() - t })
    const ms = performance.now() - t
    tokens = r.tokens
    rates.push(r.tokens / (ms / 1000))
    firsts.push(first)
  }
  console.log(`tiny-chat generate maxNewTokens ${maxNewTokens}: ${tokens} tokens, median ${median(rates).toFixed(0)} tokens/s (prefill included), first piece after ${median(firsts).toFixed(2)} ms`)
}

const short = ['Buy now!!! Free money, click this link', 'Hello, how are you today?', 'You are stupid and I hate you', 'Meeting moved to Monday 10:00']
const long = ['The user asked the assistant to explain how tokens are counted and how much each one costs. '.repeat(5)]
for (const [label, texts] of [['1 short text', short.slice(0, 1)], ['32 short texts', Array.from({ length: 32 }, (_, i) => short[i % short.length] as string)], ['1 text of 475 bytes', long]] as const) {
  for (let i = 0; i < 20; i++) await store.classify(moderation.hash, [...texts])
  const perText: number[] = []
  for (let i = 0; i < 200; i++) {
    t = performance.now()
    await store.classify(moderation.hash, [...texts])
    perText.push((performance.now() - t) / texts.length)
  }
  console.log(`tiny-moderation classify ${label}: median ${median(perText).toFixed(3)} ms per text`)
}
await store.stop()
