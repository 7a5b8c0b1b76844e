import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isLoopbackHost } from '../protocol/net.ts'
import type { Logger } from 'pino'
import { ConfigError } from './config.ts'
import type { ProviderNode } from './provider-node.ts'

export interface AdminListen {
  host: string
  port: number
  /** bearer token: required for POST routes, and for every route when not bound to loopback */
  token?: string | undefined
}

/** The environment variable that carries the admin token (it overrides the config's). */
export const ADMIN_TOKEN_ENV = 'SILK_ADMIN_TOKEN'
const MIN_TOKEN_CHARS = 16


function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

/** Compares through fixed-length digests, so neither the content nor the length of the token leaks by timing. */
function tokenMatches (header: string | undefined, token: string): boolean {
  const given = /^Bearer (.+)$/.exec(header ?? '')?.[1] ?? ''
  return timingSafeEqual(digest(given), digest(token)) && given.length > 0
}

/**
 * The operator endpoint: GET /health (200 when ready, 503 with what is missing: see
 * ProviderNode.readiness), GET /status, GET /metrics (Prometheus), POST /claim (claim
 * every channel whose claim is economic now). Binds to 127.0.0.1 unless told otherwise and refuses
 * any other host without a token; POST routes always need `Authorization: Bearer <token>` (without
 * a token configured they are refused), and off loopback every route does. It never reveals key
 * material.
 */
export class AdminServer {
  private server?: Server
  private readonly listen: { host: string, port: number }
  private readonly token: string | undefined

  constructor (private readonly node: ProviderNode, listen: AdminListen, private readonly logger: Logger) {
    const host = listen.host === '' ? '127.0.0.1' : listen.host
    const token = listen.token === '' ? undefined : listen.token
    if (token !== undefined && token.length < MIN_TOKEN_CHARS) throw new ConfigError(`admin.token: at least ${MIN_TOKEN_CHARS} characters`)
    if (!isLoopbackHost(host) && token === undefined) {
      throw new ConfigError(`admin.host: ${host} is not a loopback address; set admin.token (or ${ADMIN_TOKEN_ENV}) to serve the admin endpoint on it`)
    }
    this.listen = { host, port: listen.port }
    this.token = token
  }

  get url (): string | undefined {
    const a = this.server?.address() as AddressInfo | null | undefined
    if (a == null) return undefined
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`
  }

  /** Read-only routes are open on loopback; everything else needs the token. */
  private authorized (req: IncomingMessage, changesState: boolean): boolean {
    if (!changesState && isLoopbackHost(this.listen.host)) return true
    return this.token !== undefined && tokenMatches(req.headers.authorization, this.token)
  }

  async start (): Promise<void> {
    if (this.server !== undefined) return
    this.server = createServer((req, res) => {
      const reply = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body, (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v))
      }
      const route = `${req.method ?? ''} ${req.url ?? ''}`
      const known = ['GET /health', 'GET /status', 'GET /metrics', 'POST /claim']
      if (!known.includes(route)) return reply(404, { ok: false, error: 'not found' })
      if (!this.authorized(req, req.method !== 'GET')) {
        res.setHeader('www-authenticate', 'Bearer')
        return reply(401, { ok: false, error: this.token === undefined ? 'this route needs admin.token to be configured' : 'missing or wrong bearer token' })
      }
      if (route === 'GET /health') {
        // 503 until the node can serve: a load balancer or supervisor reads the status alone
        this.node.readiness().then(
          (r) => { reply(r.ready ? 200 : 503, { ok: r.ready, ...r }) },
          (err: Error) => { reply(503, { ok: false, error: err.message }) }
        )
        return
      }
      if (route === 'GET /status') return reply(200, this.node.status())
      if (route === 'GET /metrics') {
        this.node.metricsText().then((text) => {
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
          res.end(text)
        }, () => { reply(500, { ok: false, error: 'metrics unavailable' }) })
        return
      }
      this.node.settlement.claimAll().then(
        (payouts) => { reply(200, { ok: true, payouts }) },
        (err: Error) => { this.logger.error({ err: err.message }, 'claim on demand failed'); reply(500, { ok: false, error: err.message }) }
      )
    })
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject)
      this.server!.listen(this.listen.port, this.listen.host, () => { resolve() })
    })
  }

  async stop (): Promise<void> {
    const s = this.server
    this.server = undefined
    if (s !== undefined) await new Promise<void>((resolve) => { s.close(() => { resolve() }); s.closeAllConnections() })
  }
}
