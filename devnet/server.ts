// The devnet HTTP server: the TON HTTP API v2 JSON-RPC subset that @ton/ton's TonClient uses,
// answered from one LocalChain, plus a faucet and a small explorer.
//
//   POST /jsonRPC            {id, jsonrpc, method, params} → {ok:true, result} | HTTP 500 {ok:false, error, code}
//   GET  /api/v2/<method>?…  the same methods with query parameters (for curl)
//   POST /faucet             {address, amount (nanoton)} → {ok:true, result:{hash, lt, explorer}}, after delivery
//   GET  /                   latest transactions
//   GET  /tx/<hash>          one transaction (hex or base64url hash); ?format=json for JSON
//   GET  /address/<address>  balance and recent transactions; ?format=json for JSON
// The explorer labels Silk accounts (Registry, Provider, Channel by code; provider owner, gas
// wallet, client, governor as a Silk contract vouches for them) and names Silk operations
// (devnet/silk-accounts.ts); wallets are shown non-bounceable, contracts bounceable.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Cell } from '@ton/ton'
import { DevnetError, badRequest, httpCodeOf } from './errors.ts'
import { LocalChain, parseAddress, parseHash, type ChainLogger, type DeliveryMode } from './LocalChain.ts'
import { blockId, parseStackArgs, stackResultJson, transactionJson, friendly } from './tonapi.ts'
import { describeAddress, describeTransaction, INDEX_SIZE, renderAddressHtml, renderIndexHtml, renderTxHtml } from './explorer.ts'
import { SilkAccounts, walletCodes } from './silk-accounts.ts'

export interface DevnetOptions {
  host?: string
  /** 0 (default) picks a free port. */
  port?: number
  logger?: ChainLogger
  /** 'realistic' (default) or 'instant'; see LocalChain. */
  delivery?: DeliveryMode
  hopDelayMs?: number
  /** Serve an existing chain instead of creating one (it is not closed by `close()`). */
  chain?: LocalChain
}

export interface Devnet {
  /** JSON-RPC endpoint for `new TonClient({ endpoint })`, e.g. http://127.0.0.1:PORT/jsonRPC */
  endpoint: string
  /** http://host:port — the faucet and explorer live under it. */
  baseUrl: string
  chain: LocalChain
  explorerUrl: (txHashHex: string) => string
  close: () => Promise<void>
}

const MAX_BODY = 8 * 1024 * 1024
const silent: ChainLogger = { debug () {}, info () {}, warn () {}, error () {} }

type Params = Record<string, unknown>
type Handler = (p: Params) => Promise<unknown>

function str (p: Params, key: string, required = true): string | undefined {
  const v = p[key]
  if (v === undefined || v === null || v === '') {
    if (required) throw badRequest(`missing parameter: ${key}`)
    return undefined
  }
  if (typeof v === 'number' || typeof v === 'bigint') return v.toString()
  if (typeof v !== 'string') throw badRequest(`parameter ${key} must be a string`)
  return v
}

function int (p: Params, key: string, dflt: number): number {
  const v = p[key]
  if (v === undefined || v === null || v === '') return dflt
  const n = typeof v === 'number' ? v : Number(v)
  if (!Number.isInteger(n) || n < 0) throw badRequest(`parameter ${key} must be a non-negative integer`)
  return n
}

function boc (p: Params, key: string, required: boolean): Cell | null {
  const s = str(p, key, required)
  if (s === undefined) return null
  try {
    const cells = Cell.fromBoc(Buffer.from(s, 'base64'))
    if (cells.length !== 1 || cells[0] === undefined) throw new Error('expected one root cell')
    return cells[0]
  } catch (e) {
    throw badRequest(`invalid BOC in ${key}: ${(e as Error).message}`)
  }
}

function txId (lt: bigint, hash: Buffer): Record<string, unknown> {
  return { '@type': 'internal.transactionId', lt: lt.toString(), hash: hash.toString('base64') }
}

function methods (chain: LocalChain): Record<string, Handler> {
  const mc = (): Record<string, unknown> => blockId(chain.blockSeqno)

  const getAddressInformation: Handler = async (p) => {
    const a = await chain.getAccount(parseAddress(str(p, 'address') ?? ''))
    return {
      '@type': 'raw.fullAccountState',
      balance: a.balance.toString(),
      extra_currencies: [],
      code: a.code?.toBoc().toString('base64') ?? '',
      data: a.data?.toBoc().toString('base64') ?? '',
      last_transaction_id: txId(a.lastTxLt, a.lastTxHash),
      block_id: mc(),
      frozen_hash: a.frozenHash?.toString('base64') ?? '',
      sync_utime: chain.now(),
      state: a.status
    }
  }

  const locate = (kind: 'result' | 'source'): Handler => async (p) => {
    const source = str(p, 'source') ?? ''
    const destination = str(p, 'destination') ?? ''
    const createdLt = str(p, 'created_lt') ?? ''
    const r = kind === 'result' ? chain.findResultTx(source, destination, createdLt) : chain.findSourceTx(source, destination, createdLt)
    if (r === undefined) throw new DevnetError('NOT_FOUND', `cannot locate ${kind} transaction for message ${source} → ${destination} created at lt ${createdLt}`)
    return transactionJson(r)
  }

  return {
    getAddressInformation,

    getAddressBalance: async (p) => (await chain.getAccount(parseAddress(str(p, 'address') ?? ''))).balance.toString(),

    getAddressState: async (p) => (await chain.getAccount(parseAddress(str(p, 'address') ?? ''))).status,

    getWalletInformation: async (p) => {
      const a = await chain.getAccount(parseAddress(str(p, 'address') ?? ''))
      const type = a.code !== null ? walletCodes.get(a.code.hash().toString('hex')) : undefined
      const result: Record<string, unknown> = {
        '@type': 'ext.wallet.info',
        wallet: type !== undefined,
        balance: a.balance.toString(),
        account_state: a.status,
        last_transaction_id: txId(a.lastTxLt, a.lastTxHash)
      }
      if (type !== undefined) {
        result.wallet_type = type
        const seqno = await chain.runGetMethod(a.address, 'seqno')
        const top = seqno.stack[0]
        if (seqno.exitCode === 0 && top?.type === 'int') result.seqno = Number(top.value)
        if (type !== 'wallet v5 r1' && a.data !== null) {
          const s = a.data.beginParse()
          s.skip(32)
          result.wallet_id = s.loadUint(32)
        }
      }
      return result
    },

    runGetMethod: async (p) => {
      const address = parseAddress(str(p, 'address') ?? '')
      const m = p.method
      let method: string | number
      if (typeof m === 'number' && Number.isInteger(m)) method = m
      else if (typeof m === 'string' && m.length > 0 && m.length <= 128) method = /^-?\d+$/.test(m) ? Number(m) : m
      else throw badRequest('parameter method must be a name or a method id')
      const stack = parseStackArgs(p.stack)
      const r = await chain.runGetMethod(address, method, stack)
      const a = await chain.getAccount(address)
      return {
        '@type': 'smc.runResult',
        gas_used: Number(r.gasUsed),
        stack: stackResultJson(r.stack),
        exit_code: r.exitCode,
        block_id: mc(),
        last_transaction_id: txId(a.lastTxLt, a.lastTxHash)
      }
    },

    sendBoc: async (p) => {
      await chain.sendBoc(str(p, 'boc') ?? '')
      return { '@type': 'ok' }
    },

    sendBocReturnHash: async (p) => {
      const r = await chain.sendBoc(str(p, 'boc') ?? '')
      return { '@type': 'raw.extMessageInfo', hash: r.hash.toString('base64'), hash_norm: r.hashNorm.toString('base64') }
    },

    getTransactions: async (p) => {
      const list = chain.getTransactions(parseAddress(str(p, 'address') ?? ''), {
        limit: int(p, 'limit', 10),
        lt: str(p, 'lt', false),
        hash: str(p, 'hash', false),
        toLt: str(p, 'to_lt', false)
      })
      return list.map(transactionJson)
    },

    getMasterchainInfo: async () => ({
      '@type': 'blocks.masterchainInfo',
      last: mc(),
      state_root_hash: blockId(chain.blockSeqno).root_hash,
      init: blockId(0)
    }),

    getConsensusBlock: async () => ({ '@type': 'ext.blocks.consensusBlock', consensus_block: chain.blockSeqno, timestamp: chain.now() }),

    estimateFee: async (p) => {
      const body = boc(p, 'body', true)
      const f = await chain.estimateFee(parseAddress(str(p, 'address') ?? ''), {
        body: body ?? Cell.EMPTY,
        initCode: boc(p, 'init_code', false),
        initData: boc(p, 'init_data', false),
        ignoreChksig: p.ignore_chksig === true || p.ignore_chksig === 'true'
      })
      return {
        '@type': 'query.fees',
        source_fees: {
          '@type': 'fees',
          in_fwd_fee: Number(f.inFwdFee),
          storage_fee: Number(f.storageFee),
          gas_fee: Number(f.gasFee),
          fwd_fee: Number(f.fwdFee)
        },
        destination_fees: []
      }
    },

    tryLocateTx: locate('result'),
    tryLocateResultTx: locate('result'),
    tryLocateSourceTx: locate('source')
  }
}

function send (res: ServerResponse, status: number, body: string, type: string): void {
  if (res.headersSent) return
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

function sendJson (res: ServerResponse, status: number, body: unknown): void {
  send(res, status, JSON.stringify(body), 'application/json; charset=utf-8')
}

function errorBody (e: unknown, extra: Record<string, unknown> = {}): { status: number, body: Record<string, unknown> } {
  if (e instanceof DevnetError) return { status: 500, body: { ok: false, error: e.message, code: httpCodeOf[e.code], ...extra } }
  return { status: 500, body: { ok: false, error: `internal error: ${(e as Error)?.message ?? String(e)}`, code: 500, ...extra } }
}

function readBody (req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY) {
        reject(badRequest(`request body over ${MAX_BODY} bytes`))
        req.destroy()
        return
      }
      chunks.push(c)
    })
    req.on('end', () => { resolve(Buffer.concat(chunks).toString('utf8')) })
    req.on('error', reject)
  })
}

function parseJson (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (e) {
    throw badRequest(`invalid JSON: ${(e as Error).message}`)
  }
}

export async function startDevnet (opts: DevnetOptions = {}): Promise<Devnet> {
  const host = opts.host ?? '127.0.0.1'
  const log = opts.logger ?? silent
  const ownChain = opts.chain === undefined
  const chain = opts.chain ?? await LocalChain.create({ delivery: opts.delivery, hopDelayMs: opts.hopDelayMs, logger: opts.logger })
  const handlers = methods(chain)
  const accounts = new SilkAccounts(chain)
  let baseUrl = ''
  let endpoint = ''

  const rpc = async (method: unknown, params: unknown): Promise<unknown> => {
    if (typeof method !== 'string' || method.length === 0) throw badRequest('missing method')
    const h = Object.hasOwn(handlers, method) ? handlers[method] : undefined
    if (h === undefined) throw new DevnetError('NOT_FOUND', `unknown method: ${method.slice(0, 80)}`)
    if (params !== undefined && params !== null && (typeof params !== 'object' || Array.isArray(params))) throw badRequest('params must be an object')
    const t0 = Date.now()
    const result = await h((params ?? {}) as Params)
    log.debug({ method, ms: Date.now() - t0 }, 'rpc')
    return result
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://devnet.local')
    const path = url.pathname.replace(/\/+$/, '') || '/'
    const method = req.method ?? 'GET'
    // Reads are open to any web page (explorers, wallets); what spends or mints — sendBoc through
    // /jsonRPC, the faucet — is not: no CORS for POST, and a POST must be JSON, which a page can
    // only send cross-origin after a preflight that gets no permission here.
    if (method === 'GET' || method === 'OPTIONS') {
      res.setHeader('access-control-allow-origin', '*')
      res.setHeader('access-control-allow-methods', 'GET')
    }
    if (method === 'OPTIONS') { send(res, 204, '', 'text/plain'); return }
    if (method === 'POST' && (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() !== 'application/json') {
      sendJson(res, 415, { ok: false, error: 'send JSON with Content-Type: application/json', code: 415 })
      return
    }

    if (method === 'POST' && (path === '/jsonRPC' || path === '/api/v2/jsonRPC' || path === '/')) {
      let id: unknown = null
      try {
        const body = parseJson(await readBody(req))
        if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('request must be a JSON object {id, jsonrpc, method, params}')
        const b = body as Record<string, unknown>
        id = b.id ?? null
        const result = await rpc(b.method, b.params)
        sendJson(res, 200, { ok: true, result, jsonrpc: '2.0', id })
      } catch (e) {
        const { status, body } = errorBody(e, { jsonrpc: '2.0', id })
        if (!(e instanceof DevnetError)) log.error({ err: (e as Error)?.stack ?? String(e) }, 'rpc failed')
        sendJson(res, status, body)
      }
      return
    }

    if (method === 'GET' && path.startsWith('/api/v2/')) {
      try {
        const params: Params = {}
        for (const [k, v] of url.searchParams) params[k] = k === 'stack' ? parseJson(v) : v
        sendJson(res, 200, { ok: true, result: await rpc(path.slice('/api/v2/'.length), params) })
      } catch (e) {
        const { status, body } = errorBody(e)
        sendJson(res, status, body)
      }
      return
    }

    if (method === 'POST' && path === '/faucet') {
      try {
        const body = parseJson(await readBody(req))
        if (body === null || typeof body !== 'object') throw badRequest('faucet takes {address, amount}')
        const b = body as Record<string, unknown>
        if (typeof b.address !== 'string') throw badRequest('faucet: address must be a string')
        if (typeof b.amount !== 'string' && typeof b.amount !== 'number') throw badRequest('faucet: amount must be a nanoton string')
        const rec = await chain.fund(b.address, String(b.amount))
        log.info({ address: b.address, amount: String(b.amount), tx: rec.hashHex }, 'faucet')
        sendJson(res, 200, { ok: true, result: { hash: rec.hashHex, lt: rec.lt.toString(), explorer: `${baseUrl}/tx/${rec.hashHex}` } })
      } catch (e) {
        const { status, body } = errorBody(e)
        sendJson(res, status, body)
      }
      return
    }

    if (method === 'GET') {
      const asJson = url.searchParams.get('format') === 'json'
      try {
        if (path === '/') {
          const labels = await accounts.label(chain.recentTransactions(INDEX_SIZE).map((r) => r.account))
          send(res, 200, renderIndexHtml(chain, endpoint, labels), 'text/html; charset=utf-8')
          return
        }
        if (path === '/health') { sendJson(res, 200, { ok: true, result: { now: chain.now(), block: chain.blockSeqno } }); return }
        if (path.startsWith('/tx/')) {
          const r = chain.getTransaction(decodeURIComponent(path.slice(4)))
          if (r === undefined) throw new DevnetError('NOT_FOUND', 'transaction not found')
          const v = describeTransaction(chain, r, await accounts.label(SilkAccounts.addressesOf(r)))
          if (asJson) sendJson(res, 200, { ok: true, result: v })
          else send(res, 200, renderTxHtml(v), 'text/html; charset=utf-8')
          return
        }
        if (path.startsWith('/address/')) {
          const acc = await chain.getAccount(parseAddress(decodeURIComponent(path.slice(9))))
          const txs = chain.getTransactions(acc.address, { limit: 50 })
          const v = describeAddress(chain, acc, 50, await accounts.label([acc.address, ...txs.flatMap((r) => SilkAccounts.addressesOf(r))]))
          if (asJson) sendJson(res, 200, { ok: true, result: v })
          else send(res, 200, renderAddressHtml(v), 'text/html; charset=utf-8')
          return
        }
        throw new DevnetError('NOT_FOUND', `no such page: ${path.slice(0, 80)}`)
      } catch (e) {
        const code = e instanceof DevnetError ? httpCodeOf[e.code] : 500
        const message = e instanceof Error ? e.message : String(e)
        if (asJson) sendJson(res, code, { ok: false, error: message, code })
        else send(res, code, `<!doctype html><p>${message.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' }[c] ?? c))}</p><p><a href="/">back</a></p>`, 'text/html; charset=utf-8')
      }
      return
    }

    sendJson(res, 404, { ok: false, error: `no route for ${method} ${path.slice(0, 80)}`, code: 404 })
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      log.error({ err: (e as Error)?.stack ?? String(e) }, 'request failed')
      const { status, body } = errorBody(e)
      sendJson(res, status, body)
    })
  })
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n')
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, host, () => { server.off('error', reject); resolve() })
  })
  const port = (server.address() as AddressInfo).port
  baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  endpoint = `${baseUrl}/jsonRPC`
  log.info({ endpoint, treasury: friendly(chain.treasuryAddress), delivery: chain.delivery }, 'devnet listening')

  let closing: Promise<void> | null = null
  return {
    endpoint,
    baseUrl,
    chain,
    explorerUrl: (txHashHex: string) => `${baseUrl}/tx/${parseHash(txHashHex).toString('hex')}`,
    close: async () => {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => { resolve() })
          server.closeAllConnections()
        })
        accounts.close()
        if (ownChain) await chain.close()
      })()
      await closing
    }
  }
}
