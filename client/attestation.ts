import { createHash } from 'node:crypto'
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'
import { InvalidDataLengthError, lpStream } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import { getCollateral, INTEL_PCS_URL, intel, Quote, QuoteVerifier, type Collateral, type Report, type TDReport10 } from '@phala/dcap-qvl'
import type { Address } from '@ton/core'
import type { TonClient } from '@ton/ton'
import { Registry } from '../contracts/index.ts'
import {
  applyTeePolicy, ATTEST_LIMITS, ATTEST_PROTOCOL, AttestationError, AttestationExpiredError, CollateralUnavailableError,
  decodeAttestResponse, DEV_MEASUREMENT, DEV_TCB_STATUS, DevAttestationRefusedError, encodeAttestRequest,
  evidenceHash, measurementDigest, MeasurementNotAllowedError, NoAttestationError, QuoteInvalidError, ReportDataMismatchError,
  reportData, TcbRejectedError, verifyDevSignature,
  type AttestationKind, type Evidence, type MeasurementAllowList, type TeeDecision, type TeePolicy, type Verdict, type Verifier, type VerifyContext
} from '../protocol/attestation.ts'
import { peerPublicKey } from '../protocol/keys.ts'

export type { Collateral } from '@phala/dcap-qvl'

/** Intel's TCB statuses a TDX verifier accepts unless told otherwise. */
export const DEFAULT_ACCEPTED_TCB_STATUSES: readonly string[] = ['UpToDate']

/**
 * The status Silk reports when the platform's TCB is older than every level Intel's TCB info lists
 * for its FMSPC (Intel's QVL calls this TCB_NOT_SUPPORTED). Refused unless a policy names it.
 */
export const TCB_NOT_SUPPORTED = 'TcbNotSupported'

function unixNow (): number {
  return Math.floor(Date.now() / 1000)
}

function checkLifetime (evidence: Evidence, now: number): void {
  if (evidence.expiresAt <= now) throw new AttestationExpiredError(evidence.expiresAt, now)
  if (evidence.expiresAt > now + ATTEST_LIMITS.maxLifetimeSeconds) {
    throw new QuoteInvalidError(`evidence claims to live until ${evidence.expiresAt}, more than ${ATTEST_LIMITS.maxLifetimeSeconds}s ahead`)
  }
}

// ---------------------------------------------------------------------------------------------
// Collateral

/** Intel's signed collateral (TCB info, QE identity, CRLs) for a quote's platform. */
export interface CollateralSource {
  get(quote: Uint8Array, now: number): Promise<Collateral>
}

/** Collateral given up front: offline verification, tests. */
export function staticCollateral (collateral: Collateral): CollateralSource {
  return { get: async () => collateral }
}

/** Unix seconds until which collateral may be used: the earlier nextUpdate of TCB info and QE identity. */
export function collateralNextUpdate (collateral: Collateral): number {
  const next = [collateral.tcb_info, collateral.qe_identity].map((json) => Date.parse((JSON.parse(json) as { nextUpdate: string }).nextUpdate) / 1000)
  const earliest = Math.min(...next)
  if (!Number.isFinite(earliest)) throw new CollateralUnavailableError('collateral has no readable nextUpdate')
  return Math.floor(earliest)
}

export type CollateralFetcher = (pccsUrl: string, quote: Uint8Array) => Promise<Collateral>

export interface PccsCollateralOptions {
  /** a PCCS, or Intel's PCS (the default) */
  url?: string
  /** how collateral is fetched; default @phala/dcap-qvl's getCollateral */
  fetch?: CollateralFetcher
}

/**
 * Fetches collateral from a PCCS and keeps it per platform family (FMSPC and CA) until its
 * nextUpdate, so one fetch serves every quote from that family. Concurrent misses share a fetch.
 */
export class PccsCollateral implements CollateralSource {
  readonly url: string
  readonly #fetch: CollateralFetcher
  readonly #cache = new Map<string, { collateral: Collateral, until: number }>()
  readonly #pending = new Map<string, Promise<Collateral>>()

  constructor (options: PccsCollateralOptions = {}) {
    this.url = options.url ?? INTEL_PCS_URL
    this.#fetch = options.fetch ?? getCollateral
  }

  async get (quote: Uint8Array, now: number): Promise<Collateral> {
    const key = platformKey(quote)
    const cached = this.#cache.get(key)
    if (cached !== undefined && now < cached.until) return cached.collateral
    let pending = this.#pending.get(key)
    if (pending === undefined) {
      pending = this.#load(key, quote).finally(() => { this.#pending.delete(key) })
      this.#pending.set(key, pending)
    }
    return await pending
  }

  async #load (key: string, quote: Uint8Array): Promise<Collateral> {
    let collateral: Collateral
    try {
      collateral = await this.#fetch(this.url, quote)
    } catch (err) {
      throw new CollateralUnavailableError(`cannot fetch collateral from ${this.url}: ${(err as Error).message}`, { cause: err })
    }
    this.#cache.set(key, { collateral, until: collateralNextUpdate(collateral) })
    return collateral
  }
}

/** Quotes from one platform family share collateral; a quote whose PCK chain is not inline is keyed by itself. */
function platformKey (quote: Uint8Array): string {
  let parsed: Quote
  try {
    parsed = Quote.parse(quote)
  } catch (err) {
    throw new QuoteInvalidError(`undecodable quote: ${(err as Error).message}`, { cause: err })
  }
  try {
    return `${parsed.header.teeType}/${intel.getCa(parsed)}/${Buffer.from(intel.getFmspc(parsed)).toString('hex')}`
  } catch {
    return `quote/${createHash('sha256').update(quote).digest('hex')}`
  }
}

// ---------------------------------------------------------------------------------------------
// TDX quote verification

export interface TdxQuoteReport {
  tcbStatus: string
  advisoryIds: string[]
  /** measurementDigest(MRTD, RTMR0..3) */
  measurement: Buffer
  /** the 64 bytes the TD put in its quote */
  reportData: Buffer
}

const verifier = QuoteVerifier.newProd()

/**
 * Verifies a DCAP quote from a TD against Intel's root CA and the given collateral, as of `now`
 * (unix seconds): certificate chains and CRLs, QE identity, quote signature, TD attributes (no debug
 * TD), and the platform's TCB status. Throws QuoteInvalidError for anything forged, broken or not a
 * TD quote, TcbRejectedError for a revoked platform. The TCB policy is the caller's.
 */
export function verifyTdxQuote (quote: Uint8Array, collateral: Collateral, now: number): TdxQuoteReport {
  let tcbStatus: string
  let advisoryIds: string[]
  let report: Report
  try {
    const verified = verifier.verify(quote, collateral, now)
    tcbStatus = verified.status
    advisoryIds = [...verified.advisory_ids]
    report = verified.report
  } catch (err) {
    const message = (err as Error).message
    const invalid = /^TCB status is invalid: (\w+)$/.exec(message)
    if (invalid !== null) throw new TcbRejectedError(invalid[1]!, [], `the platform's TCB status is ${invalid[1]}`)
    // dcap-qvl matches TCB levels only after every signature and chain check has passed
    if (message !== 'No matching TCB level found') throw new QuoteInvalidError(`quote verification failed: ${message}`, { cause: err })
    ;({ tcbStatus, advisoryIds, report } = belowEveryTcbLevel(quote, collateral))
  }
  const td = report.asTd10()
  if (td === null) throw new QuoteInvalidError('not a TDX quote')
  return { tcbStatus, advisoryIds, measurement: measurementDigest(td), reportData: Buffer.from(td.reportData) }
}

/**
 * dcap-qvl stops when the platform is older than every TCB level listed; the checks it would still
 * have made are made here: TD attributes, and the QE's own TCB level (a revoked QE is refused).
 */
function belowEveryTcbLevel (quote: Uint8Array, collateral: Collateral): { tcbStatus: string, advisoryIds: string[], report: Report } {
  const parsed = Quote.parse(quote)
  checkTdAttributes(parsed.report)
  // EnclaveReport: ISVSVN is the little-endian uint16 at offset 258
  const qeSvn = Buffer.from(parsed.authData.intoV3().qeReport).readUInt16LE(258)
  const levels = (JSON.parse(collateral.qe_identity) as { tcbLevels: Array<{ tcb: { isvsvn: number }, tcbStatus: string, advisoryIDs?: string[] }> }).tcbLevels
  const qe = levels.find((l) => qeSvn >= l.tcb.isvsvn)
  if (qe?.tcbStatus === 'Revoked') throw new TcbRejectedError('Revoked', qe.advisoryIDs ?? [], 'the quoting enclave is revoked')
  return { tcbStatus: TCB_NOT_SUPPORTED, advisoryIds: [...(qe?.advisoryIDs ?? [])], report: parsed.report }
}

/** The same TD attribute rules dcap-qvl applies: no debug TD, no reserved bits, SEPT_VE_DISABLE set, no service TD. */
function checkTdAttributes (report: Report): void {
  const td: TDReport10 | null = report.asTd10()
  if (td === null) throw new QuoteInvalidError('not a TDX quote')
  const a = td.tdAttributes
  if (a[0] !== 0) throw new QuoteInvalidError('the TD runs in debug mode')
  const reservedSec = ((a[3]! & 0x0f) << 16) | (a[2]! << 8) | a[1]!
  const reservedOther = ((a[7]! & 0x7f) << 24) | (a[6]! << 16) | (a[5]! << 8) | a[4]!
  if (reservedSec !== 0 || (a[3]! & 0x20) !== 0 || reservedOther !== 0) throw new QuoteInvalidError('reserved TD attribute bits are set')
  if ((a[3]! & 0x10) === 0) throw new QuoteInvalidError('SEPT_VE_DISABLE is not set')
  const td15 = report.asTd15()
  if (td15 !== null && !td15.mrServiceTd.every((b) => b === 0)) throw new QuoteInvalidError('the TD is bound to a service TD')
}

export interface TdxVerifierOptions {
  collateral: CollateralSource
  /** the Registry's measurement allow-list: registryAllowList(chain, registry) */
  allowList: MeasurementAllowList
  /** Intel TCB statuses accepted; default ['UpToDate']. Add 'SWHardeningNeeded' etc. deliberately. */
  acceptedTcbStatuses?: readonly string[]
}

/**
 * Verifies TDX evidence for one peer: a genuine quote (Intel chain, as of `now`), a TCB status the
 * policy accepts, a measurement in the Registry's allow-list, and report data equal to
 * reportData(peerKey, expiresAt) with expiresAt still ahead.
 */
export class TdxVerifier implements Verifier {
  readonly acceptedTcbStatuses: readonly string[]

  constructor (private readonly options: TdxVerifierOptions) {
    this.acceptedTcbStatuses = options.acceptedTcbStatuses ?? DEFAULT_ACCEPTED_TCB_STATUSES
  }

  async verify (evidence: Evidence, { peerKey, now }: VerifyContext): Promise<Verdict> {
    if (evidence.kind !== 'tdx') throw new QuoteInvalidError(`a TDX verifier cannot verify ${evidence.kind} evidence`)
    checkLifetime(evidence, now)
    const report = verifyTdxQuote(evidence.quote, await this.options.collateral.get(evidence.quote, now), now)
    if (!this.acceptedTcbStatuses.includes(report.tcbStatus)) {
      throw new TcbRejectedError(report.tcbStatus, report.advisoryIds, `TCB status ${report.tcbStatus} is not among the accepted ${this.acceptedTcbStatuses.join(', ')}`)
    }
    const measurement = report.measurement.toString('hex')
    if (!await this.options.allowList.isAllowed(report.measurement)) throw new MeasurementNotAllowedError(measurement)
    if (!report.reportData.equals(reportData(peerKey, evidence.expiresAt))) {
      throw new ReportDataMismatchError('the quote does not bind this peer\'s key and expiry: it was made for another node or another time')
    }
    return { kind: 'tdx', measurement, tcbStatus: report.tcbStatus, expiresAt: evidence.expiresAt, advisoryIds: report.advisoryIds }
  }
}

/** Accepts dev evidence, on a local network only: a signature by the peer key, proving no TEE. */
export class DevVerifier implements Verifier {
  constructor (private readonly options: { network: string }) {}

  async verify (evidence: Evidence, { peerKey, now }: VerifyContext): Promise<Verdict> {
    if (evidence.kind !== 'dev') throw new QuoteInvalidError(`a dev verifier cannot verify ${evidence.kind} evidence`)
    if (this.options.network !== 'local') throw new DevAttestationRefusedError(this.options.network)
    checkLifetime(evidence, now)
    if (!verifyDevSignature(evidence, peerKey)) throw new ReportDataMismatchError('the dev evidence is not signed by this peer\'s key for this expiry')
    return { kind: 'dev', measurement: DEV_MEASUREMENT, tcbStatus: DEV_TCB_STATUS, expiresAt: evidence.expiresAt }
  }
}

// ---------------------------------------------------------------------------------------------
// Allow-lists

/** The Registry's `is_measurement_allowed` getter. */
export function registryAllowList (chain: TonClient, registry: Address): MeasurementAllowList {
  const contract = chain.open(Registry.createFromAddress(registry))
  return { isAllowed: async (digest) => await contract.isMeasurementAllowed(digest) }
}

/** A fixed list of digests (hex or bytes): tests, or a client that pins its own images. */
export function allowListOf (digests: Iterable<string | Uint8Array>): MeasurementAllowList {
  const set = new Set([...digests].map((d) => typeof d === 'string' ? d.toLowerCase() : Buffer.from(d).toString('hex')))
  return { isAllowed: async (digest) => set.has(digest.toString('hex')) }
}

// ---------------------------------------------------------------------------------------------
// Fetching evidence and judging peers

/**
 * Asks a peer for its evidence over /silk/attest/1.0.0. NoAttestationError when the peer has none
 * or does not speak the protocol; QuoteInvalidError for an oversize or malformed answer.
 */
export async function requestEvidence (libp2p: Libp2p, peer: PeerId | Multiaddr | Multiaddr[], options: AbortOptions = {}): Promise<Evidence> {
  const timeout = AbortSignal.timeout(ATTEST_LIMITS.timeoutMs)
  const signal = options.signal !== undefined ? AbortSignal.any([options.signal, timeout]) : timeout
  let stream
  try {
    stream = await libp2p.dialProtocol(peer, ATTEST_PROTOCOL, { signal, runOnLimitedConnection: true })
  } catch (err) {
    if ((err as Error).name === 'UnsupportedProtocolError') throw new NoAttestationError('the peer does not serve ' + ATTEST_PROTOCOL)
    throw err
  }
  try {
    const lp = lpStream(stream, { maxDataLength: ATTEST_LIMITS.maxResponseBytes })
    await lp.write(encodeAttestRequest(), { signal })
    let bytes
    try {
      bytes = await lp.read({ signal })
    } catch (err) {
      if (err instanceof InvalidDataLengthError || (err as Error).name === 'InvalidDataLengthError') throw new QuoteInvalidError(`attest response exceeds ${ATTEST_LIMITS.maxResponseBytes} bytes`)
      throw err
    }
    return decodeAttestResponse(bytes)
  } finally {
    try { await stream.close({ signal }) } catch { stream.abort(new Error('attest request ended')) }
  }
}

export interface AttestationVerifierOptions {
  /** the chain network; dev evidence is accepted only on 'local' */
  network: string
  /** the Registry's allow-list: registryAllowList(chain, registry) */
  allowList: MeasurementAllowList
  /** Intel collateral; default: Intel's PCS, cached until nextUpdate */
  collateral?: CollateralSource
  /** default ['UpToDate'] */
  acceptedTcbStatuses?: readonly string[]
  /** verdicts kept (per peer and evidence); default 1024 */
  maxCached?: number
  /** unix seconds (tests control time) */
  now?: () => number
}

/**
 * The client's attestation front: verifies evidence of any known kind, and caches each verdict per
 * peer id and evidence hash until the evidence expires, so a session (or a reconnect presenting
 * the same evidence) is verified once.
 */
export class AttestationVerifier implements Verifier {
  readonly #verifiers: Record<AttestationKind, Verifier>
  readonly #verdicts = new Map<string, Verdict>()
  readonly #maxCached: number
  readonly #now: () => number

  constructor (options: AttestationVerifierOptions) {
    this.#verifiers = {
      tdx: new TdxVerifier({
        collateral: options.collateral ?? new PccsCollateral(),
        allowList: options.allowList,
        ...(options.acceptedTcbStatuses !== undefined ? { acceptedTcbStatuses: options.acceptedTcbStatuses } : {})
      }),
      dev: new DevVerifier({ network: options.network })
    }
    this.#maxCached = options.maxCached ?? 1024
    this.#now = options.now ?? unixNow
  }

  async verify (evidence: Evidence, context: VerifyContext): Promise<Verdict> {
    const verifier = this.#verifiers[evidence.kind]
    if (verifier === undefined) throw new QuoteInvalidError(`no verifier for ${String(evidence.kind)} evidence`)
    return await verifier.verify(evidence, context)
  }

  /** A verdict already reached for this peer and evidence hash (as an advert carries), if still valid. */
  cached (peer: PeerId, hash: Uint8Array, now: number = this.#now()): Verdict | undefined {
    const key = `${peer.toString()}/${Buffer.from(hash).toString('hex')}`
    const verdict = this.#verdicts.get(key)
    if (verdict === undefined || verdict.expiresAt > now) return verdict
    this.#verdicts.delete(key)
    return undefined
  }

  /** Verifies evidence a peer presented, bound to the key the peer proved; cached per peer and evidence. */
  async verifyPeer (peer: PeerId, evidence: Evidence, now: number = this.#now()): Promise<Verdict> {
    const peerKey = peerPublicKey(peer)
    if (peerKey === undefined) throw new ReportDataMismatchError('the peer has no Ed25519 key to bind')
    const hash = evidenceHash(evidence)
    const hit = this.cached(peer, hash, now)
    if (hit !== undefined) return hit
    const verdict = await this.verify(evidence, { peerKey, now })
    if (this.#verdicts.size >= this.#maxCached) this.#verdicts.delete(this.#verdicts.keys().next().value!)
    this.#verdicts.set(`${peer.toString()}/${hash.toString('hex')}`, verdict)
    return verdict
  }

  /** Fetches a connected (or dialable) peer's evidence and verifies it. */
  async attest (libp2p: Libp2p, peer: PeerId, options: AbortOptions = {}): Promise<Verdict> {
    return await this.verifyPeer(peer, await requestEvidence(libp2p, peer, options))
  }

  /**
   * What provider selection needs: under `off` nothing is fetched (tier none); otherwise the peer is
   * attested and the policy applied. Attestation failures are returned, not thrown; other failures
   * (the peer unreachable) are thrown.
   */
  async decide (libp2p: Libp2p, peer: PeerId, policy: TeePolicy, options: AbortOptions = {}): Promise<TeeDecision & { verdict?: Verdict, error?: AttestationError }> {
    if (policy === 'off') return { allowed: true, tier: 'none' }
    try {
      const verdict = await this.attest(libp2p, peer, options)
      return { ...applyTeePolicy(policy, verdict), verdict }
    } catch (err) {
      if (!(err instanceof AttestationError)) throw err
      return { ...applyTeePolicy(policy, err), error: err }
    }
  }
}

