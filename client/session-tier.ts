import { AttestationError, type TeePolicy, type TeeTier, type Verdict } from '../protocol/attestation.ts'
import { ProviderRejectedError } from './errors.ts'

/**
 * Where one session stands with its provider's attestation:
 * - `off`: the policy does not look (tier none, nothing fetched);
 * - `attested`: tier verdict.kind while the verdict lasts (renewed before it expires);
 * - `unattested`: `preferred` only: the node could not prove a tier (tier none; checked again later);
 * - `lost`: `required` only: no valid verdict could be had, the session is closed.
 */
export type TierStanding =
  | { state: 'off' }
  | { state: 'attested', verdict: Verdict }
  | { state: 'unattested', error: AttestationError, since: number }
  | { state: 'lost', error: Error }

export const SESSION_TIER_DEFAULTS = {
  /** a verdict is renewed this many seconds before it expires (at most a fifth of its life) */
  renewBeforeSeconds: 60,
  /** under `preferred`, a node that could not prove a tier is asked again after this long */
  recheckSeconds: 300,
  /** after a failure that says nothing about the node's TEE (unreachable), try again this soon */
  retrySeconds: 15
} as const

export interface SessionTierOptions {
  policy: TeePolicy
  /** challenges the node with a fresh nonce: a verdict, or an AttestationError; other errors mean it could not be asked */
  attest: (signal?: AbortSignal) => Promise<Verdict>
  /** unix seconds, the client's clock */
  now: () => number
  /** the verdict reached when the session was opened, if any */
  verdict?: Verdict
  /** the attestation failure seen when the session was opened (`preferred`), if any */
  error?: AttestationError
  /** called once when a `required` session loses its tier: it must be closed */
  onLost: (err: Error) => void
  /** called once when renewals stop (the session closed or its tier was lost) */
  onStop?: () => void
  renewBeforeSeconds?: number
  recheckSeconds?: number
  retrySeconds?: number
}

/**
 * Keeps a long-lived session's trust tier true: the verdict is renewed (fresh nonce) before it
 * expires, in the background and again before a job if it is due; a node that stops attesting, whose
 * evidence expired or whose measurement left the allow-list falls to tier none (`preferred`) or loses
 * its session (`required`). A result carries the tier whose verdict is valid when it is verified.
 */
export class SessionTier {
  #standing: TierStanding
  #renewing?: Promise<void>
  #timer?: ReturnType<typeof setTimeout>
  #stopped = false
  readonly #o: SessionTierOptions

  constructor (options: SessionTierOptions) {
    this.#o = options
    const now = options.now()
    if (options.policy === 'off') this.#standing = { state: 'off' }
    else if (options.verdict !== undefined) this.#standing = { state: 'attested', verdict: options.verdict }
    else if (options.policy === 'required') throw new ProviderRejectedError('TEE_REQUIRED', 'a required tier needs a verdict to start from')
    else this.#standing = { state: 'unattested', error: options.error ?? new AttestationError('NO_ATTESTATION', 'not attested'), since: now }
    this.#schedule()
  }

  get standing (): TierStanding {
    return this.#standing
  }

  /** The tier a result verified at `now` may claim: only that of a verdict still valid then. */
  tierAt (now: number = this.#o.now()): TeeTier {
    const s = this.#standing
    return s.state === 'attested' && s.verdict.expiresAt > now ? s.verdict.kind : 'none'
  }

  /** The verdict valid at `now`, if any. */
  verdictAt (now: number = this.#o.now()): Verdict | undefined {
    const s = this.#standing
    return s.state === 'attested' && s.verdict.expiresAt > now ? s.verdict : undefined
  }

  /**
   * Before a job: renews a verdict that is due (or gone), so the job starts under a valid one.
   * Under `required`, throws ProviderRejectedError TEE_REQUIRED (and the session is lost) when none
   * can be had. Under `preferred` never throws; a node without a tier is asked again in the background.
   */
  async ensure (signal?: AbortSignal): Promise<void> {
    const s = this.#standing
    const now = this.#o.now()
    if (s.state === 'off') return
    if (s.state === 'lost') throw this.#lostError(s.error)
    if (s.state === 'unattested') {
      // in the background: the job runs at tier none meanwhile, and says so
      if (now >= s.since + this.#recheck) void this.renew()
      return
    }
    if (now < this.#renewAt(s.verdict)) return
    await this.renew(signal)
    this.#requireValid()
  }

  /**
   * The tier of a result verified now. Under `required` a verdict that lapsed while the job ran is
   * not a tier: TEE_REQUIRED is thrown (the result is not accepted, and the session is lost).
   */
  tierForResult (): TeeTier {
    const tier = this.tierAt()
    if (this.#o.policy === 'required' && tier === 'none') {
      const s = this.#standing
      this.#lose(s.state === 'lost' ? s.error : new AttestationError('ATTESTATION_EXPIRED', 'the attestation lapsed while the job ran'))
      this.#requireValid()
    }
    return tier
  }

  /** Challenges the node again now (one at a time); the standing follows the answer. */
  async renew (signal?: AbortSignal): Promise<void> {
    if (this.#stopped || this.#standing.state === 'off' || this.#standing.state === 'lost') return
    this.#renewing ??= this.#renewOnce(signal).finally(() => { this.#renewing = undefined })
    await this.#renewing
  }

  /** The session closed: no more renewals. */
  stop (): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#stopped) return
    this.#stopped = true
    this.#o.onStop?.()
  }

  get #recheck (): number {
    return this.#o.recheckSeconds ?? SESSION_TIER_DEFAULTS.recheckSeconds
  }

  /** Renew at most renewBeforeSeconds, and at most a fifth of the verdict's life, before it expires. */
  #renewAt (verdict: Verdict): number {
    const life = Math.max(0, verdict.expiresAt - verdict.attestedAt)
    const before = Math.min(this.#o.renewBeforeSeconds ?? SESSION_TIER_DEFAULTS.renewBeforeSeconds, Math.floor(life / 5))
    return verdict.expiresAt - before
  }

  async #renewOnce (signal?: AbortSignal): Promise<void> {
    let verdict: Verdict
    try {
      verdict = await this.#o.attest(signal)
    } catch (err) {
      if (this.#stopped) return
      const now = this.#o.now()
      // collateral the client's PCCS could not provide says nothing about the node
      const definitive = err instanceof AttestationError && err.code !== 'COLLATERAL_UNAVAILABLE'
      if (definitive) {
        // the node answered, and what it answered proves no tier: it stopped attesting, its
        // evidence expired, its measurement left the allow-list. The old verdict no longer counts.
        if (this.#o.policy === 'required') this.#lose(err)
        else this.#standing = { state: 'unattested', error: err as AttestationError, since: now }
      } else if (this.tierAt(now) === 'none') {
        // it could not be asked (or judged), and nothing valid is left
        if (this.#o.policy === 'required') this.#lose(err as Error)
        else this.#standing = { state: 'unattested', error: err instanceof AttestationError ? err : new AttestationError('NO_ATTESTATION', `the node could not be asked: ${(err as Error).message}`), since: now }
      }
      // else: not asked or not judged for now, the verdict still valid: try again soon
      this.#schedule(definitive ? undefined : this.#o.retrySeconds ?? SESSION_TIER_DEFAULTS.retrySeconds)
      return
    }
    if (this.#stopped) return
    this.#standing = { state: 'attested', verdict }
    this.#schedule()
  }

  #lose (err: Error): void {
    if (this.#standing.state === 'lost') return
    this.#standing = { state: 'lost', error: err }
    this.stop()
    this.#o.onLost(err)
  }

  #requireValid (): void {
    if (this.#o.policy !== 'required') return
    const s = this.#standing
    if (s.state === 'lost') throw this.#lostError(s.error)
    if (this.tierAt() === 'none') {
      const err = new AttestationError('ATTESTATION_EXPIRED', 'no valid verdict')
      this.#lose(err)
      throw this.#lostError(err)
    }
  }

  #lostError (err: Error): ProviderRejectedError {
    const lost = new ProviderRejectedError('TEE_REQUIRED', `the provider no longer proves a confidential VM: ${err.message}`)
    lost.cause = err
    return lost
  }

  /**
   * A background renewal before the verdict is due (or a recheck of a node without a tier), so jobs
   * rarely wait for one. The timer never keeps the process alive.
   */
  #schedule (inSeconds?: number): void {
    if (this.#stopped) return
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    const s = this.#standing
    const now = this.#o.now()
    let at: number
    if (inSeconds !== undefined) at = now + inSeconds
    else if (s.state === 'attested') at = this.#renewAt(s.verdict)
    else if (s.state === 'unattested') at = s.since + this.#recheck
    else return
    const ms = Math.max(1000, (at - now) * 1000)
    // setTimeout's limit; a verdict lives far less
    this.#timer = setTimeout(() => { this.#timer = undefined; void this.renew().catch(() => {}) }, Math.min(ms, 2 ** 31 - 1))
    this.#timer.unref?.()
  }
}
