// What the node has signed for deterministic jobs: (model hash, spec hash) → output hash. Two
// complete, deterministic receipts for one model and one job spec with different outputs are an
// equivocation proof that slashes the node, so before signing such a receipt the node asks here,
// and refuses to sign a second, different output (a nondeterminism bug, a flipped bit) instead of
// handing a client the proof. Bounded: the oldest-used entries are forgotten first.

/** Default capacity: ≈ 100k entries of ~200 bytes each, ≈ 20 MB. */
export const DEFAULT_SIGNED_OUTPUTS = 100_000

export class SignedOutputs {
  /** Insertion order is recency order: a hit is moved to the end; the first key is evicted first. */
  private readonly entries = new Map<string, string>()

  constructor (readonly capacity: number = DEFAULT_SIGNED_OUTPUTS) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer')
  }

  get size (): number {
    return this.entries.size
  }

  /**
   * True if the node may sign `outputHash` for this model and spec: nothing was signed for them
   * yet (it is recorded now), or exactly this output was. False if a different output was already
   * signed: the caller must not sign this one.
   */
  admit (modelHash: Uint8Array, specHash: Uint8Array, outputHash: Uint8Array): boolean {
    const key = keyOf(modelHash, specHash)
    const output = hex(outputHash, 'outputHash')
    const signed = this.entries.get(key)
    if (signed !== undefined) {
      if (signed !== output) return false
      this.entries.delete(key)
      this.entries.set(key, signed)
      return true
    }
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value as string
      this.entries.delete(oldest)
    }
    this.entries.set(key, output)
    return true
  }

  /** The output signed for this model and spec, if it is still remembered. */
  signedFor (modelHash: Uint8Array, specHash: Uint8Array): Buffer | undefined {
    const signed = this.entries.get(keyOf(modelHash, specHash))
    return signed === undefined ? undefined : Buffer.from(signed, 'hex')
  }
}

function hex (bytes: Uint8Array, what: string): string {
  if (bytes.byteLength !== 32) throw new RangeError(`${what} must be 32 bytes, got ${bytes.byteLength}`)
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

function keyOf (modelHash: Uint8Array, specHash: Uint8Array): string {
  return `${hex(modelHash, 'modelHash')}:${hex(specHash, 'specHash')}`
}
