import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { SingleKadDHT } from '@libp2p/kad-dht'
import { advertModels, modelCid, queryHash, type Advert, type ModelQuery } from '../protocol/advert.ts'
import { AdvertBook, type AdvertBookInit } from '../protocol/advert-book.ts'
import type { SilkLibp2p } from '../protocol/transport.ts'

export type DiscoveryErrorCode = 'NO_DISCOVERY' | 'NO_PROVIDERS'

export class DiscoveryError extends Error {
  override name = 'DiscoveryError'
  constructor (readonly code: DiscoveryErrorCode, message: string) {
    super(message)
  }
}

export interface FindProvidersOptions extends AbortOptions {
  /** also look up DHT provider records of the model hash and read each provider's advert; default true */
  dht?: boolean
  /** resolve once at least this many providers are known (and the DHT lookup is done); default 1 */
  min?: number
}

export const DEFAULT_FIND_TIMEOUT_MS = 10_000
/** while fewer than `min` providers are known, look the DHT up again after 1 s, then 2, 4, 8, 8… */
const LOOKUP_RETRY_MS = 1_000
const MAX_LOOKUP_RETRY_MS = 8_000

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

/** Cheapest first (for the model asked for), then the larger capacity. */
function byPrice (model: ModelQuery) {
  const price = (a: Advert): bigint => advertModels(a, model).reduce((min, m) => m.pricePerUnit < min ? m.pricePerUnit : min, 2n ** 64n)
  return (a: Advert, b: Advert): number => {
    const pa = price(a)
    const pb = price(b)
    return pa !== pb ? (pa < pb ? -1 : 1) : b.capacity - a.capacity
  }
}

/**
 * Finds provider nodes without a central list: signed adverts from gossip (and from the peers the
 * client connects to), and DHT provider records keyed by model hash, each followed by reading the
 * provider's signed advert straight from it. Every advert returned is verified: signed by the key
 * of the peer it names, unexpired, newest of its peer, and (with `stake` in the init, as SilkClient
 * sets it) naming a Provider staked on chain that holds the peer's key. SilkClient.connect()
 * checks the Provider again, against the key proved in the handshake.
 */
export class ProviderFinder {
  readonly book: AdvertBook
  readonly #fetching = new Map<string, Promise<unknown>>()

  constructor (private readonly components: { libp2p: SilkLibp2p }, init: AdvertBookInit = {}) {
    this.book = new AdvertBook(components, init)
  }

  start (): void {
    this.book.start()
  }

  stop (): void {
    this.book.stop()
  }

  /** Live adverts already known that serve the model (hash, hex hash or name), cheapest first. */
  known (model: ModelQuery): Advert[] {
    return this.book.find(model).sort(byPrice(model))
  }

  /**
   * Providers of a model: what gossip brought, plus (unless `dht: false`) the DHT's providers of
   * each hash the query names or that known adverts give the name. Until `min` are known it waits
   * for gossip and repeats the DHT lookup; when the signal fires first, it returns what was found,
   * or throws NO_PROVIDERS if nothing was.
   */
  async find (model: ModelQuery, options: FindProvidersOptions = {}): Promise<Advert[]> {
    const signal = options.signal ?? AbortSignal.timeout(DEFAULT_FIND_TIMEOUT_MS)
    const min = options.min ?? 1
    const dht = options.dht !== false && this.components.libp2p.services.dht !== undefined
    let lookedUp = -Infinity
    let retryMs = LOOKUP_RETRY_MS
    while (true) {
      if (dht && Date.now() - lookedUp >= retryMs) {
        if (lookedUp > -Infinity) retryMs = Math.min(2 * retryMs, MAX_LOOKUP_RETRY_MS)
        lookedUp = Date.now()
        const hashes = new Set<string>()
        const named = queryHash(model)
        if (named !== undefined) hashes.add(hex(named))
        for (const advert of this.known(model)) for (const m of advertModels(advert, model)) hashes.add(hex(m.hash))
        await Promise.allSettled([...hashes].map(async (h) => await this.lookup(Buffer.from(h, 'hex'), { signal })))
      }
      const found = this.known(model)
      if (found.length >= min) return found
      if (signal.aborted) {
        if (found.length > 0) return found
        throw new DiscoveryError('NO_PROVIDERS', `no provider of ${typeof model === 'string' ? model : hex(model)} found`)
      }
      // not enough yet: wait for gossip to bring more, and look the DHT up again now and then
      await this.#nextAdvert(signal, dht ? Math.max(0, lookedUp + retryMs - Date.now()) : undefined)
    }
  }

  /** Resolves on the next advert kept, after `ms` (if given), or when the signal fires. */
  async #nextAdvert (signal: AbortSignal, ms?: number): Promise<void> {
    const book = this.book
    await new Promise<void>((resolve) => {
      const timer = ms !== undefined ? setTimeout(done, ms) : undefined
      function done (): void {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        book.removeEventListener('advert', done)
        resolve()
      }
      book.addEventListener('advert', done)
      signal.addEventListener('abort', done)
      if (signal.aborted) done()
    })
  }

  /**
   * DHT only: the providers of a model hash, each one's advert read from it over
   * /silk/advert/1.0.0 (peers whose advert is already known are not dialled again).
   * kad-dht stops a lookup after K (20) providers.
   */
  async lookup (hash: Uint8Array, options: AbortOptions = {}): Promise<Advert[]> {
    const { libp2p } = this.components
    await this.#routingTableReady(options)
    const fetches: Array<Promise<unknown>> = []
    const seen = new Set<string>()
    for await (const info of libp2p.contentRouting.findProviders(modelCid(hash), options)) {
      const id = info.id.toString()
      if (info.id.equals(libp2p.peerId) || seen.has(id)) continue
      seen.add(id)
      const held = this.book.table.get(info.id)
      if (held !== undefined && advertModels(held, hash).length > 0) continue
      if (info.multiaddrs.length > 0) await libp2p.peerStore.merge(info.id, { multiaddrs: info.multiaddrs })
      fetches.push(this.#fetchOnce(id, info.id, options))
    }
    await Promise.all(fetches)
    return this.known(hash)
  }

  /** One advert request per peer at a time, however many lookups name it. */
  #fetchOnce (key: string, peer: PeerId, options: AbortOptions): Promise<unknown> {
    let pending = this.#fetching.get(key)
    if (pending === undefined) {
      // a provider that is gone or does not answer is simply not found
      pending = this.book.fetch(peer, options).catch(() => {}).finally(() => { this.#fetching.delete(key) })
      this.#fetching.set(key, pending)
    }
    return pending
  }

  /** A lookup with an empty routing table finds nothing: a client that has just started waits for its first DHT peer. */
  async #routingTableReady (options: AbortOptions): Promise<void> {
    const dht = this.components.libp2p.services.dht as Partial<SingleKadDHT> | undefined
    while (dht?.routingTable !== undefined && dht.routingTable.size === 0) {
      options.signal?.throwIfAborted()
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}
