import { createHash } from 'node:crypto'
import { ProtocolError } from './errors.ts'

/** Element types on the wire; the byte width of each. */
export const DTYPES = {
  float32: 4,
  float64: 8,
  int32: 4,
  int64: 8,
  uint8: 1,
  bool: 1
} as const

export type DTypeName = keyof typeof DTYPES

/** A named tensor as it travels: raw little-endian bytes, row-major. */
export interface Tensor {
  name: string
  dtype: DTypeName
  dims: number[]
  data: Uint8Array
}

export const TENSOR_LIMITS = {
  maxDims: 8,
  maxNameBytes: 128,
  maxTensors: 32
} as const

const DTYPE_CODES: Record<DTypeName, number> = { float32: 1, int64: 2, int32: 3, uint8: 4, bool: 5, float64: 6 }

export function isDType (value: string): value is DTypeName {
  return Object.hasOwn(DTYPES, value)
}

export function elementCount (dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1)
}

/** Throws a ProtocolError unless the tensor is self-consistent (dims × width = bytes). */
export function checkTensor (t: Tensor, maxBytes: number): void {
  if (!isDType(t.dtype)) throw new ProtocolError('MALFORMED_TENSOR', `tensor "${t.name}": unknown dtype ${String(t.dtype)}`)
  if (Buffer.byteLength(t.name) > TENSOR_LIMITS.maxNameBytes) throw new ProtocolError('MALFORMED_TENSOR', 'tensor name too long')
  if (t.dims.length > TENSOR_LIMITS.maxDims) throw new ProtocolError('MALFORMED_TENSOR', `tensor "${t.name}": more than ${TENSOR_LIMITS.maxDims} dims`)
  for (const d of t.dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new ProtocolError('MALFORMED_TENSOR', `tensor "${t.name}": bad dim ${d}`)
  }
  if (t.data.byteLength > maxBytes) throw new ProtocolError('TENSOR_TOO_LARGE', `tensor "${t.name}": ${t.data.byteLength} bytes exceeds ${maxBytes}`)
  const expected = elementCount(t.dims) * DTYPES[t.dtype]
  if (expected !== t.data.byteLength) {
    throw new ProtocolError('MALFORMED_TENSOR', `tensor "${t.name}": dims [${t.dims.join(',')}] of ${t.dtype} need ${expected} bytes, got ${t.data.byteLength}`)
  }
}

/**
 * Canonical hash of a set of named tensors, identical on client and node:
 * sha256 over the tensors sorted by name, each as
 * u16 name length | name (utf-8) | u8 dtype code | u8 rank | u64 dims… | u64 byte length | bytes.
 */
export function hashTensors (tensors: readonly Tensor[]): Buffer {
  const h = createHash('sha256')
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const t of sorted) {
    const name = Buffer.from(t.name, 'utf8')
    const head = Buffer.alloc(2 + name.length + 2 + 8 * t.dims.length + 8)
    let o = head.writeUInt16BE(name.length, 0)
    o += name.copy(head, o)
    o = head.writeUInt8(DTYPE_CODES[t.dtype], o)
    o = head.writeUInt8(t.dims.length, o)
    for (const d of t.dims) o = head.writeBigUInt64BE(BigInt(d), o)
    head.writeBigUInt64BE(BigInt(t.data.byteLength), o)
    h.update(head)
    h.update(t.data)
  }
  return h.digest()
}

/** Views a typed array's bytes without copying (little-endian on every platform Node runs on). */
export function bytesOf (view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
}

export function float32Tensor (name: string, dims: number[], values: ArrayLike<number>): Tensor {
  return { name, dtype: 'float32', dims, data: bytesOf(Float32Array.from(values)) }
}

/** Reads a float32 tensor's values (copies, so alignment never matters). */
export function float32Values (t: Tensor): Float32Array {
  if (t.dtype !== 'float32') throw new ProtocolError('MALFORMED_TENSOR', `tensor "${t.name}" is ${t.dtype}, not float32`)
  return new Float32Array(Uint8Array.from(t.data).buffer)
}
