import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { autoNAT } from '@libp2p/autonat'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayServer, circuitRelayTransport, type CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { gossipsub, StrictNoSign, type GossipSub } from '@libp2p/gossipsub'
import { identify, type Identify } from '@libp2p/identify'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper, type KadDHT } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { ping, type Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import type { Libp2pOptions } from 'libp2p'
import { connectionKeeper, type ConnectionKeeper } from './connection-keeper.ts'
import { ADVERT_TOPIC, DHT_PROTOCOL } from './discovery-constants.ts'

const LOOPBACK = ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128']

/** Services a Silk host may run; the discovery ones only when asked for. */
// a type literal (not an interface), so it fits libp2p's ServiceMap index signature
export type SilkServices = {
  identify: Identify
  ping: Ping
  pubsub?: GossipSub
  dht?: KadDHT
  relay?: CircuitRelayService
  autoNAT?: unknown
  dcutr?: unknown
  keeper?: ConnectionKeeper
}

export type SilkLibp2p = Libp2p<SilkServices>

/** How a host finds and stays reachable to others (see docs/ARCHITECTURE.md, "Discovery"). */
export interface DiscoveryTransportOptions {
  /** provider nodes serve the DHT; clients only query it */
  role: 'node' | 'client'
  /** multiaddrs ending in /p2p/<peerId>, dialled at start and again whenever the host has too few connections */
  bootstrap?: string[]
  /** multicast DNS on the local network; sends beyond loopback, so never in tests */
  mdns?: boolean
  /** keep private and loopback addresses in DHT records (local networks, tests) */
  privateAddresses?: boolean
  /** serve as a circuit relay v2 hop for nodes behind NAT */
  relayServer?: boolean
  /** reserve a slot on relays found among connected peers (listen on /p2p-circuit) */
  relayReserve?: boolean
  /** ask peers whether our addresses are publicly dialable; default on for nodes */
  autonat?: boolean
  /** upgrade relayed connections to direct ones by hole punching; default on */
  dcutr?: boolean
}

/**
 * The transport stack both ends share: TCP, Noise (proves each side's key), Yamux, identify, ping.
 * The node passes its one key; a client may pass none (an ephemeral key is made).
 * With `discovery`, also gossipsub (adverts), Silk's Kad-DHT, bootstrap (kept up by a
 * ConnectionKeeper), optional mDNS, the circuit relay v2 transport (optionally a relay server),
 * AutoNAT and DCUtR.
 */
export function transportOptions (privateKey: PrivateKey | undefined, listen: string[] = [], discovery?: DiscoveryTransportOptions): Libp2pOptions<SilkServices> {
  const base = {
    ...(privateKey !== undefined ? { privateKey } : {}),
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping() }
  } satisfies Libp2pOptions<SilkServices>
  if (discovery === undefined) return base

  const node = discovery.role === 'node'
  const services: NonNullable<Libp2pOptions<SilkServices>['services']> = {
    ...base.services,
    // kad-dht pings new contacts while the connection monitor pings every connection: with the
    // default limit of one outbound ping stream, the two collide and the monitor drops the connection
    ping: ping({ maxOutboundStreams: 2, maxInboundStreams: 4 }),
    pubsub: gossipsub({
      // adverts carry the node's own signature: a second one on the gossip envelope would only
      // double the verification work, and content-derived message ids drop re-sent copies
      globalSignaturePolicy: StrictNoSign,
      allowPublishToZeroTopicPeers: true,
      allowedTopics: [ADVERT_TOPIC],
      fallbackToFloodsub: false,
      // gossipsub penalises more than 10 peers on one IP and then ignores them all; peers on
      // loopback are on this very machine (local networks, tests), so they are exempt
      scoreParams: { IPColocationFactorWhitelist: new Set(['127.0.0.1', '::1']) }
    }),
    dht: kadDHT({
      protocol: DHT_PROTOCOL,
      clientMode: !node,
      // a client's first lookup would otherwise wait for the DHT's initial self-query (seconds);
      // ProviderFinder waits for the first routing-table peer itself
      allowQueryWithZeroPeers: !node,
      peerInfoMapper: discovery.privateAddresses === true ? passthroughMapper : removePrivateAddressesMapper
    })
  }
  services.keeper = connectionKeeper({ bootstrap: discovery.bootstrap ?? [], dialDiscovered: discovery.mdns === true })
  if (discovery.relayServer === true) services.relay = circuitRelayServer()
  if (discovery.autonat ?? node) services.autoNAT = autoNAT()
  if (discovery.dcutr ?? true) services.dcutr = dcutr()
  const peerDiscovery: Array<NonNullable<Libp2pOptions['peerDiscovery']>[number]> = []
  if ((discovery.bootstrap ?? []).length > 0) peerDiscovery.push(bootstrap({ list: discovery.bootstrap! }))
  if (discovery.mdns === true) peerDiscovery.push(mdns())
  return {
    ...base,
    // the inbound limits (5 new connections per second per IP, 10 pending) are meant for remote
    // hosts; peers on loopback are this machine (local networks, tests), so they are exempt
    connectionManager: { allow: LOOPBACK },
    addresses: { listen: discovery.relayReserve === true ? [...listen, '/p2p-circuit'] : listen },
    transports: [tcp(), circuitRelayTransport()],
    services,
    peerDiscovery
  }
}
