import type { Connection, Libp2pEvents, PeerId, PeerInfo, Startable, TypedEventTarget } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { DISCOVERY_DEFAULTS } from './discovery-constants.ts'

export interface ConnectionKeeperInit {
  /** multiaddrs ending in /p2p/<peerId> */
  bootstrap?: string[]
  /** below this many connections, dial the bootstrap peers (and discovered ones) again */
  minConnections?: number
  intervalMs?: number
  /** dial peers that discovery (mDNS) reports while below minConnections; libp2p only stores them */
  dialDiscovered?: boolean
}

export interface ConnectionKeeperComponents {
  connectionManager: {
    getConnections(peerId?: PeerId): Connection[]
    openConnection(peer: PeerId | Multiaddr | Multiaddr[]): Promise<Connection>
  }
  events: TypedEventTarget<Libp2pEvents>
}

/**
 * Keeps a host in the network: @libp2p/bootstrap dials its list once, so a node whose first dial
 * failed (or that later lost every connection) would stay alone, out of gossip and the DHT.
 * While the host has fewer than `minConnections`, this dials the bootstrap peers again every
 * `intervalMs`; with `dialDiscovered` it also dials what mDNS reports.
 */
export class ConnectionKeeper implements Startable {
  readonly #bootstrap: Multiaddr[]
  #timer?: ReturnType<typeof setInterval>

  constructor (private readonly components: ConnectionKeeperComponents, private readonly init: ConnectionKeeperInit = {}) {
    this.#bootstrap = (init.bootstrap ?? []).map((s) => multiaddr(s))
  }

  readonly [Symbol.toStringTag] = 'silk:connection-keeper'

  get #starved (): boolean {
    return this.components.connectionManager.getConnections().length < (this.init.minConnections ?? DISCOVERY_DEFAULTS.keepConnectedBelow)
  }

  start (): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => { this.#check() }, this.init.intervalMs ?? DISCOVERY_DEFAULTS.keepIntervalMs)
    this.#timer.unref?.()
    if (this.init.dialDiscovered === true) this.components.events.addEventListener('peer:discovery', this.#onDiscovery)
  }

  stop (): void {
    if (this.#timer === undefined) return
    clearInterval(this.#timer)
    this.#timer = undefined
    this.components.events.removeEventListener('peer:discovery', this.#onDiscovery)
  }

  #check (): void {
    if (!this.#starved) return
    const connected = new Set(this.components.connectionManager.getConnections().map((c) => c.remotePeer.toString()))
    for (const ma of this.#bootstrap) {
      const peer = ma.getComponents().findLast((c) => c.name === 'p2p')?.value
      if (peer !== undefined && connected.has(peer)) continue
      this.components.connectionManager.openConnection(ma).catch(() => {})
    }
  }

  readonly #onDiscovery = (evt: CustomEvent<PeerInfo>): void => {
    if (!this.#starved) return
    this.components.connectionManager.openConnection(evt.detail.id).catch(() => {})
  }
}

export function connectionKeeper (init: ConnectionKeeperInit = {}): (components: ConnectionKeeperComponents) => ConnectionKeeper {
  return (components) => new ConnectionKeeper(components, init)
}
