import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Libp2p } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { QuoteVerifier } from '@phala/dcap-qvl'
import { createLibp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  allowListOf, AttestationVerifier, checkPccsUrl, DevVerifier, parseTdxQuote, PccsCollateral, requestEvidence, staticCollateral,
  TdxVerifier, verifyTdxQuote, type Collateral, type CollateralFetcher
} from '../client/attestation.ts'
import { AttestationService, DevAttestor, TdxAttestor } from '../node/attestation.ts'
import { emulatedTsm } from './emulated-tsm.ts'
import {
  ATTEST_LIMITS, ATTEST_PROTOCOL, AttestationError, decodeAttestRequest, encodeAttestRequest, newChallenge, reportData,
  signDevEvidence, type Challenge, type Evidence
} from '../protocol/attestation.ts'
import { identityFromSeed, type Identity } from '../protocol/keys.ts'
import { transportOptions } from '../protocol/transport.ts'
import { AttestRequest } from '../protocol/wire/attest.ts'

import { runTdxTests as present, TDX_DIR } from './tdx-samples.ts'

interface Sample { quote: Buffer, collateral: Collateral, asOf: number }
function sample (name: 'tdx_quote' | 'tdx_quote_outdated'): Sample {
  const collateral = JSON.parse(readFileSync(join(TDX_DIR, `${name}_collateral.json`), 'utf8')) as Collateral
  // as of one day into the collateral's validity, never the wall clock
  const asOf = Date.parse((JSON.parse(collateral.tcb_info) as { issueDate: string }).issueDate) / 1000 + 86_400
  return { quote: readFileSync(join(TDX_DIR, name)), collateral, asOf }
}
const GOOD_MEASUREMENT = '8ef444fda246f7e0d5f9a3ba0a2822ae0be7dbec5e321277d03b73b198fa2545'
/** quote bytes of a TDX v4 quote's REPORTDATA */
const REPORT_DATA_AT = 568

/** The attack from the report: one character of the PCK leaf certificate's signature flipped (same FMSPC). */
function forgeLeafSignature (quote: Buffer): Buffer {
  const text = quote.toString('latin1')
  const end = text.indexOf('-----END CERTIFICATE-----')
  const lastLine = text.lastIndexOf('\n', end - 2) + 1 // the leaf's last base64 line: the end of its ECDSA signature
  const at = lastLine + 10
  const forged = Buffer.from(quote)
  forged[at] = text[at] === 'A' ? 0x42 : 0x41
  return forged
}

/** The quote with our binding written into its report data: passes the cheap checks, breaks the quote's signature. */
function rebind (quote: Buffer, data: Buffer): Buffer {
  const out = Buffer.from(quote)
  data.copy(out, REPORT_DATA_AT)
  return out
}

/**
 * A well-formed SGX (v3) quote carrying the TDX sample's PCK chain: parses, has a genuine-looking
 * chain and FMSPC, but holds an enclave report, not a TD report.
 */
function sgxQuoteWithChain (tdxQuote: Buffer): Buffer {
  const text = tdxQuote.toString('latin1')
  const chain = tdxQuote.subarray(text.indexOf('-----BEGIN CERTIFICATE-----'), text.lastIndexOf('-----END CERTIFICATE-----') + 26)
  const header = Buffer.alloc(48)
  header.writeUInt16LE(3, 0) // version
  header.writeUInt16LE(2, 2) // ECDSA-256 with P-256
  header.writeUInt32LE(0, 4) // TEE type SGX
  const certification = Buffer.alloc(6)
  certification.writeUInt16LE(5, 0) // PCK certificate chain
  certification.writeUInt32LE(chain.length, 2)
  const auth = Buffer.concat([Buffer.alloc(64 + 64 + 384 + 64), Buffer.alloc(2), certification, chain])
  const length = Buffer.alloc(4)
  length.writeUInt32LE(auth.length)
  return Buffer.concat([header, Buffer.alloc(384), length, auth])
}

async function code (p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  if (!(err instanceof AttestationError)) throw new Error(`expected an AttestationError, got ${String(err)}`)
  return err.code
}

/** A PCCS stand-in that counts what it is asked: the collateral it returns is Intel's sample. */
function countingFetcher (collateral: () => Collateral): { fetch: CollateralFetcher, calls: string[] } {
  const calls: string[] = []
  return { calls, fetch: async (_url, family) => { calls.push(`${family.ca}/${family.fmspc}`); return collateral() } }
}

const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n)

describe.skipIf(!present)('verification order: cheap checks before any collateral (real Intel samples)', () => {
  let good: Sample
  let key: Identity
  beforeAll(async () => {
    good = sample('tdx_quote')
    key = await identityFromSeed(seed(3))
  })
  const verifierWith = (fetch: CollateralFetcher, allowed: string[]): TdxVerifier =>
    new TdxVerifier({ collateral: new PccsCollateral({ fetch }), allowList: allowListOf(allowed) })

  it('a quote that does not bind our key and nonce is refused with no fetch', async () => {
    const pccs = countingFetcher(() => good.collateral)
    const challenge = newChallenge(good.asOf)
    const evidence: Evidence = { kind: 'tdx', expiresAt: good.asOf + 3600, quote: good.quote }
    expect(await code(verifierWith(pccs.fetch, [GOOD_MEASUREMENT]).verify(evidence, { peerKey: key.keyPair.publicKey, now: good.asOf, challenge }))).toBe('REPORT_DATA_MISMATCH')
    expect(pccs.calls).toEqual([])
  })

  it('a bound quote whose measurement is not allowed is refused with no fetch; an allowed one must then be genuine', async () => {
    const pccs = countingFetcher(() => good.collateral)
    const challenge = newChallenge(good.asOf)
    const expiresAt = good.asOf + 3600
    const evidence: Evidence = { kind: 'tdx', expiresAt, quote: rebind(good.quote, reportData(key.keyPair.publicKey, expiresAt, challenge.nonce)) }
    const context = { peerKey: key.keyPair.publicKey, now: good.asOf, challenge }
    expect(await code(verifierWith(pccs.fetch, ['00'.repeat(32)]).verify(evidence, context))).toBe('MEASUREMENT_NOT_ALLOWED')
    expect(pccs.calls).toEqual([])
    // binding and measurement pass: collateral is fetched, and the rewritten report data breaks Intel's signature
    expect(await code(verifierWith(pccs.fetch, [GOOD_MEASUREMENT]).verify(evidence, context))).toBe('QUOTE_INVALID')
    expect(pccs.calls).toEqual(['platform/B0C06F000000'])
    // the same evidence for another nonce: mismatch, no further fetch
    const other = new TdxVerifier({ collateral: new PccsCollateral({ fetch: pccs.fetch }), allowList: allowListOf([GOOD_MEASUREMENT]) })
    expect(await code(other.verify(evidence, { ...context, challenge: newChallenge(good.asOf) }))).toBe('REPORT_DATA_MISMATCH')
    expect(pccs.calls).toHaveLength(1)
  })

  it('evidence answering a challenge older than the maximum age is ATTESTATION_EXPIRED with no fetch', async () => {
    const pccs = countingFetcher(() => good.collateral)
    const challenge = newChallenge(good.asOf - ATTEST_LIMITS.maxEvidenceAgeSeconds)
    const expiresAt = good.asOf + 3600
    const evidence: Evidence = { kind: 'tdx', expiresAt, quote: rebind(good.quote, reportData(key.keyPair.publicKey, expiresAt, challenge.nonce)) }
    expect(await code(verifierWith(pccs.fetch, [GOOD_MEASUREMENT]).verify(evidence, { peerKey: key.keyPair.publicKey, now: good.asOf, challenge }))).toBe('ATTESTATION_EXPIRED')
    // a shorter maximum age is honoured too
    const strict = new TdxVerifier({ collateral: new PccsCollateral({ fetch: pccs.fetch }), allowList: allowListOf([GOOD_MEASUREMENT]), maxEvidenceAgeSeconds: 30 })
    const recent = newChallenge(good.asOf - 30)
    expect(await code(strict.verify({ ...evidence, quote: rebind(good.quote, reportData(key.keyPair.publicKey, expiresAt, recent.nonce)) }, { peerKey: key.keyPair.publicKey, now: good.asOf, challenge: recent }))).toBe('ATTESTATION_EXPIRED')
    expect(pccs.calls).toEqual([])
  })

  it('junk that is not a TDX quote with an inline PCK chain is QUOTE_INVALID with no fetch', async () => {
    const pccs = countingFetcher(() => good.collateral)
    const challenge = newChallenge(good.asOf)
    const noChain = Buffer.from(good.quote.subarray(0, 1200)) // header, TD report, signature; certification data cut
    const sgx = sgxQuoteWithChain(good.quote)
    expect(() => parseTdxQuote(sgx)).toThrow(/not a TDX quote/)
    for (const quote of [randomBytes(700), noChain, Buffer.from('not a quote'), sgx]) {
      expect(await code(verifierWith(pccs.fetch, [GOOD_MEASUREMENT]).verify({ kind: 'tdx', expiresAt: good.asOf + 60, quote }, { peerKey: key.keyPair.publicKey, now: good.asOf, challenge }))).toBe('QUOTE_INVALID')
    }
    expect(pccs.calls).toEqual([])
  })
})

describe.skipIf(!present)('collateral cache: a forged quote cannot change the verdict for another (real Intel samples)', () => {
  let good: Sample
  let outdated: Sample
  let forged: Buffer
  beforeAll(() => {
    good = sample('tdx_quote')
    outdated = sample('tdx_quote_outdated')
    forged = forgeLeafSignature(good.quote)
  })
  const appraiser = (source: PccsCollateral): TdxVerifier => new TdxVerifier({ collateral: source, allowList: allowListOf([GOOD_MEASUREMENT]) })

  it('the forgery is the one from the report: same platform family, leaf signature invalid', () => {
    expect(parseTdxQuote(forged).platform).toEqual(parseTdxQuote(good.quote).platform)
    expect(() => verifyTdxQuote(forged, good.collateral, good.asOf)).toThrow(/leaf signature invalid/)
  })

  it('forged then genuine: the genuine quote verifies, 20 days later too, with one fetch in all', async () => {
    const pccs = countingFetcher(() => good.collateral)
    const verifier = appraiser(new PccsCollateral({ fetch: pccs.fetch }))
    expect(await code(verifier.appraise(forged, good.asOf))).toBe('QUOTE_INVALID')
    expect((await verifier.appraise(good.quote, good.asOf)).tcbStatus).toBe('UpToDate')
    expect((await verifier.appraise(good.quote, good.asOf + 20 * 86_400)).tcbStatus).toBe('UpToDate')
    expect(pccs.calls).toHaveLength(1)
  })

  it('genuine then forged then genuine: the forgery is refused and changes nothing', async () => {
    const pccs = countingFetcher(() => good.collateral)
    const verifier = appraiser(new PccsCollateral({ fetch: pccs.fetch }))
    expect((await verifier.appraise(good.quote, good.asOf)).tcbStatus).toBe('UpToDate')
    expect(await code(verifier.appraise(forged, good.asOf + 60))).toBe('QUOTE_INVALID')
    expect((await verifier.appraise(good.quote, good.asOf + 120)).tcbStatus).toBe('UpToDate')
    expect(pccs.calls).toHaveLength(1)
  })

  it('a PCK chain inside collateral is never used: the quote is always judged with its own', async () => {
    const forgedChain = Buffer.from(forged.subarray(forged.indexOf('-----BEGIN CERTIFICATE-----'))).toString('latin1')
    const poisoned = { ...good.collateral, pck_certificate_chain: forgedChain } as Collateral
    // what dcap-qvl does with such collateral on its own: the genuine quote fails
    expect(() => QuoteVerifier.newProd().verify(good.quote, poisoned, good.asOf)).toThrow(/leaf signature invalid/)
    expect(verifyTdxQuote(good.quote, poisoned, good.asOf).tcbStatus).toBe('UpToDate')
    const fromStatic = new TdxVerifier({ collateral: staticCollateral(poisoned), allowList: allowListOf([]) })
    expect((await fromStatic.appraise(good.quote, good.asOf)).tcbStatus).toBe('UpToDate')
    // and a PCCS that attaches a chain (as dcap-qvl's getCollateral does) has it stripped before caching
    const pccs = countingFetcher(() => poisoned)
    const verifier = appraiser(new PccsCollateral({ fetch: pccs.fetch }))
    expect((await verifier.appraise(good.quote, good.asOf)).tcbStatus).toBe('UpToDate')
    expect((await verifier.appraise(good.quote, good.asOf + 60)).tcbStatus).toBe('UpToDate')
  })

  it('collateral that fails its own checks is not cached, and the failure is remembered for a minute', async () => {
    let served: Collateral = { ...good.collateral, pck_crl: 'deadbeef' }
    const pccs = countingFetcher(() => served)
    const source = new PccsCollateral({ fetch: pccs.fetch })
    const verifier = appraiser(source)
    expect(await code(verifier.appraise(good.quote, good.asOf))).toBe('COLLATERAL_INVALID')
    served = good.collateral
    // within the negative window: the same refusal, no new request
    expect(await code(verifier.appraise(good.quote, good.asOf + 59))).toBe('COLLATERAL_INVALID')
    expect(pccs.calls).toHaveLength(1)
    // after it: fetched again, verified, cached
    expect((await verifier.appraise(good.quote, good.asOf + 60)).tcbStatus).toBe('UpToDate')
    expect((await verifier.appraise(good.quote, good.asOf + 120)).tcbStatus).toBe('UpToDate')
    expect(pccs.calls).toHaveLength(2)
  })

  it('a failed fetch is remembered for a minute per family: junk cannot burn the PCS rate limit', async () => {
    const calls: string[] = []
    const source = new PccsCollateral({ fetch: async (_url, family) => { calls.push(family.fmspc); throw new Error('HTTP 429') } })
    for (let i = 0; i < 5; i++) expect(await code(source.get(good.quote, good.asOf + i))).toBe('COLLATERAL_UNAVAILABLE')
    expect(calls).toEqual(['B0C06F000000'])
    // another family is its own entry
    expect(await code(source.get(outdated.quote, good.asOf))).toBe('COLLATERAL_UNAVAILABLE')
    expect(calls).toEqual(['B0C06F000000', '90C06F000000'])
    expect(await code(source.get(good.quote, good.asOf + 60))).toBe('COLLATERAL_UNAVAILABLE')
    expect(calls).toHaveLength(3)
    // a shorter window when configured
    const quick: string[] = []
    const brief = new PccsCollateral({ negativeSeconds: 5, fetch: async (_url, family) => { quick.push(family.fmspc); throw new Error('down') } })
    await code(brief.get(good.quote, good.asOf))
    await code(brief.get(good.quote, good.asOf + 4))
    await code(brief.get(good.quote, good.asOf + 5))
    expect(quick).toHaveLength(2)
  })

  it('quotes naming ever new families are held to a fetch budget per minute; a budget refusal is not remembered', async () => {
    const calls: string[] = []
    const source = new PccsCollateral({ maxFetchesPerMinute: 3, fetch: async (_url, family) => { calls.push(family.fmspc); throw new Error('HTTP 404') } })
    const family = (n: number) => ({ tee: 'tdx' as const, ca: 'platform' as const, fmspc: n.toString(16).toUpperCase().padStart(12, '0') })
    for (let n = 1; n <= 5; n++) expect(await code(source.forFamily(family(n), good.asOf))).toBe('COLLATERAL_UNAVAILABLE')
    expect(calls).toHaveLength(3)
    // a minute on the budget is back; family 4 was never fetched, so it is not negatively cached
    const pccs = countingFetcher(() => good.collateral)
    const genuine = new PccsCollateral({ maxFetchesPerMinute: 1, fetch: pccs.fetch })
    expect(await code(genuine.forFamily(family(4), good.asOf))).toBe('COLLATERAL_INVALID')
    expect(await code(genuine.get(good.quote, good.asOf + 59))).toBe('COLLATERAL_UNAVAILABLE')
    expect(pccs.calls).toHaveLength(1)
    expect(await genuine.get(good.quote, good.asOf + 60)).toBeDefined()
    expect(pccs.calls).toHaveLength(2)
  })

  it('verified collateral is kept until its earliest nextUpdate (the PCK CRL here), then fetched again', async () => {
    const pccs = countingFetcher(() => good.collateral)
    const source = new PccsCollateral({ fetch: pccs.fetch })
    await Promise.all([source.get(good.quote, good.asOf), source.get(good.quote, good.asOf)])
    expect(pccs.calls).toHaveLength(1)
    const crlNext = Date.parse('2025-07-19T10:00:35Z') / 1000
    await source.get(good.quote, crlNext - 1)
    expect(pccs.calls).toHaveLength(1)
    // refetched at its nextUpdate; the sample has nothing newer, so it is refused as stale
    expect(await code(source.get(good.quote, crlNext))).toBe('COLLATERAL_INVALID')
    expect(pccs.calls).toHaveLength(2)
  })

  it('collateral for another platform family is refused, never cached under this one', async () => {
    // the outdated sample's collateral is genuine Intel collateral, for FMSPC 90C06F000000
    const pccs = countingFetcher(() => outdated.collateral)
    const source = new PccsCollateral({ fetch: pccs.fetch })
    expect(await code(source.get(good.quote, outdated.asOf))).toBe('COLLATERAL_INVALID')
    expect(await source.get(outdated.quote, outdated.asOf)).toBeDefined()
  })
})

describe('PCCS URL: https outside the local network', () => {
  it('accepts https anywhere and http only to this machine or a private network', () => {
    for (const url of ['https://api.trustedservices.intel.com', 'https://pccs.example:8081/sgx/certification/v4/', 'http://localhost:8081', 'http://127.0.0.1:8081',
      'http://[::1]:8081', 'http://10.1.2.3', 'http://172.16.0.9', 'http://192.168.1.5:8081', 'http://[fd00::5]']) {
      expect(checkPccsUrl(url), url).toBe(url)
    }
  })

  it('refuses plain http to the internet, other schemes and non-URLs with PCCS_INSECURE', () => {
    for (const url of ['http://pccs.example', 'http://api.trustedservices.intel.com', 'http://8.8.8.8', 'http://172.32.0.1', 'http://localhost.example.com',
      'ftp://127.0.0.1', 'file:///etc/pccs', 'not a url', '']) {
      let err: unknown
      try { checkPccsUrl(url) } catch (e) { err = e }
      expect(err, url).toMatchObject({ code: 'PCCS_INSECURE' })
    }
    expect(() => new PccsCollateral({ url: 'http://pccs.example' })).toThrow(expect.objectContaining({ code: 'PCCS_INSECURE' }))
  })
})

describe.skipIf(!present)('a PCCS on this machine over real HTTP (Intel\'s v4 API shape)', () => {
  let server: Server
  let url: string
  const requests: string[] = []
  let good: Sample
  beforeAll(async () => {
    good = sample('tdx_quote')
    const c = good.collateral
    server = createServer((req, res) => {
      requests.push(req.url ?? '')
      const path = (req.url ?? '').split('?')[0] ?? ''
      if (path === '/sgx/certification/v4/pckcrl') {
        res.writeHead(200, { 'SGX-PCK-CRL-Issuer-Chain': encodeURIComponent(c.pck_crl_issuer_chain) })
        res.end(Buffer.from(c.pck_crl as string, 'hex'))
      } else if (path === '/tdx/certification/v4/tcb') {
        res.writeHead(200, { 'TCB-Info-Issuer-Chain': encodeURIComponent(c.tcb_info_issuer_chain), 'content-type': 'application/json' })
        res.end(`{"tcbInfo":${c.tcb_info},"signature":"${c.tcb_info_signature as string}"}`)
      } else if (path === '/tdx/certification/v4/qe/identity') {
        res.writeHead(200, { 'SGX-Enclave-Identity-Issuer-Chain': encodeURIComponent(c.qe_identity_issuer_chain), 'content-type': 'application/json' })
        res.end(`{"enclaveIdentity":${c.qe_identity},"signature":"${c.qe_identity_signature as string}"}`)
      } else if (path.startsWith('/moved/')) {
        res.writeHead(302, { location: path.slice('/moved'.length) + (req.url!.includes('?') ? '?' + req.url!.split('?')[1] : '') })
        res.end()
      } else if (path.startsWith('/downgrade/')) {
        res.writeHead(302, { location: 'http://pccs.example' + path.slice('/downgrade'.length) })
        res.end()
      } else if (path === '/sgx/certification/v4/rootcacrl') {
        res.writeHead(200)
        res.end(c.root_ca_crl as string)
      } else {
        res.writeHead(404)
        res.end()
      }
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sgx/certification/v4/`
  })
  afterAll(async () => { await new Promise((resolve) => server?.close(resolve)) })

  it('collateral for the quote\'s family is fetched in four requests that carry nothing from the quote but its family, once', async () => {
    requests.length = 0
    const verifier = new TdxVerifier({ collateral: new PccsCollateral({ url }), allowList: allowListOf([GOOD_MEASUREMENT]) })
    expect((await verifier.appraise(good.quote, good.asOf)).tcbStatus).toBe('UpToDate')
    expect(requests).toEqual([
      '/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
      '/tdx/certification/v4/tcb?fmspc=B0C06F000000',
      '/tdx/certification/v4/qe/identity?update=standard',
      '/sgx/certification/v4/rootcacrl'
    ])
    expect(await code(verifier.appraise(forgeLeafSignature(good.quote), good.asOf))).toBe('QUOTE_INVALID')
    expect((await verifier.appraise(good.quote, good.asOf + 3600)).tcbStatus).toBe('UpToDate')
    expect(requests).toHaveLength(4)
  })

  it('redirects are followed only to https or the local network', async () => {
    const origin = url.replace('/sgx/certification/v4/', '')
    const moved = new TdxVerifier({ collateral: new PccsCollateral({ url: `${origin}/moved/` }), allowList: allowListOf([]) })
    expect((await moved.appraise(good.quote, good.asOf)).tcbStatus).toBe('UpToDate')
    requests.length = 0
    const downgraded = new TdxVerifier({ collateral: new PccsCollateral({ url: `${origin}/downgrade/` }), allowList: allowListOf([]) })
    const err = await downgraded.appraise(good.quote, good.asOf).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'COLLATERAL_UNAVAILABLE', cause: { code: 'PCCS_INSECURE' } })
    expect(requests).toEqual(['/downgrade/sgx/certification/v4/pckcrl?ca=platform&encoding=der'])
  })
})

describe('freshness: the client\'s nonce in the report data', () => {
  it('reportData is SHA-512("silk-attest-v2:" ‖ key ‖ uint64be(expiry) ‖ nonce) and binds each', () => {
    const key = Buffer.alloc(32, 7)
    const nonce = Buffer.alloc(32, 9)
    const expiry = Buffer.alloc(8)
    expiry.writeBigUInt64BE(1_800_000_000n)
    expect(reportData(key, 1_800_000_000, nonce)).toEqual(createHash('sha512').update('silk-attest-v2:').update(key).update(expiry).update(nonce).digest())
    expect(reportData(key, 1_800_000_000, Buffer.alloc(32, 8))).not.toEqual(reportData(key, 1_800_000_000, nonce))
    expect(() => reportData(key, 1_800_000_000, Buffer.alloc(31))).toThrow(RangeError)
  })

  it('an attest request carries exactly a 32-byte nonce', () => {
    const nonce = randomBytes(32)
    expect(Buffer.from(decodeAttestRequest(encodeAttestRequest(nonce)))).toEqual(nonce)
    expect(() => encodeAttestRequest(randomBytes(16))).toThrow(RangeError)
    for (const bytes of [AttestRequest.encode({ nonce: new Uint8Array(0) }), AttestRequest.encode({ nonce: randomBytes(31) }), AttestRequest.encode({ nonce: randomBytes(33) })]) {
      expect(() => decodeAttestRequest(bytes)).toThrow(expect.objectContaining({ code: 'QUOTE_INVALID' }))
    }
    expect(newChallenge(5).nonce).not.toEqual(newChallenge(5).nonce)
  })

  it('dev evidence (development kind) answers one nonce only, and a verdict lives at most the maximum age after it', async () => {
    const id = await identityFromSeed(seed(5))
    const now = 1_800_000_000
    const challenge: Challenge = newChallenge(now)
    const evidence = await new DevAttestor({ keyPair: id.keyPair, now: () => now }).getEvidence(challenge.nonce)
    const verifier = new DevVerifier({ network: 'local' })
    const context = { peerKey: id.keyPair.publicKey, now, challenge }
    const verdict = await verifier.verify(evidence, context)
    expect(verdict).toEqual({ kind: 'dev', measurement: '00'.repeat(32), tcbStatus: 'Development', attestedAt: now, expiresAt: now + ATTEST_LIMITS.maxEvidenceAgeSeconds })
    // replayed against another client's nonce
    expect(await code(verifier.verify(evidence, { ...context, challenge: newChallenge(now) }))).toBe('REPORT_DATA_MISMATCH')
    // too old by the client's clock, although the evidence itself has an hour left
    expect(evidence.expiresAt).toBe(now + 3600)
    expect(await code(verifier.verify(evidence, { ...context, now: now + ATTEST_LIMITS.maxEvidenceAgeSeconds }))).toBe('ATTESTATION_EXPIRED')
    expect((await verifier.verify(evidence, { ...context, now: now + ATTEST_LIMITS.maxEvidenceAgeSeconds - 1 })).kind).toBe('dev')
    // a configured maximum age, and evidence that expires first
    expect((await new DevVerifier({ network: 'local', maxEvidenceAgeSeconds: 30 }).verify(evidence, context)).expiresAt).toBe(now + 30)
    const short = signDevEvidence(id.keyPair.secretKey, id.keyPair.publicKey, now + 10, challenge.nonce)
    expect((await verifier.verify(short, context)).expiresAt).toBe(now + 10)
  })

  it('each request gets fresh evidence: the attestor keeps nothing between nonces', async () => {
    const id = await identityFromSeed(seed(6))
    const attestor = new DevAttestor({ keyPair: id.keyPair, now: () => 1_800_000_000 })
    const a = await attestor.getEvidence(Buffer.alloc(32, 1))
    const b = await attestor.getEvidence(Buffer.alloc(32, 2))
    expect(Buffer.from(a.quote)).not.toEqual(Buffer.from(b.quote))
    await expect(attestor.getEvidence(Buffer.alloc(8))).rejects.toThrow(RangeError)
  })
})


describe('freshness over /silk/attest/2.0.0 between two libp2p nodes', () => {
  let node: Libp2p
  let client: Libp2p
  let id: Identity
  let dir: string
  beforeAll(async () => {
    id = await identityFromSeed(seed(4))
    node = await createLibp2p(transportOptions(id.privateKey, ['/ip4/127.0.0.1/tcp/0']))
    client = await createLibp2p(transportOptions(undefined, []))
    await client.dial(node.getMultiaddrs())
    dir = await mkdtemp(join(tmpdir(), 'silk-tsm-'))
  })
  afterAll(async () => {
    await client?.stop()
    await node?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('the client sends a fresh nonce, the dev node signs it, the verdict says when it was attested (development kind)', async () => {
    const service = new AttestationService({ libp2p: node }, { attestor: new DevAttestor({ keyPair: id.keyPair }) })
    await service.start()
    try {
      let clock = Math.floor(Date.now() / 1000)
      const verifier = new AttestationVerifier({ network: 'local', allowList: allowListOf([]), now: () => clock })
      // the node's wall clock sets expiresAt; the client's sets attestedAt and caps expiry
      const decision = await verifier.decide(client, node.peerId, 'required')
      expect(decision).toMatchObject({ allowed: true, tier: 'dev', verdict: { kind: 'dev', attestedAt: clock, expiresAt: clock + ATTEST_LIMITS.maxEvidenceAgeSeconds } })
      // a captured answer is worthless for another challenge
      const first = newChallenge(clock)
      const evidence = await requestEvidence(client, node.peerId, first.nonce)
      expect((await verifier.verifyPeer(node.peerId, evidence, first)).kind).toBe('dev')
      expect(await code(verifier.verifyPeer(node.peerId, evidence, newChallenge(clock)))).toBe('REPORT_DATA_MISMATCH')
      clock += ATTEST_LIMITS.maxEvidenceAgeSeconds
      expect(await code(verifier.verifyPeer(node.peerId, evidence, first))).toBe('ATTESTATION_EXPIRED')
      // two requests, two different answers
      const again = await requestEvidence(client, node.peerId, first.nonce)
      const other = await requestEvidence(client, node.peerId, randomBytes(32))
      expect(Buffer.from(other.quote)).not.toEqual(Buffer.from(again.quote))
    } finally {
      await service.stop()
    }
  })

  it('a request without a nonce gets no evidence', async () => {
    const service = new AttestationService({ libp2p: node }, { attestor: new DevAttestor({ keyPair: id.keyPair }) })
    await service.start()
    try {
      const stream = await client.dialProtocol(node.peerId, ATTEST_PROTOCOL)
      const lp = lpStream(stream)
      await lp.write(AttestRequest.encode({ nonce: new Uint8Array(0) }))
      await expect(lp.read({ signal: AbortSignal.timeout(5_000) })).rejects.toThrow()
    } finally {
      await service.stop()
    }
  })

  it.skipIf(!present)('a TDX node puts reportData(nodeKey, expiresAt, client nonce) in its quote request (configfs-tsm emulated)', async () => {
    // only a real TD can return a quote over our nonce; the inblob the node writes is what it asks the TD to sign
    const good = sample('tdx_quote')
    const tsm = emulatedTsm(good.quote)
    const sub = join(dir, 'report')
    await mkdir(sub)
    const service = new AttestationService({ libp2p: node }, { attestor: new TdxAttestor({ nodeKey: id.keyPair.publicKey, tsmPath: sub, fs: tsm.fs }) })
    await service.start()
    try {
      const nonce = randomBytes(32)
      const evidence = await requestEvidence(client, node.peerId, nonce)
      expect(tsm.inblobs.at(-1)).toEqual(reportData(id.keyPair.publicKey, evidence.expiresAt, nonce))
      expect(Buffer.from(evidence.quote)).toEqual(good.quote)
      // the sample quote was made for another report data: the client refuses it before any collateral
      const pccs = countingFetcher(() => good.collateral)
      const verifier = new AttestationVerifier({ network: 'local', allowList: allowListOf([GOOD_MEASUREMENT]), collateral: new PccsCollateral({ fetch: pccs.fetch }) })
      expect(await verifier.decide(client, node.peerId, 'required')).toMatchObject({ allowed: false, tier: 'none', error: { code: 'REPORT_DATA_MISMATCH' } })
      expect(pccs.calls).toEqual([])
      expect(tsm.live()).toBe(0)
    } finally {
      await service.stop()
    }
  })

  it.skipIf(!present)('quotes are made one at a time and a full queue is refused (TSM_BUSY), not queued without bound', async () => {
    const good = sample('tdx_quote')
    let open!: () => void
    const gate = new Promise<void>((resolve) => { open = resolve })
    const tsm = emulatedTsm(good.quote, gate)
    const sub = join(dir, 'busy')
    await mkdir(sub)
    const attestor = new TdxAttestor({ nodeKey: id.keyPair.publicKey, tsmPath: sub, fs: tsm.fs, maxPendingQuotes: 2 })
    const first = attestor.getEvidence(randomBytes(32))
    const second = attestor.getEvidence(randomBytes(32))
    await expect(attestor.getEvidence(randomBytes(32))).rejects.toMatchObject({ name: 'AttestorError', code: 'TSM_BUSY' })
    open()
    await Promise.all([first, second])
    expect(tsm.maxLive()).toBe(1)
    expect(tsm.inblobs).toHaveLength(2)
    // room again once they are done
    expect((await attestor.getEvidence(randomBytes(32))).kind).toBe('tdx')
  })
})
