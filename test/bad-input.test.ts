import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Address, Cell, toNano } from '@ton/core'
import { createLibp2p, type Libp2p } from 'libp2p'
import {
  jobRequest, buildVoucher, float32Tensor, FrameStream, JOB_PROTOCOL, signCell, toWireTensor, identityFromSeed,
  type Frame, type Tensor
} from '../protocol/index.ts'
import { transportOptions } from '../protocol/transport.ts'
import { InvalidReceiptError, ProviderRejectedError } from '../client/index.ts'
import { nextReceiptsRoot, parseReceipt, receiptCost } from '../protocol/cells.ts'
import { helloProof } from '../protocol/wire/hello.ts'
import type { JobResult } from '../protocol/wire/frames.ts'
import { GLOBAL_ID, startLocalNet, type LocalNet } from './localnet.ts'

const x = (n = 64): Tensor => float32Tensor('x', [1, n], Array.from({ length: n }, (_, i) => i / n))

describe('bad input gets a typed error and the node keeps serving', () => {
  let net: LocalNet
  let node: Awaited<ReturnType<LocalNet['addNode']>>['node']
  let raw: Libp2p
  let channel: Address
  let modelHash: Uint8Array
  let clientKey: { secretKey: Buffer }

  /** A raw session on the node, bound (with the client key's proof) to the test client's channel, for sending hand-made frames. */
  async function rawSession (bind = true): Promise<FrameStream> {
    const frames = new FrameStream(await raw.dialProtocol(node.addresses[0]!, JOB_PROTOCOL))
    if (bind) {
      await frames.write({ hello: { channel: '', signature: new Uint8Array(0) } })
      const { welcome } = await frames.read()
      const proof = helloProof({ globalId: GLOBAL_ID, channel, nodeKey: node.identity.keyPair.publicKey, nonce: welcome!.nonce })
      await frames.write({ hello: { channel: channel.toRawString(), signature: signCell(proof, clientKey.secretKey) } })
      expect((await frames.read()).kind).toBe('welcome')
    }
    return frames
  }

  /** Pays a raw session's result: the channel's account lives on at the node, so nothing may stay owed. */
  async function pay (frames: FrameStream, result: JobResult): Promise<void> {
    const cell = Cell.fromBoc(Buffer.from(result.receipt))[0]!
    const at = node.vouchers.get(channel)
    const v = buildVoucher({ globalId: GLOBAL_ID, channel, seqno: at.seqno + 1, amount: at.amount + receiptCost(parseReceipt(cell)), receiptsRoot: nextReceiptsRoot(at.root, cell) })
    await frames.write({ voucher: { voucher: v.toBoc(), signature: signCell(v, clientKey.secretKey) } })
    expect((await frames.read()).kind).toBe('voucherAck')
  }

  async function errorFor (frames: FrameStream, frame: Frame): Promise<string> {
    await frames.write(frame)
    const reply = await frames.read()
    return reply.kind === 'error' ? reply.error!.code : `got ${reply.kind}`
  }

  beforeAll(async () => {
    net = await startLocalNet()
    ;({ node } = await net.addNode())
    const { client, wallet: w } = await net.addClient()
    clientKey = w.keyPair
    const provider = await client.connect(node.addresses[0]!)
    channel = await client.openChannel(provider, toNano('1'))
    modelHash = provider.session.model('mlp-64-10').hash
    await provider.session.close()
    raw = await createLibp2p(transportOptions(undefined))
  })
  afterAll(async () => {
    await raw?.stop()
    await net?.close()
  })

  it('answers a job before any channel with NO_CHANNEL, and an unknown channel with BAD_CHANNEL', async () => {
    const frames = await rawSession(false)
    expect(await errorFor(frames, { job: jobRequest({ jobId: 1n, modelHash, inputs: [toWireTensor(x())] }) })).toBe('NO_CHANNEL')
    expect(await errorFor(frames, { hello: { channel: new Address(0, randomBytes(32)).toRawString(), signature: new Uint8Array(64) } })).toBe('BAD_CHANNEL')
    expect(await errorFor(frames, { hello: { channel: 'not an address', signature: new Uint8Array(64) } })).toBe('BAD_CHANNEL')
  })

  it('rejects undecodable frames, unknown models, wrong shapes, dtypes and sizes, then still runs a good job', async () => {
    const frames = await rawSession()
    await frames.stream.send(Uint8Array.from([3, 0xff, 0xff, 0xff]))
    expect((await frames.read()).error?.code).toBe('MALFORMED_FRAME')
    expect(await errorFor(frames, { job: jobRequest({ jobId: 2n, modelHash: new Uint8Array(32), inputs: [toWireTensor(x())] }) })).toBe('UNKNOWN_MODEL')
    expect(await errorFor(frames, { job: jobRequest({ jobId: 3n, modelHash, inputs: [toWireTensor(x(63))] }) })).toBe('BAD_INPUT')
    const int32 = { name: 'x', dtype: 'int32' as const, dims: [1, 64], data: new Uint8Array(256) }
    expect(await errorFor(frames, { job: jobRequest({ jobId: 4n, modelHash, inputs: [toWireTensor(int32)] }) })).toBe('BAD_INPUT')
    const short = { ...toWireTensor(x()), data: new Uint8Array(10) }
    expect(await errorFor(frames, { job: jobRequest({ jobId: 5n, modelHash, inputs: [short] }) })).toBe('MALFORMED_TENSOR')
    expect(await errorFor(frames, { welcome: { providerOwner: '', provider: '', models: [], credit: 0n, lastVoucher: new Uint8Array(), lastVoucherSig: new Uint8Array(), nonce: new Uint8Array(), owed: [] } })).toBe('MALFORMED_FRAME')
    await frames.write({ job: jobRequest({ jobId: 6n, modelHash, inputs: [toWireTensor(x())] }) })
    const ok = await frames.read()
    expect(ok.kind).toBe('result')
    expect(ok.result!.jobId).toBe(6n)
    await pay(frames, ok.result!)
    await frames.stream.close()
  })

  it('cuts off a peer that announces an oversize frame, without affecting another session', async () => {
    const bad = await rawSession(false)
    const good = await rawSession()
    // varint length prefix of 64 MiB, above the frame limit
    await bad.stream.send(Uint8Array.from([0x80, 0x80, 0x80, 0x20]))
    expect((await bad.read()).error?.code).toBe('FRAME_TOO_LARGE')
    await expect(bad.read()).rejects.toThrow()
    await good.write({ job: jobRequest({ jobId: 1n, modelHash, inputs: [toWireTensor(x())] }) })
    const ok = await good.read()
    expect(ok.kind).toBe('result')
    await pay(good, ok.result!)
    await good.stream.close()
  })

  it('refuses vouchers that underpay, are not signed by the client, or replay an old seqno', async () => {
    const frames = await rawSession()
    const welcome = node.vouchers.get(channel)
    await frames.write({ job: jobRequest({ jobId: 10n, modelHash, inputs: [toWireTensor(x())] }) })
    expect((await frames.read()).kind).toBe('result')
    expect(await errorFor(frames, { job: jobRequest({ jobId: 11n, modelHash, inputs: [toWireTensor(x())] }) })).toBe('PAYMENT_REQUIRED')

    const underpaying = buildVoucher({ globalId: GLOBAL_ID, channel, seqno: welcome.seqno + 1, amount: welcome.amount + 1n, receiptsRoot: Buffer.alloc(32) })
    expect(await errorFor(frames, { voucher: { voucher: underpaying.toBoc(), signature: signCell(underpaying, clientKey.secretKey) } })).toBe('UNDERPAID')
    const stranger = await identityFromSeed(randomBytes(32))
    expect(await errorFor(frames, { voucher: { voucher: underpaying.toBoc(), signature: signCell(underpaying, stranger.keyPair.secretKey) } })).toBe('BAD_SIGNATURE')
    expect(await errorFor(frames, { voucher: { voucher: Buffer.from('garbage'), signature: new Uint8Array(64) } })).toBe('MALFORMED_VOUCHER')
    const stale = buildVoucher({ globalId: GLOBAL_ID, channel, seqno: welcome.seqno, amount: welcome.amount, receiptsRoot: welcome.root })
    expect(await errorFor(frames, { voucher: { voucher: stale.toBoc(), signature: signCell(stale, clientKey.secretKey) } })).toBe('STALE_VOUCHER')
    expect(node.vouchers.get(channel).seqno).toBe(welcome.seqno)
    await frames.stream.close()
  })

  it('the client refuses a peer with no Provider contract on chain', async () => {
    const { node: unregistered } = await net.addNode({ register: false })
    const { client } = await net.addClient(toNano('5'))
    const err = await client.connect(unregistered.addresses[0]!).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ProviderRejectedError)
    expect((err as ProviderRejectedError).reason).toBe('NOT_REGISTERED')
  })
})

describe('a node whose receipts are not signed by its on-chain key', () => {
  let net: LocalNet
  beforeAll(async () => { net = await startLocalNet() })
  afterAll(async () => { await net?.close() })

  it('is not paid: the client raises InvalidReceiptError and sends no voucher', async () => {
    // signs receipts with a key that is neither the peer's nor the registered one
    const rogue = await net.addRogueNode({ signer: await identityFromSeed(randomBytes(32)) })
    const { client } = await net.addClient()
    const provider = await client.connect(rogue.address)
    const channel = await client.openChannel(provider, toNano('1'))
    const err = await provider.session.run('mlp-64-10', [x()]).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidReceiptError)
    expect((err as InvalidReceiptError).reason).toBe('BAD_SIGNATURE')
    expect(provider.session.paid.seqno).toBe(0)
    // the session is over; the node still counts the receipt owed on the channel, and the client
    // refuses to pay it on a new session as well
    const again = await client.connect(rogue.address)
    const owed = await again.session.bind(channel).catch((e: unknown) => e)
    expect((owed as InvalidReceiptError).reason).toBe('BAD_SIGNATURE')
    expect(again.session.paid.seqno).toBe(0)
  })
})

describe('per-peer limits cut off a misbehaving peer without affecting others', () => {
  let net: LocalNet
  let node: Awaited<ReturnType<LocalNet['addNode']>>['node']
  let raw: Libp2p
  beforeAll(async () => {
    net = await startLocalNet()
    ;({ node } = await net.addNode({ config: { limits: { idleTimeoutMs: 3000, maxBytesPerSecond: 1024, maxSessionsPerPeer: 2 } } }))
    raw = await createLibp2p(transportOptions(undefined))
  })
  afterAll(async () => {
    await raw?.stop()
    await net?.close()
  })

  const open = async (): Promise<FrameStream> => new FrameStream(await raw.dialProtocol(node.addresses[0]!, JOB_PROTOCOL))

  it('an idle or too slow peer gets IDLE_TIMEOUT and its session ends', async () => {
    const frames = await open()
    await frames.stream.send(Uint8Array.from([0x20])) // a frame that never completes
    const reply = await frames.read({ signal: AbortSignal.timeout(10_000) })
    expect(reply.error?.code).toBe('IDLE_TIMEOUT')
    await expect(frames.read({ signal: AbortSignal.timeout(10_000) })).rejects.toThrow()
  })

  it('a peer over its byte budget gets RATE_LIMITED; a peer over its session limit gets OVERLOADED', async () => {
    const frames = await open()
    const payload = new Uint8Array(2.5 * 1024 * 1024)
    let code: string | undefined
    for (let i = 0; i < 8 && code === undefined; i++) {
      await frames.write({ voucher: { voucher: payload, signature: new Uint8Array(64) } })
      const r = await frames.read({ signal: AbortSignal.timeout(10_000) })
      if (r.error?.code === 'RATE_LIMITED') code = r.error.code
    }
    expect(code).toBe('RATE_LIMITED')
    const other = await createLibp2p(transportOptions(undefined))
    try {
      const s1 = new FrameStream(await other.dialProtocol(node.addresses[0]!, JOB_PROTOCOL))
      const s2 = new FrameStream(await other.dialProtocol(node.addresses[0]!, JOB_PROTOCOL))
      const s3 = new FrameStream(await other.dialProtocol(node.addresses[0]!, JOB_PROTOCOL))
      expect((await s3.read({ signal: AbortSignal.timeout(5_000) })).error?.code).toBe('OVERLOADED')
      await s1.write({ hello: { channel: '', signature: new Uint8Array(0) } })
      expect((await s1.read()).kind).toBe('welcome')
      await s2.stream.close()
    } finally {
      await other.stop()
    }
  })
})
