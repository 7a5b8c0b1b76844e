import type { PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromMultihash, peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CODE_P2P, multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { Address } from '@ton/core'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import type { Uint8ArrayList } from 'uint8arraylist'
import { ProtocolError } from './errors.ts'
import { ADVERT_LIMITS, ADVERT_SIGNING_DOMAIN } from './discovery-constants.ts'
import { AdvertBody as WireBody, AdvertRequest, AdvertResponse, SignedAdvert as WireSigned } from './wire/advert.ts'

/** One model a node serves, as it advertises it. */
export interface AdvertModel {
  /** the model's bundle digest (32 bytes): every file its output depends on */
  hash: Uint8Array
  name: string
  task: string
  /** nanoton per unit */
  pricePerUnit: bigint
  /** outputs are reproducible on the pinned execution path below */
  deterministic: boolean
  /** the pinned execution path (e.g. "cpu;intra=1;inter=1;batch=off"); every job spec hash names it */
  execution: string
}

/** What a node says about itself; signed by the key of `peerId`. */
export interface AdvertBody {
  peerId: PeerId
  /** Provider contract address */
  provider: string
  providerOwner: string
  models: AdvertModel[]
  /** jobs the node runs at once */
  capacity: number
  /** TEE kind; "none" without one */
  tee: string
  /** unix seconds */
  expires: number
  /** strictly increasing per node: a lower one is a replay */
  seq: bigint
  /** where the node is reachable (each ends in /p2p/<peerId> when it names a peer at all) */
  addrs: Multiaddr[]
  /** sha256 of the node's attestation evidence (quotes are too big to gossip); empty without a TEE */
  teeEvidence: Uint8Array
}

/** A verified advert: its fields plus the exact signed bytes, to relay unchanged. */
export interface Advert extends AdvertBody {
  /** the encoded SignedAdvert */
  bytes: Uint8Array
  signature: Uint8Array
}

const encoder = new TextEncoder()
const DOMAIN = encoder.encode(ADVERT_SIGNING_DOMAIN)

function malformed (message: string): ProtocolError {
  return new ProtocolError('MALFORMED_ADVERT', message)
}

function signedBytes (body: Uint8Array): Uint8Array {
  const out = new Uint8Array(DOMAIN.length + body.length)
  out.set(DOMAIN)
  out.set(body, DOMAIN.length)
  return out
}

function checkString (value: string, field: string, maxBytes: number, required: boolean): void {
  if (required && value.length === 0) throw malformed(`${field} is empty`)
  if (encoder.encode(value).length > maxBytes) throw malformed(`${field} is longer than ${maxBytes} bytes`)
}

function checkAddress (value: string, field: string): void {
  if (value.length === 0 || value.length > ADVERT_LIMITS.maxAddressChars || !(Address.isFriendly(value) || Address.isRaw(value))) {
    throw malformed(`${field} is not a TON address`)
  }
}

/** Bounds every field; the same checks run before signing and after decoding. */
function checkBody (body: AdvertBody): void {
  if (body.peerId.type !== 'Ed25519') throw malformed('the advertised peer does not have an Ed25519 key')
  checkAddress(body.provider, 'provider')
  checkAddress(body.providerOwner, 'providerOwner')
  if (body.models.length > ADVERT_LIMITS.maxModels) throw malformed(`more than ${ADVERT_LIMITS.maxModels} models`)
  const hashes = new Set<string>()
  for (const m of body.models) {
    if (m.hash.length !== 32) throw malformed(`model "${m.name}": hash is not 32 bytes`)
    const hex = Buffer.from(m.hash).toString('hex')
    if (hashes.has(hex)) throw malformed(`model hash ${hex} listed twice`)
    hashes.add(hex)
    checkString(m.name, 'model name', ADVERT_LIMITS.maxNameBytes, true)
    checkString(m.task, 'model task', ADVERT_LIMITS.maxTaskBytes, true)
    checkString(m.execution, `model "${m.name}": execution`, ADVERT_LIMITS.maxExecutionBytes, true)
    if (typeof m.deterministic !== 'boolean') throw malformed(`model "${m.name}": deterministic is not a boolean`)
    if (m.pricePerUnit < 0n || m.pricePerUnit >= 2n ** 64n) throw malformed(`model "${m.name}": price out of range`)
  }
  if (!Number.isInteger(body.capacity) || body.capacity < 1 || body.capacity > 0xffffffff) throw malformed('capacity must be a whole number ≥ 1')
  checkString(body.tee, 'tee', ADVERT_LIMITS.maxTeeBytes, true)
  if (body.teeEvidence.length !== 0 && body.teeEvidence.length !== 32) throw malformed('tee evidence hash must be empty or 32 bytes')
  if (!Number.isSafeInteger(body.expires) || body.expires <= 0) throw malformed('expiry is not a unix time')
  if (body.seq <= 0n || body.seq >= 2n ** 64n) throw malformed('seq out of range')
  if (body.addrs.length > ADVERT_LIMITS.maxAddrs) throw malformed(`more than ${ADVERT_LIMITS.maxAddrs} addresses`)
  const self = body.peerId.toString()
  for (const ma of body.addrs) {
    if (ma.bytes.length > ADVERT_LIMITS.maxAddrBytes) throw malformed(`address longer than ${ADVERT_LIMITS.maxAddrBytes} bytes`)
    const named = ma.getComponents().findLast((c) => c.code === CODE_P2P)?.value
    if (named !== undefined && named !== self) throw malformed(`address ${ma.toString()} names another peer`)
  }
}

function toWire (body: AdvertBody): WireBody {
  return {
    peerId: body.peerId.toMultihash().bytes,
    provider: body.provider,
    providerOwner: body.providerOwner,
    models: body.models.map((m) => ({ hash: m.hash, name: m.name, task: m.task, pricePerUnit: m.pricePerUnit, deterministic: m.deterministic, execution: m.execution })),
    capacity: body.capacity,
    tee: body.tee,
    expires: BigInt(body.expires),
    seq: body.seq,
    addrs: body.addrs.map((a) => a.bytes),
    teeEvidence: body.teeEvidence
  }
}

/** The canonical body bytes a signature covers; throws MALFORMED_ADVERT for a body receivers would refuse. */
export function encodeAdvertBody (body: AdvertBody): Uint8Array {
  checkBody(body)
  return WireBody.encode(toWire(body))
}

/** Signs a body with the node key, which must be the key of `body.peerId`. */
export async function signAdvert (body: AdvertBody, key: PrivateKey): Promise<Advert> {
  if (!peerIdFromPrivateKey(key).equals(body.peerId)) throw new RangeError('an advert is signed by the key of the peer it names')
  const encoded = encodeAdvertBody(body)
  const signature = await key.sign(signedBytes(encoded))
  const bytes = WireSigned.encode({ body: encoded, signature })
  if (bytes.length > ADVERT_LIMITS.maxAdvertBytes) throw malformed(`advert of ${bytes.length} bytes exceeds ${ADVERT_LIMITS.maxAdvertBytes}`)
  return { ...body, models: body.models.map((m) => ({ ...m })), addrs: [...body.addrs], bytes, signature }
}

export interface VerifyOptions {
  /** unix seconds; defaults to the local clock */
  now?: number
}

function unixNow (): number {
  return Math.floor(Date.now() / 1000)
}

async function verifySigned (signed: WireSigned, options: VerifyOptions): Promise<Advert> {
  let wire: WireBody
  try {
    wire = WireBody.decode(signed.body, { limits: { models: ADVERT_LIMITS.maxModels, addrs: ADVERT_LIMITS.maxAddrs } })
  } catch (err) {
    throw malformed(`undecodable advert body: ${(err as Error).message}`)
  }
  // only one encoding is valid, so the signed bytes and the fields cannot disagree
  if (!Buffer.from(WireBody.encode(wire)).equals(Buffer.from(signed.body))) throw malformed('advert body is not canonically encoded')
  let peerId: PeerId
  let addrs: Multiaddr[]
  try {
    peerId = peerIdFromMultihash(Digest.decode(wire.peerId))
    addrs = wire.addrs.map((b) => multiaddr(b))
  } catch (err) {
    throw malformed(`bad peer id or address: ${(err as Error).message}`)
  }
  if (wire.expires > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed('expiry is not a unix time')
  const body: AdvertBody = {
    peerId,
    provider: wire.provider,
    providerOwner: wire.providerOwner,
    models: wire.models.map((m) => ({ hash: m.hash, name: m.name, task: m.task, pricePerUnit: m.pricePerUnit, deterministic: m.deterministic, execution: m.execution })),
    capacity: wire.capacity,
    tee: wire.tee,
    expires: Number(wire.expires),
    seq: wire.seq,
    addrs,
    teeEvidence: wire.teeEvidence
  }
  checkBody(body)
  const now = options.now ?? unixNow()
  if (body.expires <= now) throw new ProtocolError('ADVERT_EXPIRED', `advert of ${peerId.toString()} expired at ${body.expires}`)
  if (body.expires > now + ADVERT_LIMITS.maxTtlSeconds + ADVERT_LIMITS.clockSkewSeconds) throw malformed('advert lives longer than allowed')
  const key = peerId.publicKey
  if (key === undefined || signed.signature.length !== 64 || !await key.verify(signedBytes(signed.body), signed.signature)) {
    throw new ProtocolError('BAD_ADVERT_SIGNATURE', `advert is not signed by ${peerId.toString()}`)
  }
  return { ...body, bytes: WireSigned.encode(signed), signature: signed.signature }
}

/**
 * Decodes and verifies a SignedAdvert: bounded size and fields, canonical body, not expired,
 * signed by the key of the peer it names (so no peer can advertise for another).
 */
export async function decodeAdvert (bytes: Uint8Array | Uint8ArrayList, options: VerifyOptions = {}): Promise<Advert> {
  if (bytes.byteLength > ADVERT_LIMITS.maxAdvertBytes) throw malformed(`advert of ${bytes.byteLength} bytes exceeds ${ADVERT_LIMITS.maxAdvertBytes}`)
  let signed: WireSigned
  try {
    signed = WireSigned.decode(bytes)
  } catch (err) {
    throw malformed(`undecodable advert: ${(err as Error).message}`)
  }
  return await verifySigned(signed, options)
}

export function encodeAdvertRequest (known: boolean): Uint8Array {
  return AdvertRequest.encode({ known })
}

export function decodeAdvertRequest (bytes: Uint8Array | Uint8ArrayList): { known: boolean } {
  if (bytes.byteLength > ADVERT_LIMITS.maxRequestBytes) throw malformed('advert request too large')
  try {
    return AdvertRequest.decode(bytes)
  } catch (err) {
    throw malformed(`undecodable advert request: ${(err as Error).message}`)
  }
}

/** Packs adverts into a response, in order, until the count or byte bound is reached. */
export function encodeAdvertResponse (adverts: readonly Advert[]): Uint8Array {
  const list: WireSigned[] = []
  let size = 0
  for (const a of adverts) {
    if (list.length >= ADVERT_LIMITS.maxResponseAdverts) break
    // field tag + length prefix per entry
    if (size + a.bytes.length + 8 > ADVERT_LIMITS.maxResponseBytes) break
    list.push(WireSigned.decode(a.bytes))
    size += a.bytes.length + 8
  }
  return AdvertResponse.encode({ adverts: list })
}

/**
 * Decodes a response and verifies each advert on its own: a bad one is counted and skipped,
 * the rest are kept. The response as a whole must be within bounds.
 */
export async function decodeAdvertResponse (bytes: Uint8Array | Uint8ArrayList, options: VerifyOptions = {}): Promise<{ adverts: Advert[], rejected: ProtocolError[] }> {
  if (bytes.byteLength > ADVERT_LIMITS.maxResponseBytes) throw malformed('advert response too large')
  let response: AdvertResponse
  try {
    response = AdvertResponse.decode(bytes, { limits: { adverts: ADVERT_LIMITS.maxResponseAdverts } })
  } catch (err) {
    throw malformed(`undecodable advert response: ${(err as Error).message}`)
  }
  const adverts: Advert[] = []
  const rejected: ProtocolError[] = []
  for (const signed of response.adverts) {
    try {
      if (signed.body.length + signed.signature.length > ADVERT_LIMITS.maxAdvertBytes) throw malformed('advert too large')
      adverts.push(await verifySigned(signed, options))
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err
      rejected.push(err)
    }
  }
  return { adverts, rejected }
}

/** The DHT key of a model: a CIDv1 with the raw codec over the model's sha256 hash. */
export function modelCid (hash: Uint8Array): CID {
  if (hash.length !== 32) throw new RangeError('a model hash is 32 bytes')
  return CID.createV1(raw.code, Digest.create(sha256.code, hash))
}

const HEX_HASH = /^[0-9a-f]{64}$/i

/** A model given as its hash (bytes or 64 hex characters) or its name. */
export type ModelQuery = string | Uint8Array

/** The hash a query names, when it names one. */
export function queryHash (model: ModelQuery): Uint8Array | undefined {
  if (typeof model !== 'string') return model.length === 32 ? model : undefined
  return HEX_HASH.test(model) ? Buffer.from(model, 'hex') : undefined
}

/** The advertised models that match a hash or name. */
export function advertModels (advert: AdvertBody, model: ModelQuery): AdvertModel[] {
  const hash = queryHash(model)
  return advert.models.filter((m) =>
    (hash !== undefined && Buffer.from(m.hash).equals(Buffer.from(hash))) || (typeof model === 'string' && m.name === model))
}
