import { Address, beginCell } from '@ton/core'
import { keyPairFromSeed } from '@ton/crypto'
import { describe, expect, it } from 'vitest'
import { buildReceipt, GLOBAL_IDS, signCell, type Receipt } from '../protocol/cells.ts'
import { jobSpecHash } from '../protocol/spec.ts'
import { InvalidReceiptError, type ReceiptErrorCode } from './errors.ts'
import { verifyReceipt, type ExpectedReceipt } from './verify.ts'

// client/verify.ts, one check at a time: a receipt that is right in every field but one is refused
// with that field's code, and each bound is exact (the value at the bound passes, one past it fails).

const node = keyPairFromSeed(Buffer.alloc(32, 1))
const stranger = keyPairFromSeed(Buffer.alloc(32, 2))
const channel = Address.parse('0:' + '11'.repeat(32))
const EXECUTION = 'cpu;intra=1;inter=1;batch=off'
const inputHash = Buffer.alloc(32, 0x21)
const outputHash = Buffer.alloc(32, 0x22)
const modelHash = Buffer.alloc(32, 0x23)

const want: ExpectedReceipt = {
  nodeKey: node.publicKey,
  globalId: GLOBAL_IDS.testnet,
  epoch: 3,
  channel,
  jobId: 41n,
  model: { hash: modelHash, pricePerUnit: 1_000n, deterministic: true, execution: EXECUTION },
  inputHash,
  outputHash,
  maxUnits: 10,
  complete: 'required',
  maxCost: 10_000n
}

const honest: Receipt = {
  globalId: GLOBAL_IDS.testnet,
  channel,
  epoch: 3,
  jobId: 41n,
  units: 7,
  price: 1_000n,
  deterministic: true,
  complete: true,
  time: 1_760_000_000,
  modelHash,
  specHash: jobSpecHash(EXECUTION, inputHash),
  outputHash
}

function check (r: Partial<Receipt>, w: Partial<ExpectedReceipt> = {}, key = node.secretKey): Receipt {
  const cell = buildReceipt({ ...honest, ...r })
  return verifyReceipt(cell, signCell(cell, key), { ...want, ...w })
}

function refusal (fn: () => unknown): { reason: ReceiptErrorCode, message: string } {
  try { fn() } catch (err) {
    if (err instanceof InvalidReceiptError) return { reason: err.reason, message: err.message }
    throw err
  }
  throw new Error('the receipt was accepted')
}

describe('verifyReceipt', () => {
  it('accepts the honest receipt and returns it parsed', () => {
    const r = check({})
    expect(r.channel.equals(channel)).toBe(true)
    expect({ ...r, channel: null }).toEqual({ ...honest, channel: null })
  })

  it('MALFORMED: a cell that is not a receipt', () => {
    const cell = beginCell().storeUint(0xdeadbeef, 32).endCell()
    expect(refusal(() => verifyReceipt(cell, signCell(cell, node.secretKey), want))).toEqual({ reason: 'MALFORMED', message: 'not a receipt (bad tag)' })
  })

  it('BAD_SIGNATURE: signed by another key, or a signature over another receipt', () => {
    expect(refusal(() => check({}, {}, stranger.secretKey))).toEqual({ reason: 'BAD_SIGNATURE', message: 'receipt is not signed by the provider\'s node key' })
    const cell = buildReceipt(honest)
    const other = buildReceipt({ ...honest, units: 6 })
    expect(refusal(() => verifyReceipt(cell, signCell(other, node.secretKey), want)).reason).toBe('BAD_SIGNATURE')
  })

  const fieldChecks: Array<[ReceiptErrorCode, Partial<Receipt>, RegExp]> = [
    ['WRONG_NETWORK', { globalId: GLOBAL_IDS.mainnet }, /^receipt is for network -239, not -3$/],
    ['WRONG_EPOCH', { epoch: 4 }, /^receipt names registration epoch 4; the provider's is 3$/],
    ['WRONG_CHANNEL', { channel: Address.parse('0:' + '12'.repeat(32)) }, /^receipt names another channel$/],
    ['WRONG_JOB', { jobId: 42n }, /^receipt is for job 42, not 41$/],
    ['WRONG_MODEL', { modelHash: Buffer.alloc(32, 0x24) }, /^receipt names another model$/],
    ['SPEC_MISMATCH', { specHash: jobSpecHash('cuda;intra=1;inter=1;batch=off', inputHash) }, /job spec \(input, parameters, execution path\) does not match/],
    ['SPEC_MISMATCH', { specHash: jobSpecHash(EXECUTION, Buffer.alloc(32, 0x25)) }, /does not match what was sent/],
    ['SPEC_MISMATCH', { specHash: inputHash }, /does not match/],
    ['OUTPUT_MISMATCH', { outputHash: Buffer.alloc(32, 0x26) }, /^receipt output hash does not match what was received$/],
    ['WRONG_PRICE', { price: 1_001n }, /^receipt charges 1001 per unit; the provider offered 1000$/],
    ['WRONG_PRICE', { price: 999n }, /charges 999 per unit/],
    ['WRONG_DETERMINISM', { deterministic: false }, /^receipt says deterministic=false; the provider offered true$/],
    ['INCOMPLETE', { complete: false }, /^receipt marks the result partial, but nothing was cancelled$/]
  ]
  for (const [code, change, message] of fieldChecks) {
    it(`${code}: ${Object.keys(change).join(', ')} differs from what was sent, received or offered`, () => {
      const r = refusal(() => check(change))
      expect(r.reason).toBe(code)
      expect(r.message).toMatch(message)
    })
  }

  it('WRONG_DETERMINISM both ways: a non-deterministic offer refuses a receipt claiming determinism', () => {
    expect(refusal(() => check({}, { model: { ...want.model, deterministic: false } })).message).toBe('receipt says deterministic=true; the provider offered false')
    expect(check({ deterministic: false }, { model: { ...want.model, deterministic: false } }).deterministic).toBe(false)
  })

  it('a partial result is accepted once the client cancelled, and a whole one too', () => {
    expect(check({ complete: false }, { complete: 'any' }).complete).toBe(false)
    expect(check({ complete: true }, { complete: 'any' }).complete).toBe(true)
  })

  it('WRONG_UNITS: the request\'s token limit is a bound, exact at the limit', () => {
    expect(check({ units: 10 }).units).toBe(10)
    expect(refusal(() => check({ units: 11 }))).toEqual({ reason: 'WRONG_UNITS', message: 'receipt bills 11 units; the request allows at most 10' })
  })

  it('WRONG_UNITS: the units delivered, when the client can count them, exact at both ends', () => {
    const units = { min: 5, max: 7 }
    expect(check({ units: 5 }, { units }).units).toBe(5)
    expect(check({ units: 7 }, { units }).units).toBe(7)
    expect(refusal(() => check({ units: 4 }, { units }))).toEqual({ reason: 'WRONG_UNITS', message: 'receipt bills 4 units for a result worth 5…7' })
    expect(refusal(() => check({ units: 8 }, { units }))).toEqual({ reason: 'WRONG_UNITS', message: 'receipt bills 8 units for a result worth 5…7' })
    expect(refusal(() => check({ units: 6 }, { units: { min: 7, max: 7 } }))).toEqual({ reason: 'WRONG_UNITS', message: 'receipt bills 6 units for a result worth 7' })
  })

  it('TOO_EXPENSIVE: units × price above maxCost, exact at the limit', () => {
    expect(check({ units: 7 }, { maxCost: 7_000n }).units).toBe(7)
    expect(refusal(() => check({ units: 7 }, { maxCost: 6_999n }))).toEqual({ reason: 'TOO_EXPENSIVE', message: 'result costs 7000 nanoton, above the limit of 6999' })
  })
})
