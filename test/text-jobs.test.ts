import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNano } from '@ton/core'
import type { VerifiedProvider } from '../client/index.ts'
import { startLocalNet, type LocalNet } from './localnet.ts'

describe('text jobs over the network: moderation and streamed chat, verified and paid', () => {
  let net: LocalNet
  let provider: VerifiedProvider
  beforeAll(async () => {
    net = await startLocalNet()
    const { node } = await net.addNode()
    const { client } = await net.addClient()
    provider = await client.connect(node.addresses[0]!)
    await client.openChannel(provider, toNano('1'))
  })
  afterAll(async () => {
    await provider?.session.close()
    await net?.close()
  })

  it('classifies texts with every label of the model, billed one unit per text', async () => {
    const res = await provider.session.classify('tiny-moderation', ['buy cheap coins now', 'hello, how are you?'])
    expect(res.labels).toHaveLength(2)
    for (const set of res.labels) {
      expect(set.map((l) => l.label).sort()).toEqual(['ok', 'spam', 'toxic'])
      for (const l of set) expect(l.score).toBeGreaterThanOrEqual(0)
    }
    expect(res.receipt.units).toBe(2)
    expect(res.cost).toBe(2n * provider.session.model('tiny-moderation').pricePerUnit)
  })

  it('streams a chat reply: the pieces make up the verified text, billed per token, identical on a re-run', async () => {
    const messages = [{ role: 'user' as const, content: 'Say something.' }]
    const stream = provider.session.chat('tiny-chat', { messages, maxNewTokens: 24 })
    const pieces: string[] = []
    for await (const piece of stream) pieces.push(piece)
    const result = await stream.result
    expect(pieces.length).toBeGreaterThan(0)
    expect(pieces.join('')).toBe(result.text)
    expect(result.tokens).toBeLessThanOrEqual(24)
    expect(result.receipt.units).toBe(result.tokens)
    expect(result.receipt.deterministic).toBe(true)
    const again = provider.session.chat('tiny-chat', { messages, maxNewTokens: 24 })
    for await (const _ of again) { /* drain */ }
    expect((await again.result).receipt.outputHash.equals(result.receipt.outputHash)).toBe(true)
  })

  it('breaking out of the loop cancels generation; the tokens made so far are verified and paid', async () => {
    const before = provider.session.paid
    const stream = provider.session.chat('tiny-chat', { prompt: 'Once upon a time', maxNewTokens: 200 })
    let seen = 0
    for await (const _ of stream) {
      if (++seen === 3) break
    }
    const result = await stream.result
    expect(result.tokens).toBeLessThan(200)
    expect(result.tokens).toBeGreaterThanOrEqual(3)
    expect(provider.session.paid.seqno).toBe(before.seqno + 1)
    // the session goes on after a cancel
    const next = await provider.session.classify('tiny-moderation', ['still here'])
    expect(next.labels).toHaveLength(1)
  })

  it('a text job with the wrong input for its model gets a typed error and costs nothing', async () => {
    const before = provider.session.paid
    await expect(provider.session.classify('tiny-chat', ['hi'])).rejects.toMatchObject({ code: 'BAD_INPUT' })
    await expect(provider.session.chat('tiny-moderation', { prompt: 'hi' }).result).rejects.toMatchObject({ code: 'BAD_INPUT' })
    expect(provider.session.paid).toEqual(before)
  })
})
