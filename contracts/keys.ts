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

/** A 256-bit digest (a model hash, a TEE measurement): 32 bytes or the uint256 the contracts store. */
export type Hash256 = Uint8Array | bigint

export function hash256ToInt (hash: Hash256): bigint {
  if (typeof hash === 'bigint') {
    if (hash < 0n || hash >= 1n << 256n) throw new RangeError('digest out of uint256 range')
    return hash
  }
  if (hash.length !== 32) throw new RangeError(`digest must be 32 bytes, got ${hash.length}`)
  return BigInt('0x' + Buffer.from(hash).toString('hex'))
}
