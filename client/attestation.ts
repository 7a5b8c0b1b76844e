import { X509Certificate } from 'node:crypto'
import { BlockList, isIP } from 'node:net'
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'
import { InvalidDataLengthError, lpStream } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import { INTEL_PCS_URL, Quote, QuoteVerifier, utils, type Collateral, type Report, type TDReport10 } from '@phala/dcap-qvl'
import type { Address } from '@ton/core'
import type { TonClient } from '@ton/ton'
import { Registry } from '../contracts/index.ts'
import {
  applyTeePolicy, ATTEST_LIMITS, ATTEST_PROTOCOL, AttestationError, AttestationExpiredError, CollateralInvalidError, CollateralUnavailableError,
  decodeAttestResponse, DEV_MEASUREMENT, DEV_TCB_STATUS, DevAttestationRefusedError, encodeAttestRequest,
  evidenceHash, measurementDigest, MeasurementNotAllowedError, newChallenge, NoAttestationError, PccsInsecureError, QuoteInvalidError,
  ReportDataMismatchError, reportData, TcbRejectedError, verifyDevSignature,
  type AttestationKind, type Challenge, type Evidence, type MeasurementAllowList, type TeeDecision, type TeePolicy, type Verdict, type Verifier, type VerifyContext
} from '../protocol/attestation.ts'
import { peerPublicKey } from '../protocol/keys.ts'
import { checkCollateral, checkRevocation } from './revocation.ts'

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
// Parsing: cheap, nothing verified yet

/** Quotes from one platform family share Intel's collateral: TEE type, PCK CA and FMSPC. */
export interface PlatformFamily {
  tee: 'tdx'
  ca: 'platform' | 'processor'
  /** upper-case hex, as Intel's PCS spells it */
  fmspc: string
}

export interface ParsedTdxQuote {
  /** measurementDigest(MRTD, RTMR0..3), as the quote claims it */
  measurement: Buffer
  /** the 64 bytes the TD put in its quote */
  reportData: Buffer
  /** the quote's own PCK certificate chain (DER, leaf first): used for this quote only, never cached */
  pckChain: Buffer[]
  platform: PlatformFamily
}

/**
 * Decodes a TDX quote without verifying any signature: cheap, and enough to refuse junk (and to
 * check the binding and the allow-list) before any collateral is fetched. Only quotes that carry
 * their PCK chain inline (certification data type 5, as configfs-tsm gives them) are accepted, so
 * no per-quote certificate is ever fetched from a PCCS.
 */
export function parseTdxQuote (quote: Uint8Array): ParsedTdxQuote {
  let parsed: Quote
  try {
    parsed = Quote.parse(quote)
  } catch (err) {
    throw new QuoteInvalidError(`undecodable quote: ${(err as Error).message}`, { cause: err })
  }
  // an SGX quote (or any header that does not announce a TD report) has no TD report to read
  const td = parsed.report.asTd10()
  if (td === null) throw new QuoteInvalidError('not a TDX quote')
  let pckChain: Buffer[]
  try {
    pckChain = utils.extractCerts(Buffer.from(parsed.rawCertChain())).map((der) => Buffer.from(der))
  } catch (err) {
    throw new QuoteInvalidError(`the quote carries no PCK certificate chain: ${(err as Error).message}`, { cause: err })
  }
  if (pckChain.length < 2) throw new QuoteInvalidError('the quote\'s PCK certificate chain is too short')
  let platform: PlatformFamily
  try {
    const issuer = new X509Certificate(pckChain[0]!).issuer
    const ca = /^CN=Intel SGX PCK Platform CA$/m.test(issuer) ? 'platform' : /^CN=Intel SGX PCK Processor CA$/m.test(issuer) ? 'processor' : undefined
    if (ca === undefined) throw new Error(`PCK certificate issued by ${issuer.replace(/\n/g, ', ')}`)
    const fmspc = Buffer.from(utils.getFmspc(utils.getIntelExtension(pckChain[0]!))).toString('hex').toUpperCase()
    platform = { tee: 'tdx', ca, fmspc }
  } catch (err) {
    throw new QuoteInvalidError(`the quote's PCK certificate is unreadable: ${(err as Error).message}`, { cause: err })
  }
  return { measurement: measurementDigest(td), reportData: Buffer.from(td.reportData), pckChain, platform }
}

function familyKey (family: PlatformFamily): string {
  return `${family.tee}/${family.ca}/${family.fmspc}`
}

// ---------------------------------------------------------------------------------------------
// Collateral

/** Intel's signed collateral (TCB info, QE identity, CRLs) for a quote's platform family. */
export interface CollateralSource {
  /** Collateral for the quote's platform family; only the family (CA, FMSPC) is read from the quote. */
  get(quote: Uint8Array, now: number): Promise<Collateral>
}

/**
 * Collateral with no quote-specific part. dcap-qvl prefers a `pck_certificate_chain` in the
 * collateral over the quote's own chain; kept in a cache, one quote's chain (forged or not) would
 * judge every later quote of its family. Silk always verifies a quote with its own chain.
 */
export function withoutPckChain (collateral: Collateral): Collateral {
  const { pck_certificate_chain: _dropped, ...rest } = collateral as Collateral & { pck_certificate_chain?: unknown }
  return rest
}

/** Collateral given up front: offline verification, tests. */
export function staticCollateral (collateral: Collateral): CollateralSource {
  const clean = withoutPckChain(collateral)
  return { get: async () => clean }
}

/** Unix seconds until which collateral may be used: the earlier nextUpdate of TCB info and QE identity. */
export function collateralNextUpdate (collateral: Collateral): number {
  const next = [collateral.tcb_info, collateral.qe_identity].map((json) => Date.parse((JSON.parse(json) as { nextUpdate: string }).nextUpdate) / 1000)
  const earliest = Math.min(...next)
  if (!Number.isFinite(earliest)) throw new CollateralUnavailableError('collateral has no readable nextUpdate')
  return Math.floor(earliest)
}

/** Fetches Intel's collateral for one platform family (never for one quote). */
export type CollateralFetcher = (pccsUrl: string, family: PlatformFamily, options: { signal: AbortSignal }) => Promise<Collateral>

/**
 * Intel's PCS / PCCS v4 API, per platform family: PCK CRL (with its issuer chain), TDX TCB info,
 * TD QE identity, and the root CA CRL (a PCCS serves it; from Intel, at the root certificate's CRL
 * distribution point). Four requests; nothing from the quote but its family.
 */
export const fetchFamilyCollateral: CollateralFetcher = async (pccsUrl, family, { signal }) => {
  const base = pccsUrl.replace(/\/$/, '').replace(/\/(sgx|tdx)\/certification\/v4$/, '')
  const get = async (first: string): Promise<Response> => {
    let url = first
    for (let hops = 0; ; hops++) {
      const response = await fetch(url, { signal, redirect: 'manual' })
      const location = response.headers.get('location')
      if (response.status >= 300 && response.status < 400 && location !== null && hops < 3) {
        // a redirect may not leave https (or the local network)
        url = checkPccsUrl(new URL(location, url).href)
        continue
      }
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`)
      return response
    }
  }
  const header = (response: Response, ...names: string[]): string => {
    for (const name of names) {
      const value = response.headers.get(name)
      if (value !== null) return decodeURIComponent(value)
    }
    throw new Error(`${response.url}: no ${names[0]} header`)
  }
  const pck = await get(`${base}/sgx/certification/v4/pckcrl?ca=${family.ca}&encoding=der`)
  const pckCrl = Buffer.from(await pck.arrayBuffer())
  const tcb = await get(`${base}/tdx/certification/v4/tcb?fmspc=${family.fmspc}`)
  const tcbChain = header(tcb, 'TCB-Info-Issuer-Chain', 'SGX-TCB-Info-Issuer-Chain')
  const tcbBody = await tcb.json() as { tcbInfo: unknown, signature: string }
  const qe = await get(`${base}/tdx/certification/v4/qe/identity?update=standard`)
  const qeChain = header(qe, 'SGX-Enclave-Identity-Issuer-Chain')
  const qeBody = await qe.json() as { enclaveIdentity: unknown, signature: string }
  let rootCrl: Buffer
  if (!base.startsWith(INTEL_PCS_URL)) {
    rootCrl = Buffer.from((await (await get(`${base}/sgx/certification/v4/rootcacrl`)).text()).trim(), 'hex')
  } else {
    const certs = utils.extractCerts(Buffer.from(qeChain, 'utf8'))
    const crlUrl = certs.length > 0 ? utils.extractCrlUrl(certs[certs.length - 1]!) : null
    if (crlUrl === null) throw new Error('the root certificate names no CRL')
    rootCrl = Buffer.from(await (await get(checkPccsUrl(crlUrl))).arrayBuffer())
  }
  return {
    pck_crl_issuer_chain: header(pck, 'SGX-PCK-CRL-Issuer-Chain'),
    pck_crl: pckCrl.toString('hex'),
    root_ca_crl: rootCrl.toString('hex'),
    // Intel signs the compact JSON of these objects, as served
    tcb_info_issuer_chain: tcbChain,
    tcb_info: JSON.stringify(tcbBody.tcbInfo),
    tcb_info_signature: String(tcbBody.signature),
    qe_identity_issuer_chain: qeChain,
    qe_identity: JSON.stringify(qeBody.enclaveIdentity),
    qe_identity_signature: String(qeBody.signature)
  }
}

export const PCCS_DEFAULTS = {
  /** a failed fetch (or collateral that failed its checks) is not retried for this long: junk quotes cannot burn the PCS rate limit */
  negativeSeconds: 60,
  /** one collateral fetch (four requests) */
  timeoutMs: 15_000,
  /** platform families remembered (verified or failed); the oldest go first */
  maxFamilies: 256,
  /**
   * fetches started in any 60 s: quotes naming ever new families (a forged PCK certificate can name
   * any FMSPC) would otherwise cost four PCS requests each; real networks have a handful of families
   */
  maxFetchesPerMinute: 8
} as const

const LOCAL_NETWORKS = new BlockList()
for (const [net, prefix] of [['127.0.0.0', 8], ['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['169.254.0.0', 16]] as const) LOCAL_NETWORKS.addSubnet(net, prefix, 'ipv4')
for (const [net, prefix] of [['::1', 128], ['fc00::', 7], ['fe80::', 10]] as const) LOCAL_NETWORKS.addSubnet(net, prefix, 'ipv6')

/**
 * A PCCS URL Silk will fetch from: https, or http to localhost or a private address (a PCCS in the
 * operator's own network). Collateral is signed by Intel, but whoever can rewrite it in transit can
 * withhold it (refusing every quote) or serve an older signed set; https leaves that only to the PCCS.
 */
export function checkPccsUrl (url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new PccsInsecureError(url)
  }
  if (parsed.protocol === 'https:') return url
  const host = parsed.hostname.replace(/^\[|\]$/g, '')
  const family = isIP(host)
  const local = host === 'localhost' || (family !== 0 && LOCAL_NETWORKS.check(host, family === 4 ? 'ipv4' : 'ipv6'))
  if (parsed.protocol === 'http:' && local) return url
  throw new PccsInsecureError(url)
}

export interface PccsCollateralOptions {
  /** a PCCS, or Intel's PCS (the default); https unless on the local network */
  url?: string
  /** how collateral is fetched for a platform family; default fetchFamilyCollateral */
  fetch?: CollateralFetcher
  /** default PCCS_DEFAULTS.negativeSeconds */
  negativeSeconds?: number
  /** default PCCS_DEFAULTS.timeoutMs */
  timeoutMs?: number
  /** default PCCS_DEFAULTS.maxFamilies */
  maxFamilies?: number
  /** default PCCS_DEFAULTS.maxFetchesPerMinute */
  maxFetchesPerMinute?: number
}

type FamilyEntry =
  | { state: 'verified', collateral: Collateral, until: number }
  | { state: 'failed', error: AttestationError, until: number }

/**
 * Fetches collateral from a PCCS per platform family (CA and FMSPC), never per quote, and keeps it
 * only once it passed checkCollateral on its own (Intel's signatures, CRLs, freshness), until its
 * earliest nextUpdate. The quote is read only for its family, so no quote can change what another
 * is judged with. Failures are remembered for negativeSeconds; concurrent misses share one fetch.
 */
export class PccsCollateral implements CollateralSource {
  readonly url: string
  readonly #fetch: CollateralFetcher
  readonly #negativeSeconds: number
  readonly #timeoutMs: number
  readonly #maxFamilies: number
  readonly #maxFetchesPerMinute: number
  /** unix seconds of recent fetches */
  #fetchTimes: number[] = []
  readonly #families = new Map<string, FamilyEntry>()
  readonly #pending = new Map<string, Promise<Collateral>>()

  constructor (options: PccsCollateralOptions = {}) {
    this.url = checkPccsUrl(options.url ?? INTEL_PCS_URL)
    this.#fetch = options.fetch ?? fetchFamilyCollateral
    this.#negativeSeconds = options.negativeSeconds ?? PCCS_DEFAULTS.negativeSeconds
    this.#timeoutMs = options.timeoutMs ?? PCCS_DEFAULTS.timeoutMs
    this.#maxFamilies = options.maxFamilies ?? PCCS_DEFAULTS.maxFamilies
    this.#maxFetchesPerMinute = options.maxFetchesPerMinute ?? PCCS_DEFAULTS.maxFetchesPerMinute
  }

  async get (quote: Uint8Array, now: number): Promise<Collateral> {
    return await this.forFamily(parseTdxQuote(quote).platform, now)
  }

  async forFamily (family: PlatformFamily, now: number): Promise<Collateral> {
    const key = familyKey(family)
    const entry = this.#families.get(key)
    if (entry !== undefined && now < entry.until) {
      if (entry.state === 'verified') return entry.collateral
      throw entry.error
    }
    let pending = this.#pending.get(key)
    if (pending === undefined) {
      // over budget: refused without a fetch and not remembered, so the family is tried again soon
      this.#fetchTimes = this.#fetchTimes.filter((t) => t > now - 60)
      if (this.#fetchTimes.length >= this.#maxFetchesPerMinute) throw new CollateralUnavailableError(`${this.#fetchTimes.length} collateral fetches in the last minute: ${key} is not fetched now`)
      this.#fetchTimes.push(now)
      pending = this.#load(key, family, now).finally(() => { this.#pending.delete(key) })
      this.#pending.set(key, pending)
    }
    return await pending
  }

  async #load (key: string, family: PlatformFamily, now: number): Promise<Collateral> {
    try {
      let fetched: Collateral
      try {
        fetched = await this.#fetch(this.url, family, { signal: AbortSignal.timeout(this.#timeoutMs) })
      } catch (err) {
        throw new CollateralUnavailableError(`cannot fetch collateral for ${key} from ${this.url}: ${(err as Error).message}`, { cause: err })
      }
      const collateral = withoutPckChain(fetched)
      const { validUntil } = checkCollateral(collateral, now)
      const tcb = JSON.parse(collateral.tcb_info) as { id?: unknown, fmspc?: unknown }
      if (tcb.id !== 'TDX' || String(tcb.fmspc).toUpperCase() !== family.fmspc) throw new CollateralInvalidError(`the PCCS served TCB info for ${String(tcb.id)}/${String(tcb.fmspc)}, not ${key}`)
      this.#remember(key, { state: 'verified', collateral, until: validUntil })
      return collateral
    } catch (err) {
      const error = err instanceof AttestationError ? err : new CollateralInvalidError(`collateral for ${key} is unreadable: ${(err as Error).message}`, { cause: err })
      this.#remember(key, { state: 'failed', error, until: now + this.#negativeSeconds })
      throw error
    }
  }

  #remember (key: string, entry: FamilyEntry): void {
    this.#families.delete(key)
    if (this.#families.size >= this.#maxFamilies) this.#families.delete(this.#families.keys().next().value!)
    this.#families.set(key, entry)
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
 * (unix seconds): certificate chains, QE identity, quote signature, TD attributes (no debug TD), the
 * platform's TCB status, and then what dcap-qvl leaves out: both CRLs signed by their CAs and
 * current, TCB info and QE identity current, and the quote's PCK certificate and CA not revoked.
 * The quote is always verified with its own PCK chain, never one carried in the collateral.
 * Throws QuoteInvalidError for anything forged, broken or not a TD quote, TcbRejectedError for a
 * revoked platform, CollateralInvalidError for collateral that fails those checks. The TCB policy is
 * the caller's.
 */
export function verifyTdxQuote (quote: Uint8Array, collateral: Collateral, now: number): TdxQuoteReport {
  const clean = withoutPckChain(collateral)
  let tcbStatus: string
  let advisoryIds: string[]
  let report: Report
  try {
    const verified = verifier.verify(quote, clean, now)
    tcbStatus = verified.status
    advisoryIds = [...verified.advisory_ids]
    report = verified.report
  } catch (err) {
    const message = (err as Error).message
    const invalid = /^TCB status is invalid: (\w+)$/.exec(message)
    if (invalid !== null) throw new TcbRejectedError(invalid[1]!, [], `the platform's TCB status is ${invalid[1]}`)
    // dcap-qvl matches TCB levels only after every signature and chain check has passed
    if (message !== 'No matching TCB level found') throw new QuoteInvalidError(`quote verification failed: ${message}`, { cause: err })
    ;({ tcbStatus, advisoryIds, report } = belowEveryTcbLevel(quote, clean))
  }
  const td = report.asTd10()
  if (td === null) throw new QuoteInvalidError('not a TDX quote')
  checkRevocation(parseTdxQuote(quote).pckChain, clean, now)
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
  /** seconds a verdict lasts after its challenge; default ATTEST_LIMITS.maxEvidenceAgeSeconds */
  maxEvidenceAgeSeconds?: number
}

/** The evidence answers this challenge for this peer: report data = reportData(peerKey, expiresAt, nonce). */
function checkBinding (data: Buffer, expiresAt: number, peerKey: Uint8Array, challenge: Challenge): void {
  if (!data.equals(reportData(peerKey, expiresAt, challenge.nonce))) {
    throw new ReportDataMismatchError('the quote does not bind this peer\'s key, its expiry and our nonce: it was made for another node or another request')
  }
}

async function checkAllowed (measurement: Buffer, allowList: MeasurementAllowList): Promise<void> {
  if (!await allowList.isAllowed(measurement)) throw new MeasurementNotAllowedError(measurement.toString('hex'))
}

function checkTcb (report: TdxQuoteReport, accepted: readonly string[]): void {
  if (!accepted.includes(report.tcbStatus)) {
    throw new TcbRejectedError(report.tcbStatus, report.advisoryIds, `TCB status ${report.tcbStatus} is not among the accepted ${accepted.join(', ')}`)
  }
}

/**
 * The evidence is no older than its challenge (the client's clock, which the node's host does not
 * set) allows; returns until when a verdict on it lasts.
 */
function checkAge (challenge: Challenge, now: number, maxAgeSeconds: number): number {
  const until = challenge.issuedAt + maxAgeSeconds
  if (until <= now) throw new AttestationExpiredError(until, now)
  return until
}

/**
 * The policy steps for a genuine quote's report (verifyTdxQuote's result): report data binds the
 * peer key, expiry and challenge nonce; the measurement is in the allow-list; the TCB status is
 * accepted. TdxVerifier runs the same steps, the first two before any collateral is fetched. A
 * function of its own so that the success path can be tested: no public sample quote binds a key
 * we hold.
 */
export async function judgeTdxReport (
  report: TdxQuoteReport,
  evidence: { expiresAt: number, peerKey: Uint8Array, challenge: Challenge },
  policy: { allowList: MeasurementAllowList, acceptedTcbStatuses: readonly string[], maxEvidenceAgeSeconds?: number }
): Promise<Verdict> {
  checkBinding(report.reportData, evidence.expiresAt, evidence.peerKey, evidence.challenge)
  await checkAllowed(report.measurement, policy.allowList)
  checkTcb(report, policy.acceptedTcbStatuses)
  const until = evidence.challenge.issuedAt + (policy.maxEvidenceAgeSeconds ?? ATTEST_LIMITS.maxEvidenceAgeSeconds)
  return tdxVerdict(report, Math.min(evidence.expiresAt, until), evidence.challenge)
}

function tdxVerdict (report: TdxQuoteReport, expiresAt: number, challenge: Challenge): Verdict {
  return { kind: 'tdx', measurement: report.measurement.toString('hex'), tcbStatus: report.tcbStatus, expiresAt, attestedAt: challenge.issuedAt, advisoryIds: report.advisoryIds }
}

/**
 * Verifies TDX evidence for one peer, cheapest checks first: evidence lifetime and age, the quote
 * decodes, its report data binds the peer key, expiry and our nonce, its measurement is in the
 * Registry's allow-list; only then is collateral fetched and the quote verified (Intel chain and
 * revocation as of `now`) and its TCB status judged. A verdict lasts until the evidence expires or
 * maxEvidenceAgeSeconds after the challenge, whichever is first.
 */
export class TdxVerifier implements Verifier {
  readonly acceptedTcbStatuses: readonly string[]
  readonly maxEvidenceAgeSeconds: number

  constructor (private readonly options: TdxVerifierOptions) {
    this.acceptedTcbStatuses = options.acceptedTcbStatuses ?? DEFAULT_ACCEPTED_TCB_STATUSES
    this.maxEvidenceAgeSeconds = options.maxEvidenceAgeSeconds ?? ATTEST_LIMITS.maxEvidenceAgeSeconds
  }

  async verify (evidence: Evidence, { peerKey, now, challenge }: VerifyContext): Promise<Verdict> {
    if (evidence.kind !== 'tdx') throw new QuoteInvalidError(`a TDX verifier cannot verify ${evidence.kind} evidence`)
    checkLifetime(evidence, now)
    const until = checkAge(challenge, now, this.maxEvidenceAgeSeconds)
    const parsed = parseTdxQuote(evidence.quote)
    checkBinding(parsed.reportData, evidence.expiresAt, peerKey, challenge)
    await checkAllowed(parsed.measurement, this.options.allowList)
    return tdxVerdict(await this.appraise(evidence.quote, now), Math.min(evidence.expiresAt, until), challenge)
  }

  /**
   * The expensive stage, run only after the cheap checks: collateral for the quote's platform
   * family, the quote verified with it and its own PCK chain (verifyTdxQuote), the TCB policy.
   */
  async appraise (quote: Uint8Array, now: number): Promise<TdxQuoteReport> {
    const report = verifyTdxQuote(quote, await this.options.collateral.get(quote, now), now)
    checkTcb(report, this.acceptedTcbStatuses)
    return report
  }
}

/** Accepts dev evidence, on a local network only: a signature by the peer key over the same binding, proving no TEE. */
export class DevVerifier implements Verifier {
  constructor (private readonly options: { network: string, maxEvidenceAgeSeconds?: number }) {}

  async verify (evidence: Evidence, { peerKey, now, challenge }: VerifyContext): Promise<Verdict> {
    if (evidence.kind !== 'dev') throw new QuoteInvalidError(`a dev verifier cannot verify ${evidence.kind} evidence`)
    if (this.options.network !== 'local') throw new DevAttestationRefusedError(this.options.network)
    checkLifetime(evidence, now)
    const until = checkAge(challenge, now, this.options.maxEvidenceAgeSeconds ?? ATTEST_LIMITS.maxEvidenceAgeSeconds)
    if (!verifyDevSignature(evidence, peerKey, challenge.nonce)) throw new ReportDataMismatchError('the dev evidence is not signed by this peer\'s key for this expiry and our nonce')
    return { kind: 'dev', measurement: DEV_MEASUREMENT, tcbStatus: DEV_TCB_STATUS, expiresAt: Math.min(evidence.expiresAt, until), attestedAt: challenge.issuedAt }
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
 * Asks a peer for evidence answering `nonce` over /silk/attest/2.0.0. NoAttestationError when the
 * peer has none or does not speak the protocol; QuoteInvalidError for an oversize or malformed answer.
 */
export async function requestEvidence (libp2p: Libp2p, peer: PeerId | Multiaddr | Multiaddr[], nonce: Uint8Array, options: AbortOptions = {}): Promise<Evidence> {
  const request = encodeAttestRequest(nonce)
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
    await lp.write(request, { signal })
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
  /** seconds a verdict lasts after the client's challenge; default ATTEST_LIMITS.maxEvidenceAgeSeconds */
  maxEvidenceAgeSeconds?: number
  /** verdicts kept (per peer and evidence); default 1024 */
  maxCached?: number
  /** unix seconds (tests control time) */
  now?: () => number
}

/**
 * The client's attestation front: challenges a peer with a fresh nonce, verifies the evidence of
 * any known kind that answers it, and remembers each verdict per peer id and evidence hash until it
 * expires (evidence expiry, or maxEvidenceAgeSeconds after the challenge).
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
        ...(options.acceptedTcbStatuses !== undefined ? { acceptedTcbStatuses: options.acceptedTcbStatuses } : {}),
        ...(options.maxEvidenceAgeSeconds !== undefined ? { maxEvidenceAgeSeconds: options.maxEvidenceAgeSeconds } : {})
      }),
      dev: new DevVerifier({ network: options.network, ...(options.maxEvidenceAgeSeconds !== undefined ? { maxEvidenceAgeSeconds: options.maxEvidenceAgeSeconds } : {}) })
    }
    this.#maxCached = options.maxCached ?? 1024
    this.#now = options.now ?? unixNow
  }

  async verify (evidence: Evidence, context: VerifyContext): Promise<Verdict> {
    const verifier = this.#verifiers[evidence.kind]
    if (verifier === undefined) throw new QuoteInvalidError(`no verifier for ${String(evidence.kind)} evidence`)
    return await verifier.verify(evidence, context)
  }

  /** A verdict already reached for this peer and evidence hash, if still valid. */
  cached (peer: PeerId, hash: Uint8Array, now: number = this.#now()): Verdict | undefined {
    const key = `${peer.toString()}/${Buffer.from(hash).toString('hex')}`
    const verdict = this.#verdicts.get(key)
    if (verdict === undefined || verdict.expiresAt > now) return verdict
    this.#verdicts.delete(key)
    return undefined
  }

  /**
   * Verifies evidence a peer presented in answer to `challenge`, bound to the key the peer proved.
   * Always verified afresh: a remembered verdict answered another nonce.
   */
  async verifyPeer (peer: PeerId, evidence: Evidence, challenge: Challenge, now: number = this.#now()): Promise<Verdict> {
    const peerKey = peerPublicKey(peer)
    if (peerKey === undefined) throw new ReportDataMismatchError('the peer has no Ed25519 key to bind')
    const hash = evidenceHash(evidence)
    const verdict = await this.verify(evidence, { peerKey, now, challenge })
    if (this.#verdicts.size >= this.#maxCached) this.#verdicts.delete(this.#verdicts.keys().next().value!)
    this.#verdicts.set(`${peer.toString()}/${hash.toString('hex')}`, verdict)
    return verdict
  }

  /** Challenges a connected (or dialable) peer with a fresh nonce and verifies the evidence it answers with. */
  async attest (libp2p: Libp2p, peer: PeerId, options: AbortOptions = {}): Promise<Verdict> {
    const challenge = newChallenge(this.#now())
    return await this.verifyPeer(peer, await requestEvidence(libp2p, peer, challenge.nonce, options), challenge)
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

