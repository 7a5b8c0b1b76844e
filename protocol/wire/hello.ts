import { beginCell, type Address, type Cell } from '@ton/core'

/** Tag of the hello proof; differs from every signed record's tag, so no signature serves two. */
export const HELLO_TAG = 0x48454c32 // "HEL2"
export const NONCE_BYTES = 32

/**
 * What a client signs to bind a session to its channel: the network, the channel, the node key it
 * talks to and the node's fresh nonce. Without the channel's client key nobody can bind it, a
 * proof made for one node or one Welcome is worthless to another, and the client key (a voucher
 * key) never signs anything that parses as a voucher.
 */
export function helloProof (p: { globalId: number, channel: Address, nodeKey: Buffer, nonce: Uint8Array }): Cell {
  if (p.nodeKey.length !== 32) throw new RangeError('nodeKey must be 32 bytes')
  if (p.nonce.length !== NONCE_BYTES) throw new RangeError(`nonce must be ${NONCE_BYTES} bytes`)
  return beginCell()
    .storeUint(HELLO_TAG, 32)
    .storeInt(p.globalId, 32)
    .storeAddress(p.channel)
    .storeBuffer(p.nodeKey)
    .storeBuffer(Buffer.from(p.nonce))
    .endCell()
}
