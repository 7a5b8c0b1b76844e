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
  /** seconds a piece of evidence lives */
  lifetimeSeconds: 3600,
  /** evidence is renewed once less than this share of its life is left, so a client never gets one about to expire */
  refreshFraction: 1 / 4
} as const

export type AttestorErrorCode =
  | 'TSM_UNAVAILABLE' // no configfs-tsm report interface, or not a TDX guest
  | 'TSM_FAILED' // the kernel refused the report or gave back something that is not a TDX quote

export class AttestorError extends Error {
  override name = 'AttestorError'
  constructor (readonly code: AttestorErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

export interface RefreshOptions {
  lifetimeSeconds?: number
  /** renew when fewer seconds than this are left; default a quarter of the lifetime */
  refreshBeforeSeconds?: number
  /** unix seconds (tests control time) */
  now?: () => number
}

function unixNow (): number {
  return Math.floor(Date.now() / 1000)
}

/** Keeps one piece of evidence, renews it before it expires, and never produces two at once. */
abstract class RefreshingAttestor implements Attestor {
  abstract readonly kind: AttestationKind
  readonly lifetimeSeconds: number
  readonly refreshBeforeSeconds: number
  protected readonly now: () => number
  #current?: Evidence
  #pending?: Promise<Evidence>

  constructor (options: RefreshOptions) {
    this.lifetimeSeconds = options.lifetimeSeconds ?? ATTESTOR_DEFAULTS.lifetimeSeconds
    if (!Number.isInteger(this.lifetimeSeconds) || this.lifetimeSeconds < 1 || this.lifetimeSeconds > ATTEST_LIMITS.maxLifetimeSeconds) {
      throw new RangeError(`attestation lifetime must be 1..${ATTEST_LIMITS.maxLifetimeSeconds} seconds`)
    }
    this.refreshBeforeSeconds = options.refreshBeforeSeconds ?? Math.ceil(this.lifetimeSeconds * ATTESTOR_DEFAULTS.refreshFraction)
    if (this.refreshBeforeSeconds < 0 || this.refreshBeforeSeconds >= this.lifetimeSeconds) throw new RangeError('evidence must be renewed within its lifetime')
    this.now = options.now ?? unixNow
  }

  async getEvidence (): Promise<Evidence> {
    const current = this.#current
    if (current !== undefined && this.now() < current.expiresAt - this.refreshBeforeSeconds) return current
    this.#pending ??= this.produce(this.now() + this.lifetimeSeconds)
      .then((evidence) => { this.#current = evidence; return evidence })
      .finally(() => { this.#pending = undefined })
    return await this.#pending
  }

  protected abstract produce (expiresAt: number): Promise<Evidence>
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

export interface TdxAttestorOptions extends RefreshOptions {
  /** the node's Ed25519 public key (32 bytes): PeerId, on-chain nodeKey */
  nodeKey: Uint8Array
  /** the configfs-tsm report directory; default TSM_REPORT_PATH */
  tsmPath?: string
  fs?: TsmFileSystem
}

/** TDX quote header: version 4 or 5, TEE type 0x81. */
function isTdxQuote (quote: Buffer): boolean {
  return quote.length >= 48 && [4, 5].includes(quote.readUInt16LE(0)) && quote.readUInt32LE(4) === 0x81
}

/**
 * Gets TDX quotes from the kernel through configfs-tsm: mkdir a report entry, write the 64-byte
 * report data to `inblob`, read the quote from `outblob`, rmdir. The report data is
 * reportData(nodeKey, expiresAt), so the quote proves this TD holds the node's key until then.
 */
export class TdxAttestor extends RefreshingAttestor {
  readonly kind = 'tdx' as const
  readonly tsmPath: string
  readonly #nodeKey: Uint8Array
  readonly #fs: TsmFileSystem

  constructor (options: TdxAttestorOptions) {
    super(options)
    if (options.nodeKey.length !== 32) throw new RangeError('a node key is 32 bytes')
    this.#nodeKey = options.nodeKey
    this.tsmPath = options.tsmPath ?? TSM_REPORT_PATH
    this.#fs = options.fs ?? nodeFs
  }

  protected async produce (expiresAt: number): Promise<Evidence> {
    const entry = join(this.tsmPath, `silk-${randomBytes(8).toString('hex')}`)
    try {
      await this.#fs.mkdir(entry)
    } catch (err) {
      throw new AttestorError('TSM_UNAVAILABLE', `cannot create a TSM report under ${this.tsmPath} (not a TDX guest, or configfs not mounted): ${(err as Error).message}`, { cause: err })
    }
    try {
      const provider = (await this.#fs.readFile(join(entry, 'provider'))).toString('utf8').trim()
      if (provider !== 'tdx_guest') throw new AttestorError('TSM_UNAVAILABLE', `the TSM provider is "${provider}", not tdx_guest`)
      await this.#fs.writeFile(join(entry, 'inblob'), reportData(this.#nodeKey, expiresAt))
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

export interface DevAttestorOptions extends RefreshOptions {
  /** the node's key pair (protocol/keys.ts Identity.keyPair) */
  keyPair: KeyPair
}

/**
 * DEVELOPMENT ONLY: evidence signed by the node key over the same report data a quote would carry.
 * It proves no TEE; verifiers accept it only on a local network, and results say tier `dev`.
 */
export class DevAttestor extends RefreshingAttestor {
  readonly kind = 'dev' as const
  readonly #keyPair: KeyPair

  constructor (options: DevAttestorOptions) {
    super(options)
    this.#keyPair = options.keyPair
  }

  protected async produce (expiresAt: number): Promise<Evidence> {
    return signDevEvidence(this.#keyPair.secretKey, this.#keyPair.publicKey, expiresAt)
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
 * Serves /silk/attest/1.0.0: one request, the node's current evidence (or NO_ATTESTATION) back.
 * start() produces the first evidence, so a node configured for a TEE it cannot reach fails to
 * start instead of serving silently without one. start() and stop() are safe to call twice.
 */
export class AttestationService {
  #started = false

  constructor (private readonly components: AttestationServiceComponents, private readonly init: AttestationServiceInit = {}) {}

  /** What the advert's `tee` field says. */
  get kind (): AttestationKind | 'none' {
    return this.init.attestor?.kind ?? 'none'
  }

  async start (): Promise<void> {
    if (this.#started) return
    await this.init.attestor?.getEvidence()
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

  /** sha256 of the current evidence, for the advert; undefined without a TEE. */
  async evidenceHash (): Promise<Buffer | undefined> {
    const attestor = this.init.attestor
    return attestor === undefined ? undefined : evidenceHash(await attestor.getEvidence())
  }

  async #serve (stream: Stream): Promise<void> {
    const signal = AbortSignal.timeout(this.init.timeoutMs ?? ATTEST_LIMITS.timeoutMs)
    try {
      const lp = lpStream(stream, { maxDataLength: ATTEST_LIMITS.maxRequestBytes })
      decodeAttestRequest(await lp.read({ signal }))
      await lp.write(encodeAttestResponse(await this.#answer()), { signal })
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  async #answer (): Promise<Parameters<typeof encodeAttestResponse>[0]> {
    const attestor = this.init.attestor
    if (attestor === undefined) return { error: { code: 'NO_ATTESTATION', message: 'this node runs outside a TEE' } }
    try {
      return { evidence: await attestor.getEvidence() }
    } catch (err) {
      this.components.logger?.error({ err: (err as Error).message, kind: attestor.kind }, 'attestation failed; serving without evidence')
      return { error: { code: 'NO_ATTESTATION', message: `the node's ${attestor.kind} attestor failed` } }
    }
  }
}
