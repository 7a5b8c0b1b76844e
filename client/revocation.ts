import { verify as verifySignature, X509Certificate } from 'node:crypto'
import { constants, utils, type Collateral } from '@phala/dcap-qvl'
import { CollateralInvalidError, TcbRejectedError } from '../protocol/attestation.ts'

/**
 * Intel collateral checked in Silk, because @phala/dcap-qvl 0.3.9 does not: it never verifies a
 * CRL's signature or its nextUpdate, and skips a CRL it cannot parse, so whoever serves collateral
 * could switch PCK revocation off. Here every CRL must parse (strict DER), be signed by its issuing
 * CA (itself chained to Intel's root), cover `now` (thisUpdate ≤ now < nextUpdate); TCB info and QE
 * identity must be signed through Intel's root and current. A quote's PCK leaf and CA are then
 * looked up in those CRLs.
 */

/** Intel SGX Root CA, as @phala/dcap-qvl pins it. */
export const INTEL_ROOT_CA_DER: Buffer = constants.TRUSTED_ROOT_CA_DER

// ---------------------------------------------------------------------------------------------
// A small strict DER reader: definite minimal lengths, no trailing bytes.

interface Tlv {
  tag: number
  /** the whole element, header included */
  raw: Buffer
  content: Buffer
}

class DerError extends Error {}

function readTlv (buf: Buffer, offset: number): Tlv & { end: number } {
  if (offset + 2 > buf.length) throw new DerError('truncated')
  const tag = buf[offset]!
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not used here')
  let length = buf[offset + 1]!
  let header = 2
  if (length & 0x80) {
    const count = length & 0x7f
    if (count === 0 || count > 4) throw new DerError('indefinite or oversize length')
    if (offset + 2 + count > buf.length) throw new DerError('truncated length')
    length = 0
    for (let i = 0; i < count; i++) length = length * 256 + buf[offset + 2 + i]!
    if (length < 0x80 || (count > 1 && buf[offset + 2] === 0)) throw new DerError('non-minimal length')
    header += count
  }
  const end = offset + header + length
  if (end > buf.length) throw new DerError('truncated content')
  return { tag, raw: buf.subarray(offset, end), content: buf.subarray(offset + header, end), end }
}

/** The one element `buf` holds, with nothing after it. */
function readOnly (buf: Buffer, tag: number): Tlv {
  const tlv = readTlv(buf, 0)
  if (tlv.end !== buf.length) throw new DerError('trailing bytes')
  if (tlv.tag !== tag) throw new DerError(`expected tag 0x${tag.toString(16)}, got 0x${tlv.tag.toString(16)}`)
  return tlv
}

function children (tlv: Tlv): Tlv[] {
  const out: Tlv[] = []
  for (let offset = 0; offset < tlv.content.length;) {
    const child = readTlv(tlv.content, offset)
    out.push(child)
    offset = child.end
  }
  return out
}

const SEQUENCE = 0x30
const INTEGER = 0x02
const BIT_STRING = 0x03
const UTC_TIME = 0x17
const GENERALIZED_TIME = 0x18
/** AlgorithmIdentifier for ecdsa-with-SHA256 (1.2.840.10045.4.3.2), the only one Intel uses */
const ECDSA_WITH_SHA256 = Buffer.from('300a06082a8648ce3d040302', 'hex')

function expectTag (tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (tlv?.tag !== tag) throw new DerError(`${what} missing`)
  return tlv
}

/** An INTEGER's value as lowercase hex without leading zero bytes: how serials are compared. */
function serialHex (tlv: Tlv): string {
  let bytes = tlv.content
  if (bytes.length === 0) throw new DerError('empty INTEGER')
  while (bytes.length > 1 && bytes[0] === 0) bytes = bytes.subarray(1)
  return bytes.toString('hex')
}

/** UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) as unix seconds. */
function readTime (tlv: Tlv | undefined, what: string): number {
  if (tlv === undefined) throw new DerError(`${what} missing`)
  const text = tlv.content.toString('latin1')
  let m: RegExpExecArray | null
  let year: number
  if (tlv.tag === UTC_TIME && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text)) !== null) {
    year = Number(m[1]) < 50 ? 2000 + Number(m[1]) : 1900 + Number(m[1])
  } else if (tlv.tag === GENERALIZED_TIME && (m = /^(\d\d\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text)) !== null) {
    year = Number(m[1])
  } else {
    throw new DerError(`${what} is not a UTC time`)
  }
  const seconds = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) / 1000
  if (!Number.isFinite(seconds)) throw new DerError(`${what} is not a date`)
  return seconds
}

// ---------------------------------------------------------------------------------------------
// Certificates and CRLs

/** What revocation needs from a certificate: names as raw DER (compared byte for byte), serial, key. */
export interface CertInfo {
  der: Buffer
  serial: string
  issuer: Buffer
  subject: Buffer
  notBefore: number
  notAfter: number
  x509: X509Certificate
}

export function parseCert (der: Buffer): CertInfo {
  const cert = readOnly(der, SEQUENCE)
  const tbs = children(expectTag(children(cert)[0], SEQUENCE, 'tbsCertificate'))
  let i = tbs[0]?.tag === 0xa0 ? 1 : 0 // [0] version
  const serial = serialHex(expectTag(tbs[i++], INTEGER, 'serial'))
  i++ // signature algorithm
  const issuer = expectTag(tbs[i++], SEQUENCE, 'issuer').raw
  const validity = children(expectTag(tbs[i++], SEQUENCE, 'validity'))
  const subject = expectTag(tbs[i++], SEQUENCE, 'subject').raw
  return {
    der,
    serial,
    issuer,
    subject,
    notBefore: readTime(validity[0], 'notBefore'),
    notAfter: readTime(validity[1], 'notAfter'),
    x509: new X509Certificate(der)
  }
}

export interface Crl {
  issuer: Buffer
  thisUpdate: number
  nextUpdate: number
  /** serials (hex, no leading zeros) */
  revoked: ReadonlySet<string>
  tbs: Buffer
  signature: Buffer
}

/** A DER CRL (X.509 v2, ecdsa-with-SHA256); CollateralInvalidError if it is anything else. */
export function parseCrl (der: Buffer, what: string): Crl {
  try {
    const list = children(readOnly(der, SEQUENCE))
    if (list.length !== 3) throw new DerError('a CRL has three parts')
    const [tbsTlv, algorithm, signatureValue] = list as [Tlv, Tlv, Tlv]
    if (!algorithm.raw.equals(ECDSA_WITH_SHA256)) throw new DerError('not signed with ecdsa-with-SHA256')
    const bits = expectTag(signatureValue, BIT_STRING, 'signature')
    if (bits.content[0] !== 0) throw new DerError('signature has unused bits')
    const tbs = children(expectTag(tbsTlv, SEQUENCE, 'tbsCertList'))
    let i = 0
    if (tbs[i]?.tag === INTEGER) {
      if (serialHex(tbs[i]!) !== '01') throw new DerError('not a v2 CRL')
      i++
    }
    if (!tbs[i++]?.raw.equals(ECDSA_WITH_SHA256)) throw new DerError('inner and outer signature algorithms differ')
    const issuer = expectTag(tbs[i++], SEQUENCE, 'issuer').raw
    const thisUpdate = readTime(tbs[i++], 'thisUpdate')
    // nextUpdate is optional in X.509 but required here: a CRL without one would never go stale
    const nextUpdate = readTime(tbs[i++], 'nextUpdate')
    const revoked = new Set<string>()
    if (tbs[i]?.tag === SEQUENCE) {
      for (const entry of children(tbs[i++]!)) {
        revoked.add(serialHex(expectTag(children(expectTag(entry, SEQUENCE, 'revoked entry'))[0], INTEGER, 'revoked serial')))
      }
    }
    if (tbs[i]?.tag === 0xa0) i++ // [0] crlExtensions
    if (i !== tbs.length) throw new DerError('unexpected fields in tbsCertList')
    return { issuer, thisUpdate, nextUpdate, revoked, tbs: tbsTlv.raw, signature: bits.content.subarray(1) }
  } catch (err) {
    if (err instanceof DerError) throw new CollateralInvalidError(`${what} is not a valid CRL: ${err.message}`, { cause: err })
    throw err
  }
}

/** The CRL is signed by `issuer`, names it, and covers `now`. */
export function checkCrl (crl: Crl, issuer: CertInfo, now: number, what: string): void {
  if (!crl.issuer.equals(issuer.subject)) throw new CollateralInvalidError(`${what} is issued by another CA than ${issuer.x509.subject.replace(/\n/g, ', ')}`)
  let valid = false
  try {
    valid = verifySignature('sha256', crl.tbs, issuer.x509.publicKey, crl.signature)
  } catch { /* a malformed ECDSA signature is an invalid one */ }
  if (!valid) throw new CollateralInvalidError(`${what} signature does not verify against its issuing CA`)
  if (now < crl.thisUpdate) throw new CollateralInvalidError(`${what} is not valid yet (thisUpdate ${crl.thisUpdate}, now ${now})`)
  if (now >= crl.nextUpdate) throw new CollateralInvalidError(`${what} is stale (nextUpdate ${crl.nextUpdate}, now ${now})`)
}

function checkCertTime (cert: CertInfo, now: number, what: string): void {
  if (now < cert.notBefore || now >= cert.notAfter) throw new CollateralInvalidError(`${what} certificate is not valid at ${now}`)
}

/** `cert` is signed by `issuer`'s key and names it. */
function checkIssued (cert: CertInfo, issuer: CertInfo, what: string): void {
  if (!cert.issuer.equals(issuer.subject) || !cert.x509.verify(issuer.x509.publicKey)) {
    throw new CollateralInvalidError(`${what} certificate is not issued by ${issuer.x509.subject.replace(/\n/g, ', ')}`)
  }
}

function pemChain (pem: string, what: string): CertInfo[] {
  try {
    const certs = utils.extractCerts(Buffer.from(pem, 'utf8')).map((der) => parseCert(Buffer.from(der)))
    if (certs.length === 0) throw new DerError('no certificates')
    return certs
  } catch (err) {
    throw new CollateralInvalidError(`${what} is not a certificate chain: ${(err as Error).message}`, { cause: err })
  }
}

function bytesOf (value: number[] | string): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'hex') : Buffer.from(value)
}

/** A signed JSON body (TCB info, QE identity): a current signature by a signing cert issued by the root. */
function checkSignedJson (json: string, signature: number[] | string, chainPem: string, root: CertInfo, rootCrl: Crl, now: number, what: string): number {
  const [signer] = pemChain(chainPem, `${what} issuer chain`)
  checkIssued(signer!, root, `${what} signing`)
  checkCertTime(signer!, now, `${what} signing`)
  if (rootCrl.revoked.has(signer!.serial)) throw new CollateralInvalidError(`${what} signing certificate is revoked`)
  // Intel signs with raw r‖s (64 bytes)
  if (!verifySignature('sha256', Buffer.from(json, 'utf8'), { key: signer!.x509.publicKey, dsaEncoding: 'ieee-p1363' }, bytesOf(signature))) {
    throw new CollateralInvalidError(`${what} signature does not verify`)
  }
  let body: { issueDate?: unknown, nextUpdate?: unknown }
  try {
    body = JSON.parse(json) as typeof body
  } catch (err) {
    throw new CollateralInvalidError(`${what} is not JSON`, { cause: err })
  }
  const issued = Date.parse(String(body.issueDate)) / 1000
  const next = Date.parse(String(body.nextUpdate)) / 1000
  if (!Number.isFinite(issued) || !Number.isFinite(next)) throw new CollateralInvalidError(`${what} has no readable issueDate/nextUpdate`)
  if (now < issued || now >= next) throw new CollateralInvalidError(`${what} is not current (issued ${issued}, nextUpdate ${next}, now ${now})`)
  return Math.floor(next)
}

/** Collateral that passed checkCollateral: what a quote's PCK chain is then looked up in. */
export interface CheckedCollateral {
  root: CertInfo
  rootCrl: Crl
  /** the CA the PCK CRL covers (Intel SGX PCK Platform or Processor CA) */
  pckCa: CertInfo
  pckCrl: Crl
  /** unix seconds: the earliest nextUpdate of TCB info, QE identity and both CRLs */
  validUntil: number
}

export interface CheckOptions {
  /** default Intel's root; tests use their own PKI */
  trustedRoot?: Buffer
}

/**
 * Verifies collateral on its own, quote-independent: both CRLs (parse, signature by their CA,
 * thisUpdate ≤ now < nextUpdate), the PCK CRL's CA chained to the root and not revoked, TCB info and
 * QE identity signed through the root and current. CollateralInvalidError says which part failed.
 */
export function checkCollateral (collateral: Collateral, now: number, options: CheckOptions = {}): CheckedCollateral {
  const root = parseCert(options.trustedRoot ?? INTEL_ROOT_CA_DER)
  const rootCrl = parseCrl(bytesOf(collateral.root_ca_crl), 'root CA CRL')
  checkCrl(rootCrl, root, now, 'root CA CRL')
  const [pckCa] = pemChain(collateral.pck_crl_issuer_chain, 'PCK CRL issuer chain')
  checkIssued(pckCa!, root, 'PCK CRL issuer')
  checkCertTime(pckCa!, now, 'PCK CRL issuer')
  if (rootCrl.revoked.has(pckCa!.serial)) throw new CollateralInvalidError('the PCK CA is revoked by the root CA CRL')
  const pckCrl = parseCrl(bytesOf(collateral.pck_crl), 'PCK CRL')
  checkCrl(pckCrl, pckCa!, now, 'PCK CRL')
  const tcbUntil = checkSignedJson(collateral.tcb_info, collateral.tcb_info_signature, collateral.tcb_info_issuer_chain, root, rootCrl, now, 'TCB info')
  const qeUntil = checkSignedJson(collateral.qe_identity, collateral.qe_identity_signature, collateral.qe_identity_issuer_chain, root, rootCrl, now, 'QE identity')
  return { root, rootCrl, pckCa: pckCa!, pckCrl, validUntil: Math.min(tcbUntil, qeUntil, rootCrl.nextUpdate, pckCrl.nextUpdate) }
}

/**
 * A quote's PCK chain (leaf first, then its CA) against checked collateral: the leaf is issued by the
 * CA the PCK CRL covers and is not listed in it; that CA is not listed in the root CA CRL.
 * TcbRejectedError('Revoked') for a listed certificate, CollateralInvalidError for a CRL of another CA.
 */
export function checkPckNotRevoked (chain: readonly Buffer[], checked: CheckedCollateral): void {
  const [leaf, ca] = chain.map((der) => parseCert(der))
  if (leaf === undefined || ca === undefined) throw new CollateralInvalidError('the quote carries no PCK chain to check')
  if (!leaf.issuer.equals(checked.pckCrl.issuer) || !ca.subject.equals(checked.pckCa.subject)) {
    throw new CollateralInvalidError('the PCK CRL is for another CA than the one that issued this PCK certificate')
  }
  if (checked.pckCrl.revoked.has(leaf.serial)) throw new TcbRejectedError('Revoked', [], 'the platform\'s PCK certificate is revoked')
  if (checked.rootCrl.revoked.has(ca.serial)) throw new TcbRejectedError('Revoked', [], 'the PCK CA certificate is revoked')
}


/**
 * Everything above for one quote: its collateral checked on its own, then the quote's PCK chain
 * (leaf first) looked up in the CRLs. What verifyTdxQuote runs after dcap-qvl.
 */
export function checkRevocation (pckChain: readonly Buffer[], collateral: Collateral, now: number, options: CheckOptions = {}): CheckedCollateral {
  const checked = checkCollateral(collateral, now, options)
  checkPckNotRevoked(pckChain, checked)
  return checked
}
