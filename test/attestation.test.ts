import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Libp2p } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { createLibp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  allowListOf, AttestationVerifier, collateralNextUpdate, DevVerifier, PccsCollateral, requestEvidence, staticCollateral,
  TCB_NOT_SUPPORTED, TdxVerifier, verifyTdxQuote, type Collateral
} from '../client/attestation.ts'
import { AttestationService, DevAttestor, TdxAttestor, type TsmFileSystem } from '../node/attestation.ts'
import {
  applyTeePolicy, ATTEST_LIMITS, ATTEST_PROTOCOL, AttestationError, decodeAttestResponse, DEV_MEASUREMENT, encodeAttestResponse,
  encodeEvidence, evidenceHash, measurementDigest, NoAttestationError, QuoteInvalidError, reportData, signDevEvidence,
  type Evidence, type Verdict
} from '../protocol/attestation.ts'
import { identityFromSeed, type Identity } from '../protocol/keys.ts'
import { transportOptions } from '../protocol/transport.ts'
import { AttestRequest, AttestResponse } from '../protocol/wire/attest.ts'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const TDX_DIR = resolve(repoRoot, '../shared/data/tdx')
const SAMPLES = ['tdx_quote', 'tdx_quote_collateral.json', 'tdx_quote_outdated', 'tdx_quote_outdated_collateral.json']
const present = SAMPLES.every((f) => existsSync(join(TDX_DIR, f)))
if (!present) {
  console.warn(`\n*** Intel TDX sample quotes are missing at ${TDX_DIR}: every test that needs a real quote is SKIPPED. ***\n`)
}

interface Sample { quote: Buffer, collateral: Collateral, issueDate: number, nextUpdate: number, asOf: number }
function sample (name: 'tdx_quote' | 'tdx_quote_outdated'): Sample {
  const collateral = JSON.parse(readFileSync(join(TDX_DIR, `${name}_collateral.json`), 'utf8')) as Collateral
  const tcb = JSON.parse(collateral.tcb_info) as { issueDate: string, nextUpdate: string }
  const issueDate = Date.parse(tcb.issueDate) / 1000
  // "as of" one day into the collateral's validity, never the wall clock
  return { quote: readFileSync(join(TDX_DIR, name)), collateral, issueDate, nextUpdate: Date.parse(tcb.nextUpdate) / 1000, asOf: issueDate + 86_400 }
}

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
  it('reportData is SHA-512("silk-attest-v1:" ‖ key ‖ uint64be(expiry)) and binds both', () => {
    const key = Buffer.alloc(32, 7)
    const expiry = Buffer.alloc(8)
    expiry.writeBigUInt64BE(1_800_000_000n)
    const expected = createHash('sha512').update('silk-attest-v1:').update(key).update(expiry).digest()
    expect(reportData(key, 1_800_000_000)).toEqual(expected)
    expect(reportData(key, 1_800_000_000)).toHaveLength(64)
    expect(reportData(key, 1_800_000_001)).not.toEqual(expected)
    expect(reportData(Buffer.alloc(32, 8), 1_800_000_000)).not.toEqual(expected)
    expect(() => reportData(Buffer.alloc(31), 1)).toThrow(RangeError)
    expect(() => reportData(key, 0)).toThrow(RangeError)
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
    const tdx: Verdict = { kind: 'tdx', measurement: GOOD_MEASUREMENT, tcbStatus: 'UpToDate', expiresAt: 2 }
    const dev: Verdict = { kind: 'dev', measurement: DEV_MEASUREMENT, tcbStatus: 'Development', expiresAt: 2 }
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

  it('binds the node key and expiry; accepted on a local network only', async () => {
    const now = 1_800_000_000
    const evidence = await new DevAttestor({ keyPair: id.keyPair, now: () => now }).getEvidence()
    expect(evidence).toMatchObject({ kind: 'dev', expiresAt: now + 3600 })
    const verdict = await new DevVerifier({ network: 'local' }).verify(evidence, { peerKey: id.keyPair.publicKey, now })
    expect(verdict).toEqual({ kind: 'dev', measurement: DEV_MEASUREMENT, tcbStatus: 'Development', expiresAt: now + 3600 })
    expect(await code(new DevVerifier({ network: 'testnet' }).verify(evidence, { peerKey: id.keyPair.publicKey, now }))).toBe('DEV_ATTESTATION_REFUSED')
    expect(await code(new DevVerifier({ network: 'mainnet' }).verify(evidence, { peerKey: id.keyPair.publicKey, now }))).toBe('DEV_ATTESTATION_REFUSED')
    expect(await code(new DevVerifier({ network: 'local' }).verify(evidence, { peerKey: other.keyPair.publicKey, now }))).toBe('REPORT_DATA_MISMATCH')
    expect(await code(new DevVerifier({ network: 'local' }).verify({ ...evidence, expiresAt: evidence.expiresAt + 1 }, { peerKey: id.keyPair.publicKey, now }))).toBe('REPORT_DATA_MISMATCH')
    expect(await code(new DevVerifier({ network: 'local' }).verify(evidence, { peerKey: id.keyPair.publicKey, now: now + 3600 }))).toBe('ATTESTATION_EXPIRED')
  })

  it('refuses evidence that claims to live longer than the limit', async () => {
    const now = 1_800_000_000
    const long = signDevEvidence(id.keyPair.secretKey, id.keyPair.publicKey, now + ATTEST_LIMITS.maxLifetimeSeconds + 1)
    expect(await code(new DevVerifier({ network: 'local' }).verify(long, { peerKey: id.keyPair.publicKey, now }))).toBe('QUOTE_INVALID')
  })

  it('renews evidence before it expires, and only then', async () => {
    let now = 1_800_000_000
    const attestor = new DevAttestor({ keyPair: id.keyPair, lifetimeSeconds: 400, now: () => now })
    const first = await attestor.getEvidence()
    now += 299 // a quarter of the lifetime is the renewal margin
    expect(await attestor.getEvidence()).toBe(first)
    now += 1
    const second = await attestor.getEvidence()
    expect(second.expiresAt).toBe(now + 400)
    expect(() => new DevAttestor({ keyPair: id.keyPair, lifetimeSeconds: ATTEST_LIMITS.maxLifetimeSeconds + 1 })).toThrow(RangeError)
  })
})

describe.skipIf(!present)('TDX quotes (real Intel samples)', () => {
  let good: Sample
  let outdated: Sample
  let key: Identity
  beforeAll(async () => {
    good = sample('tdx_quote')
    outdated = sample('tdx_quote_outdated')
    key = await identityFromSeed(seed(3))
  })
  const tdx = (s: Sample, expiresAt = s.asOf + 3600): Evidence => ({ kind: 'tdx', expiresAt, quote: s.quote })
  const verifierFor = (s: Sample, allowed: string[], acceptedTcbStatuses?: string[]) => new TdxVerifier({
    collateral: staticCollateral(s.collateral),
    allowList: allowListOf(allowed),
    ...(acceptedTcbStatuses !== undefined ? { acceptedTcbStatuses } : {})
  })

  it('the good quote verifies as of a time inside its collateral and yields its measurement', () => {
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

  it('a flipped byte anywhere that matters is QUOTE_INVALID', async () => {
    for (const offset of [10, 200, 620, 640, 2000]) {
      const forged = Buffer.from(good.quote)
      forged[offset]! ^= 0x01
      expect(() => verifyTdxQuote(forged, good.collateral, good.asOf), `byte ${offset}`).toThrow(QuoteInvalidError)
      expect(await code(verifierFor(good, [GOOD_MEASUREMENT]).verify(tdx({ ...good, quote: forged }), { peerKey: key.keyPair.publicKey, now: good.asOf }))).toBe('QUOTE_INVALID')
    }
    const forged = Buffer.from(outdated.quote)
    forged[700]! ^= 0x01
    expect(() => verifyTdxQuote(forged, outdated.collateral, outdated.asOf)).toThrow(QuoteInvalidError)
  })

  it('is judged as of the given time: outside the collateral validity the quote does not verify', () => {
    expect(() => verifyTdxQuote(good.quote, good.collateral, good.nextUpdate + 1)).toThrow(QuoteInvalidError)
    expect(() => verifyTdxQuote(good.quote, good.collateral, good.issueDate - 1)).toThrow(QuoteInvalidError)
    expect(() => verifyTdxQuote(good.quote, outdated.collateral, outdated.asOf)).toThrow(QuoteInvalidError)
  })

  it('a measurement missing from the allow-list is MEASUREMENT_NOT_ALLOWED', async () => {
    const err = await verifierFor(good, ['00'.repeat(32)]).verify(tdx(good), { peerKey: key.keyPair.publicKey, now: good.asOf }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'MEASUREMENT_NOT_ALLOWED', measurement: GOOD_MEASUREMENT })
  })

  it('report data that does not bind the peer key and expiry is REPORT_DATA_MISMATCH', async () => {
    // the sample was made for someone else's key: no peer of ours can match it
    expect(await code(verifierFor(good, [GOOD_MEASUREMENT]).verify(tdx(good), { peerKey: key.keyPair.publicKey, now: good.asOf }))).toBe('REPORT_DATA_MISMATCH')
  })

  it('expired evidence is ATTESTATION_EXPIRED, whatever the quote', async () => {
    expect(await code(verifierFor(good, [GOOD_MEASUREMENT]).verify(tdx(good, good.asOf), { peerKey: key.keyPair.publicKey, now: good.asOf }))).toBe('ATTESTATION_EXPIRED')
  })

  it('the outdated platform reports its TCB status: refused by default, accepted when the policy names it', async () => {
    const report = verifyTdxQuote(outdated.quote, outdated.collateral, outdated.asOf)
    // its SGX TCB components are below every level Intel lists for FMSPC 90C06F000000
    expect(report.tcbStatus).toBe(TCB_NOT_SUPPORTED)
    expect(report.measurement.toString('hex')).toBe(OUTDATED_MEASUREMENT)
    const err = await verifierFor(outdated, [OUTDATED_MEASUREMENT]).verify(tdx(outdated), { peerKey: key.keyPair.publicKey, now: outdated.asOf }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'TCB_REJECTED', status: TCB_NOT_SUPPORTED })
    // allowed: the TCB check passes and verification goes on to the allow-list and the binding
    const lenient = verifierFor(outdated, [], ['UpToDate', TCB_NOT_SUPPORTED])
    expect(await code(lenient.verify(tdx(outdated), { peerKey: key.keyPair.publicKey, now: outdated.asOf }))).toBe('MEASUREMENT_NOT_ALLOWED')
    // the good quote is refused by a policy that does not list UpToDate
    const strict = await verifierFor(good, [GOOD_MEASUREMENT], ['SWHardeningNeeded']).verify(tdx(good), { peerKey: key.keyPair.publicKey, now: good.asOf }).catch((e: unknown) => e)
    expect(strict).toMatchObject({ code: 'TCB_REJECTED', status: 'UpToDate' })
  })

  it('PCCS collateral is fetched once per platform and again after its nextUpdate; a failing PCCS is COLLATERAL_UNAVAILABLE', async () => {
    const urls: string[] = []
    const source = new PccsCollateral({ url: 'https://pccs.example/', fetch: async (url) => { urls.push(url); return good.collateral } })
    expect(collateralNextUpdate(good.collateral)).toBeLessThanOrEqual(good.nextUpdate)
    await Promise.all([source.get(good.quote, good.asOf), source.get(good.quote, good.asOf)])
    await source.get(good.quote, good.asOf + 3600)
    expect(urls).toEqual(['https://pccs.example/'])
    await source.get(good.quote, collateralNextUpdate(good.collateral))
    expect(urls).toHaveLength(2)
    const down = new PccsCollateral({ fetch: async () => { throw new Error('503') } })
    expect(await code(down.get(good.quote, good.asOf))).toBe('COLLATERAL_UNAVAILABLE')
    expect(await code(new TdxVerifier({ collateral: down, allowList: allowListOf([]) }).verify(tdx(good), { peerKey: key.keyPair.publicKey, now: good.asOf }))).toBe('COLLATERAL_UNAVAILABLE')
  })
})

/** A temp directory that behaves like configfs-tsm: writing `inblob` makes `outblob` hold the canned quote. */
function emulatedTsm (quote: Buffer): { fs: TsmFileSystem, inblobs: Buffer[], entries: () => number } {
  const inblobs: Buffer[] = []
  let live = 0
  return {
    inblobs,
    entries: () => live,
    fs: {
      mkdir: async (path) => {
        await mkdir(path)
        live++
        await writeFile(join(path, 'provider'), 'tdx_guest\n')
        await writeFile(join(path, 'generation'), '0\n')
      },
      rmdir: async (path) => { await rm(path, { recursive: true }); live-- },
      writeFile: async (path, data) => {
        await writeFile(path, data)
        if (basename(path) !== 'inblob') return
        inblobs.push(Buffer.from(data))
        await writeFile(join(dirname(path), 'outblob'), quote)
        const gen = Number((await readFile(join(dirname(path), 'generation'), 'utf8')).trim())
        await writeFile(join(dirname(path), 'generation'), `${gen + 1}\n`)
      },
      readFile: async (path) => await readFile(path)
    }
  }
}

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

  it('serves dev evidence that the client verifies for the peer it dialled; the verdict is cached', async () => {
    const service = new AttestationService({ libp2p: node }, { attestor: new DevAttestor({ keyPair: id.keyPair }) })
    await service.start()
    await service.start()
    try {
      expect(service.kind).toBe('dev')
      const evidence = await requestEvidence(client, node.getMultiaddrs())
      expect(evidence.kind).toBe('dev')
      expect(evidenceHash(evidence)).toEqual(await service.evidenceHash())
      const verifier = new AttestationVerifier({ network: 'local', allowList: allowListOf([]) })
      const decision = await verifier.decide(client, node.peerId, 'required')
      expect(decision).toMatchObject({ allowed: true, tier: 'dev', verdict: { kind: 'dev' } })
      expect(verifier.cached(node.peerId, evidenceHash(evidence))).toEqual(decision.verdict)
      expect(verifier.cached(client.peerId, evidenceHash(evidence))).toBeUndefined()
      const remote = new AttestationVerifier({ network: 'testnet', allowList: allowListOf([]) })
      expect(await remote.decide(client, node.peerId, 'required')).toMatchObject({ allowed: false, tier: 'none', error: { code: 'DEV_ATTESTATION_REFUSED' } })
      expect(await remote.decide(client, node.peerId, 'off')).toEqual({ allowed: true, tier: 'none' })
    } finally {
      await service.stop()
      await service.stop()
    }
    expect(await code(requestEvidence(client, node.peerId))).toBe('NO_ATTESTATION')
  })

  it('a node without a TEE answers NO_ATTESTATION: refused under required, tier none under preferred', async () => {
    const service = new AttestationService({ libp2p: node })
    await service.start()
    try {
      expect(service.kind).toBe('none')
      expect(await service.evidenceHash()).toBeUndefined()
      expect(await code(requestEvidence(client, node.peerId))).toBe('NO_ATTESTATION')
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
      expect(await code(requestEvidence(client, node.peerId))).toBe('QUOTE_INVALID')
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
      expect(AttestRequest.encode({})).toHaveLength(0)
    } finally {
      await service.stop()
    }
  })

  it('a TDX attestor fails to start where there is no configfs-tsm', async () => {
    const service = new AttestationService({ libp2p: node }, { attestor: new TdxAttestor({ nodeKey: id.keyPair.publicKey, tsmPath: join(dir, 'absent') }) })
    await expect(service.start()).rejects.toMatchObject({ name: 'AttestorError', code: 'TSM_UNAVAILABLE' })
  })

  it.skipIf(!present)('serves a quote from an emulated configfs-tsm; the client verifies it against Intel collateral', async () => {
    const good = sample('tdx_quote')
    const tsm = emulatedTsm(good.quote)
    const attestor = new TdxAttestor({ nodeKey: id.keyPair.publicKey, tsmPath: dir, fs: tsm.fs, now: () => good.asOf })
    const service = new AttestationService({ libp2p: node }, { attestor })
    await service.start()
    try {
      expect(service.kind).toBe('tdx')
      const evidence = await requestEvidence(client, node.peerId)
      expect(evidence).toMatchObject({ kind: 'tdx', expiresAt: good.asOf + 3600 })
      expect(Buffer.from(evidence.quote)).toEqual(good.quote)
      // the node asked the kernel to bind its own key and the expiry it advertises
      expect(tsm.inblobs).toEqual([reportData(id.keyPair.publicKey, good.asOf + 3600)])
      expect(tsm.entries()).toBe(0)
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
