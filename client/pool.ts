import type { Tensor } from '../protocol/tensor.ts'
import { AttestationError, tierRank, type TeePolicy, type TeeTier } from '../protocol/attestation.ts'
import type { SilkClient, VerifiedProvider } from './client.ts'
import { ConnectionError, InvalidReceiptError, isRetryable, JobFailedError, ProviderRejectedError, SilkError, UnknownModelError } from './errors.ts'
import { withRetry, type RetryOptions } from './retry.ts'
import type { ClassifyResult, JobResult, RunOptions } from './session.ts'

/** A provider that may serve a model: from discovery, a config file, or a known address. */
export interface Candidate {
  /** dialable multiaddr including /p2p/<peer id> */
  address: string
  pricePerUnit?: bigint
  stake?: bigint
  /**
   * TEE kind from the provider's advert ('tdx', 'dev', 'none'), when known: a claim, used only to
   * choose whom to try first; ranking follows the tier the node proves once connected
   */
  tee?: string
}

export interface ProviderPoolOptions {
  /** where candidates for a model come from; default: the client's discovery (verified adverts) */
  candidates?: (model: string, signal?: AbortSignal) => Promise<Candidate[]>
  /** deposit of each new channel, nanoton */
  deposit: bigint
  /** top the channel up by `deposit` when less than this is left; default deposit / 10 */
  topUpBelow?: bigint
  /** refuse providers that charge more per unit */
  maxPricePerUnit?: bigint
  /**
   * confidential tier: 'required' skips providers whose advert says they have no TEE, or that failed
   * to prove one (the client's own tee policy checks the attestation on connect and keeps it fresh);
   * 'preferred' ranks providers by the tier they prove, best first
   */
  tee?: TeePolicy
  /** how long an advert's tee claim its node could not prove is ignored (the node ranks by what it proved), ms; default 1 h */
  demoteMs?: number
  /** the pool's clock for cooldowns and demotions, ms (tests move it); default Date.now */
  now?: () => number
  retry?: RetryOptions
  /** how long a provider that failed is left alone, ms; default 30 s */
  cooldownMs?: number
}

export interface PoolResult extends JobResult {
  /** the provider that served the job */
  address: string
}

/** One provider as the pool sees it (JSON-safe). */
export interface ProviderView {
  address: string
  /** connected: a live session; idle: none open (the next job connects); cooling_down: failed lately, skipped */
  state: 'connected' | 'idle' | 'cooling_down'
  retryInMs?: number
  /** nanoton per unit, decimal */
  pricePerUnit: string
  inFlight: number
  /** smoothed job latency, ms (0 = not measured yet) */
  latencyMs: number
  tier?: TeeTier
}

export class NoProviderError extends SilkError {
  override name = 'NoProviderError'
}

interface Entry {
  address: string
  provider?: VerifiedProvider
  connecting?: Promise<VerifiedProvider>
  pricePerUnit: bigint
  stake: bigint
  /** smoothed job latency, ms (unknown = 0, so new providers get tried) */
  latencyMs: number
  inFlight: number
  failedUntil: number
  /** the tier the advert claims, if it says */
  claimed?: TeeTier
  /** per model name, the price the provider's advert (or the candidate source) stated: its Welcome must match */
  advertised: Map<string, bigint>
  /** a top-up on its way to the chain; jobs wait for it */
  topping?: Promise<void>
}

/** Providers of a model from the client's verified adverts (gossip and DHT), as pool candidates. */
export async function discoveredCandidates (client: SilkClient, model: string, signal?: AbortSignal): Promise<Candidate[]> {
  const adverts = await client.findProviders(model, signal !== undefined ? { signal } : {})
  return adverts.flatMap((a) => {
    const addr = a.addrs[0]?.toString()
    if (addr === undefined) return []
    const price = a.models.find((m) => m.name === model)?.pricePerUnit
    return [{
      address: addr.includes('/p2p/') ? addr : `${addr}/p2p/${a.peerId.toString()}`,
      tee: a.tee,
      ...(price !== undefined ? { pricePerUnit: price } : {})
    }]
  })
}

export const POOL_DEFAULTS = {
  /** an advert's tee claim that its node could not prove is ignored this long, ms */
  demoteMs: 3_600_000
} as const

/** An advert's `tee` string as a tier claim: anything unknown claims nothing. */
function claimOf (tee: string | undefined): TeeTier | undefined {
  return tee === 'tdx' || tee === 'dev' || tee === 'none' ? tee : undefined
}

/**
 * Whether a failed attestation is the node's doing: collateral the client's PCCS could not provide
 * proves nothing about the node, and must not demote every TDX node while the PCS is down.
 */
function nodesFault (err: unknown): boolean {
  return !(err instanceof AttestationError && err.code === 'COLLATERAL_UNAVAILABLE')
}

/** Thrown inside the pool only: a provider's claim fell on connect and a better one is waiting. */
class Outranked extends Error {}

/** Failures after which another provider may do better. */
function worthFailover (err: unknown): boolean {
  return isRetryable(err) || err instanceof ProviderRejectedError || err instanceof InvalidReceiptError ||
    (err instanceof JobFailedError && (err.code === 'SHUTTING_DOWN' || err.code === 'BAD_CHANNEL' || err.code === 'PAYMENT_REQUIRED'))
}

/**
 * Runs jobs on the best available provider of a model and fails over to the next one when a
 * provider dies, misbehaves or refuses. Choice: under `preferred`, the best tier the provider
 * proves (an advert's claim only until checked); then least loaded, then cheapest, then fastest
 * (measured), then most staked. Connections and channels are kept warm between jobs.
 */
export class ProviderPool {
  private readonly entries = new Map<string, Entry>()
  /** per address: the tier a node proved below what its advert claimed, remembered until `until` (ms) */
  private readonly demoted = new Map<string, { tier: TeeTier, until: number }>()

  private readonly now: () => number

  constructor (private readonly client: SilkClient, private readonly options: ProviderPoolOptions) {
    this.now = options.now ?? Date.now
  }

  /** Runs `work` on one given provider, no failover (spot checks, audits). */
  async useAt<T> (address: string, work: (provider: VerifiedProvider) => Promise<T>): Promise<T> {
    const entry = this.entries.get(address)
    if (entry === undefined) throw new NoProviderError(`${address} is not in the pool`)
    return await work(await this.ready(entry))
  }

  /** Runs a tensor job on the best provider, failing over as needed. */
  async run (model: string, inputs: Tensor[], options: RunOptions = {}): Promise<PoolResult> {
    return await this.use(model, async (p) => await p.session.run(model, inputs, options), options.signal)
  }

  /** Classifies texts on the best provider of a text-classification model. */
  async classify (model: string, texts: string[], options: RunOptions = {}): Promise<ClassifyResult & { address: string }> {
    return await this.use(model, async (p) => await p.session.classify(model, texts, options), options.signal)
  }

  /**
   * Runs `work` on the best provider for `model`, with its session bound to a funded channel.
   * Failures another provider could avoid (a dead or misbehaving node, a refusal) move on to the
   * next provider under the one retry policy; others (bad input) reach the caller at once.
   */
  async use<T> (model: string, work: (provider: VerifiedProvider) => Promise<T>, signal?: AbortSignal, exclude: readonly string[] = []): Promise<T & { address: string }> {
    const tried = new Set<string>()
    const excluded = new Set(exclude)
    return await withRetry(async () => {
      for (;;) {
        const entry = await this.pick(model, tried, signal, excluded)
        tried.add(entry.address)
        const result = await this.useEntry(entry, work)
        if (result !== undefined) return result
        // its advert claimed a tier it could not prove, and a better provider is waiting: not a failure
      }
    }, {
      retries: 3,
      ...this.options.retry,
      ...(signal !== undefined ? { signal } : {}),
      retryable: (err) => worthFailover(err) || err instanceof UnknownModelError ||
        (err instanceof JobFailedError && err.code === 'DEPOSIT_EXHAUSTED')
    })
  }

  /** One attempt on one provider; undefined when it was outranked on connect (nothing ran). */
  private async useEntry<T> (entry: Entry, work: (provider: VerifiedProvider) => Promise<T>): Promise<(T & { address: string }) | undefined> {
    entry.inFlight++
    try {
      for (let attempt = 0; ; attempt++) {
        // a session kept warm since an earlier job may have died meanwhile (the node dropped it
        // when idle, or restarted): one broken connection on it earns a fresh session, not a cooldown
        const warm = entry.provider !== undefined && !entry.provider.session.isClosed
        let provider
        try {
          provider = await this.ready(entry)
        } catch (err) {
          if (err instanceof Outranked) return undefined
          throw err
        }
        await entry.topping
        const started = performance.now()
        let result
        try {
          result = await work(provider)
        } catch (err) {
          if (attempt === 0 && warm && err instanceof ConnectionError) {
            this.forget(entry)
            continue
          }
          throw err
        }
        const ms = performance.now() - started
        entry.latencyMs = entry.latencyMs === 0 ? ms : 0.8 * entry.latencyMs + 0.2 * ms
        this.topUpIfLow(entry)
        return { ...result, address: entry.address }
      }
    } catch (err) {
      // a required tier lost on an open session (the node stopped attesting, its evidence or its
      // measurement's place in the allow-list lapsed): the session is closed, the node skipped a while
      if (err instanceof ProviderRejectedError && err.reason === 'TEE_REQUIRED' && nodesFault(err.cause)) this.demote(entry, 'none')
      if (err instanceof JobFailedError && err.code === 'DEPOSIT_EXHAUSTED') this.topUpIfLow(entry, true)
      else if (worthFailover(err) || err instanceof UnknownModelError) this.drop(entry)
      throw err
    } finally {
      entry.inFlight--
    }
  }

  /** The providers known for a model, best first (for display and tests). */
  async ranked (model: string, signal?: AbortSignal): Promise<Array<Pick<Entry, 'address' | 'pricePerUnit' | 'latencyMs' | 'inFlight'> & { tier?: TeeTier }>> {
    await this.refresh(model, signal)
    return this.order([...this.entries.values()]).map((e) => {
      const tier = this.tierOf(e)
      return { address: e.address, pricePerUnit: e.pricePerUnit, latencyMs: e.latencyMs, inFlight: e.inFlight, ...(tier !== undefined ? { tier } : {}) }
    })
  }

  /** What the pool knows of its providers now, without asking discovery (for health pages). */
  view (): ProviderView[] {
    const now = this.now()
    return [...this.entries.values()].map((e) => {
      const tier = this.tierOf(e)
      const state: ProviderView['state'] = e.failedUntil > now ? 'cooling_down' : e.provider !== undefined && !e.provider.session.isClosed ? 'connected' : 'idle'
      return {
        address: e.address,
        state,
        ...(state === 'cooling_down' ? { retryInMs: e.failedUntil - now } : {}),
        pricePerUnit: e.pricePerUnit.toString(),
        inFlight: e.inFlight,
        latencyMs: Math.round(e.latencyMs),
        ...(tier !== undefined ? { tier } : {})
      }
    })
  }

  /**
   * The tier a provider is ranked by: the one its open session proves now; else, if its advert
   * claimed more than its node proved lately, what it proved; else the advert's claim (a hint of
   * whom to try first, checked on connect); undefined when nothing is known.
   */
  private tierOf (e: Entry): TeeTier | undefined {
    const session = e.provider?.session
    if (session !== undefined && !session.isClosed) return session.tier
    const demoted = this.demoted.get(e.address)
    if (demoted !== undefined) {
      if (demoted.until > this.now()) return demoted.tier
      this.demoted.delete(e.address)
    }
    return e.claimed
  }

  /** Remembers that a provider's node proved less than its advert claims: it ranks by what it proved. */
  private demote (entry: Entry, proved: TeeTier): void {
    this.demoted.set(entry.address, { tier: proved, until: this.now() + (this.options.demoteMs ?? POOL_DEFAULTS.demoteMs) })
  }

  async close (): Promise<void> {
    await Promise.all([...this.entries.values()].map(async (e) => { await e.provider?.session.close() }))
    this.entries.clear()
  }

  private async refresh (model: string, signal?: AbortSignal): Promise<void> {
    const candidates = this.options.candidates ?? (async (m: string, s?: AbortSignal) => await discoveredCandidates(this.client, m, s))
    for (const c of await candidates(model, signal)) {
      const known = this.entries.get(c.address)
      if (known !== undefined) {
        if (c.pricePerUnit !== undefined) {
          known.pricePerUnit = c.pricePerUnit
          // a price that changed since connecting is checked against the session at the next job
          known.advertised.set(model, c.pricePerUnit)
        }
        continue
      }
      const advertised = new Map<string, bigint>(c.pricePerUnit !== undefined ? [[model, c.pricePerUnit]] : [])
      const claimed = claimOf(c.tee)
      this.entries.set(c.address, { address: c.address, pricePerUnit: c.pricePerUnit ?? 0n, stake: c.stake ?? 0n, latencyMs: 0, inFlight: 0, failedUntil: 0, advertised, ...(claimed !== undefined ? { claimed } : {}) })
    }
  }

  private order (entries: Entry[]): Entry[] {
    const max = this.options.maxPricePerUnit
    const policy = this.options.tee ?? 'off'
    const rank = (e: Entry): number => policy === 'preferred' ? tierRank(this.tierOf(e) ?? 'none') : 0
    return entries
      .filter((e) => max === undefined || e.pricePerUnit <= max)
      .filter((e) => policy !== 'required' || this.tierOf(e) !== 'none')
      .sort((a, b) => rank(a) - rank(b) || a.inFlight - b.inFlight ||
        (a.pricePerUnit < b.pricePerUnit ? -1 : a.pricePerUnit > b.pricePerUnit ? 1 : 0) ||
        a.latencyMs - b.latencyMs ||
        (a.stake > b.stake ? -1 : a.stake < b.stake ? 1 : 0))
  }

  private async pick (model: string, tried: Set<string>, signal?: AbortSignal, excluded: Set<string> = new Set()): Promise<Entry> {
    await this.refresh(model, signal)
    const now = this.now()
    const usable = this.order([...this.entries.values()].filter((e) => e.failedUntil <= now && !excluded.has(e.address)))
    const entry = usable.find((e) => !tried.has(e.address)) ?? usable[0]
    if (entry === undefined) throw new NoProviderError(`no provider available for ${model}`)
    return entry
  }

  /** Connects, checks on chain and opens (or reuses) the channel, once per provider. */
  private async ready (entry: Entry): Promise<VerifiedProvider> {
    // a session that ended (a required tier lost, a broken job) is opened afresh, and checked again
    if (entry.provider?.session.isClosed === true) entry.provider = undefined
    if (entry.provider !== undefined) return entry.provider
    entry.connecting ??= (async () => {
      const prices = [...entry.advertised].map(([name, pricePerUnit]) => ({ name, pricePerUnit }))
      const max = this.options.maxPricePerUnit
      let p: VerifiedProvider
      try {
        p = await this.client.connect(entry.address, { prices, ...(max !== undefined ? { maxPricePerUnit: max } : {}) })
      } catch (err) {
        // under `required`, a node that cannot prove a tier: whatever its advert says, it is skipped for a while
        if (err instanceof ProviderRejectedError && err.reason === 'TEE_REQUIRED' && nodesFault(err.cause)) this.demote(entry, 'none')
        throw err
      }
      try {
        const standing = p.session.teeStanding
        if (standing?.state !== 'unattested' || nodesFault(standing.error)) this.judgeClaim(entry, p.session.tier)
        const m = p.session.models
        if (m.length > 0) entry.pricePerUnit = m.reduce((lo, x) => x.pricePerUnit < lo ? x.pricePerUnit : lo, m[0]!.pricePerUnit)
        entry.stake = p.stake
        await this.client.openChannel(p, this.options.deposit)
        return p
      } catch (err) {
        await p.session.close()
        throw err
      }
    })()
    try {
      entry.provider = await entry.connecting
      return entry.provider
    } finally {
      entry.connecting = undefined
    }
  }

  /**
   * Compares what the node proved with what its advert claimed. A claim it could not prove is
   * remembered (it ranks by what it proved); if a better provider is waiting, this one is not used
   * now: Outranked, before any channel is opened.
   */
  private judgeClaim (entry: Entry, proved: TeeTier): void {
    const claimed = this.demoted.has(entry.address) ? undefined : entry.claimed
    if (claimed === undefined || tierRank(proved) <= tierRank(claimed)) return
    this.demote(entry, proved)
    if (this.options.tee !== 'preferred') return
    const now = this.now()
    const better = [...this.entries.values()].some((e) => e !== entry && e.failedUntil <= now && tierRank(this.tierOf(e) ?? 'none') < tierRank(proved))
    if (better) throw new Outranked(`${entry.address} claims tier ${claimed} but proves ${proved}`)
  }

  /** Starts a top-up when the channel runs low (or `now`); the next job on it waits for the chain. */
  private topUpIfLow (entry: Entry, now = false): void {
    const p = entry.provider
    const channel = p?.session.channelAddress
    if (p === undefined || channel === undefined || entry.topping !== undefined) return
    const below = this.options.topUpBelow ?? this.options.deposit / 10n
    entry.topping = (async () => {
      const data = (await this.client.channel(p))?.data
      if (data !== undefined && (now || data.deposit - p.session.paid.amount < below)) await this.client.topUp(channel, this.options.deposit)
    })().catch(() => {
      // the next job meets DEPOSIT_EXHAUSTED and asks again
    }).finally(() => { entry.topping = undefined })
  }

  private drop (entry: Entry): void {
    entry.failedUntil = this.now() + (this.options.cooldownMs ?? 30_000)
    this.forget(entry)
  }

  /** Ends the provider's session; the next job connects afresh. */
  private forget (entry: Entry): void {
    const p = entry.provider
    entry.provider = undefined
    void p?.session.close()
  }
}

