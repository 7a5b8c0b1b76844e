import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNano } from '@ton/core'
import type { Bot } from 'grammy'
import type { Message, Update, User, UserFromGetMe } from 'grammy/types'
import { ProviderPool } from '../client/index.ts'
import { askMessages, createBot, flaggedLabels, summaryMessages, warningFor, type BotOptions } from '../examples/telegram-bot/bot.ts'
import { startGateway } from '../gateway/index.ts'
import { startLocalNet, type LocalNet } from './localnet.ts'

const BOT: UserFromGetMe = {
  id: 7_000_000_001,
  is_bot: true,
  first_name: 'Silk',
  username: 'silk_test_bot',
  can_join_groups: true,
  can_read_all_group_messages: true,
  supports_inline_queries: false,
  can_connect_to_business: false,
  has_main_web_app: false,
  has_topics_enabled: false,
  allows_users_to_create_topics: false,
  can_manage_bots: false,
  supports_join_request_queries: false
}
const ALICE: User = { id: 111_222_333, is_bot: false, first_name: 'Alice', username: 'alice', language_code: 'en' }
const BOB: User = { id: 444_555_666, is_bot: false, first_name: 'Bob', language_code: 'en' }
const PRIVATE = { id: ALICE.id, type: 'private' as const, first_name: 'Alice', username: 'alice' }
const GROUP = { id: -1_001_234_567_890, type: 'supergroup' as const, title: 'Silk fans' }
const ANSWER_TOKENS = 24

let updateId = 500_000_000
let messageId = 1000
const now = (): number => Math.floor(Date.now() / 1000)
type ChatMessage = Message & Update.NonChannel

/** A message as the Bot API delivers it, with bot_command entities where the text starts with one. */
function message (chat: typeof PRIVATE | typeof GROUP, from: User, text: string, extra: Record<string, unknown> = {}): ChatMessage {
  const command = /^\/\w+(@\w+)?/.exec(text)
  return {
    message_id: ++messageId,
    from,
    chat,
    date: now(),
    text,
    ...(command !== null ? { entities: [{ offset: 0, length: command[0].length, type: 'bot_command' as const }] } : {}),
    ...extra
  } as ChatMessage
}
const update = (msg: ChatMessage): Update => ({ update_id: ++updateId, message: msg })

interface Call { method: string, payload: Record<string, any> }

describe('the Telegram bot example, fed real Bot API updates, answering through a local Silk node', () => {
  let net: LocalNet
  let pool: ProviderPool

  /** A bot whose outgoing Bot API calls are captured instead of sent: no network is touched. */
  function botWith (options: Partial<BotOptions> = {}): { bot: Bot, calls: Call[], sent: () => Call[] } {
    const bot = createBot({ token: '7000000001:TEST-not-a-real-token', pool, chatModel: 'tiny-chat', moderationModel: 'tiny-moderation', botInfo: BOT, maxAnswerTokens: ANSWER_TOKENS, ...options })
    const calls: Call[] = []
    bot.api.config.use(async (_prev, method, payload) => {
      calls.push({ method, payload: payload as Record<string, any> })
      const p = payload as { chat_id?: number, text?: string }
      const result = method === 'sendMessage'
        ? { message_id: ++messageId, date: now(), chat: p.chat_id === GROUP.id ? GROUP : PRIVATE, from: BOT, text: p.text }
        : true
      return { ok: true, result } as never
    })
    return { bot, calls, sent: () => calls.filter((c) => c.method === 'sendMessage') }
  }

  /** What the chat model says to these messages, asked directly through the SDK (greedy: the same every time). */
  async function modelSays (messages: ReturnType<typeof askMessages>): Promise<string> {
    const r = await pool.use('tiny-chat', async (p) => await p.session.chat('tiny-chat', { messages, maxNewTokens: ANSWER_TOKENS }).result)
    return r.text.trim()
  }

  beforeAll(async () => {
    net = await startLocalNet()
    const { node } = await net.addNode()
    const { client } = await net.addClient()
    pool = new ProviderPool(client, { candidates: async () => [{ address: node.addresses[0]!.toString() }], deposit: toNano('1'), retry: { minDelayMs: 10 } })
  })
  afterAll(async () => {
    await pool?.close()
    await net?.close()
  })

  it('/ask answers with the chat model, in the same chat, as a reply to the question', async () => {
    const { bot, sent } = botWith()
    const ask = message(PRIVATE, ALICE, '/ask What is TON?')
    await bot.handleUpdate(update(ask))
    expect(sent()).toHaveLength(1)
    const reply = sent()[0]!.payload
    expect(reply.chat_id).toBe(PRIVATE.id)
    expect(reply.reply_parameters.message_id).toBe(ask.message_id)
    expect(reply.text).toBe(await modelSays(askMessages('What is TON?')))

    // in a group, addressed to this bot by name
    const inGroup = message(GROUP, BOB, '/ask@silk_test_bot What is TON?')
    await bot.handleUpdate(update(inGroup))
    expect(sent()).toHaveLength(2)
    expect(sent()[1]!.payload).toMatchObject({ chat_id: GROUP.id, text: reply.text, reply_parameters: { message_id: inGroup.message_id } })
  })

  it('/summary in reply to a message summarises that message, and answers under it', async () => {
    const { bot, sent } = botWith()
    const long = 'The Open Network is a blockchain designed for fast payments. Silk runs AI models on it and pays providers with vouchers.'
    const original = message(GROUP, BOB, long)
    await bot.handleUpdate(update(message(GROUP, ALICE, '/summary', { reply_to_message: original })))
    expect(sent()).toHaveLength(1)
    expect(sent()[0]!.payload).toMatchObject({
      chat_id: GROUP.id,
      text: await modelSays(summaryMessages(long)),
      reply_parameters: { message_id: original.message_id }
    })

    // /summary on its own gets a hint, not a model call
    await bot.handleUpdate(update(message(PRIVATE, ALICE, '/summary')))
    expect(sent()[1]!.payload.text).toMatch(/Reply \/summary to a text message/)
  })

  it('moderates group messages: a flagged one gets a reply naming the labels and their scores', async () => {
    const text = 'buy cheap coins now, limited offer!!!'
    const scores = (await pool.classify('tiny-moderation', [text])).labels[0]!
    // a threshold of 0 flags every harmful label with a score above zero: deterministic whatever the tiny model says
    const { bot, sent } = botWith({ moderationThreshold: 0 })
    const msg = message(GROUP, BOB, text)
    await bot.handleUpdate(update(msg))
    expect(sent()).toHaveLength(1)
    const flagged = flaggedLabels(scores, 0)
    expect(flagged.map((l) => l.label).sort()).toEqual(['spam', 'toxic'])
    expect(sent()[0]!.payload).toMatchObject({ chat_id: GROUP.id, text: warningFor(flagged), reply_parameters: { message_id: msg.message_id } })
  })

  it('works through a Silk gateway instead of the SDK: the same answer, the same moderation, no wallet in the bot', async () => {
    const gateway = await startGateway({ pool, models: () => [{ id: 'tiny-chat', task: 'text-generation' }, { id: 'tiny-moderation', task: 'text-classification' }], apiKeys: ['sk-bot'] })
    try {
      const { bot, sent } = botWith({ pool: undefined, gateway: { url: gateway.url, apiKey: 'sk-bot' } })
      const ask = message(PRIVATE, ALICE, '/ask What is TON?')
      await bot.handleUpdate(update(ask))
      expect(sent()[0]!.payload).toMatchObject({ chat_id: PRIVATE.id, text: await modelSays(askMessages('What is TON?')), reply_parameters: { message_id: ask.message_id } })
      const text = 'buy cheap coins now, limited offer!!!'
      const flagged = flaggedLabels((await pool.classify('tiny-moderation', [text])).labels[0]!, 0)
      const { bot: moderator, sent: warned } = botWith({ pool: undefined, gateway: { url: gateway.url, apiKey: 'sk-bot' }, moderationThreshold: 0 })
      await moderator.handleUpdate(update(message(GROUP, BOB, text)))
      expect(warned()[0]!.payload.text).toBe(warningFor(flagged))
      // a wrong key: the bot says Silk could not answer, and names no secret
      const { bot: locked, sent: refused } = botWith({ pool: undefined, gateway: { url: gateway.url, apiKey: 'sk-wrong' } })
      await locked.handleUpdate(update(message(PRIVATE, ALICE, '/ask What is TON?')))
      expect(refused()[0]!.payload.text).toMatch(/Silk could not answer right now \(GatewayAnswerError\)/)
      expect(() => createBot({ token: '1:x', chatModel: 'a', moderationModel: 'b' })).toThrow(/exactly one of/)
    } finally {
      await gateway.close()
    }
  })

  it('sends nothing for messages it should leave alone', async () => {
    // nothing is ever above a threshold of 1, so moderation runs but flags nothing
    const { bot, calls } = botWith({ moderationThreshold: 1 })
    const quiet: Update[] = [
      update(message(GROUP, BOB, 'hello everyone, how was your day?')), // moderated, fine
      update(message(PRIVATE, ALICE, 'just chatting, no command')), // private text is not moderated or answered
      update(message(GROUP, BOB, '/ask@some_other_bot What is TON?')), // another bot's command
      update(message(GROUP, BOB, '/unknown command')),
      { update_id: ++updateId, edited_message: { ...message(GROUP, BOB, 'edited text'), edit_date: now() } as never },
      { update_id: ++updateId, channel_post: { message_id: ++messageId, date: now(), chat: { id: -1_009_999, type: 'channel', title: 'News' }, sender_chat: { id: -1_009_999, type: 'channel', title: 'News' }, text: 'a post' } as never }
    ]
    for (const u of quiet) await bot.handleUpdate(u)
    expect(calls).toEqual([])
  })
})
