import { createHash, randomBytes } from 'node:crypto'
import { sign, signVerify } from '@ton/crypto'
import type { Uint8ArrayList } from 'uint8arraylist'
import { AttestRequest, AttestResponse, Evidence as WireEvidence } from './wire/attest.ts'

/**
 * TEE attestation: what a node proves about the machine it runs on, bound to its one key.
 * Shared definitions only (no I/O): the node's attestors live in node/attestation.ts, the client's
 * verifiers in client/attestation.ts. See docs/SECURITY.md for what each tier does and does not prove.
 */

/**
 * Request/response on a fresh stream: one AttestRequest (the client's nonce) → one AttestResponse,
 * length-prefixed. 2.0.0: the request carries a nonce and the report data commits to it.
 */
export const ATTEST_PROTOCOL = '/silk/attest/2.0.0'

export const ATTEST_LIMITS = {
  /** an AttestRequest: the nonce and its framing */
  maxRequestBytes: 64,
  /** the client's fresh nonce in every attest request */
  nonceBytes: 32,
  /** an AttestResponse: a TDX quote is 5–10 KB with its PCK chain */
  maxResponseBytes: 32 * 1024,
  maxQuoteBytes: 24 * 1024,
  maxKindBytes: 16,
  maxMessageBytes: 256,
  /** evidence that claims to live longer than this is refused: a stolen quote stays useful only briefly */
  maxLifetimeSeconds: 24 * 3600,
  /**
   * A verdict lasts at most this long after the client sent its nonce (the client's own clock, so
   * the host's control of the TD's clock does not extend it); the client re-attests afterwards.
   */
  maxEvidenceAgeSeconds: 600,
  /** one request/response exchange */
  timeoutMs: 10_000
} as const

/** Prefix of every report-data preimage, so the digest can never be read as another signed object. */
export const REPORT_DATA_DOMAIN = 'silk-attest-v2:'
/** Prefix of the bytes a dev attestation signature covers. */
export const DEV_SIGNING_DOMAIN = 'silk-dev-attestation-v2:'
/** The measurement a dev verdict reports: no TEE measured anything. */
export const DEV_MEASUREMENT = '00'.repeat(32)
/** The TCB status a dev verdict reports. */
export const DEV_TCB_STATUS = 'Development'

/** TEE kinds Silk verifies today; others (SEV-SNP, NVIDIA CC, …) join by adding a kind, an attestor and a verifier. */
export const ATTESTATION_KINDS = ['tdx', 'dev'] as const
export type AttestationKind = typeof ATTESTATION_KINDS[number]

/** What a node presents: a quote (or dev signature) binding reportData(nodeKey, expiresAt, nonce) for the client's nonce. */
export interface Evidence {
  kind: AttestationKind
  /** unix seconds; the evidence is worthless afterwards */
  expiresAt: number
  /** tdx: the raw DCAP quote; dev: an Ed25519 signature by the node key over DEV_SIGNING_DOMAIN ‖ reportData */
  quote: Uint8Array
}

/** What a verifier concluded about one piece of evidence from one peer. */
export interface Verdict {
  kind: AttestationKind
  /** hex of measurementDigest() for tdx; DEV_MEASUREMENT for dev */
  measurement: string
  /** Intel's TCB status (UpToDate, SWHardeningNeeded, OutOfDate, …); DEV_TCB_STATUS for dev */
  tcbStatus: string
  /** unix seconds: the evidence's expiry, or the challenge's time plus the maximum evidence age, whichever comes first */
  expiresAt: number
  /** unix seconds (client clock) when the client sent the nonce the evidence answers: no evidence is older */
  attestedAt: number
  /** Intel security advisories that apply to the platform's TCB level */
  advisoryIds?: string[]
}

/** What a client asked one peer to attest: a fresh nonce, and when (client clock) it was made. */
export interface Challenge {
  /** ATTEST_LIMITS.nonceBytes random bytes, used for one request */
  nonce: Uint8Array
  /** unix seconds */
  issuedAt: number
}

/** A fresh challenge: 32 random bytes, never reused. */
export function newChallenge (now: number): Challenge {
  return { nonce: randomBytes(ATTEST_LIMITS.nonceBytes), issuedAt: now }
}

export interface VerifyContext {
  /** the 32-byte Ed25519 key the peer proved in the Noise handshake */
  peerKey: Uint8Array
  /** unix seconds; evidence and collateral are judged as of this time */
  now: number
  /** the challenge the evidence answers: its nonce must be in the report data */
  challenge: Challenge
}

/** The node side: produces evidence for this node's key and a client's nonce. */
export interface Attestor {
  readonly kind: AttestationKind
  /** Fresh evidence whose report data commits to this nonce. */
  getEvidence(nonce: Uint8Array): Promise<Evidence>
}

/** The client side: a verdict, or a typed AttestationError saying why not. */
export interface Verifier {
  verify(evidence: Evidence, context: VerifyContext): Promise<Verdict>
}

/** The Registry's TEE measurement allow-list, or any stand-in (config, tests). */
export interface MeasurementAllowList {
  isAllowed(digest: Buffer): Promise<boolean>
}

// ---------------------------------------------------------------------------------------------
// Errors: one class per condition, a stable `code`; callers test `code` or `name`, never text.

export type AttestationErrorCode =
  | 'QUOTE_INVALID' // unparseable evidence, bad signature or certificate chain, unsupported kind
  | 'TCB_REJECTED' // the platform's TCB status is not among those the policy accepts
  | 'MEASUREMENT_NOT_ALLOWED' // the measured software is not in the Registry's allow-list
  | 'REPORT_DATA_MISMATCH' // the evidence does not bind this peer's key, its expiry and the client's nonce
  | 'ATTESTATION_EXPIRED'
  | 'DEV_ATTESTATION_REFUSED' // dev evidence outside a local network
  | 'NO_ATTESTATION' // the node has no TEE (or its attestor failed), or does not speak the protocol
  | 'COLLATERAL_UNAVAILABLE' // the PCCS could not provide Intel's collateral: not the node's fault
  | 'COLLATERAL_INVALID' // collateral (CRLs, TCB info, QE identity) not signed by Intel's chain, stale, or unparseable
  | 'PCCS_INSECURE' // a PCCS URL that is not https outside the local network

export class AttestationError extends Error {
  override name = 'AttestationError'
  constructor (readonly code: AttestationErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

export class QuoteInvalidError extends AttestationError {
  override name = 'QuoteInvalidError'
  constructor (message: string, options?: ErrorOptions) { super('QUOTE_INVALID', message, options) }
}

export class TcbRejectedError extends AttestationError {
  override name = 'TcbRejectedError'
  constructor (readonly status: string, readonly advisoryIds: string[], message: string) { super('TCB_REJECTED', message) }
}

export class MeasurementNotAllowedError extends AttestationError {
  override name = 'MeasurementNotAllowedError'
  constructor (readonly measurement: string) { super('MEASUREMENT_NOT_ALLOWED', `measurement ${measurement} is not in the Registry's allow-list`) }
}

export class ReportDataMismatchError extends AttestationError {
  override name = 'ReportDataMismatchError'
  constructor (message: string) { super('REPORT_DATA_MISMATCH', message) }
}

export class AttestationExpiredError extends AttestationError {
  override name = 'AttestationExpiredError'
  constructor (readonly expiresAt: number, now: number) { super('ATTESTATION_EXPIRED', `evidence expired at ${expiresAt} (now ${now})`) }
}

export class DevAttestationRefusedError extends AttestationError {
  override name = 'DevAttestationRefusedError'
  constructor (network: string) { super('DEV_ATTESTATION_REFUSED', `dev attestation proves no TEE; it is accepted only on a local network, not on ${network}`) }
}

export class NoAttestationError extends AttestationError {
  override name = 'NoAttestationError'
  constructor (message: string) { super('NO_ATTESTATION', message) }
}

export class CollateralUnavailableError extends AttestationError {
  override name = 'CollateralUnavailableError'
  constructor (message: string, options?: ErrorOptions) { super('COLLATERAL_UNAVAILABLE', message, options) }
}

export class CollateralInvalidError extends AttestationError {
  override name = 'CollateralInvalidError'
  constructor (message: string, options?: ErrorOptions) { super('COLLATERAL_INVALID', message, options) }
}

export class PccsInsecureError extends AttestationError {
  override name = 'PccsInsecureError'
  constructor (url: string) { super('PCCS_INSECURE', `PCCS ${url} is refused: collateral is fetched over https only, except from the local network`) }
}

// ---------------------------------------------------------------------------------------------
// Binding and measurement

/**
 * The 64 bytes a node puts in its quote's report data:
 *
 *     SHA-512( "silk-attest-v2:" ‖ nodeKey (32 bytes, raw Ed25519) ‖ expiresAt (uint64 big-endian, unix seconds) ‖ nonce (32 bytes) )
 *
 * It binds the quote to the node's one key (its PeerId, on-chain nodeKey, receipt key), to an
 * expiry, and to the nonce of the client that asked. Why a quote per request rather than one
 * long-lived quote plus a signed challenge: the node key lives in a key file, so a signature by it
 * proves only that someone holding the file is alive, not that the TD is; and the host sets the
 * TD's clock, so a long-lived quote can be minted in advance for any future expiry. Only a quote
 * made after the client chose its nonce shows that a TD with this measurement holds the key now.
 */
export function reportData (nodeKey: Uint8Array, expiresAt: number, nonce: Uint8Array): Buffer {
  if (nodeKey.length !== 32) throw new RangeError('a node key is 32 bytes')
  if (!Number.isSafeInteger(expiresAt) || expiresAt <= 0) throw new RangeError('expiresAt is unix seconds')
  if (nonce.length !== ATTEST_LIMITS.nonceBytes) throw new RangeError(`a nonce is ${ATTEST_LIMITS.nonceBytes} bytes`)
  const expiry = Buffer.alloc(8)
  expiry.writeBigUInt64BE(BigInt(expiresAt))
  return createHash('sha512').update(REPORT_DATA_DOMAIN).update(nodeKey).update(expiry).update(nonce).digest()
}

/** The TD registers that say what software a trust domain runs (48 bytes each). */
export interface TdMeasurements {
  mrTd: Uint8Array
  rtMr0: Uint8Array
  rtMr1: Uint8Array
  rtMr2: Uint8Array
  rtMr3: Uint8Array
}

/**
 * The digest the Registry's allow-list holds for a TDX image:
 *
 *     SHA-256( MRTD ‖ RTMR0 ‖ RTMR1 ‖ RTMR2 ‖ RTMR3 )     (5 × 48 bytes)
 *
 * MRTD measures the initial TD (firmware); RTMR0–3 the boot chain (firmware config, kernel and
 * command line, initrd/rootfs, application). One digest per image the governance approves.
 */
export function measurementDigest (td: TdMeasurements): Buffer {
  const h = createHash('sha256')
  for (const reg of [td.mrTd, td.rtMr0, td.rtMr1, td.rtMr2, td.rtMr3]) {
    if (reg.length !== 48) throw new RangeError('a TD measurement register is 48 bytes')
    h.update(reg)
  }
  return h.digest()
}

/** The bytes a dev attestation signs. */
export function devSignedBytes (nodeKey: Uint8Array, expiresAt: number, nonce: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(DEV_SIGNING_DOMAIN), reportData(nodeKey, expiresAt, nonce)])
}

/** Dev evidence: the node key signs the same report data a TDX quote would carry, nonce included. Proves no TEE. */
export function signDevEvidence (secretKey: Buffer, nodeKey: Uint8Array, expiresAt: number, nonce: Uint8Array): Evidence {
  return { kind: 'dev', expiresAt, quote: sign(devSignedBytes(nodeKey, expiresAt, nonce), secretKey) }
}

export function verifyDevSignature (evidence: Evidence, peerKey: Uint8Array, nonce: Uint8Array): boolean {
  return evidence.quote.length === 64 && signVerify(devSignedBytes(peerKey, evidence.expiresAt, nonce), Buffer.from(evidence.quote), Buffer.from(peerKey))
}

// ---------------------------------------------------------------------------------------------
// Wire

function checkEvidence (e: Evidence): void {
  if (!(ATTESTATION_KINDS as readonly string[]).includes(e.kind)) throw new QuoteInvalidError(`unsupported attestation kind "${String(e.kind).slice(0, ATTEST_LIMITS.maxKindBytes)}"`)
  if (!Number.isSafeInteger(e.expiresAt) || e.expiresAt <= 0) throw new QuoteInvalidError('expiry is not a unix time')
  if (e.quote.length === 0) throw new QuoteInvalidError('empty quote')
  if (e.quote.length > ATTEST_LIMITS.maxQuoteBytes) throw new QuoteInvalidError(`quote of ${e.quote.length} bytes exceeds ${ATTEST_LIMITS.maxQuoteBytes}`)
}

export function encodeEvidence (evidence: Evidence): Uint8Array {
  checkEvidence(evidence)
  return WireEvidence.encode({ kind: evidence.kind, expiresAt: BigInt(evidence.expiresAt), quote: evidence.quote })
}

function fromWire (w: WireEvidence): Evidence {
  if (w.kind.length > ATTEST_LIMITS.maxKindBytes) throw new QuoteInvalidError('attestation kind too long')
  if (w.expiresAt > BigInt(Number.MAX_SAFE_INTEGER)) throw new QuoteInvalidError('expiry is not a unix time')
  const evidence = { kind: w.kind as AttestationKind, expiresAt: Number(w.expiresAt), quote: w.quote }
  checkEvidence(evidence)
  return evidence
}

/**
 * sha256 of the canonical encoding: what an advert carries instead of the quote, and the key a
 * client caches its verdict under (with the peer id).
 */
export function evidenceHash (evidence: Evidence): Buffer {
  return createHash('sha256').update(encodeEvidence(evidence)).digest()
}

export function encodeAttestRequest (nonce: Uint8Array): Uint8Array {
  if (nonce.length !== ATTEST_LIMITS.nonceBytes) throw new RangeError(`a nonce is ${ATTEST_LIMITS.nonceBytes} bytes`)
  return AttestRequest.encode({ nonce })
}

/** The client's nonce; QuoteInvalidError for a request that is oversize, undecodable or has no 32-byte nonce. */
export function decodeAttestRequest (bytes: Uint8Array | Uint8ArrayList): Uint8Array {
  if (bytes.byteLength > ATTEST_LIMITS.maxRequestBytes) throw new QuoteInvalidError('attest request too large')
  let request: AttestRequest
  try {
    request = AttestRequest.decode(bytes)
  } catch (err) {
    throw new QuoteInvalidError(`undecodable attest request: ${(err as Error).message}`)
  }
  if (request.nonce.length !== ATTEST_LIMITS.nonceBytes) throw new QuoteInvalidError(`an attest request carries a ${ATTEST_LIMITS.nonceBytes}-byte nonce`)
  return request.nonce
}

export type AttestAnswer = { evidence: Evidence } | { error: { code: 'NO_ATTESTATION', message: string } }

export function encodeAttestResponse (answer: AttestAnswer): Uint8Array {
  if ('evidence' in answer) {
    const e = answer.evidence
    checkEvidence(e)
    return AttestResponse.encode({ evidence: { kind: e.kind, expiresAt: BigInt(e.expiresAt), quote: e.quote } })
  }
  return AttestResponse.encode({ error: { code: answer.error.code, message: answer.error.message.slice(0, ATTEST_LIMITS.maxMessageBytes) } })
}

/**
 * The evidence in a response; NoAttestationError when the node says it has none, QuoteInvalidError
 * for a response that is oversize, undecodable, or not exactly one of evidence and error.
 */
export function decodeAttestResponse (bytes: Uint8Array | Uint8ArrayList): Evidence {
  if (bytes.byteLength > ATTEST_LIMITS.maxResponseBytes) throw new QuoteInvalidError(`attest response of ${bytes.byteLength} bytes exceeds ${ATTEST_LIMITS.maxResponseBytes}`)
  let response: AttestResponse
  try {
    response = AttestResponse.decode(bytes)
  } catch (err) {
    throw new QuoteInvalidError(`undecodable attest response: ${(err as Error).message}`)
  }
  if ((response.evidence == null) === (response.error == null)) throw new QuoteInvalidError('an attest response carries exactly one of evidence and error')
  if (response.error != null) {
    const { code, message } = response.error
    throw new NoAttestationError(`${code.slice(0, 32)}: ${message.slice(0, ATTEST_LIMITS.maxMessageBytes)}`)
  }
  return fromWire(response.evidence!)
}

// ---------------------------------------------------------------------------------------------
// Policy

/**
 * What a client asks of providers: `required` serves only from attested nodes, `preferred` tries
 * attested ones first and falls back, `off` does not look.
 */
export type TeePolicy = 'required' | 'preferred' | 'off'
export const TEE_POLICIES: readonly TeePolicy[] = ['required', 'preferred', 'off']

/** Which trust tier served a result; every result says it. */
export type TeeTier = 'tdx' | 'dev' | 'none'

export interface TeeDecision {
  allowed: boolean
  tier: TeeTier
}

/**
 * Decides whether a provider may serve under a policy, from its verdict or the error that stands
 * in for one. A failed or missing attestation is tier `none`: allowed unless the policy is
 * `required`. Dev verdicts exist only on local networks (the verifier refuses them elsewhere), so
 * `required` accepts them there: the local demo runs the confidential path, labelled `dev`.
 */
export function applyTeePolicy (policy: TeePolicy, outcome: Verdict | Error): TeeDecision {
  if (outcome instanceof Error) return { allowed: policy !== 'required', tier: 'none' }
  return { allowed: true, tier: outcome.kind }
}

/** Order providers best tier first (stable): tdx, then dev, then none. */
export function tierRank (tier: TeeTier): number {
  return tier === 'tdx' ? 0 : tier === 'dev' ? 1 : 2
}
