import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey, PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { keyPairFromSeed, type KeyPair } from '@ton/crypto'

/**
 * One Ed25519 seed is a node's whole identity: libp2p PeerId (proved in the Noise handshake),
 * the nodeKey in its Provider contract, the receipt-signing key and the key of its gas wallet.
 * libp2p and @ton/crypto derive the same public key and identical signatures from one seed.
 */
export interface Identity {
  /** TON keypair: publicKey 32 bytes, secretKey 64 bytes (seed ++ public) */
  keyPair: KeyPair
  /** the same key as libp2p sees it */
  privateKey: Ed25519PrivateKey
  peerId: PeerId
}

export async function identityFromSeed (seed: Uint8Array): Promise<Identity> {
  if (seed.length !== 32) throw new RangeError('an Ed25519 seed is 32 bytes')
  const privateKey = await generateKeyPairFromSeed('Ed25519', seed)
  const keyPair = keyPairFromSeed(Buffer.from(seed))
  return { keyPair, privateKey, peerId: peerIdFromPrivateKey(privateKey) }
}

/** The raw 32-byte Ed25519 public key of a peer, or undefined for other key types. */
export function peerPublicKey (peerId: PeerId): Buffer | undefined {
  const key = peerId.publicKey
  if (key === undefined || key.type !== 'Ed25519') return undefined
  return Buffer.from(key.raw)
}
