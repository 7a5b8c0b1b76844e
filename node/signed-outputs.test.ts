import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { jobSpecHash } from '../protocol/spec.ts'
import { DEFAULT_SIGNED_OUTPUTS, SignedOutputs } from './signed-outputs.ts'

const h = (s: string): Buffer => createHash('sha256').update(s).digest()
const model = h('model')
const spec = jobSpecHash('cpu;intra=1;inter=1;batch=off', h('input'))

describe('SignedOutputs', () => {
  it('admits the first output for a spec and the same output again, never a different one', () => {
    const signed = new SignedOutputs()
    expect(signed.admit(model, spec, h('out-a'))).toBe(true)
    expect(signed.admit(model, spec, h('out-a'))).toBe(true)
    expect(signed.admit(model, spec, h('out-b'))).toBe(false)
    // the refused output did not replace the signed one
    expect(signed.signedFor(model, spec)?.equals(h('out-a'))).toBe(true)
    expect(signed.admit(model, spec, h('out-a'))).toBe(true)
    expect(signed.size).toBe(1)
  })

  it('keeps specs apart: another model, another input or another execution path is another job', () => {
    const signed = new SignedOutputs()
    expect(signed.admit(model, spec, h('out-a'))).toBe(true)
    expect(signed.admit(h('other model'), spec, h('out-b'))).toBe(true)
    expect(signed.admit(model, jobSpecHash('cpu;intra=1;inter=1;batch=off', h('other input')), h('out-b'))).toBe(true)
    // a CUDA→CPU fallback runs under another execution path, so its spec differs
    expect(signed.admit(model, jobSpecHash('cuda;intra=1;inter=1;batch=off', h('input')), h('out-b'))).toBe(true)
    expect(signed.size).toBe(4)
  })

  it('is bounded: beyond capacity the least recently used spec is forgotten first', () => {
    const signed = new SignedOutputs(3)
    const specs = [h('s0'), h('s1'), h('s2'), h('s3')]
    for (const s of specs.slice(0, 3)) expect(signed.admit(model, s, h('x'))).toBe(true)
    expect(signed.admit(model, specs[0]!, h('x'))).toBe(true) // s0 used again: s1 is now the oldest
    expect(signed.admit(model, specs[3]!, h('x'))).toBe(true)
    expect(signed.size).toBe(3)
    expect(signed.signedFor(model, specs[1]!)).toBeUndefined()
    expect(signed.admit(model, specs[0]!, h('y'))).toBe(false)
    expect(signed.admit(model, specs[2]!, h('y'))).toBe(false)
    expect(new SignedOutputs().capacity).toBe(DEFAULT_SIGNED_OUTPUTS)
  })

  it('refuses malformed hashes and capacities with RangeError', () => {
    const signed = new SignedOutputs()
    expect(() => signed.admit(model.subarray(1), spec, h('o'))).toThrow(RangeError)
    expect(() => signed.admit(model, spec, Buffer.alloc(31))).toThrow(RangeError)
    expect(signed.size).toBe(0)
    expect(() => new SignedOutputs(0)).toThrow(RangeError)
    expect(() => new SignedOutputs(1.5)).toThrow(RangeError)
  })

  it('reads hashes at any offset of a shared buffer', () => {
    const signed = new SignedOutputs()
    const pool = Buffer.concat([Buffer.alloc(7), model, spec, h('o')])
    const [m, s, o] = [pool.subarray(7, 39), pool.subarray(39, 71), pool.subarray(71, 103)]
    expect(signed.admit(new Uint8Array(m.buffer, m.byteOffset, 32), new Uint8Array(s.buffer, s.byteOffset, 32), o)).toBe(true)
    expect(signed.admit(model, spec, h('p'))).toBe(false)
  })
})
