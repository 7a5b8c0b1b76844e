import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Address, toNano } from '@ton/core'
import type { KeyPair } from '@ton/crypto'
import { createLibp2p, type Libp2p } from 'libp2p'
import { waitForTransaction, walletSender } from '../chain/client.ts'
import {
  ConnectionError, equivocationProof, float32Tensor, JobFailedError, InvalidReceiptError, NotEquivocationError, ProviderPool, ProviderRejectedError,
  submitEquivocation, type VerifiedProvider
} from '../client/index.ts'
import { Provider, ProviderState, Registry } from '../contracts/index.ts'
import { FrameStream, JOB_PROTOCOL, jobRequest, signCell, toWireTensor, type Welcome } from '../protocol/index.ts'
import { transportOptions } from '../protocol/transport.ts'
import { helloProof } from '../protocol/wire/hello.ts'
import type { ProviderNode } from '../node/provider-node.ts'
import { GLOBAL_ID, MODELS_DIR, startLocalNet, type LocalNet } from './localnet.ts'

// The trust core tried as an attacker would, end to end: real libp2p on 127.0.0.1, a real node,
// the devnet chain.

const PRICE = 50_000n // mlp-64-10, per row
const x = (v: number): ReturnType<typeof float32Tensor> => float32Tensor('x', [1, 64], new Array(64).fill(v))

/** Raw sessions with hand-made frames, from a libp2p host of its own (a peer id that costs nothing). */
class RawPeer {
  private constructor (readonly host: Libp2p) {}

  static async start (): Promise<RawPeer> {
    return new RawPeer(await createLibp2p(transportOptions(undefined)))
  }

  async open (node: ProviderNode): Promise<FrameStream> {
    return new FrameStream(await this.host.dialProtocol(node.addresses[0]!, JOB_PROTOCOL))
  }

  /** the unbound Welcome: the node's offer and a fresh nonce */
  static async welcome (frames: FrameStream): Promise<Welcome> {
    await frames.write({ hello: { channel: '', signature: new Uint8Array(0) } })
    const reply = await frames.read()
    if (reply.kind !== 'welcome') throw new Error(`expected a welcome, got ${reply.kind}`)
    return reply.welcome!
  }

  /** binds `channel` with `key`'s proof over the node's nonce; returns the node's answer */
  static async bind (frames: FrameStream, node: ProviderNode, channel: Address, key: KeyPair, nonce?: Uint8Array): Promise<{ welcome?: Welcome, code?: string }> {
    const fresh = nonce ?? (await RawPeer.welcome(frames)).nonce
    const proof = helloProof({ globalId: GLOBAL_ID, channel, nodeKey: node.identity.keyPair.publicKey, nonce: fresh })
    await frames.write({ hello: { channel: channel.toRawString(), signature: signCell(proof, key.secretKey) } })
    const reply = await frames.read()
    return reply.kind === 'welcome' ? { welcome: reply.welcome! } : { code: reply.error?.code ?? reply.kind }
  }

  async stop (): Promise<void> {
    await this.host.stop()
  }
}

async function answer (frames: FrameStream, frame: Parameters<FrameStream['write']>[0]): Promise<string> {
  await frames.write(frame)
  const reply = await frames.read()
  return reply.kind === 'error' ? reply.error!.code : reply.kind
}

function reasonOf (err: unknown): string | undefined {
  if (err instanceof ProviderRejectedError || err instanceof InvalidReceiptError || err instanceof NotEquivocationError) return err.reason
  if (err instanceof JobFailedError) return err.code
  return (err as Error | undefined)?.message
}

describe('sessions belong to the channel\'s client: no takeover, no free ride, no reset', () => {
  let net: LocalNet
  let node: ProviderNode
  let victimKey: KeyPair
  let victim: VerifiedProvider
  let channel: Address
  let modelHash: Uint8Array
  let stranger: RawPeer

  beforeAll(async () => {
    net = await startLocalNet()
    ;({ node } = await net.addNode())
    const { client, wallet } = await net.addClient()
    victimKey = wallet.keyPair
    victim = await client.connect(node.addresses[0]!)
    channel = await client.openChannel(victim, toNano('1'))
    modelHash = victim.session.model('mlp-64-10').hash
    await victim.session.run('mlp-64-10', [x(1)])
    stranger = await RawPeer.start()
  })
  afterAll(async () => {
    await stranger?.stop()
    await net?.close()
  })

  it('a stranger\'s Hello naming the victim\'s channel is refused, reveals nothing, and the victim goes on', async () => {
    // through the SDK: another client key cannot sign for the channel
    const { client: other } = await net.addClient(toNano('1'))
    const theirs = await other.connect(node.addresses[0]!)
    expect(reasonOf(await theirs.session.bind(channel).catch((e: unknown) => e))).toBe('BAD_HELLO')
    await theirs.session.close()

    const frames = await stranger.open(node)
    // a Hello naming the channel before any nonce was issued
    expect(await answer(frames, { hello: { channel: channel.toRawString(), signature: new Uint8Array(64) } })).toBe('BAD_HELLO')
    // the unbound Welcome carries no voucher and nothing owed
    const welcome = await RawPeer.welcome(frames)
    expect(welcome.lastVoucher.length).toBe(0)
    expect(welcome.lastVoucherSig.length).toBe(0)
    expect(welcome.owed).toEqual([])
    // signed by the stranger's own key
    const strangerKey = (await net.addClient(toNano('1'))).wallet.keyPair
    expect((await RawPeer.bind(frames, node, channel, strangerKey, welcome.nonce)).code).toBe('BAD_HELLO')
    // a genuine proof by the victim, replayed against another nonce
    const old = await RawPeer.welcome(frames)
    const fresh = await RawPeer.welcome(frames)
    const replayed = signCell(helloProof({ globalId: GLOBAL_ID, channel, nodeKey: node.identity.keyPair.publicKey, nonce: old.nonce }), victimKey.secretKey)
    expect(fresh.nonce).not.toEqual(old.nonce)
    expect(await answer(frames, { hello: { channel: channel.toRawString(), signature: replayed } })).toBe('BAD_HELLO')
    // so no job runs on the victim's credit
    expect(await answer(frames, { job: jobRequest({ jobId: 1n, modelHash, inputs: [toWireTensor(x(2))] }) })).toBe('NO_CHANNEL')
    await frames.stream.close()

    // the victim's session was not cut and its payments go on where they were
    const before = victim.session.paid
    const res = await victim.session.run('mlp-64-10', [x(3)])
    expect(res.seqno).toBe(before.seqno + 1)
    expect(victim.session.paid.amount).toBe(before.amount + PRICE)
    expect(node.vouchers.get(channel).amount).toBe(before.amount + PRICE)
  })

  it('a reconnect resumes the receipts still owed instead of resetting them; the SDK pays them first', async () => {
    const paid = victim.session.paid
    await victim.session.close()
    // a session of the client (its own key) runs a job and goes away without paying
    const own = await RawPeer.start()
    try {
      const a = await own.open(node)
      expect((await RawPeer.bind(a, node, channel, victimKey)).welcome).toBeDefined()
      expect(await answer(a, { job: jobRequest({ jobId: 7n, modelHash, inputs: [toWireTensor(x(4))] }) })).toBe('result')
      await a.stream.close()

      // reconnected: the receipt is still owed, and nothing more runs until it is paid
      const b = await own.open(node)
      const { welcome } = await RawPeer.bind(b, node, channel, victimKey)
      expect(welcome!.owed).toHaveLength(1)
      expect(Buffer.from(welcome!.lastVoucher).equals(node.vouchers.get(channel).voucher!)).toBe(true)
      expect(await answer(b, { job: jobRequest({ jobId: 8n, modelHash, inputs: [toWireTensor(x(5))] }) })).toBe('PAYMENT_REQUIRED')
      await b.stream.close()
    } finally {
      await own.stop()
    }

    // the SDK binds, checks the owed receipt is the node's, pays it, and goes on
    const { client } = await net.addClient(toNano('1'), { clientKey: victimKey })
    const again = await client.connect(node.addresses[0]!)
    await again.session.bind(channel)
    expect(again.session.paid).toMatchObject({ seqno: paid.seqno + 1, amount: paid.amount + PRICE })
    expect(node.vouchers.get(channel).amount).toBe(paid.amount + PRICE)
    const res = await again.session.run('mlp-64-10', [x(6)])
    expect(res.seqno).toBe(paid.seqno + 2)
    await again.session.close()
  })
})

describe('price bait: the price is settled before anything runs', () => {
  let net: LocalNet
  beforeAll(async () => { net = await startLocalNet() })
  afterAll(async () => { await net?.close() })

  it('a provider whose session price differs from the one it was offered at is refused before the first job', async () => {
    const { node } = await net.addNode()
    const { client } = await net.addClient()
    // as if its advert said 10 nanoton per row: the Welcome says 50,000
    const err = await client.connect(node.addresses[0]!, { prices: [{ name: 'mlp-64-10', pricePerUnit: 10n }] }).catch((e: unknown) => e)
    expect(reasonOf(err)).toBe('PRICE_MISMATCH')
    // the pool, given the advertised price, refuses it the same way and opens no channel
    const pool = new ProviderPool(client, {
      candidates: async () => [{ address: node.addresses[0]!.toString(), pricePerUnit: 10n }],
      deposit: toNano('0.1'),
      retry: { retries: 0 }
    })
    expect(reasonOf(await pool.run('mlp-64-10', [x(1)]).catch((e: unknown) => e))).toBe('PRICE_MISMATCH')
    expect(node.vouchers.all()).toEqual([])
    await pool.close()
  })

  it('a model priced above maxPricePerUnit is refused before any job is sent', async () => {
    const { node } = await net.addNode()
    const { client } = await net.addClient()
    const p = await client.connect(node.addresses[0]!, { maxPricePerUnit: PRICE - 1n })
    await client.openChannel(p, toNano('0.5'))
    expect(reasonOf(await p.session.run('mlp-64-10', [x(1)]).catch((e: unknown) => e))).toBe('PRICE_TOO_HIGH')
    expect(p.session.paid.seqno).toBe(0)
    // at the limit it runs
    const q = await client.connect(node.addresses[0]!, { maxPricePerUnit: PRICE })
    expect(q.session.model('mlp-64-10').pricePerUnit).toBe(PRICE)
    await p.session.close()
    await q.session.close()
  })

  it('a node that bills another price than its session offered is not paid', async () => {
    // offers the honest price in both Welcomes, then signs its receipts at 1000x
    let lists = 0
    const bait = await net.addRogueNode({
      models: (honest) => {
        lists++
        return lists <= 2 ? [...honest] : honest.map((m) => ({ ...m, pricePerUnit: m.pricePerUnit * 1000n }))
      }
    })
    const { client } = await net.addClient()
    const p = await client.connect(bait.address)
    await client.openChannel(p, toNano('1'))
    expect(reasonOf(await p.session.run('mlp-64-10', [x(1)]).catch((e: unknown) => e))).toBe('WRONG_PRICE')
    expect(p.session.paid).toMatchObject({ seqno: 0, amount: 0n })
  })
})

describe('the cancel attack cannot frame an honest node', () => {
  let net: LocalNet
  beforeAll(async () => { net = await startLocalNet() })
  afterAll(async () => { await net?.close() })

  it('a re-run cancelled after one token is signed as partial; the two receipts make no proof and cannot slash', async () => {
    const { node } = await net.addNode()
    const { client, wallet } = await net.addClient()
    const p = await client.connect(node.addresses[0]!)
    await client.openChannel(p, toNano('1'))
    const request = { prompt: 'Once upon a time', maxNewTokens: 200 }
    const full = p.session.chat('tiny-chat', request)
    for await (const _ of full) { /* drain */ }
    const whole = await full.result
    expect(whole.receipt.complete).toBe(true)

    const again = p.session.chat('tiny-chat', request)
    for await (const _ of again) break // cancel after the first piece
    const cut = await again.result
    expect(cut.receipt.complete).toBe(false)
    expect(cut.tokens).toBeLessThan(whole.tokens)
    expect(cut.receipt.specHash.equals(whole.receipt.specHash)).toBe(true) // the same job
    expect(cut.receipt.outputHash.equals(whole.receipt.outputHash)).toBe(false) // a shorter output

    // the SDK refuses to build a proof from them
    expect(reasonOf((() => { try { return equivocationProof(whole, cut) } catch (e) { return e } })())).toBe('INCOMPLETE')

    // and the Provider contract refuses the same two receipts sent by hand
    const provider = net.chain.open(Provider.createFromAddress(p.provider))
    const before = await provider.getProviderData()
    const since = BigInt((await net.chain.getContractState(p.provider)).lastTransaction!.lt)
    await submitEquivocation(net.chain, walletSender(net.chain, wallet), {
      provider: p.provider,
      address: node.addresses[0]!.toString(),
      proof: { receiptA: whole.receiptCell, sigA: whole.signature, receiptB: cut.receiptCell, sigB: cut.signature }
    })
    await waitForTransaction(net.chain, p.provider, (tx) => tx.inMessage?.info.src?.toString() === wallet.address.toString(), { sinceLt: since })
    const after = await provider.getProviderData()
    expect(after.state).toBe(ProviderState.active)
    expect(after.stake).toBe(before.stake)
    await p.session.close()
  })
})

describe('connect refuses providers the chain does not vouch for', () => {
  let net: LocalNet
  beforeAll(async () => { net = await startLocalNet() })
  afterAll(async () => { await net?.close() })

  it('WRONG_PROVIDER: a node naming another Provider contract than its key derives', async () => {
    const liar = await net.addRogueNode({ init: { provider: new Address(0, randomBytes(32)) } })
    const { client } = await net.addClient(toNano('1'))
    expect(reasonOf(await client.connect(liar.address).catch((e: unknown) => e))).toBe('WRONG_PROVIDER')
  })

  it('WRONG_EPOCH: receipts signed under another registration than the one on chain are not paid', async () => {
    const stale = await net.addRogueNode({ epoch: 99 })
    const { client } = await net.addClient(toNano('1'))
    const p = await client.connect(stale.address)
    expect(p.epoch).not.toBe(99)
    await client.openChannel(p, toNano('0.2'))
    expect(reasonOf(await p.session.run('mlp-64-10', [x(1)]).catch((e: unknown) => e))).toBe('WRONG_EPOCH')
    expect(p.session.paid.seqno).toBe(0)
  })

  it('NOT_ACTIVE: a Provider that started unbonding', async () => {
    const { node, owner } = await net.addNode()
    const address = node.provider
    await net.chain.open(Provider.createFromAddress(address)).sendUnbond(walletSender(net.chain, owner))
    const start = Date.now()
    while ((await net.chain.open(Provider.createFromAddress(address)).getProviderData()).state !== ProviderState.unbonding) {
      if (Date.now() - start > 30_000) throw new Error('the unbond did not land')
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const { client } = await net.addClient(toNano('1'))
    expect(reasonOf(await client.connect(node.addresses[0]!).catch((e: unknown) => e))).toBe('NOT_ACTIVE')
  })

  it('STAKE_TOO_LOW: a Provider below the Registry\'s minimum stake (raised by governance)', async () => {
    const { node } = await net.addNode()
    const registry = net.chain.open(Registry.createFromAddress(net.registry))
    const params = await registry.getRegistryData()
    await registry.sendSetParams(walletSender(net.chain, net.governor), {
      feeBps: params.feeBps, minStake: params.minStake * 2n, unbondingDelay: params.unbondingDelay, closeDelay: params.closeDelay, slashShareBps: params.slashShareBps
    })
    const start = Date.now()
    while ((await registry.getRegistryData()).minStake !== params.minStake * 2n) {
      if (Date.now() - start > 30_000) throw new Error('set_params did not land')
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const { client } = await net.addClient(toNano('1'))
    expect(reasonOf(await client.connect(node.addresses[0]!).catch((e: unknown) => e))).toBe('STAKE_TOO_LOW')
  })
})

describe('the node takes only channels it can settle, and bounds sessions', () => {
  let net: LocalNet
  beforeAll(async () => { net = await startLocalNet() })
  afterAll(async () => { await net?.close() })

  it('CHANNEL_TERMS: a close delay shorter, or a protocol fee higher, than the node accepts', async () => {
    const { client } = await net.addClient()
    const { node: slow } = await net.addNode({ config: { channels: { minCloseDelay: 7200 } } })
    const a = await client.connect(slow.addresses[0]!)
    expect(reasonOf(await client.openChannel(a, toNano('0.2')).catch((e: unknown) => e))).toBe('CHANNEL_TERMS')
    const { node: cheap } = await net.addNode({ config: { channels: { maxFeeBps: 100 } } })
    const b = await client.connect(cheap.addresses[0]!)
    expect(reasonOf(await client.openChannel(b, toNano('0.2')).catch((e: unknown) => e))).toBe('CHANNEL_TERMS')
  })

  it('a new channel goes only to an address no contract uses: a random nonce, and a taken one is refused', async () => {
    const { node } = await net.addNode()
    const { client, wallet } = await net.addClient()
    const p = await client.connect(node.addresses[0]!)
    const first = await client.openChannel(p, toNano('0.2'))
    await p.session.close()
    // the same wallet and key in a client that does not know the channel: a fresh nonce, another address
    const { client: again } = await net.addClient(toNano('1'), { clientKey: wallet.keyPair, wallet: { address: wallet.address, sender: walletSender(net.chain, wallet) } })
    const q = await again.connect(node.addresses[0]!)
    const second = await again.openChannel(q, toNano('0.2'))
    expect(second.equals(first)).toBe(false)
    await q.session.close()
    // asked to open at the first channel's address (its nonce), it refuses: the address is in use
    const nonce = (await client.channel(p))!.data!.nonce
    const { client: third } = await net.addClient(toNano('1'), { clientKey: wallet.keyPair, wallet: { address: wallet.address, sender: walletSender(net.chain, wallet) } })
    const s = await third.connect(node.addresses[0]!)
    expect(third.channelAddressFor(s, nonce).equals(first)).toBe(true)
    expect(await third.openChannel(s, toNano('0.2'), { nonce }).then(() => 'opened', (e: unknown) => (e as Error).name)).toBe('ChannelError')
    await s.session.close()
  })

  it('unbound sessions share one small pool: new peer ids do not buy more', async () => {
    const { node } = await net.addNode({ config: { limits: { maxUnboundSessions: 2 } } })
    const peers = await Promise.all([RawPeer.start(), RawPeer.start(), RawPeer.start()])
    try {
      const a = await peers[0]!.open(node)
      const b = await peers[1]!.open(node)
      await RawPeer.welcome(a)
      await RawPeer.welcome(b)
      const c = await peers[2]!.open(node)
      const refused = await c.read({ signal: AbortSignal.timeout(5_000) })
      expect(refused.error?.code).toBe('OVERLOADED')
      // a channel's client binds and frees its slot for the next peer
      const { client } = await net.addClient()
      await a.stream.close()
      const p = await client.connect(node.addresses[0]!)
      await client.openChannel(p, toNano('0.2'))
      const d = await peers[2]!.open(node)
      expect((await RawPeer.welcome(d)).nonce).toHaveLength(32)
      await p.session.close()
    } finally {
      await Promise.all(peers.map(async (p) => { await p.stop() }))
    }
  })
})

describe('chat units and streams are bounded by the request and the delivered text', () => {
  let net: LocalNet
  let countTokens: (text: string) => number
  beforeAll(async () => {
    net = await startLocalNet()
    const { AutoTokenizer, env } = await import('@huggingface/transformers')
    env.allowRemoteModels = false
    env.localModelPath = `${MODELS_DIR}/`
    const tokenizer = await AutoTokenizer.from_pretrained('tiny-chat')
    countTokens = (text) => tokenizer.encode(text, { add_special_tokens: false }).length
  })
  afterAll(async () => { await net?.close() })

  it('with the tokenizer, the client refuses a token count the text does not hold; an honest node passes', async () => {
    // stops after 5 tokens but bills 100 (within the request's 200)
    const inflating = await net.addRogueNode({
      inference: (honest) => ({
        list: () => honest.list(),
        run: async (h, i) => await honest.run(h, i),
        classify: async (h, t) => await honest.classify(h, t),
        generate: async (h, r, t) => {
          const out = await honest.generate(h, { ...r, maxNewTokens: 5 }, t)
          return { ...out, tokens: 100, units: 100 }
        }
      })
    })
    const request = { prompt: 'Once upon a time', maxNewTokens: 200 }
    // without a tokenizer the client can only bound units by the request: it pays the 100
    const { client: blind } = await net.addClient()
    const b = await blind.connect(inflating.address)
    await blind.openChannel(b, toNano('0.5'))
    const billed = await b.session.chat('tiny-chat', request).result
    expect(billed.receipt.units).toBe(100)
    await b.session.close()
    // with it, the same result is refused and not paid
    const { client } = await net.addClient(toNano('5'), { tokenCounters: { 'tiny-chat': countTokens } })
    const p = await client.connect(inflating.address)
    await client.openChannel(p, toNano('0.5'))
    expect(reasonOf(await p.session.chat('tiny-chat', request).result.catch((e: unknown) => e))).toBe('WRONG_UNITS')
    expect(p.session.paid.seqno).toBe(0)

    const { node } = await net.addNode()
    const q = await client.connect(node.addresses[0]!)
    await client.openChannel(q, toNano('0.5'))
    const honest = await q.session.chat('tiny-chat', request).result
    expect(honest.receipt.units).toBe(honest.tokens)
    expect(honest.tokens).toBeLessThanOrEqual(countTokens(honest.text) + 1)
    await q.session.close()
  })

  it('a node streaming more than the request\'s tokens can hold is cut off, not buffered', async () => {
    const flooding = await net.addRogueNode({
      inference: (honest) => ({
        list: () => honest.list(),
        run: async (h, i) => await honest.run(h, i),
        classify: async (h, t) => await honest.classify(h, t),
        generate: async (_h, _r, onToken) => {
          const piece = 'x'.repeat(1000)
          for (let i = 0; i < 100; i++) onToken?.(piece)
          return { text: piece.repeat(100), tokens: 4, units: 4 }
        }
      })
    })
    const { client } = await net.addClient()
    const p = await client.connect(flooding.address)
    await client.openChannel(p, toNano('0.5'))
    const stream = p.session.chat('tiny-chat', { prompt: 'hi', maxNewTokens: 4 })
    expect(await stream.result.catch((e: unknown) => e)).toBeInstanceOf(ConnectionError)
    expect(p.session.paid.seqno).toBe(0)
  })
})
