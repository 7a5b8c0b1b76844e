import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import type { Collateral } from '@phala/dcap-qvl'

/**
 * A small test PKI shaped like Intel's (root → PCK CA → PCK leaf, root → TCB signing), written as
 * DER by hand, so that revocation can be tested with CRLs that list a certificate and are properly
 * signed: Intel's own keys are not ours to sign with.
 */

function length (n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  if (n < 0x100) return Buffer.from([0x81, n])
  return Buffer.from([0x82, n >> 8, n & 0xff])
}
export function tlv (tag: number, ...parts: Buffer[]): Buffer {
  const content = Buffer.concat(parts)
  return Buffer.concat([Buffer.from([tag]), length(content.length), content])
}
const seq = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts)
const int = (bytes: Buffer): Buffer => tlv(0x02, bytes)
const ECDSA_SHA256 = Buffer.from('300a06082a8648ce3d040302', 'hex')
const name = (cn: string): Buffer => seq(tlv(0x31, seq(Buffer.from('0603550403', 'hex'), tlv(0x0c, Buffer.from(cn)))))
function utc (unix: number): Buffer {
  const d = new Date(unix * 1000).toISOString() // 2025-06-19T10:16:03.000Z
  return tlv(0x17, Buffer.from(d.slice(2, 4) + d.slice(5, 7) + d.slice(8, 10) + d.slice(11, 13) + d.slice(14, 16) + d.slice(17, 19) + 'Z'))
}
const bits = (b: Buffer): Buffer => tlv(0x03, Buffer.from([0]), b)

export interface TestCert { der: Buffer, key: KeyObject, name: string, serial: Buffer }

export function makeCert (opts: { serial: Buffer, subject: string, issuer?: TestCert, notBefore: number, notAfter: number, ca: boolean, signer?: KeyObject }): TestCert {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const extensions = opts.ca
    ? tlv(0xa3, seq(seq(Buffer.from('0603551d13', 'hex'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, seq(tlv(0x01, Buffer.from([0xff])))))))
    : Buffer.alloc(0)
  const tbs = seq(
    tlv(0xa0, int(Buffer.from([2]))), int(opts.serial), ECDSA_SHA256, name(opts.issuer?.name ?? opts.subject),
    seq(utc(opts.notBefore), utc(opts.notAfter)), name(opts.subject), publicKey.export({ type: 'spki', format: 'der' }), extensions
  )
  const signer = opts.signer ?? opts.issuer?.key ?? privateKey
  return { der: seq(tbs, ECDSA_SHA256, bits(sign('sha256', tbs, signer))), key: privateKey, name: opts.subject, serial: opts.serial }
}

export function makeCrl (opts: { issuer: string, signer: KeyObject, thisUpdate: number, nextUpdate?: number, revoked?: Buffer[] }): Buffer {
  const revoked = opts.revoked ?? []
  const tbs = seq(
    int(Buffer.from([1])), ECDSA_SHA256, name(opts.issuer), utc(opts.thisUpdate),
    opts.nextUpdate !== undefined ? utc(opts.nextUpdate) : Buffer.alloc(0),
    revoked.length > 0 ? seq(...revoked.map((serial) => seq(int(serial), utc(opts.thisUpdate)))) : Buffer.alloc(0)
  )
  return seq(tbs, ECDSA_SHA256, bits(sign('sha256', tbs, opts.signer)))
}

export function pem (...certs: TestCert[]): string {
  return certs.map((c) => `-----BEGIN CERTIFICATE-----\n${c.der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`).join('')
}

export function signJson (json: string, key: KeyObject): string {
  return sign('sha256', Buffer.from(json), { key, dsaEncoding: 'ieee-p1363' }).toString('hex')
}

/** A whole PKI and collateral set valid from `t0` for 30 days; CRLs list nothing unless told. */
export function testPki (t0: number): {
  root: TestCert, pckCa: TestCert, leaf: TestCert, tcbSigner: TestCert, collateral: Collateral, t0: number
  crl: (opts: { revoked?: Buffer[], thisUpdate?: number, nextUpdate?: number, signer?: KeyObject }) => string
  rootCrl: (opts: { revoked?: Buffer[] }) => string
} {
  const year = 365 * 86_400
  const root = makeCert({ serial: Buffer.from([1]), subject: 'Test SGX Root CA', notBefore: t0 - year, notAfter: t0 + 10 * year, ca: true })
  const pckCa = makeCert({ serial: Buffer.from([2]), subject: 'Test SGX PCK Platform CA', issuer: root, notBefore: t0 - year, notAfter: t0 + 5 * year, ca: true })
  // a serial whose top bit is set: DER needs a leading zero byte, which comparisons must not trip on
  const leaf = makeCert({ serial: Buffer.from('00c0ffee0123456789', 'hex'), subject: 'Test SGX PCK Certificate', issuer: pckCa, notBefore: t0 - year, notAfter: t0 + year, ca: false })
  const tcbSigner = makeCert({ serial: Buffer.from([3]), subject: 'Test SGX TCB Signing', issuer: root, notBefore: t0 - year, notAfter: t0 + 5 * year, ca: false })
  const next = t0 + 30 * 86_400
  const crl = (o: { revoked?: Buffer[], thisUpdate?: number, nextUpdate?: number, signer?: KeyObject }): string =>
    makeCrl({ issuer: pckCa.name, signer: o.signer ?? pckCa.key, thisUpdate: o.thisUpdate ?? t0, ...(('nextUpdate' in o) ? (o.nextUpdate !== undefined ? { nextUpdate: o.nextUpdate } : {}) : { nextUpdate: next }), revoked: o.revoked ?? [] }).toString('hex')
  const rootCrl = (o: { revoked?: Buffer[] }): string => makeCrl({ issuer: root.name, signer: root.key, thisUpdate: t0, nextUpdate: t0 + year, revoked: o.revoked ?? [] }).toString('hex')
  const iso = (t: number): string => new Date(t * 1000).toISOString().replace('.000', '')
  const tcbInfo = JSON.stringify({ id: 'TDX', version: 3, issueDate: iso(t0), nextUpdate: iso(next + 3600), fmspc: 'B0C06F000000' })
  const qeIdentity = JSON.stringify({ id: 'TD_QE', version: 2, issueDate: iso(t0), nextUpdate: iso(next + 7200) })
  const collateral: Collateral = {
    pck_crl_issuer_chain: pem(pckCa, root),
    root_ca_crl: rootCrl({}),
    pck_crl: crl({}),
    tcb_info_issuer_chain: pem(tcbSigner, root),
    tcb_info: tcbInfo,
    tcb_info_signature: signJson(tcbInfo, tcbSigner.key),
    qe_identity_issuer_chain: pem(tcbSigner, root),
    qe_identity: qeIdentity,
    qe_identity_signature: signJson(qeIdentity, tcbSigner.key)
  }
  return { root, pckCa, leaf, tcbSigner, collateral, t0, crl, rootCrl }
}
