import { Address, beginCell } from '@ton/core'
import { describe, expect, it } from 'vitest'
import {
  jobRequest, buildReceipt, buildVoucher, cellFromBoc, decodeFrame, encodeFrame, float32Tensor, fromWireTensors, parseReceipt,
  parseVoucher, ProtocolError, toWireTensor
} from '../protocol/index.ts'
import { ConfigError, parseNodeConfig } from '../node/config.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { decodeAdvert, decodeAdvertRequest, decodeAdvertResponse, encodeAdvertResponse, signAdvert } from '../protocol/advert.ts'
import { AttestationError, decodeAttestRequest, decodeAttestResponse, encodeAttestRequest, encodeAttestResponse } from '../protocol/attestation.ts'

// Every decoder gets 10,000 random and mutated inputs: none may crash or throw anything but its
// typed error. A seeded PRNG makes a failure reproducible.

const RUNS = 10_000

function prng (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Random bytes, or a valid sample with a few bytes flipped, truncated or extended. */
function fuzzInputs (samples: Uint8Array[], seed: number): Uint8Array[] {
  const rand = prng(seed)
  const out: Uint8Array[] = []
  for (let i = 0; i < RUNS; i++) {
    if (i % 2 === 0) {
      out.push(Uint8Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)))
      continue
    }
    const base = Uint8Array.from(samples[i % samples.length]!)
    const mutated = base.length > 0 ? base : new Uint8Array(1)
    const flips = 1 + Math.floor(rand() * 4)
    for (let f = 0; f < flips; f++) mutated[Math.floor(rand() * mutated.length)] = Math.floor(rand() * 256)
    const cut = rand() < 0.3 ? Math.floor(rand() * mutated.length) : mutated.length
    out.push(rand() < 0.1 ? Uint8Array.from([...mutated, ...Array.from({ length: 8 }, () => Math.floor(rand() * 256))]) : mutated.subarray(0, cut))
  }
  return out
}

function expectOnlyTyped (inputs: Uint8Array[], decode: (b: Uint8Array) => unknown, isTyped: (e: unknown) => boolean): { ok: number, rejected: number } {
  let ok = 0
  let rejected = 0
  for (const input of inputs) {
    try {
      decode(input)
      ok++
    } catch (err) {
      if (!isTyped(err)) throw new Error(`untyped failure on ${Buffer.from(input).toString('hex')}: ${String(err)}`)
      rejected++
    }
  }
  return { ok, rejected }
}

const isProtocolError = (e: unknown): boolean => e instanceof ProtocolError
const channel = Address.parse('0:' + '22'.repeat(32))
const receipt = buildReceipt({ globalId: -7331, channel, epoch: 1, jobId: 1n, units: 2, price: 5n, deterministic: true, complete: true, time: 1, modelHash: Buffer.alloc(32, 1), specHash: Buffer.alloc(32, 2), outputHash: Buffer.alloc(32, 3) })
const voucher = buildVoucher({ globalId: -7331, channel, seqno: 3, amount: 10n, receiptsRoot: Buffer.alloc(32, 4) })

describe('fuzzing every decoder (10,000 inputs each)', () => {
  it('job frames: decodeFrame and tensor conversion', () => {
    const x = toWireTensor(float32Tensor('x', [2, 3], [1, 2, 3, 4, 5, 6]))
    const samples = [
      encodeFrame({ job: jobRequest({ jobId: 9n, modelHash: new Uint8Array(32), inputs: [x] }) }),
      encodeFrame({ hello: { channel: channel.toRawString(), signature: new Uint8Array(64).fill(5) } }),
      encodeFrame({ voucher: { voucher: voucher.toBoc(), signature: new Uint8Array(64) } }),
      encodeFrame({ error: { jobId: 1n, code: 'BAD_INPUT', message: 'm' } })
    ]
    const { rejected } = expectOnlyTyped(fuzzInputs(samples, 1), (b) => {
      const f = decodeFrame(b)
      if (f.job !== undefined) fromWireTensors(f.job.inputs)
      if (f.result !== undefined) fromWireTensors(f.result.outputs)
    }, isProtocolError)
    expect(rejected).toBeGreaterThan(RUNS / 4)
  })

  it('receipts: BOC decoding and parsing', () => {
    const { rejected } = expectOnlyTyped(fuzzInputs([receipt.toBoc()], 2), (b) => parseReceipt(cellFromBoc(b, 'MALFORMED_RECEIPT')), isProtocolError)
    expect(rejected).toBeGreaterThan(RUNS / 2)
  })

  it('vouchers: BOC decoding and parsing', () => {
    const { rejected } = expectOnlyTyped(fuzzInputs([voucher.toBoc()], 3), (b) => parseVoucher(cellFromBoc(b, 'MALFORMED_VOUCHER')), isProtocolError)
    expect(rejected).toBeGreaterThan(RUNS / 2)
  })

  it('receipts and vouchers at the cell level (past the BOC checksum): mutated bits and refs', () => {
    const rand = prng(5)
    const mutate = (bits: Buffer): Buffer => {
      const b = Buffer.from(bits)
      for (let f = 0; f < 1 + Math.floor(rand() * 3); f++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256)
      return b.subarray(0, rand() < 0.3 ? Math.floor(rand() * b.length) : b.length)
    }
    const rBits = receipt.beginParse().loadBuffer(Math.floor(receipt.bits.length / 8))
    const vBits = voucher.beginParse().loadBuffer(Math.floor(voucher.bits.length / 8))
    let typed = 0
    for (let i = 0; i < RUNS; i++) {
      const refs = rand() < 0.5 ? [receipt.refs[0]!] : rand() < 0.5 ? [] : [beginCell().storeBuffer(mutate(Buffer.alloc(96, 7))).endCell()]
      const r = beginCell().storeBuffer(mutate(rBits))
      for (const ref of refs) r.storeRef(ref)
      const v = beginCell().storeBuffer(mutate(vBits))
      for (const fn of [() => parseReceipt(r.endCell()), () => parseVoucher(v.endCell())]) {
        try { fn() } catch (err) {
          if (!(err instanceof ProtocolError)) throw err
          typed++
        }
      }
    }
    expect(typed).toBeGreaterThan(RUNS / 2)
  })

  it('adverts (gossip and /silk/advert responses) and attestation messages', async () => {
    const key = await generateKeyPair('Ed25519')
    const peerId = peerIdFromPrivateKey(key)
    const signed = await signAdvert({
      peerId, provider: channel.toString(), providerOwner: channel.toString(),
      models: [{ hash: new Uint8Array(32).fill(9), name: 'm', task: 'tensor', pricePerUnit: 5n, deterministic: true, execution: 'cpu;intra=1;inter=1;batch=off' }],
      capacity: 4, tee: 'none', expires: Math.floor(Date.now() / 1000) + 600, seq: 1n, addrs: [], teeEvidence: new Uint8Array(32).fill(1)
    }, key)
    const advertBytes = encodeAdvertResponse([signed])
    let typed = 0
    for (const input of fuzzInputs([advertBytes, signed.bytes], 6)) {
      for (const decode of [async () => await decodeAdvert(input), async () => await decodeAdvertResponse(input), async () => { decodeAdvertRequest(input) }]) {
        try { await decode() } catch (err) {
          if (!(err instanceof ProtocolError)) throw new Error(`untyped advert failure: ${String(err)}`)
          typed++
        }
      }
    }
    const evidence = encodeAttestResponse({ evidence: { kind: 'dev', expiresAt: 1_900_000_000, quote: new Uint8Array(200).fill(3) } })
    for (const input of fuzzInputs([evidence, encodeAttestRequest(new Uint8Array(32).fill(4))], 7)) {
      for (const decode of [() => decodeAttestResponse(input), () => { decodeAttestRequest(input) }]) {
        try { decode() } catch (err) {
          if (!(err instanceof AttestationError) && !(err instanceof ProtocolError)) throw new Error(`untyped attestation failure: ${String(err)}`)
          typed++
        }
      }
    }
    expect(typed).toBeGreaterThan(RUNS)
  })

  it('config files: JSON text through the config schema', () => {
    const good = Buffer.from(JSON.stringify({
      keyFile: 'k', providerOwner: channel.toString(), modelsDir: 'm', dataDir: 'd',
      chain: { network: 'local', endpoint: 'http://127.0.0.1:1/jsonRPC', registry: channel.toString() }
    }))
    const { ok } = expectOnlyTyped(fuzzInputs([good], 4), (b) => {
      let raw: unknown
      try { raw = JSON.parse(Buffer.from(b).toString('utf8')) } catch { throw new ConfigError('not JSON') }
      return parseNodeConfig(raw, '/tmp')
    }, (e) => e instanceof ConfigError)
    expect(ok).toBeLessThan(RUNS)
  })
})
