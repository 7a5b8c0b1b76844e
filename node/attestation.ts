import { randomBytes } from 'node:crypto'
import * as fsp from 'node:fs/promises'
import { join } from 'node:path'
import type { Libp2p, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { KeyPair } from '@ton/crypto'
import type { Logger } from 'pino'
import {
  ATTEST_LIMITS, ATTEST_PROTOCOL, decodeAttestRequest, encodeAttestResponse, evidenceHash, reportData, signDevEvidence,
  type AttestationKind, type Attestor, type Evidence
} from '../protocol/attestation.ts'

/** Where Linux exposes the TSM (trusted security module) report interface in a confidential VM. */
export const TSM_REPORT_PATH = '/sys/kernel/config/tsm/report'

export const ATTESTOR_DEFAULTS = {
  /** seconds a piece of evidence lives (clients also cap a verdict's age by their own clock) */
  lifetimeSeconds: 3600,
  /**
   * quote requests queued for the TSM at once: every attest request carries a client nonce, so each
   * costs a round trip to the host's quoting service; beyond this many waiting, requests are refused
   */
  maxPendingQuotes: 16
} as const

export type AttestorErrorCode =
  | 'TSM_UNAVAILABLE' // no configfs-tsm report interface, or not a TDX guest
  | 'TSM_FAILED' // the kernel refused the report or gave back something that is not a TDX quote
  | 'TSM_BUSY' // too many quote requests are waiting; the client may retry

export class AttestorError extends Error {
  override name = 'AttestorError'
  constructor (readonly code: AttestorErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

export interface AttestorOptions {
  lifetimeSeconds?: number
  /** unix seconds (tests control time) */
  now?: () => number
}

function unixNow (): number {
  return Math.floor(Date.now() / 1000)
}

/** Produces fresh evidence for each client nonce; nothing is reused across requests. */
abstract class NonceAttestor implements Attestor {
  abstract readonly kind: AttestationKind
  readonly lifetimeSeconds: number
  readonly now: () => number

  constructor (options: AttestorOptions) {
    this.lifetimeSeconds = options.lifetimeSeconds ?? ATTESTOR_DEFAULTS.lifetimeSeconds
    if (!Number.isInteger(this.lifetimeSeconds) || this.lifetimeSeconds < 1 || this.lifetimeSeconds > ATTEST_LIMITS.maxLifetimeSeconds) {
      throw new RangeError(`attestation lifetime must be 1..${ATTEST_LIMITS.maxLifetimeSeconds} seconds`)
    }
    this.now = options.now ?? unixNow
  }

  async getEvidence (nonce: Uint8Array): Promise<Evidence> {
    if (nonce.length !== ATTEST_LIMITS.nonceBytes) throw new RangeError(`a nonce is ${ATTEST_LIMITS.nonceBytes} bytes`)
    return await this.produce(this.now() + this.lifetimeSeconds, nonce)
  }

  protected abstract produce (expiresAt: number, nonce: Uint8Array): Promise<Evidence>
}

/** The file operations TdxAttestor performs on configfs; injectable so a test can emulate the kernel. */
export interface TsmFileSystem {
  mkdir(path: string): Promise<unknown>
  rmdir(path: string): Promise<void>
  writeFile(path: string, data: Uint8Array): Promise<void>
  readFile(path: string): Promise<Buffer>
}

const nodeFs: TsmFileSystem = {
  mkdir: async (path) => await fsp.mkdir(path, { mode: 0o700 }),
  rmdir: async (path) => { await fsp.rmdir(path) },
  writeFile: async (path, data) => { await fsp.writeFile(path, data) },
  readFile: async (path) => await fsp.readFile(path)
}

export interface TdxAttestorOptions extends AttestorOptions {
  /** the node's Ed25519 public key (32 bytes): PeerId, on-chain nodeKey */
  nodeKey: Uint8Array
  /** the configfs-tsm report directory; default TSM_REPORT_PATH */
  tsmPath?: string
  fs?: TsmFileSystem
  /** default ATTESTOR_DEFAULTS.maxPendingQuotes */
  maxPendingQuotes?: number
}

/** TDX quote header: version 4 or 5, TEE type 0x81. */
function isTdxQuote (quote: Buffer): boolean {
  return quote.length >= 48 && [4, 5].includes(quote.readUInt16LE(0)) && quote.readUInt32LE(4) === 0x81
}

/**
 * Gets TDX quotes from the kernel through configfs-tsm: mkdir a report entry, write the 64-byte
 * report data to `inblob`, read the quote from `outblob`, rmdir. The report data is
 * reportData(nodeKey, expiresAt, nonce): the quote proves this TD holds the node's key, and was
 * made after the client chose its nonce. One quote at a time; a bounded queue waits for the TSM.
 */
export class TdxAttestor extends NonceAttestor {
  readonly kind = 'tdx' as const
  readonly tsmPath: string
  readonly #nodeKey: Uint8Array
  readonly #fs: TsmFileSystem
  readonly #maxPending: number
  #waiting = 0
  #tail: Promise<unknown> = Promise.resolve()

  constructor (options: TdxAttestorOptions) {
    super(options)
    if (options.nodeKey.length !== 32) throw new RangeError('a node key is 32 bytes')
    this.#nodeKey = options.nodeKey
    this.tsmPath = options.tsmPath ?? TSM_REPORT_PATH
    this.#fs = options.fs ?? nodeFs
    this.#maxPending = options.maxPendingQuotes ?? ATTESTOR_DEFAULTS.maxPendingQuotes
  }

  protected async produce (expiresAt: number, nonce: Uint8Array): Promise<Evidence> {
    if (this.#waiting >= this.#maxPending) throw new AttestorError('TSM_BUSY', `${this.#waiting} quote requests are already waiting for the TSM`)
    this.#waiting++
    const run = this.#tail.then(async () => await this.#quote(expiresAt, nonce))
    this.#tail = run.catch(() => {})
    try {
      return await run
    } finally {
      this.#waiting--
    }
  }

  async #quote (expiresAt: number, nonce: Uint8Array): Promise<Evidence> {
    const entry = join(this.tsmPath, `silk-${randomBytes(8).toString('hex')}`)
    try {
      await this.#fs.mkdir(entry)
    } catch (err) {
      throw new AttestorError('TSM_UNAVAILABLE', `cannot create a TSM report under ${this.tsmPath} (not a TDX guest, or configfs not mounted): ${(err as Error).message}`, { cause: err })
    }
    try {
      const provider = (await this.#fs.readFile(join(entry, 'provider'))).toString('utf8').trim()
      if (provider !== 'tdx_guest') throw new AttestorError('TSM_UNAVAILABLE', `the TSM provider is "${provider}", not tdx_guest`)
      await this.#fs.writeFile(join(entry, 'inblob'), reportData(this.#nodeKey, expiresAt, nonce))
      // each write bumps `generation`: equal before and after the read means the quote is for our inblob
      const before = await this.#generation(entry)
      const quote = await this.#fs.readFile(join(entry, 'outblob'))
      if (await this.#generation(entry) !== before) throw new AttestorError('TSM_FAILED', 'the report entry changed while the quote was read')
      if (quote.length > ATTEST_LIMITS.maxQuoteBytes || !isTdxQuote(quote)) throw new AttestorError('TSM_FAILED', `outblob (${quote.length} bytes) is not a TDX quote`)
      return { kind: 'tdx', expiresAt, quote }
    } catch (err) {
      if (err instanceof AttestorError) throw err
      throw new AttestorError('TSM_FAILED', `TSM report failed: ${(err as Error).message}`, { cause: err })
    } finally {
      await this.#fs.rmdir(entry).catch(() => {})
    }
  }

  async #generation (entry: string): Promise<string> {
    return (await this.#fs.readFile(join(entry, 'generation'))).toString('utf8').trim()
  }
}

export interface DevAttestorOptions extends AttestorOptions {
  /** the node's key pair (protocol/keys.ts Identity.keyPair) */
  keyPair: KeyPair
}

/**
 * DEVELOPMENT ONLY: evidence signed by the node key over the same report data a quote would carry.
 * It proves no TEE; verifiers accept it only on a local network, and results say tier `dev`.
 */
export class DevAttestor extends NonceAttestor {
  readonly kind = 'dev' as const
  readonly #keyPair: KeyPair

  constructor (options: DevAttestorOptions) {
    super(options)
    this.#keyPair = options.keyPair
  }

  protected async produce (expiresAt: number, nonce: Uint8Array): Promise<Evidence> {
    return signDevEvidence(this.#keyPair.secretKey, this.#keyPair.publicKey, expiresAt, nonce)
  }
}

export interface AttestationServiceComponents {
  libp2p: Libp2p
  logger?: Logger
}

export interface AttestationServiceInit {
  /** none: the node runs outside a TEE and answers NO_ATTESTATION */
  attestor?: Attestor
  maxInboundStreams?: number
  timeoutMs?: number
}

/**
 * Serves /silk/attest/2.0.0: one request with the client's nonce, fresh evidence for that nonce (or
 * NO_ATTESTATION) back. start() produces evidence once for a nonce of its own, so a node configured
 * for a TEE it cannot reach fails to start instead of serving silently without one. start() and
 * stop() are safe to call twice.
 */
export class AttestationService {
  #started = false
  /** the latest evidence produced, for the advert's hash */
  #latest?: Evidence

  constructor (private readonly components: AttestationServiceComponents, private readonly init: AttestationServiceInit = {}) {}

  /** What the advert's `tee` field says. */
  get kind (): AttestationKind | 'none' {
    return this.init.attestor?.kind ?? 'none'
  }

  async start (): Promise<void> {
    if (this.#started) return
    if (this.init.attestor !== undefined) this.#latest = await this.init.attestor.getEvidence(randomBytes(ATTEST_LIMITS.nonceBytes))
    await this.components.libp2p.handle(ATTEST_PROTOCOL, (stream) => { void this.#serve(stream) }, {
      runOnLimitedConnection: true,
      maxInboundStreams: this.init.maxInboundStreams ?? 32
    })
    this.#started = true
  }

  async stop (): Promise<void> {
    if (!this.#started) return
    this.#started = false
    await this.components.libp2p.unhandle(ATTEST_PROTOCOL).catch(() => {})
  }

  /**
   * sha256 of the latest evidence produced, for the advert (it says the node attests; clients verify
   * evidence for their own nonce, never this hash); undefined without a TEE. Renewed once expired.
   */
  async evidenceHash (): Promise<Buffer | undefined> {
    const attestor = this.init.attestor
    if (attestor === undefined) return undefined
    if (this.#latest === undefined || this.#latest.expiresAt <= unixNow()) this.#latest = await attestor.getEvidence(randomBytes(ATTEST_LIMITS.nonceBytes))
    return evidenceHash(this.#latest)
  }

  async #serve (stream: Stream): Promise<void> {
    const signal = AbortSignal.timeout(this.init.timeoutMs ?? ATTEST_LIMITS.timeoutMs)
    try {
      const lp = lpStream(stream, { maxDataLength: ATTEST_LIMITS.maxRequestBytes })
      const nonce = decodeAttestRequest(await lp.read({ signal }))
      await lp.write(encodeAttestResponse(await this.#answer(nonce)), { signal })
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  async #answer (nonce: Uint8Array): Promise<Parameters<typeof encodeAttestResponse>[0]> {
    const attestor = this.init.attestor
    if (attestor === undefined) return { error: { code: 'NO_ATTESTATION', message: 'this node runs outside a TEE' } }
    try {
      const evidence = await attestor.getEvidence(nonce)
      this.#latest = evidence
      return { evidence }
    } catch (err) {
      if (err instanceof AttestorError && err.code === 'TSM_BUSY') {
        this.components.logger?.warn({ kind: attestor.kind }, 'attest request refused: quote queue full')
        return { error: { code: 'NO_ATTESTATION', message: `the node's ${attestor.kind} attestor is busy; retry later` } }
      }
      this.components.logger?.error({ err: (err as Error).message, kind: attestor.kind }, 'attestation failed; serving without evidence')
      return { error: { code: 'NO_ATTESTATION', message: `the node's ${attestor.kind} attestor failed` } }
    }
  }
}
