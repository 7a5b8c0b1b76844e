import { createLibp2p } from 'libp2p'
import type { Identity } from '../protocol/keys.ts'
import { transportOptions, type DiscoveryTransportOptions } from '../protocol/transport.ts'

/** The node's libp2p host; its PeerId key is the node key. */
export async function createHost (identity: Identity, listen: string[], discovery?: DiscoveryTransportOptions) {
  return await createLibp2p(transportOptions(identity.privateKey, listen, discovery))
}

export type Host = Awaited<ReturnType<typeof createHost>>
