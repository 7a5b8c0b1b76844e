import { describe, expect, it } from 'vitest'
import { Address, beginCell } from '@ton/core'
import { keyPairFromSeed } from '@ton/crypto'
import { buildReceipt, GLOBAL_IDS, signCell, type Receipt } from '../protocol/cells.ts'
import { jobSpecHash } from '../protocol/spec.ts'
import { ProviderState } from '../contracts/index.ts'
import { InvalidReceiptError, NotEquivocationError, ProviderRejectedError } from './errors.ts'
import { equivocationProof, type SignedReceipt } from './spot-check.ts'
import { checkProvider, verifyReceipt, type ExpectedReceipt, type ProviderFacts } from './verify.ts'

// One negative test per receipt check: each provokes exactly one code with an otherwise valid
// receipt, so deleting any check turns its test red.

const node = keyPairFromSeed(Buffer.alloc(32, 7))
const stranger = keyPairFromSeed(Buffer.alloc(32, 8))
const channel = new Address(0, Buffer.alloc(32, 0xc1))
const EXECUTION = 'cpu;ort=1.30.0;intra=1;inter=1;batch=off'
const inputHash = Buffer.alloc(32, 0x11)
const outputHash = Buffer.alloc(32, 0x22)
const modelHash = Buffer.alloc(32, 0x33)

const want: ExpectedReceipt = {
  nodeKey: node.publicKey,
  globalId: GLOBAL_IDS.local,
  epoch: 4,
  channel,
  jobId: 9n,
  model: { hash: modelHash, pricePerUnit: 10n, deterministic: true, execution: EXECUTION },
  inputHash,
  outputHash,
  maxUnits: 5,
  complete: 'required',
  maxCost: 50n
}

const honest: Receipt = {
  globalId: GLOBAL_IDS.local,
  channel,
  epoch: 4,
  jobId: 9n,
  units: 5,
  price: 10n,
  deterministic: true,
  complete: true,
  time: 1_700_000_000,
  modelHash,
  specHash: jobSpecHash(EXECUTION, inputHash),
  outputHash
}

function signed (over: Partial<Receipt> = {}, key = node.secretKey): { cell: ReturnType<typeof buildReceipt>, sig: Buffer } {
  const cell = buildReceipt({ ...honest, ...over })
  return { cell, sig: signCell(cell, key) }
}

function reason (over: Partial<Receipt>, wanted: Partial<ExpectedReceipt> = {}, key = node.secretKey): string | undefined {
  const { cell, sig } = signed(over, key)
  try {
    verifyReceipt(cell, sig, { ...want, ...wanted })
  } catch (err) {
    if (err instanceof InvalidReceiptError) {
      expect(err.message).not.toBe('') // every refusal says why
      return err.reason
    }
    throw err
  }
  return undefined
}

describe('verifyReceipt: every check refuses what it must', () => {
  it('accepts an honest receipt and returns it parsed', () => {
    const { cell, sig } = signed()
    const r = verifyReceipt(cell, sig, want)
    expect(r.units).toBe(5)
    expect(r.price).toBe(10n)
    expect(reason({}, { maxCost: 50n, maxUnits: 5, units: { min: 5, max: 5 } })).toBeUndefined()
  })

  it('MALFORMED: a cell that is not a receipt', () => {
    const cell = beginCell().storeUint(0xdeadbeef, 32).endCell()
    expect(() => verifyReceipt(cell, signCell(cell, node.secretKey), want)).toThrow(expect.objectContaining({ reason: 'MALFORMED' }))
  })

  it('BAD_SIGNATURE: signed by another key, or the signature of another receipt', () => {
    expect(reason({}, {}, stranger.secretKey)).toBe('BAD_SIGNATURE')
    const { cell } = signed()
    const other = signed({ jobId: 10n })
    expect(() => verifyReceipt(cell, other.sig, want)).toThrow(expect.objectContaining({ reason: 'BAD_SIGNATURE' }))
  })

  it('WRONG_NETWORK: a receipt for another network', () => {
    expect(reason({ globalId: GLOBAL_IDS.testnet })).toBe('WRONG_NETWORK')
  })

  it('WRONG_EPOCH: a receipt of another registration of the provider', () => {
    expect(reason({ epoch: 3 })).toBe('WRONG_EPOCH')
  })

  it('WRONG_CHANNEL: a receipt for another channel', () => {
    expect(reason({ channel: new Address(0, Buffer.alloc(32, 0xc2)) })).toBe('WRONG_CHANNEL')
  })

  it('WRONG_JOB: a receipt for another job', () => {
    expect(reason({ jobId: 8n })).toBe('WRONG_JOB')
  })

  it('WRONG_MODEL: a receipt naming another model', () => {
    expect(reason({ modelHash: Buffer.alloc(32, 0x34) })).toBe('WRONG_MODEL')
  })

  it('SPEC_MISMATCH: another input, other parameters or another execution path', () => {
    expect(reason({ specHash: jobSpecHash(EXECUTION, Buffer.alloc(32, 0x12)) })).toBe('SPEC_MISMATCH')
    expect(reason({ specHash: jobSpecHash('cuda;ort=1.30.0;intra=1;inter=1;batch=off', inputHash) })).toBe('SPEC_MISMATCH')
    expect(reason({ specHash: inputHash })).toBe('SPEC_MISMATCH') // the bare input hash is not a spec
  })

  it('OUTPUT_MISMATCH: an output hash that is not what was received', () => {
    expect(reason({ outputHash: Buffer.alloc(32, 0x23) })).toBe('OUTPUT_MISMATCH')
  })

  it('WRONG_PRICE: another price per unit than offered, above or below', () => {
    expect(reason({ price: 11n }, { maxCost: 10_000n })).toBe('WRONG_PRICE')
    expect(reason({ price: 9n })).toBe('WRONG_PRICE')
  })

  it('WRONG_DETERMINISM: claims another determinism than offered', () => {
    expect(reason({ deterministic: false })).toBe('WRONG_DETERMINISM')
    expect(reason({}, { model: { ...want.model, deterministic: false } })).toBe('WRONG_DETERMINISM')
  })

  it('INCOMPLETE: a partial result where nothing was cancelled; accepted after a cancel', () => {
    expect(reason({ complete: false })).toBe('INCOMPLETE')
    expect(reason({ complete: false }, { complete: 'any' })).toBeUndefined()
    expect(reason({ complete: true }, { complete: 'any' })).toBeUndefined()
  })

  it('WRONG_UNITS: more units than the request allows', () => {
    expect(reason({ units: 6 }, { maxCost: 10_000n })).toBe('WRONG_UNITS')
  })

  it('WRONG_UNITS: not the units the delivered output is worth', () => {
    expect(reason({ units: 4 }, { units: { min: 5, max: 5 } })).toBe('WRONG_UNITS')
    expect(reason({ units: 5 }, { units: { min: 3, max: 4 } })).toBe('WRONG_UNITS')
    expect(reason({ units: 3 }, { units: { min: 3, max: 4 } })).toBeUndefined()
    expect(reason({ units: 4 }, { units: { min: 3, max: 4 } })).toBeUndefined()
  })

  it('TOO_EXPENSIVE: a cost above the job\'s maxCost, even at the offered price', () => {
    expect(reason({}, { maxCost: 49n })).toBe('TOO_EXPENSIVE')
    expect(reason({ units: 4 }, { maxCost: 40n })).toBeUndefined()
  })
})

function sr (over: Partial<Receipt>): SignedReceipt {
  const receipt = { ...honest, ...over }
  const { cell, sig } = signed(over)
  return { receipt, receiptCell: cell, signature: sig }
}

describe('equivocationProof: built only from two receipts that really contradict each other', () => {
  const a = sr({})
  const b = sr({ outputHash: Buffer.alloc(32, 0x99), jobId: 10n })

  function why (x: SignedReceipt, y: SignedReceipt): string | undefined {
    try {
      equivocationProof(x, y)
    } catch (err) {
      if (err instanceof NotEquivocationError) {
        expect(err.message).not.toBe('') // every refusal says why
        return err.reason
      }
      throw err
    }
    return undefined
  }

  it('two complete deterministic receipts, one spec, two outputs: a proof of both signed cells', () => {
    const proof = equivocationProof(a, b)
    expect(proof.receiptA.hash().equals(a.receiptCell.hash())).toBe(true)
    expect(proof.receiptB.hash().equals(b.receiptCell.hash())).toBe(true)
    expect(Buffer.from(proof.sigA).equals(a.signature)).toBe(true)
    expect(Buffer.from(proof.sigB).equals(b.signature)).toBe(true)
  })

  it('the cancel attack: a partial result is never half of a proof', () => {
    expect(why(a, sr({ outputHash: Buffer.alloc(32, 0x99), complete: false }))).toBe('INCOMPLETE')
    expect(why(sr({ outputHash: Buffer.alloc(32, 0x99), complete: false }), a)).toBe('INCOMPLETE')
  })

  it('refuses nondeterministic results, other networks, epochs, models and specs, and agreeing outputs', () => {
    const other = { outputHash: Buffer.alloc(32, 0x99) }
    expect(why(a, sr({ ...other, deterministic: false }))).toBe('NOT_DETERMINISTIC')
    expect(why(sr({ deterministic: false }), b)).toBe('NOT_DETERMINISTIC')
    expect(why(a, sr({ ...other, globalId: GLOBAL_IDS.testnet }))).toBe('DIFFERENT_NETWORK')
    expect(why(a, sr({ ...other, epoch: 5 }))).toBe('DIFFERENT_EPOCH')
    expect(why(a, sr({ ...other, modelHash: Buffer.alloc(32, 0x34) }))).toBe('DIFFERENT_MODEL')
    // a CUDA→CPU fallback, or other generation parameters, is another spec
    expect(why(a, sr({ ...other, specHash: jobSpecHash('cuda;ort=1.30.0;intra=1;inter=1;batch=off', inputHash) }))).toBe('DIFFERENT_SPEC')
    expect(why(a, sr({ jobId: 10n }))).toBe('SAME_OUTPUT')
  })
})

describe('checkProvider: the Provider contract must hold the peer\'s key, enough stake, and be active', () => {
  const active: ProviderFacts = { nodeKey: BigInt('0x' + node.publicKey.toString('hex')), stake: 10n, state: ProviderState.active }
  function rejection (data: typeof active, minStake = 10n): string | undefined {
    try {
      checkProvider(data, node.publicKey, minStake)
    } catch (err) {
      if (err instanceof ProviderRejectedError) {
        expect(err.message).not.toBe('') // every refusal says why
        return err.reason
      }
      throw err
    }
    return undefined
  }

  it('accepts a staked, active Provider of the peer\'s key at exactly the minimum stake', () => {
    expect(rejection(active)).toBeUndefined()
  })

  it('KEY_MISMATCH: another node key on chain', () => {
    expect(rejection({ ...active, nodeKey: BigInt('0x' + stranger.publicKey.toString('hex')) })).toBe('KEY_MISMATCH')
  })

  it('STAKE_TOO_LOW: one nanoton under the minimum', () => {
    expect(rejection(active, 11n)).toBe('STAKE_TOO_LOW')
  })

  it('NOT_ACTIVE: unbonding or slashed', () => {
    expect(rejection({ ...active, state: ProviderState.unbonding })).toBe('NOT_ACTIVE')
    expect(rejection({ ...active, state: ProviderState.slashed })).toBe('NOT_ACTIVE')
  })
})
