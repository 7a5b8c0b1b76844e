/** An Ed25519 public key: 32 bytes (as @ton/crypto and libp2p give it) or the uint256 the contracts store. */
export type PublicKey = Uint8Array | bigint

export function publicKeyToInt (key: PublicKey): bigint {
  if (typeof key === 'bigint') {
    if (key < 0n || key >= 1n << 256n) throw new RangeError('public key out of uint256 range')
    return key
  }
  if (key.length !== 32) throw new RangeError(`public key must be 32 bytes, got ${key.length}`)
  return BigInt('0x' + Buffer.from(key).toString('hex'))
}

/** A uint256 read from a getter (a key, a hash) back to its 32 bytes. */
export function uint256ToBuffer (value: bigint): Buffer {
  return Buffer.from(value.toString(16).padStart(64, '0'), 'hex')
}
