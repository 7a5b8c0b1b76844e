import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import type { Libp2pOptions } from 'libp2p'

/**
 * The transport stack both ends share: TCP, Noise (proves each side's key), Yamux, identify, ping.
 * The node passes its one key; a client may pass none (an ephemeral key is made).
 */
export function transportOptions (privateKey: PrivateKey | undefined, listen: string[] = []) {
  return {
    ...(privateKey !== undefined ? { privateKey } : {}),
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping() }
  } satisfies Libp2pOptions
}
