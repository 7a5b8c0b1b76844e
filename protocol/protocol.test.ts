import { Address } from '@ton/core'
import { describe, expect, it } from 'vitest'
import {
  jobRequest, buildReceipt, decodeFrame, encodeFrame, float32Tensor, fromWireTensors, GLOBAL_IDS, hashTensors,
  identityFromSeed, peerPublicKey, ProtocolError, signCell, toWireTensor, verifyCell, type Receipt
} from './index.ts'

const channel = Address.parse('0:' + '11'.repeat(32))
const receipt: Receipt = {
  globalId: GLOBAL_IDS.local,
  channel,
  epoch: 1,
  jobId: 7n,
  units: 3,
  price: 1_000_000n,
  deterministic: true,
  complete: true,
  time: 1_760_000_000,
  modelHash: Buffer.alloc(32, 0xaa),
  specHash: Buffer.alloc(32, 0xbb),
  outputHash: Buffer.alloc(32, 0xcc)
}

function errorCode (fn: () => unknown): string {
  try { fn() } catch (err) { if (err instanceof ProtocolError) return err.code; throw err }
  return 'no error'
}

// The signed records (receipt, voucher, close request, registration) are tested field by field in
// protocol/cells.test.ts; here: keys, tensors and frames.

describe('one key per node', () => {
  it('libp2p and @ton/crypto derive the same public key and identical signatures from one seed', async () => {
    const id = await identityFromSeed(Buffer.alloc(32, 7))
    expect(peerPublicKey(id.peerId)?.equals(id.keyPair.publicKey)).toBe(true)
    const cell = buildReceipt(receipt)
    const tonSig = signCell(cell, id.keyPair.secretKey)
    const p2pSig = await id.privateKey.sign(cell.hash())
    expect(Buffer.from(p2pSig).equals(tonSig)).toBe(true)
    expect(verifyCell(cell, tonSig, id.keyPair.publicKey)).toBe(true)
  })

  it('a signature by another key or over another cell does not verify', async () => {
    const node = await identityFromSeed(Buffer.alloc(32, 1))
    const other = await identityFromSeed(Buffer.alloc(32, 2))
    const cell = buildReceipt(receipt)
    const sig = signCell(cell, other.keyPair.secretKey)
    expect(verifyCell(cell, sig, node.keyPair.publicKey)).toBe(false)
    expect(verifyCell(buildReceipt({ ...receipt, units: 4 }), signCell(cell, node.keyPair.secretKey), node.keyPair.publicKey)).toBe(false)
    expect(verifyCell(cell, sig.subarray(0, 63), other.keyPair.publicKey)).toBe(false)
  })
})

describe('tensors', () => {
  const x = float32Tensor('x', [1, 4], [1, 2, 3, 4])
  const y = float32Tensor('y', [2], [0.5, -1])

  it('hash canonically: order of tensors does not matter, any byte, dim or name does', () => {
    expect(hashTensors([x, y]).equals(hashTensors([y, x]))).toBe(true)
    expect(hashTensors([x, y]).toString('hex')).toBe('3333dd855e2632a76db7da6864c4d03d6aabc0f8992c733f8e85077f5969f8cd')
    const reshaped = { ...x, dims: [4, 1] }
    expect(hashTensors([reshaped]).equals(hashTensors([x]))).toBe(false)
    const renamed = { ...x, name: 'z' }
    expect(hashTensors([renamed]).equals(hashTensors([x]))).toBe(false)
  })

  it('survive the wire and are validated on the way in', () => {
    const frame = decodeFrame(encodeFrame({ job: jobRequest({ jobId: 1n, modelHash: new Uint8Array(32), inputs: [toWireTensor(x)] }) }))
    expect(frame.kind).toBe('job')
    const [back] = fromWireTensors(frame.job!.inputs)
    expect(hashTensors([back!]).equals(hashTensors([x]))).toBe(true)
    const short = { ...toWireTensor(x), data: new Uint8Array(15) }
    expect(errorCode(() => fromWireTensors([short]))).toBe('MALFORMED_TENSOR')
    expect(errorCode(() => fromWireTensors([toWireTensor(x), toWireTensor(x)]))).toBe('MALFORMED_TENSOR')
  })
})

describe('frames', () => {
  it('reject garbage, empty and two-body frames with MALFORMED_FRAME', () => {
    expect(errorCode(() => decodeFrame(Uint8Array.from([0xff, 0xff, 0xff])))).toBe('MALFORMED_FRAME')
    expect(errorCode(() => decodeFrame(new Uint8Array(0)))).toBe('MALFORMED_FRAME')
    const two = encodeFrame({ hello: { channel: 'x', signature: new Uint8Array(64) }, voucherAck: { seqno: 1 } })
    expect(errorCode(() => decodeFrame(two))).toBe('MALFORMED_FRAME')
  })
})
