import { Address, beginCell } from '@ton/core'
import { describe, expect, it } from 'vitest'
import {
  jobRequest, buildReceipt, buildVoucher, cellFromBoc, decodeFrame, encodeFrame, float32Tensor, fromWireTensors, hashTensors,
  identityFromSeed, nextReceiptsRoot, parseReceipt, parseVoucher, peerPublicKey, ProtocolError, signCell,
  toWireTensor, verifyCell, ZERO_ROOT, type Receipt, type Voucher
} from './index.ts'

const channel = Address.parse('0:' + '11'.repeat(32))
const receipt: Receipt = {
  channel,
  jobId: 7n,
  units: 3,
  price: 1_000_000n,
  deterministic: true,
  time: 1_760_000_000,
  modelHash: Buffer.alloc(32, 0xaa),
  inputHash: Buffer.alloc(32, 0xbb),
  outputHash: Buffer.alloc(32, 0xcc)
}
const voucher: Voucher = { channel, seqno: 5, amount: 3_000_000n, receiptsRoot: Buffer.alloc(32, 0xdd) }

function errorCode (fn: () => unknown): string {
  try { fn() } catch (err) { if (err instanceof ProtocolError) return err.code; throw err }
  return 'no error'
}

describe('receipt and voucher cells', () => {
  it('round-trip and keep their golden hashes (a change here breaks every deployed contract)', () => {
    const r = buildReceipt(receipt)
    const parsedReceipt = parseReceipt(r)
    expect(parsedReceipt.channel.equals(channel)).toBe(true)
    expect({ ...parsedReceipt, channel: null }).toEqual({ ...receipt, channel: null })
    expect(r.hash().toString('hex')).toBe('49f7d5aecfc5c3ee526d2fdbd7566834416c1463c7b02e97f1f202c9228fe184')
    const v = buildVoucher(voucher)
    const parsedVoucher = parseVoucher(v)
    expect(parsedVoucher.channel.equals(channel)).toBe(true)
    expect({ ...parsedVoucher, channel: null }).toEqual({ ...voucher, channel: null })
    expect(v.hash().toString('hex')).toBe('6150ba0d28ae6f5930def25da0dd549ed5f0f7f5a5e850b84b727e4268daad5a')
  })

  it('chains receipts into a root that depends on every receipt and its order', () => {
    const a = buildReceipt(receipt)
    const b = buildReceipt({ ...receipt, jobId: 8n })
    const ab = nextReceiptsRoot(nextReceiptsRoot(ZERO_ROOT, a), b)
    const ba = nextReceiptsRoot(nextReceiptsRoot(ZERO_ROOT, b), a)
    expect(ab.equals(ba)).toBe(false)
    expect(ab.toString('hex')).toBe('b1a1ac624254274b7a6200c67b001f14b1d446f76f2044fe4786964d9980d454')
  })

  it('rejects a voucher parsed as a receipt, trailing data and garbage BOCs with typed errors', () => {
    expect(errorCode(() => parseReceipt(buildVoucher(voucher)))).toBe('MALFORMED_RECEIPT')
    expect(errorCode(() => parseVoucher(buildReceipt(receipt)))).toBe('MALFORMED_VOUCHER')
    const trailing = beginCell().storeSlice(buildVoucher(voucher).beginParse()).storeUint(1, 1).endCell()
    expect(errorCode(() => parseVoucher(trailing))).toBe('MALFORMED_VOUCHER')
    expect(errorCode(() => cellFromBoc(Buffer.from('not a boc'), 'MALFORMED_VOUCHER'))).toBe('MALFORMED_VOUCHER')
    expect(errorCode(() => cellFromBoc(new Uint8Array(0), 'MALFORMED_RECEIPT'))).toBe('MALFORMED_RECEIPT')
  })
})

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
    const two = encodeFrame({ hello: { channel: 'x' }, voucherAck: { seqno: 1 } })
    expect(errorCode(() => decodeFrame(two))).toBe('MALFORMED_FRAME')
  })
})
