import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import type { ProviderNode } from './provider-node.ts'

/**
 * A loopback-only operator endpoint: GET /health, GET /status, GET /metrics (Prometheus),
 * POST /claim (claim every channel now).
 * It never reveals key material.
 */
export class AdminServer {
  private server?: Server

  constructor (private readonly node: ProviderNode, private readonly listen: { host: string, port: number }, private readonly logger: Logger) {}

  get url (): string | undefined {
    const a = this.server?.address() as AddressInfo | null | undefined
    return a != null ? `http://${a.address}:${a.port}` : undefined
  }

  async start (): Promise<void> {
    if (this.server !== undefined) return
    this.server = createServer((req, res) => {
      const reply = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body, (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v))
      }
      if (req.method === 'GET' && req.url === '/health') return reply(200, { ok: true })
      if (req.method === 'GET' && req.url === '/status') return reply(200, this.node.status())
      if (req.method === 'GET' && req.url === '/metrics') {
        this.node.metricsText().then((text) => {
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
          res.end(text)
        }, () => { reply(500, { ok: false, error: 'metrics unavailable' }) })
        return
      }
      if (req.method === 'POST' && req.url === '/claim') {
        this.node.settlement.claimAll().then(
          (payouts) => { reply(200, { ok: true, payouts }) },
          (err: Error) => { this.logger.error({ err: err.message }, 'claim on demand failed'); reply(500, { ok: false, error: err.message }) }
        )
        return
      }
      reply(404, { ok: false, error: 'not found' })
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
