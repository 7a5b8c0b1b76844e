import { TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import type { AbortOptions, IdentifyResult, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import { advertModels, decodeAdvert, decodeAdvertResponse, encodeAdvertRequest, type Advert, type ModelQuery } from './advert.ts'
import { ADVERT_LIMITS, ADVERT_PROTOCOL, ADVERT_TOPIC, DISCOVERY_DEFAULTS } from './discovery-constants.ts'
import { ProtocolError } from './errors.ts'
import type { SilkLibp2p } from './transport.ts'

/**
 * What a table did with an offered advert:
 * new / updated (higher seq) are kept; duplicate is the advert already held;
 * stale (lower seq: a replay), conflict (same seq, other bytes), expired, full (table at its
 * bound) and self (our own advert coming back) are dropped.
 */
export type OfferResult = 'new' | 'updated' | 'duplicate' | 'stale' | 'conflict' | 'expired' | 'full' | 'self'

export interface AdvertTableInit {
  maxPeers?: number
  /** unix seconds (injected so tests control time) */
  now?: () => number
  /** this host's own peer, never stored */
  self?: PeerId
}

function unixNow (): number {
  return Math.floor(Date.now() / 1000)
}

/** Live adverts keyed by peer: only the newest (highest seq) unexpired advert of each peer. */
export class AdvertTable {
  readonly #byPeer = new Map<string, Advert>()
  readonly #maxPeers: number
  readonly #now: () => number
  readonly #self: string | undefined

  constructor (init: AdvertTableInit = {}) {
    this.#maxPeers = init.maxPeers ?? DISCOVERY_DEFAULTS.maxTablePeers
    this.#now = init.now ?? unixNow
    this.#self = init.self?.toString()
  }

  /** `advert` must already be verified (decodeAdvert). */
  offer (advert: Advert): OfferResult {
    const key = advert.peerId.toString()
    if (key === this.#self) return 'self'
    if (advert.expires <= this.#now()) return 'expired'
    const held = this.get(key)
    if (held !== undefined) {
      if (advert.seq < held.seq) return 'stale'
      if (advert.seq === held.seq) return Buffer.from(advert.bytes).equals(Buffer.from(held.bytes)) ? 'duplicate' : 'conflict'
      this.#byPeer.set(key, advert)
      return 'updated'
    }
    if (this.#byPeer.size >= this.#maxPeers && this.prune().length === 0) return 'full'
    this.#byPeer.set(key, advert)
    return 'new'
  }

  /** The live advert of a peer. */
  get (peer: PeerId | string): Advert | undefined {
    const advert = this.#byPeer.get(peer.toString())
    return advert !== undefined && advert.expires > this.#now() ? advert : undefined
  }

  /** Every live advert, soonest to expire last. */
  list (): Advert[] {
    const now = this.#now()
    return [...this.#byPeer.values()].filter((a) => a.expires > now).sort((a, b) => b.expires - a.expires)
  }

  /** Live adverts of nodes that serve a model (by hash or name). */
  find (model: ModelQuery): Advert[] {
    return this.list().filter((a) => advertModels(a, model).length > 0)
  }

  /** Drops expired adverts and returns them. */
  prune (): Advert[] {
    const now = this.#now()
    const gone: Advert[] = []
    for (const [key, advert] of this.#byPeer) {
      if (advert.expires <= now) {
        this.#byPeer.delete(key)
        gone.push(advert)
      }
    }
    return gone
  }

  delete (peer: PeerId | string): boolean {
    return this.#byPeer.delete(peer.toString())
  }

  get size (): number {
    return this.#byPeer.size
  }
}

export interface AdvertBookInit {
  /** join the advert topic (and relay what passes validation); default true */
  subscribe?: boolean
  /** after start, ask this many newly identified Silk peers for every advert they know; 0 = never */
  catchUpPeers?: number
  fetchTimeoutMs?: number
  pruneIntervalMs?: number
  maxPeers?: number
  now?: () => number
}

export type DropReason = 'MALFORMED_ADVERT' | 'BAD_ADVERT_SIGNATURE' | 'ADVERT_EXPIRED' | 'stale' | 'conflict' | 'full'

/**
 * Everything both ends do with adverts from others: validate gossip on the advert topic (bad ones
 * are rejected so gossipsub stops relaying them and penalises the sender), keep the table, drop
 * expired entries, and fetch adverts straight from a peer over /silk/advert/1.0.0.
 * Events: `advert` (CustomEvent<Advert>) for each new or newer advert, `expired` when one is dropped.
 */
export class AdvertBook extends EventTarget {
  readonly table: AdvertTable
  /** adverts refused, by reason */
  readonly dropped: Record<DropReason, number> = { MALFORMED_ADVERT: 0, BAD_ADVERT_SIGNATURE: 0, ADVERT_EXPIRED: 0, stale: 0, conflict: 0, full: 0 }
  readonly #libp2p: SilkLibp2p
  readonly #init: AdvertBookInit
  readonly #now: () => number
  readonly #asked = new Set<string>()
  #caughtUp = 0
  #timer?: ReturnType<typeof setInterval>
  #started = false

  constructor (components: { libp2p: SilkLibp2p }, init: AdvertBookInit = {}) {
    super()
    this.#libp2p = components.libp2p
    this.#init = init
    this.#now = init.now ?? unixNow
    this.table = new AdvertTable({ maxPeers: init.maxPeers, now: this.#now, self: components.libp2p.peerId })
  }

  get pubsub (): GossipSub {
    const pubsub = this.#libp2p.services.pubsub
    if (pubsub === undefined) throw new Error('this libp2p host has no pubsub service: create it with transportOptions(…, { role })')
    return pubsub
  }

  get subscribed (): boolean {
    return this.#init.subscribe ?? true
  }

  start (): void {
    if (this.#started) return
    this.#started = true
    if (this.subscribed) {
      this.pubsub.topicValidators.set(ADVERT_TOPIC, this.#validate)
      this.pubsub.subscribe(ADVERT_TOPIC)
    }
    this.#libp2p.addEventListener('peer:identify', this.#onIdentify)
    this.#timer = setInterval(() => { this.prune() }, this.#init.pruneIntervalMs ?? DISCOVERY_DEFAULTS.pruneIntervalMs)
    this.#timer.unref?.()
  }

  stop (): void {
    if (!this.#started) return
    this.#started = false
    clearInterval(this.#timer)
    this.#libp2p.removeEventListener('peer:identify', this.#onIdentify)
    if (this.subscribed) {
      // the pubsub service may already be stopped when the host shuts down first
      try { this.pubsub.unsubscribe(ADVERT_TOPIC) } catch {}
      this.pubsub.topicValidators.delete(ADVERT_TOPIC)
    }
  }

  /** Offers a verified advert; emits `advert` when it is kept. */
  offer (advert: Advert): OfferResult {
    const result = this.table.offer(advert)
    if (result === 'new' || result === 'updated') this.dispatchEvent(new CustomEvent('advert', { detail: advert }))
    else if (result === 'stale' || result === 'conflict' || result === 'full') this.dropped[result]++
    else if (result === 'expired') this.dropped.ADVERT_EXPIRED++
    return result
  }

  /** Decodes, verifies and offers advert bytes; a refused advert is counted, never thrown. */
  async accept (bytes: Uint8Array): Promise<OfferResult | ProtocolError> {
    let advert: Advert
    try {
      advert = await decodeAdvert(bytes, { now: this.#now() })
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err
      this.#count(err)
      return err
    }
    return this.offer(advert)
  }

  /** Live adverts of nodes that serve a model (by hash or name). */
  find (model: ModelQuery): Advert[] {
    return this.table.find(model)
  }

  prune (): void {
    for (const advert of this.table.prune()) this.dispatchEvent(new CustomEvent('expired', { detail: advert }))
  }

  async publish (advert: Advert): Promise<void> {
    await this.pubsub.publish(ADVERT_TOPIC, advert.bytes)
  }

  /**
   * Asks one peer for its own signed advert (and, with `known`, the live adverts it holds of
   * others); each is verified on its own, offered to the table and returned.
   */
  async fetch (peer: PeerId | Multiaddr, options: AbortOptions & { known?: boolean } = {}): Promise<Advert[]> {
    const timeout = AbortSignal.timeout(this.#init.fetchTimeoutMs ?? DISCOVERY_DEFAULTS.fetchTimeoutMs)
    const signal = options.signal !== undefined ? AbortSignal.any([options.signal, timeout]) : timeout
    const stream = await this.#libp2p.dialProtocol(peer, ADVERT_PROTOCOL, { signal, runOnLimitedConnection: true })
    try {
      const lp = lpStream(stream, { maxDataLength: ADVERT_LIMITS.maxResponseBytes })
      await lp.write(encodeAdvertRequest(options.known === true), { signal })
      const bytes = await lp.read({ signal })
      const { adverts, rejected } = await decodeAdvertResponse(bytes, { now: this.#now() })
      rejected.forEach((err) => { this.#count(err) })
      for (const advert of adverts) this.offer(advert)
      return adverts
    } finally {
      try { await stream.close({ signal }) } catch { stream.abort(new Error('advert fetch ended')) }
    }
  }

  #count (err: ProtocolError): void {
    if (err.code === 'MALFORMED_ADVERT' || err.code === 'BAD_ADVERT_SIGNATURE' || err.code === 'ADVERT_EXPIRED') this.dropped[err.code]++
    else this.dropped.MALFORMED_ADVERT++
  }

  readonly #validate = async (_from: PeerId, message: Message): Promise<TopicValidatorResult> => {
    const result = await this.accept(message.data)
    if (result instanceof ProtocolError) return result.code === 'ADVERT_EXPIRED' ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
    switch (result) {
      case 'new': case 'updated': case 'duplicate': return TopicValidatorResult.Accept
      // stale, conflicting or expired adverts may come from honest relays: drop without penalty
      default: return TopicValidatorResult.Ignore
    }
  }

  readonly #onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const { peerId, protocols } = evt.detail
    const want = this.#init.catchUpPeers ?? DISCOVERY_DEFAULTS.catchUpPeers
    if (this.#caughtUp >= want || !protocols.includes(ADVERT_PROTOCOL) || this.#asked.has(peerId.toString())) return
    this.#asked.add(peerId.toString())
    this.fetch(peerId, { known: true })
      .then(() => { this.#caughtUp++ })
      .catch(() => { this.#asked.delete(peerId.toString()) })
  }
}
