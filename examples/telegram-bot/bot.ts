// A Telegram bot on Silk: /ask and /summary answered by a chat model, group messages checked by a
// moderation model. Every answer is a verified, paid Silk result. Run: see README.md.
import { pathToFileURL } from 'node:url'
import { Address, toNano } from '@ton/core'
import { mnemonicToPrivateKey } from '@ton/crypto'
import { Bot, type Context } from 'grammy'
import type { UserFromGetMe } from 'grammy/types'
import { pino, type Logger } from 'pino'
import { chainClient, walletFromKey, walletSender } from '../../chain/index.ts'
import { discoveredCandidates, ProviderPool, SilkClient, type Candidate, type ChatRequest } from '../../client/index.ts'
import type { ChatTurn, ScoredLabel } from '../../protocol/text.ts'
import { loggerOptions } from '../../protocol/logging.ts'

/** What the bot needs of a ProviderPool. */
export type BotPool = Pick<ProviderPool, 'use' | 'classify'>

/** An OpenAI-compatible Silk gateway (`silk gateway`) the bot talks to instead of running the SDK itself. */
export interface BotGateway {
  /** e.g. http://127.0.0.1:8080 (the OpenAI base URL is this plus /v1) */
  url: string
  apiKey?: string
}

/** What the bot needs of Silk: a verified, paid chat answer and moderation labels. */
interface Silk {
  chat(model: string, messages: ChatTurn[], maxNewTokens: number): Promise<{ text: string, tokens: number, cost: string, via: string }>
  classify(model: string, text: string): Promise<ScoredLabel[]>
}

/** Silk through the SDK's provider pool (the bot verifies and pays itself). */
function poolSilk (pool: BotPool): Silk {
  return {
    async chat (model, messages, maxNewTokens) {
      const r = await pool.use(model, async (p) => await p.session.chat(model, { messages, maxNewTokens } satisfies ChatRequest).result)
      return { text: r.text, tokens: r.tokens, cost: r.cost.toString(), via: r.address }
    },
    async classify (model, text) {
      return (await pool.classify(model, [text])).labels[0] ?? []
    }
  }
}

/** Silk through a gateway: it verifies and pays; each answer still carries its receipt (`silk`). */
function gatewaySilk (gateway: BotGateway): Silk {
  const base = gateway.url.replace(/\/+$/, '')
  const post = async (path: string, body: unknown): Promise<any> => {
    const res = await fetch(`${base}/v1${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(gateway.apiKey !== undefined ? { authorization: `Bearer ${gateway.apiKey}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000)
    })
    const json = await res.json().catch(() => ({})) as { error?: { code?: string, message?: string } }
    if (!res.ok) throw new GatewayAnswerError(res.status, json.error?.code ?? 'error', json.error?.message ?? `HTTP ${res.status}`)
    return json
  }
  return {
    async chat (model, messages, maxNewTokens) {
      const r = await post('/chat/completions', { model, messages, max_tokens: maxNewTokens })
      return { text: String(r.choices?.[0]?.message?.content ?? ''), tokens: Number(r.usage?.completion_tokens ?? 0), cost: String(r.silk?.cost ?? '?'), via: base }
    },
    async classify (model, text) {
      const r = await post('/moderations', { model, input: text })
      const scores = (r.results?.[0]?.category_scores ?? {}) as Record<string, number>
      return Object.entries(scores).map(([label, score]) => ({ label, score }))
    }
  }
}

/** A gateway refused or failed a request; `code` is its OpenAI error code. */
export class GatewayAnswerError extends Error {
  override name = 'GatewayAnswerError'
  constructor (readonly status: number, readonly code: string, message: string) { super(message) }
}

export interface BotOptions {
  token: string
  /** Silk through the SDK (the bot holds a wallet and pays) … */
  pool?: BotPool
  /** … or through a Silk gateway (the gateway holds the wallet); exactly one of the two */
  gateway?: BotGateway
  /** a text-generation model, e.g. tiny-chat */
  chatModel: string
  /** a text-classification model, e.g. tiny-moderation */
  moderationModel: string
  /** skips the getMe call at start (tests, or a known bot) */
  botInfo?: UserFromGetMe
  /** a Bot API server other than api.telegram.org (a self-hosted telegram-bot-api) */
  apiRoot?: string
  /** a label is flagged above this score; default 0.5 */
  moderationThreshold?: number
  /** labels that mean "nothing wrong"; default ['ok'] */
  safeLabels?: readonly string[]
  /** default 200 */
  maxAnswerTokens?: number
  logger?: Logger
}

/** Telegram refuses longer messages. */
const MAX_MESSAGE_CHARS = 4096

const HELP = [
  'I answer with models served on Silk, a verifiable inference network on TON.',
  '/ask <question> — ask the chat model',
  '/summary — reply with this to a message to summarise it',
  'In groups I check messages with a moderation model and flag the bad ones.'
].join('\n')

/** The conversation sent for /ask: the question alone, nothing else from the chat. */
export function askMessages (question: string): ChatTurn[] {
  return [{ role: 'user', content: question }]
}

/** The conversation sent for /summary: the replied-to message alone. */
export function summaryMessages (text: string): ChatTurn[] {
  return [
    { role: 'system', content: 'Summarise the user\'s message in one or two short sentences.' },
    { role: 'user', content: text }
  ]
}

/** The labels above the threshold, worst first; empty means the text is fine. */
export function flaggedLabels (labels: readonly ScoredLabel[], threshold: number, safeLabels: readonly string[] = ['ok']): ScoredLabel[] {
  return labels.filter((l) => !safeLabels.includes(l.label) && l.score > threshold).sort((a, b) => b.score - a.score)
}

export function warningFor (flagged: readonly ScoredLabel[]): string {
  return `⚠️ This message was flagged by moderation: ${flagged.map((l) => `${l.label} ${l.score.toFixed(2)}`).join(', ')}`
}

/**
 * The bot, without starting it: feed it updates with `bot.handleUpdate()` or run `bot.start()`.
 * Only the text a command works on (the question, the replied-to message, a group message being
 * moderated) goes to a Silk provider; names, ids and the rest of the chat never do.
 */
export function createBot (options: BotOptions): Bot {
  const { chatModel, moderationModel } = options
  if ((options.pool === undefined) === (options.gateway === undefined)) throw new TypeError('createBot needs exactly one of `pool` and `gateway`')
  const silk = options.pool !== undefined ? poolSilk(options.pool) : gatewaySilk(options.gateway!)
  const log = options.logger ?? pino(loggerOptions('silent'))
  const threshold = options.moderationThreshold ?? 0.5
  const safeLabels = options.safeLabels ?? ['ok']
  const maxNewTokens = options.maxAnswerTokens ?? 200
  const bot = new Bot(options.token, {
    ...(options.botInfo !== undefined ? { botInfo: options.botInfo } : {}),
    ...(options.apiRoot !== undefined ? { client: { apiRoot: options.apiRoot } } : {})
  })

  async function complete (messages: ChatTurn[]): Promise<string> {
    const result = await silk.chat(chatModel, messages, maxNewTokens)
    log.info({ model: chatModel, tokens: result.tokens, cost: result.cost, via: result.via }, 'answered')
    const text = result.text.trim()
    return text === '' ? '(the model gave an empty answer)' : text.slice(0, MAX_MESSAGE_CHARS)
  }

  /** Answers as a reply to `messageId`, or says briefly why Silk could not. */
  async function answer (ctx: Context, messageId: number, messages: ChatTurn[]): Promise<void> {
    await ctx.replyWithChatAction('typing').catch(() => {})
    let text: string
    try {
      text = await complete(messages)
    } catch (err) {
      log.warn({ err }, 'no answer')
      text = `Sorry, Silk could not answer right now (${(err as Error).name}).`
    }
    await ctx.reply(text, { reply_parameters: { message_id: messageId, allow_sending_without_reply: true } })
  }

  bot.command(['start', 'help'], async (ctx) => { await ctx.reply(HELP) })

  bot.command('ask', async (ctx) => {
    const question = ctx.match.trim()
    if (question === '') {
      await ctx.reply('Usage: /ask <question>', { reply_parameters: { message_id: ctx.msg.message_id } })
      return
    }
    await answer(ctx, ctx.msg.message_id, askMessages(question))
  })

  bot.command('summary', async (ctx) => {
    const target = ctx.msg.reply_to_message
    const text = target?.text ?? target?.caption
    if (target === undefined || text === undefined || text.trim() === '') {
      await ctx.reply('Reply /summary to a text message to summarise it.', { reply_parameters: { message_id: ctx.msg.message_id } })
      return
    }
    await answer(ctx, target.message_id, summaryMessages(text))
  })

  // Commands are handled above and stop there; in groups, every other text message is moderated.
  bot.chatType(['group', 'supergroup']).on('message:text', async (ctx) => {
    const text = ctx.msg.text
    if (text.startsWith('/') || ctx.from.is_bot) return // a command for another bot
    let labels: ScoredLabel[]
    try {
      labels = await silk.classify(moderationModel, text)
    } catch (err) {
      log.warn({ err }, 'moderation failed')
      return
    }
    const flagged = flaggedLabels(labels, threshold, safeLabels)
    if (flagged.length === 0) return
    log.info({ chat: ctx.chat.id, labels: flagged.map((l) => l.label) }, 'flagged')
    await ctx.reply(warningFor(flagged), { reply_parameters: { message_id: ctx.msg.message_id, allow_sending_without_reply: true } })
  })

  bot.catch((err) => { log.error({ err: err.error, update: err.ctx.update.update_id }, 'handler failed') })
  return bot
}

const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')

/**
 * Runs the bot with long polling. Settings from the environment:
 * TELEGRAM_BOT_TOKEN. Through a gateway: SILK_GATEWAY_URL (its base URL) and SILK_GATEWAY_API_KEY
 * (optional); nothing else. Through the SDK: SILK_NETWORK (mainnet, testnet or local: required);
 * SILK_ENDPOINT (TON HTTP API), SILK_API_KEY (optional), SILK_REGISTRY,
 * SILK_MNEMONIC (the client wallet that opens and funds channels); SILK_PROVIDERS (comma-separated
 * multiaddrs; unset = discovery, from the SILK_BOOTSTRAP peers); TELEGRAM_API_ROOT (a self-hosted
 * Bot API server; default api.telegram.org); SILK_DEPOSIT (TON per channel, default 0.5); SILK_CHAT_MODEL
 * (default tiny-chat); SILK_MODERATION_MODEL (default tiny-moderation).
 */
export async function main (env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const need = (name: string): string => {
    const v = env[name]?.trim()
    if (v === undefined || v === '') throw new Error(`set ${name}`)
    return v
  }
  const log = pino(loggerOptions('info'))
  const token = need('TELEGRAM_BOT_TOKEN')
  const models = {
    chatModel: env.SILK_CHAT_MODEL ?? 'tiny-chat',
    moderationModel: env.SILK_MODERATION_MODEL ?? 'tiny-moderation',
    ...(env.TELEGRAM_API_ROOT !== undefined ? { apiRoot: env.TELEGRAM_API_ROOT } : {}),
    logger: log
  }
  const gatewayUrl = env.SILK_GATEWAY_URL?.trim()
  if (gatewayUrl !== undefined && gatewayUrl !== '') {
    // through a gateway: no wallet or chain here, the gateway verifies and pays
    const bot = createBot({ token, gateway: { url: gatewayUrl, ...(env.SILK_GATEWAY_API_KEY !== undefined ? { apiKey: env.SILK_GATEWAY_API_KEY } : {}) }, ...models })
    const stop = (): void => { void bot.stop() }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    await bot.start({ onStart: (me) => { log.info({ bot: me.username, gateway: gatewayUrl }, 'polling') } })
    return
  }
  const network = need('SILK_NETWORK')
  if (network !== 'mainnet' && network !== 'testnet' && network !== 'local') throw new Error('SILK_NETWORK must be mainnet, testnet or local')
  const chain = chainClient(need('SILK_ENDPOINT'), env.SILK_API_KEY)
  const wallet = walletFromKey(await mnemonicToPrivateKey(need('SILK_MNEMONIC').split(/\s+/)))
  const client = new SilkClient({
    chain,
    registry: Address.parse(need('SILK_REGISTRY')),
    wallet: { address: wallet.address, sender: walletSender(chain, wallet) },
    clientKey: wallet.keyPair,
    network,
    // discovery starts from these peers (comma-separated multiaddrs)
    discovery: { bootstrap: list(env.SILK_BOOTSTRAP) }
  })
  await client.start()
  const fixed = list(env.SILK_PROVIDERS)
  const pool = new ProviderPool(client, {
    candidates: async (model, signal): Promise<Candidate[]> => {
      if (fixed.length > 0) return fixed.map((address) => ({ address }))
      return await discoveredCandidates(client, model, signal)
    },
    deposit: toNano(env.SILK_DEPOSIT ?? '0.5')
  })
  const bot = createBot({ token, pool, ...models })
  const stop = (): void => {
    void (async () => {
      await bot.stop()
      await pool.close()
      await client.stop()
    })()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  await bot.start({ onStart: (me) => { log.info({ bot: me.username }, 'polling') } })
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: Error) => {
    process.stderr.write(`telegram-bot: ${err.message}\n`)
    process.exit(1)
  })
}
