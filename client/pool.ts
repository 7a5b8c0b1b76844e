import type { Tensor } from '../protocol/tensor.ts'
import { tierRank, type TeePolicy, type TeeTier } from '../protocol/attestation.ts'
import type { SilkClient, VerifiedProvider } from './client.ts'
import { InvalidReceiptError, isRetryable, JobFailedError, ProviderRejectedError, SilkError, UnknownModelError } from './errors.ts'
import { withRetry, type RetryOptions } from './retry.ts'
import type { ClassifyResult, JobResult, RunOptions } from './session.ts'

/** A provider that may serve a model: from discovery, a config file, or a known address. */
export interface Candidate {
  /** dialable multiaddr including /p2p/<peer id> */
  address: string
  pricePerUnit?: bigint
  stake?: bigint
  /** TEE kind from the provider's advert ('tdx', 'dev', 'none'), when known */
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
   * confidential tier: 'required' skips providers whose advert says they have no TEE (the client's
   * own tee policy still checks the attestation on connect); 'preferred' tries attested ones first
   */
  tee?: TeePolicy
  retry?: RetryOptions
  /** how long a provider that failed is left alone, ms; default 30 s */
  cooldownMs?: number
}

export interface PoolResult extends JobResult {
  /** the provider that served the job */
  address: string
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
  tee?: string
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

/** Failures after which another provider may do better. */
function worthFailover (err: unknown): boolean {
  return isRetryable(err) || err instanceof ProviderRejectedError || err instanceof InvalidReceiptError ||
    (err instanceof JobFailedError && (err.code === 'SHUTTING_DOWN' || err.code === 'BAD_CHANNEL' || err.code === 'PAYMENT_REQUIRED'))
}

/**
 * Runs jobs on the best available provider of a model and fails over to the next one when a
 * provider dies, misbehaves or refuses. Choice: least loaded, then cheapest, then fastest
 * (measured), then most staked. Connections and channels are kept warm between jobs.
 */
export class ProviderPool {
  private readonly entries = new Map<string, Entry>()

  constructor (private readonly client: SilkClient, private readonly options: ProviderPoolOptions) {}

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
      const entry = await this.pick(model, tried, signal, excluded)
      tried.add(entry.address)
      entry.inFlight++
      try {
        const provider = await this.ready(entry)
        await entry.topping
        const started = performance.now()
        const result = await work(provider)
        const ms = performance.now() - started
        entry.latencyMs = entry.latencyMs === 0 ? ms : 0.8 * entry.latencyMs + 0.2 * ms
        this.topUpIfLow(entry)
        return { ...result, address: entry.address }
      } catch (err) {
        if (err instanceof JobFailedError && err.code === 'DEPOSIT_EXHAUSTED') this.topUpIfLow(entry, true)
        else if (worthFailover(err) || err instanceof UnknownModelError) this.drop(entry)
        throw err
      } finally {
        entry.inFlight--
      }
    }, {
      retries: 3,
      ...this.options.retry,
      ...(signal !== undefined ? { signal } : {}),
      retryable: (err) => worthFailover(err) || err instanceof UnknownModelError ||
        (err instanceof JobFailedError && err.code === 'DEPOSIT_EXHAUSTED')
    })
  }

  /** The providers known for a model, best first (for display and tests). */
  async ranked (model: string, signal?: AbortSignal): Promise<Array<Pick<Entry, 'address' | 'pricePerUnit' | 'latencyMs' | 'inFlight'>>> {
    await this.refresh(model, signal)
    return this.order([...this.entries.values()])
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
      this.entries.set(c.address, { address: c.address, pricePerUnit: c.pricePerUnit ?? 0n, stake: c.stake ?? 0n, latencyMs: 0, inFlight: 0, failedUntil: 0, advertised, ...(c.tee !== undefined ? { tee: c.tee } : {}) })
    }
  }

  private order (entries: Entry[]): Entry[] {
    const max = this.options.maxPricePerUnit
    const policy = this.options.tee ?? 'off'
    const rank = (e: Entry): number => policy === 'preferred' ? tierRank((e.tee ?? 'none') as TeeTier) : 0
    return entries
      .filter((e) => max === undefined || e.pricePerUnit <= max)
      .filter((e) => policy !== 'required' || e.tee !== 'none')
      .sort((a, b) => rank(a) - rank(b) || a.inFlight - b.inFlight ||
        (a.pricePerUnit < b.pricePerUnit ? -1 : a.pricePerUnit > b.pricePerUnit ? 1 : 0) ||
        a.latencyMs - b.latencyMs ||
        (a.stake > b.stake ? -1 : a.stake < b.stake ? 1 : 0))
  }

  private async pick (model: string, tried: Set<string>, signal?: AbortSignal, excluded: Set<string> = new Set()): Promise<Entry> {
    await this.refresh(model, signal)
    const now = Date.now()
    const usable = this.order([...this.entries.values()].filter((e) => e.failedUntil <= now && !excluded.has(e.address)))
    const entry = usable.find((e) => !tried.has(e.address)) ?? usable[0]
    if (entry === undefined) throw new NoProviderError(`no provider available for ${model}`)
    return entry
  }

  /** Connects, checks on chain and opens (or reuses) the channel, once per provider. */
  private async ready (entry: Entry): Promise<VerifiedProvider> {
    if (entry.provider !== undefined) return entry.provider
    entry.connecting ??= (async () => {
      const prices = [...entry.advertised].map(([name, pricePerUnit]) => ({ name, pricePerUnit }))
      const max = this.options.maxPricePerUnit
      const p = await this.client.connect(entry.address, { prices, ...(max !== undefined ? { maxPricePerUnit: max } : {}) })
      try {
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
    entry.failedUntil = Date.now() + (this.options.cooldownMs ?? 30_000)
    const p = entry.provider
    entry.provider = undefined
    void p?.session.close()
  }
}

