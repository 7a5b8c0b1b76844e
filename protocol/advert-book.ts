import { TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import type { AbortOptions, IdentifyResult, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import { advertModels, decodeAdvert, decodeAdvertResponse, encodeAdvertRequest, type Advert, type ModelQuery } from './advert.ts'
import { ADVERT_LIMITS, ADVERT_PROTOCOL, ADVERT_TOPIC, DISCOVERY_DEFAULTS } from './discovery-constants.ts'
import { ProtocolError } from './errors.ts'
import type { SilkLibp2p } from './transport.ts'
import { StakeGate, type StakeGateInit, type StakeVerdict } from './stake-gate.ts'

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

  /**
   * What offer() would do with an advert without changing anything: a result when it would be
   * dropped or is already held, undefined when it would be kept (so the stake gate runs only then).
   */
  precheck (advert: Advert): OfferResult | undefined {
    const key = advert.peerId.toString()
    if (key === this.#self) return 'self'
    if (advert.expires <= this.#now()) return 'expired'
    const held = this.get(key)
    if (held === undefined) return undefined
    if (advert.seq < held.seq) return 'stale'
    if (advert.seq === held.seq) return Buffer.from(advert.bytes).equals(Buffer.from(held.bytes)) ? 'duplicate' : 'conflict'
    return undefined
  }

  /** `advert` must already be verified (decodeAdvert) and, in a gated book, staked. */
  offer (advert: Advert): OfferResult {
    const early = this.precheck(advert)
    if (early !== undefined) return early
    const key = advert.peerId.toString()
    if (this.get(key) !== undefined) {
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
  /**
   * Which adverts may enter the table: only those whose Provider has stake on chain (a StakeGate,
   * or what to build one from), or 'unchecked' to keep any verified advert (tests, tools that
   * check stake elsewhere). Unset: every advert is refused, so a book nobody wired to the chain
   * fails closed instead of filling with throwaway keys.
   */
  stake?: StakeGate | StakeGateInit | 'unchecked'
}

export type DropReason = 'MALFORMED_ADVERT' | 'BAD_ADVERT_SIGNATURE' | 'ADVERT_EXPIRED' | 'stale' | 'conflict' | 'full' |
Exclude<StakeVerdict, 'staked'> | 'ungated'

/** What became of an advert offered through the stake gate. */
export type AdmitResult = OfferResult | Exclude<StakeVerdict, 'staked'> | 'ungated'

/**
 * Everything both ends do with adverts from others: validate gossip on the advert topic (bad ones
 * are rejected so gossipsub stops relaying them and penalises the sender), keep the table, drop
 * expired entries, and fetch adverts straight from a peer over /silk/advert/1.0.0.
 * Adverts enter the table only through the stake gate (AdvertBookInit.stake): gossip whose Provider
 * is not staked is not relayed either.
 * Events: `advert` (CustomEvent<Advert>) for each new or newer advert, `expired` when one is dropped
 * (it expired, or its Provider lost its stake).
 */
export class AdvertBook extends EventTarget {
  readonly table: AdvertTable
  /** adverts refused, by reason */
  readonly dropped: Record<DropReason, number> = {
    MALFORMED_ADVERT: 0, BAD_ADVERT_SIGNATURE: 0, ADVERT_EXPIRED: 0, stale: 0, conflict: 0, full: 0,
    unregistered: 0, unstaked: 0, 'wrong-key': 0, busy: 0, unreadable: 0, ungated: 0
  }
  /** undefined: no gate (see AdvertBookInit.stake) */
  readonly gate: StakeGate | undefined
  readonly #unchecked: boolean
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
    this.#unchecked = init.stake === 'unchecked'
    this.gate = init.stake === undefined || init.stake === 'unchecked'
      ? undefined
      : init.stake instanceof StakeGate ? init.stake : new StakeGate({ now: this.#now, ...init.stake })
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

  /**
   * Offers a verified advert through the stake gate: kept only when its Provider is staked on
   * chain and holds its key. `source` is the peer it came from (bounds chain reads per source).
   */
  async admit (advert: Advert, source: string): Promise<AdmitResult> {
    const early = this.table.precheck(advert)
    if (early !== undefined) return this.offer(advert)
    if (!this.#unchecked) {
      const verdict: StakeVerdict | 'ungated' = this.gate === undefined ? 'ungated' : await this.gate.check(advert, source)
      if (verdict !== 'staked') {
        this.dropped[verdict]++
        // a Provider that lost its stake (slashed, unbonding) leaves the table at once
        if (verdict === 'unstaked' || verdict === 'unregistered') this.#evict(advert.peerId.toString())
        return verdict
      }
    }
    return this.offer(advert)
  }

  /** Decodes, verifies and admits advert bytes; a refused advert is counted, never thrown. */
  async accept (bytes: Uint8Array, source = 'local'): Promise<AdmitResult | ProtocolError> {
    let advert: Advert
    try {
      advert = await decodeAdvert(bytes, { now: this.#now() })
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err
      this.#count(err)
      return err
    }
    return await this.admit(advert, source)
  }

  #evict (peer: string): void {
    const held = this.table.get(peer)
    if (held !== undefined && this.table.delete(peer)) this.dispatchEvent(new CustomEvent('expired', { detail: held }))
  }

  /** Live adverts of nodes that serve a model (by hash or name). */
  find (model: ModelQuery): Advert[] {
    return this.table.find(model)
  }

  /**
   * Drops expired adverts, and reads the stake of each held Provider whose verdict has expired
   * again: one that was slashed or unbonded since leaves the table (bounded like any lookup).
   */
  prune (): void {
    for (const advert of this.table.prune()) this.dispatchEvent(new CustomEvent('expired', { detail: advert }))
    const gate = this.gate
    if (gate === undefined) return
    for (const advert of this.table.list()) {
      if (gate.fresh(advert)) continue
      void gate.check(advert, 'recheck').then((verdict) => {
        if (verdict === 'busy' || verdict === 'staked' || verdict === 'unreadable') return
        this.dropped[verdict]++
        if (this.table.get(advert.peerId)?.bytes === advert.bytes) this.#evict(advert.peerId.toString())
      })
    }
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
      const source = peer.toString()
      const kept: Advert[] = []
      for (const advert of adverts) {
        const result = await this.admit(advert, source)
        if (result === 'new' || result === 'updated' || result === 'duplicate') kept.push(advert)
      }
      return kept
    } finally {
      try { await stream.close({ signal }) } catch { stream.abort(new Error('advert fetch ended')) }
    }
  }

  #count (err: ProtocolError): void {
    if (err.code === 'MALFORMED_ADVERT' || err.code === 'BAD_ADVERT_SIGNATURE' || err.code === 'ADVERT_EXPIRED') this.dropped[err.code]++
    else this.dropped.MALFORMED_ADVERT++
  }

  readonly #validate = async (from: PeerId, message: Message): Promise<TopicValidatorResult> => {
    const result = await this.accept(message.data, from.toString())
    if (result instanceof ProtocolError) return result.code === 'ADVERT_EXPIRED' ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
    switch (result) {
      case 'new': case 'updated': case 'duplicate': return TopicValidatorResult.Accept
      // an honest relay validates the same way, so it never relays these: penalise the sender
      case 'unregistered': case 'wrong-key': return TopicValidatorResult.Reject
      // stale, conflicting or expired adverts may come from honest relays, a Provider slashed a
      // moment ago may still be staked in a relay's cache, and busy or unreadable says nothing
      // about the advert: drop without penalty
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
