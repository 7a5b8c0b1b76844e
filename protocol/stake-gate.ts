import { Address } from '@ton/core'
import type { Advert } from './advert.ts'
import { STAKE_GATE_DEFAULTS } from './discovery-constants.ts'

/** What the chain says about a Provider contract. */
export interface ProviderStanding {
  /** the owner wallet registered on chain */
  owner: string
  /** the node key registered on chain (32 bytes) */
  nodeKey: Uint8Array
  stake: bigint
  /** neither unbonding nor slashed */
  active: boolean
  /** the least stake that counts (the Registry's minimum); 1 nanoton when unset */
  minStake?: bigint
}

/**
 * Reads a Provider contract. Resolves undefined when there is no Provider of this network's Registry
 * at that address (nothing deployed, or a contract the Registry did not derive); rejects when the
 * chain cannot be read (the gate then refuses for a while: it fails closed).
 */
export type StakeOf = (provider: string) => Promise<ProviderStanding | undefined>

/**
 * staked: the named Provider is active, staked and holds the advert's key and owner.
 * unregistered: no Provider at that address (a made-up or foreign one).
 * unstaked: a Provider exists but is unbonding, slashed or below the minimum stake.
 * wrong-key: the Provider exists but holds another node key or owner: the advert claims stake that is not its own.
 * busy: too many chain reads in flight (overall or from this source): ignored, not judged.
 * unreadable: the chain read failed (refused until it can be read).
 */
export type StakeVerdict = 'staked' | 'unregistered' | 'unstaked' | 'wrong-key' | 'busy' | 'unreadable'

export interface StakeGateInit {
  stakeOf: StakeOf
  /** stake below this is not enough, whatever the Provider's own record says; default 1 nanoton */
  minStake?: bigint
  stakedTtlSeconds?: number
  unstakedTtlSeconds?: number
  maxLookups?: number
  maxLookupsPerSource?: number
  maxWaiting?: number
  maxWaitingPerSource?: number
  maxUnstaked?: number
  maxStaked?: number
  /** unix seconds (injected so tests control time) */
  now?: () => number
}

type Standing = { kind: 'found', standing: ProviderStanding } | { kind: 'absent' } | { kind: 'unreadable' }

interface Cached { standing: Standing, until: number }

function unixNow (): number {
  return Math.floor(Date.now() / 1000)
}

function rawKey (provider: string): string | undefined {
  try {
    return Address.parse(provider).toRawString()
  } catch {
    return undefined
  }
}

function sameAddress (a: string, b: string): boolean {
  const ra = rawKey(a)
  return ra !== undefined && ra === rawKey(b)
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b))
}

/**
 * Decides whether an advert's Provider has stake on chain. One chain read per Provider per TTL
 * (staked and unstaked verdicts are both cached, each with its own TTL and bound), one read in
 * flight per Provider however many adverts name it, and a bound on reads in flight overall and per
 * source peer (with a bounded wait for a slot, so an honest relay's burst is read in turn, and
 * anything beyond is ignored), so a flood of throwaway keys costs the node at most `maxLookups`
 * reads at a time and a bounded cache that holds only the flood's own entries: staked verdicts
 * live in a separate map the flood cannot evict.
 */
export class StakeGate {
  readonly #stakeOf: StakeOf
  readonly #minStake: bigint
  readonly #stakedTtl: number
  readonly #unstakedTtl: number
  readonly #maxLookups: number
  readonly #maxPerSource: number
  readonly #maxWaiting: number
  readonly #maxWaitingPerSource: number
  readonly #maxUnstaked: number
  readonly #maxStaked: number
  readonly #now: () => number
  readonly #staked = new Map<string, Cached>()
  readonly #unstaked = new Map<string, Cached>()
  readonly #pending = new Map<string, Promise<Standing>>()
  readonly #perSource = new Map<string, number>()
  /** adverts waiting for a read slot, by source; woken whenever a read ends */
  readonly #waitingPerSource = new Map<string, number>()
  #waiting = 0
  #wake: Array<() => void> = []
  /** chain reads made (tests and metrics: proves the cache holds) */
  lookups = 0

  constructor (init: StakeGateInit) {
    this.#stakeOf = init.stakeOf
    this.#minStake = init.minStake ?? 1n
    this.#stakedTtl = init.stakedTtlSeconds ?? STAKE_GATE_DEFAULTS.stakedTtlSeconds
    this.#unstakedTtl = init.unstakedTtlSeconds ?? STAKE_GATE_DEFAULTS.unstakedTtlSeconds
    this.#maxLookups = init.maxLookups ?? STAKE_GATE_DEFAULTS.maxLookups
    this.#maxPerSource = init.maxLookupsPerSource ?? STAKE_GATE_DEFAULTS.maxLookupsPerSource
    this.#maxWaiting = init.maxWaiting ?? STAKE_GATE_DEFAULTS.maxWaiting
    this.#maxWaitingPerSource = init.maxWaitingPerSource ?? STAKE_GATE_DEFAULTS.maxWaitingPerSource
    this.#maxUnstaked = init.maxUnstaked ?? STAKE_GATE_DEFAULTS.maxUnstaked
    this.#maxStaked = init.maxStaked ?? STAKE_GATE_DEFAULTS.maxStaked
    this.#now = init.now ?? unixNow
  }

  /** Cached verdicts held (both kinds), reads in flight and adverts waiting for one: all bounded. */
  get sizes (): { staked: number, unstaked: number, pending: number, waiting: number } {
    return { staked: this.#staked.size, unstaked: this.#unstaked.size, pending: this.#pending.size, waiting: this.#waiting }
  }

  /** Whether the verdict for this advert's Provider is cached and fresh (no chain read needed). */
  fresh (advert: Pick<Advert, 'provider'>): boolean {
    const key = rawKey(advert.provider)
    return key !== undefined && this.#cached(key) !== undefined
  }

  /** Judges an advert; `source` is the peer it came from (the gossip relay, or the peer asked). */
  async check (advert: Pick<Advert, 'provider' | 'providerOwner' | 'peerId'>, source: string): Promise<StakeVerdict> {
    const key = rawKey(advert.provider)
    if (key === undefined) return 'unregistered'
    const cached = this.#cached(key)
    const standing = cached ?? await this.#lookup(key, advert.provider, source)
    if (standing === 'busy') return 'busy'
    return this.#judge(standing, advert)
  }

  #judge (s: Standing, advert: Pick<Advert, 'providerOwner' | 'peerId'>): StakeVerdict {
    if (s.kind === 'absent') return 'unregistered'
    if (s.kind === 'unreadable') return 'unreadable'
    const { standing } = s
    const advertKey = advert.peerId.publicKey?.raw
    if (advertKey === undefined || !equalBytes(standing.nodeKey, advertKey) || !sameAddress(standing.owner, advert.providerOwner)) return 'wrong-key'
    const least = standing.minStake !== undefined && standing.minStake > this.#minStake ? standing.minStake : this.#minStake
    return standing.active && standing.stake >= least ? 'staked' : 'unstaked'
  }

  #cached (key: string): Standing | undefined {
    const now = this.#now()
    for (const map of [this.#staked, this.#unstaked]) {
      const hit = map.get(key)
      if (hit === undefined) continue
      if (hit.until > now) return hit.standing
      map.delete(key)
    }
    return undefined
  }

  async #lookup (key: string, provider: string, source: string): Promise<Standing | 'busy'> {
    for (;;) {
      const pending = this.#pending.get(key)
      if (pending !== undefined) return await pending
      const cached = this.#cached(key)
      if (cached !== undefined) return cached
      const fromSource = this.#perSource.get(source) ?? 0
      if (this.#pending.size < this.#maxLookups && fromSource < this.#maxPerSource) return await this.#start(key, provider, source, fromSource)
      // no slot: wait for one, within bounds (an honest relay forwards bursts), else ignore
      const waiting = this.#waitingPerSource.get(source) ?? 0
      if (this.#waiting >= this.#maxWaiting || waiting >= this.#maxWaitingPerSource) return 'busy'
      this.#waiting++
      this.#waitingPerSource.set(source, waiting + 1)
      await new Promise<void>((resolve) => { this.#wake.push(resolve) })
      this.#waiting--
      const left = (this.#waitingPerSource.get(source) ?? 1) - 1
      if (left <= 0) this.#waitingPerSource.delete(source)
      else this.#waitingPerSource.set(source, left)
    }
  }

  async #start (key: string, provider: string, source: string, fromSource: number): Promise<Standing> {
    this.#perSource.set(source, fromSource + 1)
    this.lookups++
    const read = this.#read(provider).then((standing) => {
      this.#remember(key, standing)
      return standing
    }).finally(() => {
      this.#pending.delete(key)
      const left = (this.#perSource.get(source) ?? 1) - 1
      if (left <= 0) this.#perSource.delete(source)
      else this.#perSource.set(source, left)
      // every waiter looks again (bounded by maxWaiting); those still without a slot wait again
      const wake = this.#wake
      this.#wake = []
      wake.forEach((resolve) => { resolve() })
    })
    this.#pending.set(key, read)
    return await read
  }

  async #read (provider: string): Promise<Standing> {
    try {
      const standing = await this.#stakeOf(provider)
      return standing === undefined ? { kind: 'absent' } : { kind: 'found', standing }
    } catch {
      return { kind: 'unreadable' }
    }
  }

  #remember (key: string, standing: Standing): void {
    const staked = standing.kind === 'found' && standing.standing.active && standing.standing.stake >= this.#minStake && standing.standing.stake > 0n
    const map = staked ? this.#staked : this.#unstaked
    const bound = staked ? this.#maxStaked : this.#maxUnstaked
    map.delete(key)
    // oldest first: Map keeps insertion order
    while (map.size >= bound) map.delete(map.keys().next().value!)
    map.set(key, { standing, until: this.#now() + (staked ? this.#stakedTtl : this.#unstakedTtl) })
    ;(staked ? this.#unstaked : this.#staked).delete(key)
  }
}
