import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { signVerify } from '@ton/crypto'
import { createLibp2p } from 'libp2p'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  allowListOf, AttestationVerifier, collateralNextUpdate, DEFAULT_ACCEPTED_TCB_STATUSES, DevVerifier, judgeTdxReport, parseTdxQuote,
  PccsCollateral, requestEvidence, staticCollateral, TCB_NOT_SUPPORTED, TdxVerifier, verifyTdxQuote
} from '../client/attestation.ts'
import { AttestationService, DevAttestor, TdxAttestor } from '../node/attestation.ts'
import { emulatedTsm } from './emulated-tsm.ts'
import {
  applyTeePolicy, ATTEST_LIMITS, ATTEST_PROTOCOL, AttestationError, decodeAttestResponse, DEV_MEASUREMENT, encodeAttestResponse,
  decodeAttestRequest, devSignedBytes, encodeAttestRequest, encodeEvidence, evidenceHash, measurementDigest, newChallenge, NoAttestationError,
  QuoteInvalidError, reportData, signDevEvidence, verifyDevSignature, type Evidence, type Verdict, type VerifyContext
} from '../protocol/attestation.ts'
import { identityFromSeed, peerPublicKey, type Identity } from '../protocol/keys.ts'
import { transportOptions } from '../protocol/transport.ts'
import { AttestRequest, AttestResponse } from '../protocol/wire/attest.ts'
import { missingTdxSamples, runTdxTests, TDX_DIR, tdxSample, underCi, type TdxSample } from './tdx-samples.ts'

/** sha256(MRTD ‖ RTMR0..3) read at the TDX v4 quote's fixed offsets, independently of the parser. */
const GOOD_MEASUREMENT = '8ef444fda246f7e0d5f9a3ba0a2822ae0be7dbec5e321277d03b73b198fa2545'
const OUTDATED_MEASUREMENT = 'f7ec71d44bfb3dc9377fb4a490a5686d2397811b747286b0178a384b8352e6ec'

async function code (p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  if (!(err instanceof AttestationError)) throw new Error(`expected an AttestationError, got ${String(err)}`)
  return err.code
}

const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n)

describe('report data, measurement and evidence encoding', () => {
  it('reportData is SHA-512("silk-attest-v2:" ‖ key ‖ uint64be(expiry) ‖ nonce) and binds all three', () => {
    const key = Buffer.alloc(32, 7)
    const nonce = Buffer.alloc(32, 9)
    const expiry = Buffer.alloc(8)
    expiry.writeBigUInt64BE(1_800_000_000n)
    const expected = createHash('sha512').update('silk-attest-v2:').update(key).update(expiry).update(nonce).digest()
    expect(reportData(key, 1_800_000_000, nonce)).toEqual(expected)
    expect(reportData(key, 1_800_000_000, nonce)).toHaveLength(64)
    expect(reportData(key, 1_800_000_001, nonce)).not.toEqual(expected)
    expect(reportData(Buffer.alloc(32, 8), 1_800_000_000, nonce)).not.toEqual(expected)
    expect(reportData(key, 1_800_000_000, Buffer.alloc(32, 10))).not.toEqual(expected)
    expect(() => reportData(Buffer.alloc(31), 1, nonce)).toThrow(RangeError)
    expect(() => reportData(key, 0, nonce)).toThrow(RangeError)
    expect(() => reportData(key, 1, Buffer.alloc(31))).toThrow(RangeError)
  })

  it('measurementDigest is sha256 over the five 48-byte registers, in order', () => {
    const regs = [1, 2, 3, 4, 5].map((n) => Buffer.alloc(48, n))
    const [mrTd, rtMr0, rtMr1, rtMr2, rtMr3] = regs as [Buffer, Buffer, Buffer, Buffer, Buffer]
    expect(measurementDigest({ mrTd, rtMr0, rtMr1, rtMr2, rtMr3 })).toEqual(createHash('sha256').update(Buffer.concat(regs)).digest())
    expect(measurementDigest({ mrTd: rtMr0, rtMr0: mrTd, rtMr1, rtMr2, rtMr3 }).equals(measurementDigest({ mrTd, rtMr0, rtMr1, rtMr2, rtMr3 }))).toBe(false)
    expect(() => measurementDigest({ mrTd: Buffer.alloc(32), rtMr0, rtMr1, rtMr2, rtMr3 })).toThrow(RangeError)
  })

  it('evidence round-trips through a response; its hash is stable and changes with any field', () => {
    const evidence: Evidence = { kind: 'tdx', expiresAt: 1_800_000_000, quote: randomBytes(5000) }
    const decoded = decodeAttestResponse(encodeAttestResponse({ evidence }))
    expect(decoded).toEqual({ ...evidence, quote: new Uint8Array(evidence.quote) })
    expect(evidenceHash(decoded)).toEqual(evidenceHash(evidence))
    expect(evidenceHash({ ...evidence, expiresAt: evidence.expiresAt + 1 })).not.toEqual(evidenceHash(evidence))
    expect(evidenceHash({ ...evidence, kind: 'dev' })).not.toEqual(evidenceHash(evidence))
  })

  it('an attest request carries exactly one 32-byte nonce', () => {
    const nonce = randomBytes(32)
    expect(decodeAttestRequest(encodeAttestRequest(nonce))).toEqual(new Uint8Array(nonce))
    expect(() => encodeAttestRequest(randomBytes(31))).toThrow(RangeError)
    expect(() => decodeAttestRequest(AttestRequest.encode({ nonce: randomBytes(31) }))).toThrow(QuoteInvalidError)
    expect(() => decodeAttestRequest(new Uint8Array(0))).toThrow(QuoteInvalidError)
    expect(() => decodeAttestRequest(new Uint8Array(ATTEST_LIMITS.maxRequestBytes + 1))).toThrow(QuoteInvalidError)
  })

  it('refuses malformed responses with QUOTE_INVALID and reads a refusal as NO_ATTESTATION', async () => {
    const bad = [
      new Uint8Array(ATTEST_LIMITS.maxResponseBytes + 1),
      Uint8Array.from([0xff, 0xff, 0xff]),
      AttestResponse.encode({}),
      AttestResponse.encode({ evidence: { kind: 'tdx', expiresAt: 1n, quote: Uint8Array.of(1) }, error: { code: 'NO_ATTESTATION', message: '' } }),
      AttestResponse.encode({ evidence: { kind: 'sev', expiresAt: 1n, quote: Uint8Array.of(1) } }),
      AttestResponse.encode({ evidence: { kind: 'tdx', expiresAt: 1n, quote: new Uint8Array(0) } }),
      AttestResponse.encode({ evidence: { kind: 'tdx', expiresAt: 2n ** 60n, quote: Uint8Array.of(1) } }),
      AttestResponse.encode({ evidence: { kind: 'tdx', expiresAt: 1n, quote: new Uint8Array(ATTEST_LIMITS.maxQuoteBytes + 1) } })
    ]
    for (const bytes of bad) expect(() => decodeAttestResponse(bytes)).toThrow(QuoteInvalidError)
    expect(() => decodeAttestResponse(encodeAttestResponse({ error: { code: 'NO_ATTESTATION', message: 'no TEE' } }))).toThrow(NoAttestationError)
    expect(() => encodeEvidence({ kind: 'tdx', expiresAt: 1.5, quote: Uint8Array.of(1) })).toThrow(QuoteInvalidError)
  })

  it('applyTeePolicy: attested tiers always pass; without attestation only `required` refuses', () => {
    const tdx: Verdict = { kind: 'tdx', measurement: GOOD_MEASUREMENT, tcbStatus: 'UpToDate', expiresAt: 2, attestedAt: 1 }
    const dev: Verdict = { kind: 'dev', measurement: DEV_MEASUREMENT, tcbStatus: 'Development', expiresAt: 2, attestedAt: 1 }
    const none = new NoAttestationError('no TEE')
    expect(applyTeePolicy('required', tdx)).toEqual({ allowed: true, tier: 'tdx' })
    expect(applyTeePolicy('required', dev)).toEqual({ allowed: true, tier: 'dev' })
    expect(applyTeePolicy('required', none)).toEqual({ allowed: false, tier: 'none' })
    expect(applyTeePolicy('preferred', none)).toEqual({ allowed: true, tier: 'none' })
    expect(applyTeePolicy('preferred', tdx)).toEqual({ allowed: true, tier: 'tdx' })
    expect(applyTeePolicy('off', none)).toEqual({ allowed: true, tier: 'none' })
  })
})

describe('dev attestation', () => {
  let id: Identity
  let other: Identity
  beforeAll(async () => {
    id = await identityFromSeed(seed(1))
    other = await identityFromSeed(seed(2))
  })

  it('binds the node key, expiry and the client\'s nonce; accepted on a local network only', async () => {
    const now = 1_800_000_000
    const challenge = newChallenge(now)
    const evidence = await new DevAttestor({ keyPair: id.keyPair, now: () => now }).getEvidence(challenge.nonce)
    expect(evidence).toMatchObject({ kind: 'dev', expiresAt: now + 3600 })
    const ctx = { peerKey: id.keyPair.publicKey, now, challenge }
    const verdict = await new DevVerifier({ network: 'local' }).verify(evidence, ctx)
    // the verdict lasts until the evidence expires or the challenge is maxEvidenceAgeSeconds old, whichever is first
    expect(verdict).toEqual({ kind: 'dev', measurement: DEV_MEASUREMENT, tcbStatus: 'Development', expiresAt: now + ATTEST_LIMITS.maxEvidenceAgeSeconds, attestedAt: now })
    expect(await code(new DevVerifier({ network: 'testnet' }).verify(evidence, ctx))).toBe('DEV_ATTESTATION_REFUSED')
    expect(await code(new DevVerifier({ network: 'mainnet' }).verify(evidence, ctx))).toBe('DEV_ATTESTATION_REFUSED')
    expect(await code(new DevVerifier({ network: 'local' }).verify(evidence, { ...ctx, peerKey: other.keyPair.publicKey }))).toBe('REPORT_DATA_MISMATCH')
    expect(await code(new DevVerifier({ network: 'local' }).verify({ ...evidence, expiresAt: evidence.expiresAt + 1 }, ctx))).toBe('REPORT_DATA_MISMATCH')
    // evidence made for another client's nonce proves nothing to this one
    expect(await code(new DevVerifier({ network: 'local' }).verify(evidence, { ...ctx, challenge: newChallenge(now) }))).toBe('REPORT_DATA_MISMATCH')
    expect(await code(new DevVerifier({ network: 'local' }).verify(evidence, { ...ctx, now: now + 3600 }))).toBe('ATTESTATION_EXPIRED')
    expect(await code(new DevVerifier({ network: 'local' }).verify(evidence, { ...ctx, now: now + ATTEST_LIMITS.maxEvidenceAgeSeconds }))).toBe('ATTESTATION_EXPIRED')
  })

  it('signs exactly the report data a TDX quote would carry for this key, expiry and nonce: the binding step, positive and negative', async () => {
    const expiresAt = 1_800_003_600
    const nonce = randomBytes(32)
    const evidence = signDevEvidence(id.keyPair.secretKey, id.keyPair.publicKey, expiresAt, nonce)
    const signed = Buffer.concat([Buffer.from('silk-dev-attestation-v2:'), reportData(id.keyPair.publicKey, expiresAt, nonce)])
    expect(devSignedBytes(id.keyPair.publicKey, expiresAt, nonce)).toEqual(signed)
    expect(signVerify(signed, Buffer.from(evidence.quote), id.keyPair.publicKey)).toBe(true)
    expect(verifyDevSignature(evidence, id.keyPair.publicKey, nonce)).toBe(true)
    expect(verifyDevSignature(evidence, other.keyPair.publicKey, nonce)).toBe(false)
    expect(verifyDevSignature(evidence, id.keyPair.publicKey, randomBytes(32))).toBe(false)
    expect(verifyDevSignature({ ...evidence, expiresAt: expiresAt - 1 }, id.keyPair.publicKey, nonce)).toBe(false)
    expect(verifyDevSignature({ ...evidence, quote: evidence.quote.subarray(0, 63) }, id.keyPair.publicKey, nonce)).toBe(false)
    const challenge = { nonce, issuedAt: expiresAt - 60 }
    const verdict = await new AttestationVerifier({ network: 'local', allowList: allowListOf([]) }).verify(evidence, { peerKey: id.keyPair.publicKey, now: expiresAt - 60, challenge })
    expect(applyTeePolicy('required', verdict)).toEqual({ allowed: true, tier: 'dev' })
  })

  it('refuses evidence that claims to live longer than the limit', async () => {
    const now = 1_800_000_000
    const challenge = newChallenge(now)
    const long = signDevEvidence(id.keyPair.secretKey, id.keyPair.publicKey, now + ATTEST_LIMITS.maxLifetimeSeconds + 1, challenge.nonce)
    expect(await code(new DevVerifier({ network: 'local' }).verify(long, { peerKey: id.keyPair.publicKey, now, challenge }))).toBe('QUOTE_INVALID')
  })

  it('makes fresh evidence for each nonce, and refuses a nonce that is not 32 bytes or a lifetime beyond the limit', async () => {
    const now = 1_800_000_000
    const attestor = new DevAttestor({ keyPair: id.keyPair, lifetimeSeconds: 400, now: () => now })
    const a = await attestor.getEvidence(Buffer.alloc(32, 1))
    const b = await attestor.getEvidence(Buffer.alloc(32, 2))
    expect(a.expiresAt).toBe(now + 400)
    expect(Buffer.from(a.quote).equals(Buffer.from(b.quote))).toBe(false)
    await expect(attestor.getEvidence(Buffer.alloc(31))).rejects.toThrow(RangeError)
    expect(() => new DevAttestor({ keyPair: id.keyPair, lifetimeSeconds: ATTEST_LIMITS.maxLifetimeSeconds + 1 })).toThrow(RangeError)
  })
})

describe('the Intel TDX samples', () => {
  it.runIf(underCi)('are present under CI, so no TDX test is skipped there', () => {
    expect(missingTdxSamples, `missing in ${TDX_DIR}`).toEqual([])
  })
})

describe.skipIf(!runTdxTests)('TDX quotes (real Intel samples)', () => {
  let good: TdxSample
  let outdated: TdxSample
  let key: Identity
  beforeAll(async () => {
    key = await identityFromSeed(seed(3))
  })
  // per test, so that under CI without the samples every one of these tests fails on its own
  beforeEach(() => {
    good = tdxSample('tdx_quote')
    outdated = tdxSample('tdx_quote_outdated')
  })
  const tdx = (s: TdxSample, expiresAt = s.asOf + 3600): Evidence => ({ kind: 'tdx', expiresAt, quote: s.quote })
  const context = (s: TdxSample): VerifyContext => ({ peerKey: key.keyPair.publicKey, now: s.asOf, challenge: newChallenge(s.asOf) })
  const verifierFor = (s: TdxSample, allowed: string[], acceptedTcbStatuses?: string[]) => new TdxVerifier({
    collateral: staticCollateral(s.collateral),
    allowList: allowListOf(allowed),
    ...(acceptedTcbStatuses !== undefined ? { acceptedTcbStatuses } : {})
  })

  it('step 1, the signature chain: the good quote verifies as of a time inside its collateral and yields its measurement', () => {
    const started = performance.now()
    const report = verifyTdxQuote(good.quote, good.collateral, good.asOf)
    const ms = performance.now() - started
    expect(report.tcbStatus).toBe('UpToDate')
    expect(report.advisoryIds).toEqual([])
    const q = good.quote
    // TDX v4: 48-byte header, then the TD report: MRTD at 184, RTMR0..3 at 376..568, REPORTDATA at 568..632
    const independent = createHash('sha256').update(q.subarray(184, 232)).update(q.subarray(376, 568)).digest('hex')
    expect(report.measurement.toString('hex')).toBe(independent)
    expect(independent).toBe(GOOD_MEASUREMENT)
    expect(report.reportData).toEqual(q.subarray(568, 632))
    console.info(`TDX quote verification (dcap-qvl, pure JS): ${ms.toFixed(0)} ms`)
  })

  it('step 1: a flipped byte anywhere that matters is QUOTE_INVALID', async () => {
    for (const offset of [10, 200, 620, 640, 2000]) {
      const forged = Buffer.from(good.quote)
      forged[offset]! ^= 0x01
      expect(() => verifyTdxQuote(forged, good.collateral, good.asOf), `byte ${offset}`).toThrow(QuoteInvalidError)
      expect(await code(verifierFor(good, [GOOD_MEASUREMENT]).appraise(forged, good.asOf)), `byte ${offset}`).toBe('QUOTE_INVALID')
    }
    const forged = Buffer.from(outdated.quote)
    forged[700]! ^= 0x01
    expect(() => verifyTdxQuote(forged, outdated.collateral, outdated.asOf)).toThrow(QuoteInvalidError)
  })

  it('step 1 is judged as of the given time: outside the collateral validity the quote does not verify', () => {
    expect(() => verifyTdxQuote(good.quote, good.collateral, good.nextUpdate + 1)).toThrow(QuoteInvalidError)
    expect(() => verifyTdxQuote(good.quote, good.collateral, good.issueDate - 1)).toThrow(QuoteInvalidError)
    expect(() => verifyTdxQuote(good.quote, outdated.collateral, outdated.asOf)).toThrow(QuoteInvalidError)
  })

  it('step 2, the TCB: the outdated platform reports its status, refused by default, accepted when the policy names it', async () => {
    const report = verifyTdxQuote(outdated.quote, outdated.collateral, outdated.asOf)
    // its SGX TCB components are below every level Intel lists for FMSPC 90C06F000000
    expect(report.tcbStatus).toBe(TCB_NOT_SUPPORTED)
    expect(report.measurement.toString('hex')).toBe(OUTDATED_MEASUREMENT)
    const err = await verifierFor(outdated, [OUTDATED_MEASUREMENT]).appraise(outdated.quote, outdated.asOf).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'TCB_REJECTED', status: TCB_NOT_SUPPORTED })
    expect((await verifierFor(outdated, [], ['UpToDate', TCB_NOT_SUPPORTED]).appraise(outdated.quote, outdated.asOf)).tcbStatus).toBe(TCB_NOT_SUPPORTED)
    // the good quote is refused by a policy that does not list UpToDate
    const strict = await verifierFor(good, [GOOD_MEASUREMENT], ['SWHardeningNeeded']).appraise(good.quote, good.asOf).catch((e: unknown) => e)
    expect(strict).toMatchObject({ code: 'TCB_REJECTED', status: 'UpToDate' })
    expect((await verifierFor(good, [GOOD_MEASUREMENT]).appraise(good.quote, good.asOf)).tcbStatus).toBe('UpToDate')
  })

  it('step 3, the measurement: the quote\'s digest, read before any collateral, must be in the allow-list', async () => {
    expect(parseTdxQuote(good.quote).measurement.toString('hex')).toBe(GOOD_MEASUREMENT)
    const report = verifyTdxQuote(good.quote, good.collateral, good.asOf)
    const ctx = context(good)
    const bound = { ...report, reportData: reportData(ctx.peerKey, good.asOf + 3600, ctx.challenge.nonce) }
    const err = await judgeTdxReport(bound, { expiresAt: good.asOf + 3600, peerKey: ctx.peerKey, challenge: ctx.challenge }, { allowList: allowListOf(['00'.repeat(32)]), acceptedTcbStatuses: ['UpToDate'] }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'MEASUREMENT_NOT_ALLOWED', measurement: GOOD_MEASUREMENT })
  })

  it('step 4, the binding: the sample\'s report data binds someone else, so the real quote is REPORT_DATA_MISMATCH', async () => {
    expect(await code(verifierFor(good, [GOOD_MEASUREMENT]).verify(tdx(good), context(good)))).toBe('REPORT_DATA_MISMATCH')
    expect(await code(verifierFor(outdated, [OUTDATED_MEASUREMENT], ['UpToDate', TCB_NOT_SUPPORTED]).verify(tdx(outdated), context(outdated)))).toBe('REPORT_DATA_MISMATCH')
  })

  it('expired evidence, or a challenge older than the maximum age, is ATTESTATION_EXPIRED, whatever the quote', async () => {
    expect(await code(verifierFor(good, [GOOD_MEASUREMENT]).verify(tdx(good, good.asOf), context(good)))).toBe('ATTESTATION_EXPIRED')
    const stale = { ...context(good), challenge: newChallenge(good.asOf - ATTEST_LIMITS.maxEvidenceAgeSeconds) }
    expect(await code(verifierFor(good, [GOOD_MEASUREMENT]).verify(tdx(good), stale))).toBe('ATTESTATION_EXPIRED')
  })

  it('success path: a genuine, up-to-date, allowed quote whose report data binds the peer is a tdx verdict, tier tdx', async () => {
    const { peerKey, challenge } = context(good)
    const expiresAt = good.asOf + 3600
    // steps 1-2 on the real quote: Intel's chain, QE identity, quote signature and TD attributes, then the TCB level
    const report = await verifierFor(good, [GOOD_MEASUREMENT]).appraise(good.quote, good.asOf)
    expect(report.tcbStatus).toBe('UpToDate')
    const policy = { allowList: allowListOf([GOOD_MEASUREMENT]), acceptedTcbStatuses: DEFAULT_ACCEPTED_TCB_STATUSES }
    const evidence = { expiresAt, peerKey, challenge }
    // steps 3-4 on the real report: the binding fails, because the sample binds another key
    expect(await code(judgeTdxReport(report, evidence, policy))).toBe('REPORT_DATA_MISMATCH')
    // the same verified report as a TD holding our key would produce it for our nonce
    const bound = { ...report, reportData: reportData(peerKey, expiresAt, challenge.nonce) }
    const verdict = await judgeTdxReport(bound, evidence, policy)
    expect(verdict).toEqual({
      kind: 'tdx', measurement: GOOD_MEASUREMENT, tcbStatus: 'UpToDate', advisoryIds: [],
      attestedAt: good.asOf, expiresAt: good.asOf + ATTEST_LIMITS.maxEvidenceAgeSeconds
    })
    expect(applyTeePolicy('required', verdict)).toEqual({ allowed: true, tier: 'tdx' })
    expect(applyTeePolicy('preferred', verdict)).toEqual({ allowed: true, tier: 'tdx' })
    // and every step still bites on it
    const other = await identityFromSeed(seed(9))
    expect(await code(judgeTdxReport(bound, { ...evidence, expiresAt: expiresAt + 1 }, policy))).toBe('REPORT_DATA_MISMATCH')
    expect(await code(judgeTdxReport(bound, { ...evidence, peerKey: other.keyPair.publicKey }, policy))).toBe('REPORT_DATA_MISMATCH')
    expect(await code(judgeTdxReport(bound, { ...evidence, challenge: newChallenge(good.asOf) }, policy))).toBe('REPORT_DATA_MISMATCH')
    expect(await code(judgeTdxReport(bound, evidence, { ...policy, allowList: allowListOf([OUTDATED_MEASUREMENT]) }))).toBe('MEASUREMENT_NOT_ALLOWED')
    expect(await code(judgeTdxReport(bound, evidence, { ...policy, acceptedTcbStatuses: ['SWHardeningNeeded'] }))).toBe('TCB_REJECTED')
  })

  it('why no sample gives a positive verdict: its report data is signed, so writing our binding into it breaks the quote', () => {
    // REPORTDATA (TD report bytes 520..584, quote bytes 568..632) is covered by the quote's ECDSA
    // signature by the attestation key, which the QE report binds and Intel's PCK chain certifies.
    // The sample carries another party's 64 bytes: matching them with a key, expiry and nonce of
    // ours would take a SHA-512 preimage, and changing them takes Intel's platform keys.
    expect(good.quote.subarray(568, 632).toString('hex')).toBe(
      '9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20')
    expect(verifyTdxQuote(good.quote, good.collateral, good.asOf).reportData).toEqual(good.quote.subarray(568, 632))
    const rebound = Buffer.from(good.quote)
    reportData(key.keyPair.publicKey, good.asOf + 3600, Buffer.alloc(32, 1)).copy(rebound, 568)
    expect(parseTdxQuote(rebound).reportData).toEqual(reportData(key.keyPair.publicKey, good.asOf + 3600, Buffer.alloc(32, 1)))
    expect(() => verifyTdxQuote(rebound, good.collateral, good.asOf)).toThrow(QuoteInvalidError)
  })

  it('PCCS collateral is fetched once per platform family and again after it expires; a failing PCCS is COLLATERAL_UNAVAILABLE', async () => {
    const families: string[] = []
    const source = new PccsCollateral({ url: 'https://pccs.example/', fetch: async (_url, family) => { families.push(`${family.ca}/${family.fmspc}`); return good.collateral } })
    expect(collateralNextUpdate(good.collateral)).toBeLessThanOrEqual(good.nextUpdate)
    await Promise.all([source.get(good.quote, good.asOf), source.get(good.quote, good.asOf)])
    await source.get(good.quote, good.asOf + 3600)
    expect(families).toEqual([`${parseTdxQuote(good.quote).platform.ca}/${parseTdxQuote(good.quote).platform.fmspc}`])
    await source.get(good.quote, collateralNextUpdate(good.collateral)).catch(() => {})
    expect(families).toHaveLength(2)
    const down = new PccsCollateral({ fetch: async () => { throw new Error('503') } })
    expect(await code(down.get(good.quote, good.asOf))).toBe('COLLATERAL_UNAVAILABLE')
    expect(await code(new TdxVerifier({ collateral: down, allowList: allowListOf([GOOD_MEASUREMENT]) }).appraise(good.quote, good.asOf))).toBe('COLLATERAL_UNAVAILABLE')
  })
})


describe('/silk/attest/1.0.0 between two libp2p nodes', () => {
  let node: Libp2p
  let client: Libp2p
  let id: Identity
  let dir: string
  beforeAll(async () => {
    id = await identityFromSeed(seed(4))
    node = await createLibp2p(transportOptions(id.privateKey, ['/ip4/127.0.0.1/tcp/0']))
    client = await createLibp2p(transportOptions(undefined, []))
    dir = await mkdtemp(join(tmpdir(), 'silk-tsm-'))
  })
  afterAll(async () => {
    await client?.stop()
    await node?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('serves fresh dev evidence for each nonce, which the client verifies for the peer it dialled; the verdict is cached', async () => {
    const service = new AttestationService({ libp2p: node }, { attestor: new DevAttestor({ keyPair: id.keyPair }) })
    await service.start()
    await service.start()
    try {
      expect(service.kind).toBe('dev')
      const verifier = new AttestationVerifier({ network: 'local', allowList: allowListOf([]) })
      const challenge = newChallenge(Math.floor(Date.now() / 1000))
      const evidence = await requestEvidence(client, node.getMultiaddrs(), challenge.nonce)
      expect(evidence.kind).toBe('dev')
      expect(evidenceHash(evidence)).toEqual(await service.evidenceHash())
      const verdict = await verifier.verifyPeer(node.peerId, evidence, challenge)
      expect(verdict).toMatchObject({ kind: 'dev', attestedAt: challenge.issuedAt })
      expect(verifier.cached(node.peerId, evidenceHash(evidence))).toEqual(verdict)
      expect(verifier.cached(client.peerId, evidenceHash(evidence))).toBeUndefined()
      // replayed to a client that asked with another nonce, the same evidence proves nothing
      expect(await code(verifier.verifyPeer(node.peerId, evidence, newChallenge(challenge.issuedAt)))).toBe('REPORT_DATA_MISMATCH')
      const again = await requestEvidence(client, node.peerId, newChallenge(challenge.issuedAt).nonce)
      expect(evidenceHash(again).equals(evidenceHash(evidence))).toBe(false)
      expect(await verifier.decide(client, node.peerId, 'required')).toMatchObject({ allowed: true, tier: 'dev', verdict: { kind: 'dev' } })
      const remote = new AttestationVerifier({ network: 'testnet', allowList: allowListOf([]) })
      expect(await remote.decide(client, node.peerId, 'required')).toMatchObject({ allowed: false, tier: 'none', error: { code: 'DEV_ATTESTATION_REFUSED' } })
      expect(await remote.decide(client, node.peerId, 'off')).toEqual({ allowed: true, tier: 'none' })
    } finally {
      await service.stop()
      await service.stop()
    }
    expect(await code(requestEvidence(client, node.peerId, randomBytes(32)))).toBe('NO_ATTESTATION')
  })

  it('a node without a TEE answers NO_ATTESTATION: refused under required, tier none under preferred', async () => {
    const service = new AttestationService({ libp2p: node })
    await service.start()
    try {
      expect(service.kind).toBe('none')
      expect(await service.evidenceHash()).toBeUndefined()
      expect(await code(requestEvidence(client, node.peerId, randomBytes(32)))).toBe('NO_ATTESTATION')
      const verifier = new AttestationVerifier({ network: 'local', allowList: allowListOf([]) })
      expect(await verifier.decide(client, node.peerId, 'required')).toMatchObject({ allowed: false, tier: 'none', error: { code: 'NO_ATTESTATION' } })
      expect(await verifier.decide(client, node.peerId, 'preferred')).toMatchObject({ allowed: true, tier: 'none' })
    } finally {
      await service.stop()
    }
  })

  it('an oversize answer is QUOTE_INVALID, not a crash', async () => {
    await node.handle(ATTEST_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      await lp.read()
      await lp.write(new Uint8Array(ATTEST_LIMITS.maxResponseBytes + 10))
      await stream.close()
    })
    try {
      expect(await code(requestEvidence(client, node.peerId, randomBytes(32)))).toBe('QUOTE_INVALID')
    } finally {
      await node.unhandle(ATTEST_PROTOCOL)
    }
    // and an oversize request is dropped by the node without an answer
    const service = new AttestationService({ libp2p: node }, { attestor: new DevAttestor({ keyPair: id.keyPair }) })
    await service.start()
    try {
      const stream = await client.dialProtocol(node.peerId, ATTEST_PROTOCOL)
      const lp = lpStream(stream)
      await lp.write(new Uint8Array(ATTEST_LIMITS.maxRequestBytes + 1))
      await expect(lp.read({ signal: AbortSignal.timeout(5_000) })).rejects.toThrow()
    } finally {
      await service.stop()
    }
  })

  it('a TDX attestor fails to start where there is no configfs-tsm', async () => {
    const service = new AttestationService({ libp2p: node }, { attestor: new TdxAttestor({ nodeKey: id.keyPair.publicKey, tsmPath: join(dir, 'absent') }) })
    await expect(service.start()).rejects.toMatchObject({ name: 'AttestorError', code: 'TSM_UNAVAILABLE' })
  })

  it.skipIf(!runTdxTests)('serves a quote from an emulated configfs-tsm; the client verifies it against Intel collateral', async () => {
    const good = tdxSample('tdx_quote')
    const tsm = emulatedTsm(good.quote)
    const attestor = new TdxAttestor({ nodeKey: id.keyPair.publicKey, tsmPath: dir, fs: tsm.fs, now: () => good.asOf })
    const service = new AttestationService({ libp2p: node }, { attestor })
    await service.start()
    try {
      expect(service.kind).toBe('tdx')
      const nonce = randomBytes(32)
      const evidence = await requestEvidence(client, node.peerId, nonce)
      expect(evidence).toMatchObject({ kind: 'tdx', expiresAt: good.asOf + 3600 })
      expect(Buffer.from(evidence.quote)).toEqual(good.quote)
      // one quote at start (for a nonce of the node's own), then one for this request: the node asked
      // the kernel to bind its own key, the expiry it serves and our nonce, which is exactly the
      // report data the client expects from the key the peer proved in the handshake
      expect(tsm.inblobs).toHaveLength(2)
      expect(tsm.inblobs[1]).toEqual(reportData(id.keyPair.publicKey, good.asOf + 3600, nonce))
      expect(tsm.inblobs[1]).toEqual(reportData(peerPublicKey(node.peerId)!, evidence.expiresAt, nonce))
      expect(tsm.live()).toBe(0)
      const verifier = new AttestationVerifier({
        network: 'mainnet',
        allowList: allowListOf([GOOD_MEASUREMENT]),
        collateral: staticCollateral(good.collateral),
        now: () => good.asOf
      })
      // a genuine quote, but canned: it binds another key, which is exactly what the client must catch
      expect(await verifier.decide(client, node.peerId, 'preferred')).toMatchObject({ allowed: true, tier: 'none', error: { code: 'REPORT_DATA_MISMATCH' } })
    } finally {
      await service.stop()
    }
  })
})
