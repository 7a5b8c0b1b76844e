import type { PrivateKey, Stream } from '@libp2p/interface'
import type { SingleKadDHT } from '@libp2p/kad-dht'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { Logger } from 'pino'
import { decodeAdvertRequest, encodeAdvertResponse, modelCid, signAdvert, type Advert, type AdvertModel } from '../protocol/advert.ts'
import { AdvertBook, type AdvertBookInit } from '../protocol/advert-book.ts'
import { ADVERT_LIMITS, ADVERT_PROTOCOL, DISCOVERY_DEFAULTS } from '../protocol/discovery-constants.ts'
import type { SilkLibp2p } from '../protocol/transport.ts'

export interface AdvertPublisherComponents {
  libp2p: SilkLibp2p
  /** the node key: it must be the key of the host's PeerId */
  privateKey: PrivateKey
  logger?: Pick<Logger, 'debug' | 'warn'>
}

export interface AdvertPublisherInit {
  /** Provider contract address */
  provider: string
  providerOwner: string
  /** read at every publish, so the advert follows the models the node serves */
  models: () => readonly AdvertModel[]
  /** jobs the node runs at once */
  capacity: number
  /** TEE kind; "none" until attestation exists */
  tee?: string
  /** hash of the node's current attestation evidence, read at every publish (evidence is renewed) */
  teeEvidence?: () => Promise<Uint8Array | undefined>
  ttlSeconds?: number
  /** default: a third of the TTL */
  refreshSeconds?: number
  /** put DHT provider records for each model hash (needs a DHT in server mode); default true */
  provide?: boolean
  /** how the node's own advert book (relay validation, catch-up) behaves */
  book?: AdvertBookInit
  /** unix seconds (injected so tests control time) */
  now?: () => number
}

function unixNow (): number {
  return Math.floor(Date.now() / 1000)
}

/**
 * Makes a node findable: signs its advert, publishes it on the advert topic and again before it
 * expires, answers /silk/advert/1.0.0 with it (and with the adverts it knows), and puts a DHT
 * provider record under each model hash. start() and stop() are safe to call twice.
 */
export class AdvertPublisher {
  readonly book: AdvertBook
  #current?: Advert
  #seq = 0n
  #started = false
  #refresh?: ReturnType<typeof setInterval>
  #provideTimer?: ReturnType<typeof setInterval>
  #addrTimer?: ReturnType<typeof setTimeout>
  #abort?: AbortController
  /** model hash hex → routing-table size when its record was last spread */
  readonly #provided = new Map<string, number>()
  #providing = false
  /** routing-table size at the previous check, and checks in a row it has changed */
  #lastSize = 0
  #growing = 0
  readonly #now: () => number

  constructor (private readonly components: AdvertPublisherComponents, private readonly init: AdvertPublisherInit) {
    if (components.privateKey.type !== 'Ed25519' || !peerIdFromPrivateKey(components.privateKey).equals(components.libp2p.peerId)) {
      throw new RangeError('the advert key must be the Ed25519 key of the host\'s PeerId')
    }
    this.book = new AdvertBook({ libp2p: components.libp2p }, init.book)
    this.#now = init.now ?? unixNow
  }

  get ttlSeconds (): number {
    return this.init.ttlSeconds ?? DISCOVERY_DEFAULTS.advertTtlSeconds
  }

  get refreshSeconds (): number {
    return this.init.refreshSeconds ?? Math.max(1, Math.floor(this.ttlSeconds * DISCOVERY_DEFAULTS.refreshFraction))
  }

  /** The advert last published. */
  get current (): Advert | undefined {
    return this.#current
  }

  /** Hex hashes of the models whose DHT provider record this node has spread so far. */
  get provided (): string[] {
    return [...this.#provided.keys()]
  }

  async start (): Promise<void> {
    if (this.#started) return
    this.#started = true
    this.#abort = new AbortController()
    const { libp2p } = this.components
    this.book.start()
    await libp2p.handle(ADVERT_PROTOCOL, (stream) => { void this.#serve(stream) }, { runOnLimitedConnection: true, maxInboundStreams: 32 })
    await this.republish()
    this.#refresh = setInterval(() => { void this.republish() }, this.refreshSeconds * 1000)
    libp2p.addEventListener('self:peer:update', this.#onAddresses)
    if (this.init.provide !== false && libp2p.services.dht !== undefined) {
      this.#provideTimer = setInterval(() => { void this.#provideRecords() }, DISCOVERY_DEFAULTS.provideCheckMs)
      void this.#provideRecords()
    }
  }

  /** Stops publishing (the advert then expires at others) and serving adverts. */
  async stop (): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#abort?.abort()
    clearInterval(this.#refresh)
    clearInterval(this.#provideTimer)
    clearTimeout(this.#addrTimer)
    const { libp2p } = this.components
    libp2p.removeEventListener('self:peer:update', this.#onAddresses)
    await libp2p.unhandle(ADVERT_PROTOCOL).catch(() => {})
    for (const hex of this.#provided.keys()) {
      await libp2p.services.dht?.cancelReprovide(modelCid(Buffer.from(hex, 'hex'))).catch(() => {})
    }
    this.#provided.clear()
    this.book.stop()
  }

  /** Signs a fresh advert (next seq, new expiry, current models and addresses) and publishes it. */
  async republish (): Promise<Advert> {
    const { libp2p, privateKey } = this.components
    // milliseconds since the epoch: keeps rising across restarts, so a restarted node is not stale
    this.#seq = this.#seq >= BigInt(Date.now()) ? this.#seq + 1n : BigInt(Date.now())
    const advert = await signAdvert({
      peerId: libp2p.peerId,
      provider: this.init.provider,
      providerOwner: this.init.providerOwner,
      models: [...this.init.models()],
      capacity: this.init.capacity,
      tee: this.init.tee ?? 'none',
      expires: this.#now() + this.ttlSeconds,
      seq: this.#seq,
      addrs: libp2p.getMultiaddrs().filter((a) => a.bytes.length <= ADVERT_LIMITS.maxAddrBytes).slice(0, ADVERT_LIMITS.maxAddrs),
      teeEvidence: (await this.init.teeEvidence?.().catch(() => undefined)) ?? new Uint8Array(0)
    }, privateKey)
    this.#current = advert
    try {
      await this.book.publish(advert)
    } catch (err) {
      this.components.logger?.warn({ err: (err as Error).message }, 'advert publish failed; the next refresh retries')
    }
    return advert
  }

  /** Answers one AdvertRequest: our advert first, then (if asked) every live advert we hold. */
  async #serve (stream: Stream): Promise<void> {
    const signal = AbortSignal.timeout(DISCOVERY_DEFAULTS.fetchTimeoutMs)
    try {
      const lp = lpStream(stream, { maxDataLength: ADVERT_LIMITS.maxRequestBytes })
      const request = decodeAdvertRequest(await lp.read({ signal }))
      const own = this.#current !== undefined && this.#current.expires > this.#now() ? [this.#current] : []
      await lp.write(encodeAdvertResponse(request.known ? [...own, ...this.book.table.list()] : own), { signal })
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  readonly #onAddresses = (): void => {
    const now = this.components.libp2p.getMultiaddrs().map(String).sort().join()
    if (this.#current === undefined || now === this.#current.addrs.map(String).sort().join()) return
    clearTimeout(this.#addrTimer)
    // addresses often change in bursts (listen, relay reservation, AutoNAT): publish once they settle
    this.#addrTimer = setTimeout(() => { void this.republish() }, 500)
  }

  /**
   * Spreads a provider record per model hash once the routing table has peers, and again each time
   * it has doubled while still below K (a young network puts records on too few of the peers that
   * will end up closest to the key); kad-dht reprovides after. A table still growing since the
   * last check is left to settle first (up to five checks), so a joining node does not provide at
   * every step.
   */
  async #provideRecords (): Promise<void> {
    const dht = this.components.libp2p.services.dht
    if (dht === undefined || this.#providing || !this.#started || dht.getMode() !== 'server') return
    const size = (dht as Partial<SingleKadDHT>).routingTable?.size ?? 0
    this.#growing = size === this.#lastSize ? 0 : this.#growing + 1
    this.#lastSize = size
    if (size === 0 || (this.#growing > 0 && this.#growing < 5)) return
    this.#providing = true
    try {
      const hashes = this.init.models().map((m) => Buffer.from(m.hash).toString('hex'))
      for (const hex of [...this.#provided.keys()]) {
        if (!hashes.includes(hex)) {
          this.#provided.delete(hex)
          await dht.cancelReprovide(modelCid(Buffer.from(hex, 'hex'))).catch(() => {})
        }
      }
      for (const hex of hashes) {
        const last = this.#provided.get(hex)
        if (last !== undefined && (size < 2 * last || last >= dht.k)) continue
        let sent = 0
        for await (const event of dht.provide(modelCid(Buffer.from(hex, 'hex')), { signal: this.#abort!.signal })) {
          if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') sent++
        }
        if (sent > 0) this.#provided.set(hex, size)
        this.components.logger?.debug({ model: hex, peers: sent }, 'provider record spread')
      }
    } catch (err) {
      if (this.#started) this.components.logger?.warn({ err: (err as Error).message }, 'DHT provide failed; retrying')
    } finally {
      this.#providing = false
    }
  }
}
