import type { IncomingMessage } from 'node:http'
import { isLoopbackHost } from '../protocol/net.ts'
import { GatewayError } from './errors.ts'

export { isLoopbackHost }

// What stands between the open web and the wallet behind a gateway: which hosts, origins and
// content types may reach a paid endpoint, and how much may be spent per period.

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]'])


export interface RequestGuardOptions {
  /** Host header names accepted (without port); default: the loopback names when bound to loopback */
  allowedHosts?: readonly string[]
  /** browser origins allowed to call the API (CORS); default none */
  corsOrigins?: readonly string[]
}

/**
 * Checks a request before anything is parsed or paid:
 * - Host must be one this gateway answers to: a DNS-rebinding page reaches 127.0.0.1 under its own
 *   name, so an unknown Host is refused.
 * - A browser's Origin must be on the CORS list: a web page may otherwise POST cross-origin
 *   without a preflight.
 * - POSTs must be `application/json`: `text/plain` and form bodies are what a page can send
 *   without a preflight.
 */
export class RequestGuard {
  private readonly hosts: Set<string>
  private readonly origins: Set<string>

  constructor (listenHost: string, options: RequestGuardOptions = {}) {
    const defaults = isLoopbackHost(listenHost) ? [...LOOPBACK_NAMES] : [listenHost]
    this.hosts = new Set((options.allowedHosts ?? defaults).map((h) => h.toLowerCase()))
    this.origins = new Set(options.corsOrigins ?? [])
  }

  /** The CORS headers for this request's origin (empty when it has none or it is not allowed). */
  corsHeaders (req: IncomingMessage): Record<string, string> {
    const origin = req.headers.origin
    if (origin === undefined || !this.origins.has(origin)) return {}
    return {
      'access-control-allow-origin': origin,
      'access-control-allow-methods': 'GET, POST, OPTIONS',
      'access-control-allow-headers': 'authorization, content-type',
      'access-control-max-age': '600',
      vary: 'Origin'
    }
  }

  check (req: IncomingMessage): void {
    const host = hostName(req.headers.host)
    if (host === undefined || !this.hosts.has(host)) {
      throw new GatewayError(421, 'invalid_request_error', 'host_not_allowed', `This gateway does not answer to Host ${JSON.stringify(req.headers.host ?? '')}; add it to allowedHosts`)
    }
    const origin = req.headers.origin
    if (origin !== undefined && !this.origins.has(origin)) {
      throw new GatewayError(403, 'invalid_request_error', 'origin_not_allowed', `Requests from the web origin ${origin} are not allowed; add it to corsOrigins`)
    }
    if (req.method === 'POST') {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
      if (type !== 'application/json') {
        throw new GatewayError(415, 'invalid_request_error', 'unsupported_media_type', 'Send the request body as JSON with Content-Type: application/json')
      }
    }
  }
}

function hostName (header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(header.trim().toLowerCase())
  return m?.[1]
}

export interface SpendingLimitsOptions {
  /** the window the limits apply to, ms; default one day */
  periodMs?: number
  /** nanoton all callers together may spend per period */
  total: bigint
  /** nanoton one API key (or, without keys, all callers) may spend per period; default `total` */
  perKey?: bigint
  /** the most one request may cost, nanoton (what it reserves while it runs) */
  perRequest: bigint
}

/** A request's hold on the budget while it runs; settle it with what the job really cost. */
export interface Reservation {
  readonly key: string
  /** the most the request may cost: pass it to the SDK as maxCost */
  readonly amount: bigint
  readonly period: number
}

/**
 * Spending limits per API key and overall, per period. A request reserves up to `perRequest`
 * before it runs (fewer if less is left), so concurrent requests can never together pass a limit;
 * the SDK refuses to pay a result above the reservation. When nothing is left the caller gets an
 * OpenAI-shaped 429 `insufficient_quota`.
 */
export class SpendingLimits {
  private period = 0
  private periodStart = -Infinity
  private total = 0n
  private readonly perKey = new Map<string, bigint>()

  constructor (private readonly options: SpendingLimitsOptions, private readonly now: () => number = Date.now) {}

  /** the most one request may cost, nanoton */
  get perRequest (): bigint {
    return this.options.perRequest
  }

  reserve (key: string): Reservation {
    this.roll()
    const keyLimit = this.options.perKey ?? this.options.total
    const left = min(this.options.total - this.total, keyLimit - (this.perKey.get(key) ?? 0n))
    const amount = min(left, this.options.perRequest)
    if (amount <= 0n) {
      throw new GatewayError(429, 'insufficient_quota', 'insufficient_quota', 'This gateway has reached its spending limit for the current period; try again later or raise the limit')
    }
    this.add(key, amount)
    return { key, amount, period: this.period }
  }

  /** Replaces the reservation by the real cost (0 when nothing was paid). */
  settle (r: Reservation, cost: bigint): void {
    this.roll()
    // the period rolled while it ran: the cost counts in the new one
    this.add(r.key, r.period === this.period ? cost - r.amount : cost)
  }

  /** nanoton spent or reserved in the current period: overall and for `key` */
  spent (key?: string): bigint {
    this.roll()
    return key === undefined ? this.total : this.perKey.get(key) ?? 0n
  }

  private add (key: string, delta: bigint): void {
    this.total += delta
    const next = (this.perKey.get(key) ?? 0n) + delta
    if (next === 0n) this.perKey.delete(key)
    else this.perKey.set(key, next)
  }

  private roll (): void {
    const t = this.now()
    if (t - this.periodStart < (this.options.periodMs ?? 86_400_000)) return
    this.period++
    this.periodStart = t
    this.total = 0n
    this.perKey.clear()
  }
}

function min (a: bigint, b: bigint): bigint {
  return a < b ? a : b
}
