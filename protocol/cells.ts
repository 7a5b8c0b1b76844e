import { createHash, createPrivateKey, createPublicKey, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto'
import { Address, beginCell, Cell, type Slice } from '@ton/core'
import { ProtocolError } from './errors.ts'

// Builders and parsers in pairs for the signed records of protocol/schema.tlb.

// v2 tags ("…2" in the last byte): every signed record names the network it is valid on.
export const RECEIPT_TAG = 0x52435032
export const VOUCHER_TAG = 0x56434832
export const CLOSE_REQUEST_TAG = 0x43524532
export const REGISTRATION_TAG = 0x52454732
export const ZERO_ROOT = Buffer.alloc(32)

/**
 * The networks Silk runs on, by TON `global_id` (config param 19). Every signed record carries it
 * and the contracts compare it with the chain they run on, so a signature from one network is
 * worthless on another. The local chain uses its own id so that nothing signed there is valid on
 * testnet or mainnet either.
 */
export const GLOBAL_IDS = { mainnet: -239, testnet: -3, local: -7331 } as const
export type NetworkName = keyof typeof GLOBAL_IDS

export function globalIdOf (network: NetworkName): number {
  return GLOBAL_IDS[network]
}

export interface Receipt {
  /** the network (TON global_id) the receipt is valid on */
  globalId: number
  channel: Address
  /** the Provider's registration it was signed under (equivocation proofs apply to that one only) */
  epoch: number
  jobId: bigint
  units: number
  /** nanoton per unit */
  price: bigint
  /** the model ran on the execution path the node pinned for it, so the output is reproducible */
  deterministic: boolean
  /** false for a cancelled, truncated or partial result: never part of an equivocation proof */
  complete: boolean
  /** unix seconds */
  time: number
  /** the model's bundle digest (every file its output depends on) */
  modelHash: Buffer
  /** the complete job specification: input, every parameter, execution path (protocol/spec.ts) */
  specHash: Buffer
  outputHash: Buffer
}

export interface Voucher {
  globalId: number
  channel: Address
  seqno: number
  /** cumulative nanoton over the channel's life */
  amount: bigint
  receiptsRoot: Buffer
}

/** The final state of a channel, signed by both the client and the node for cooperative_close. */
export interface CloseRequest {
  globalId: number
  channel: Address
  /** at least the last claimed voucher's seqno */
  seqno: number
  /** final cumulative nanoton paid to the provider over the channel's life */
  amount: bigint
  receiptsRoot: Buffer
}

/**
 * Signed by the node key: the node agrees to be registered under `owner` at `registry` on this
 * network, so nobody can stake (and be slashed) in a node's name without its key.
 */
export interface Registration {
  globalId: number
  registry: Address
  owner: Address
  nodeKey: Buffer
}

function hash256 (b: Buffer, what: string): Buffer {
  if (b.length !== 32) throw new ProtocolError('MALFORMED_RECEIPT', `${what} must be 32 bytes`)
  return b
}

export function receiptCost (r: Pick<Receipt, 'units' | 'price'>): bigint {
  return BigInt(r.units) * r.price
}

export function buildReceipt (r: Receipt): Cell {
  const hashes = beginCell()
    .storeBuffer(hash256(r.modelHash, 'modelHash'))
    .storeBuffer(hash256(r.specHash, 'specHash'))
    .storeBuffer(hash256(r.outputHash, 'outputHash'))
    .endCell()
  return beginCell()
    .storeUint(RECEIPT_TAG, 32)
    .storeInt(r.globalId, 32)
    .storeAddress(r.channel)
    .storeUint(r.epoch, 32)
    .storeUint(r.jobId, 64)
    .storeUint(r.units, 32)
    .storeCoins(r.price)
    .storeBit(r.deterministic)
    .storeBit(r.complete)
    .storeUint(r.time, 32)
    .storeRef(hashes)
    .endCell()
}

export function parseReceipt (cell: Cell): Receipt {
  return strictly('MALFORMED_RECEIPT', cell, (s) => {
    if (s.loadUint(32) !== RECEIPT_TAG) throw new ProtocolError('MALFORMED_RECEIPT', 'not a receipt (bad tag)')
    const globalId = s.loadInt(32)
    const channel = s.loadAddress()
    const epoch = s.loadUint(32)
    const jobId = s.loadUintBig(64)
    const units = s.loadUint(32)
    const price = s.loadCoins()
    const deterministic = s.loadBit()
    const complete = s.loadBit()
    const time = s.loadUint(32)
    const h = s.loadRef().beginParse()
    const modelHash = h.loadBuffer(32)
    const specHash = h.loadBuffer(32)
    const outputHash = h.loadBuffer(32)
    h.endParse()
    return { globalId, channel, epoch, jobId, units, price, deterministic, complete, time, modelHash, specHash, outputHash }
  })
}

export function buildVoucher (v: Voucher): Cell {
  if (v.receiptsRoot.length !== 32) throw new ProtocolError('MALFORMED_VOUCHER', 'receiptsRoot must be 32 bytes')
  return beginCell()
    .storeUint(VOUCHER_TAG, 32)
    .storeInt(v.globalId, 32)
    .storeAddress(v.channel)
    .storeUint(v.seqno, 32)
    .storeCoins(v.amount)
    .storeBuffer(v.receiptsRoot)
    .endCell()
}

export function parseVoucher (cell: Cell): Voucher {
  return strictly('MALFORMED_VOUCHER', cell, (s) => {
    if (s.loadUint(32) !== VOUCHER_TAG) throw new ProtocolError('MALFORMED_VOUCHER', 'not a voucher (bad tag)')
    return { globalId: s.loadInt(32), channel: s.loadAddress(), seqno: s.loadUint(32), amount: s.loadCoins(), receiptsRoot: s.loadBuffer(32) }
  })
}

export function buildCloseRequest (r: CloseRequest): Cell {
  if (r.receiptsRoot.length !== 32) throw new ProtocolError('MALFORMED_VOUCHER', 'receiptsRoot must be 32 bytes')
  return beginCell()
    .storeUint(CLOSE_REQUEST_TAG, 32)
    .storeInt(r.globalId, 32)
    .storeAddress(r.channel)
    .storeUint(r.seqno, 32)
    .storeCoins(r.amount)
    .storeBuffer(r.receiptsRoot)
    .endCell()
}

/** Parses a close_request; failures are MALFORMED_VOUCHER errors (a close request is the channel's last voucher). */
export function parseCloseRequest (cell: Cell): CloseRequest {
  return strictly('MALFORMED_VOUCHER', cell, (s) => {
    if (s.loadUint(32) !== CLOSE_REQUEST_TAG) throw new ProtocolError('MALFORMED_VOUCHER', 'not a close request (bad tag)')
    return { globalId: s.loadInt(32), channel: s.loadAddress(), seqno: s.loadUint(32), amount: s.loadCoins(), receiptsRoot: s.loadBuffer(32) }
  })
}

export function buildRegistration (r: Registration): Cell {
  if (r.nodeKey.length !== 32) throw new ProtocolError('MALFORMED_RECEIPT', 'nodeKey must be 32 bytes')
  return beginCell()
    .storeUint(REGISTRATION_TAG, 32)
    .storeInt(r.globalId, 32)
    .storeAddress(r.registry)
    .storeAddress(r.owner)
    .storeBuffer(r.nodeKey)
    .endCell()
}

export function parseRegistration (cell: Cell): Registration {
  return strictly('MALFORMED_RECEIPT', cell, (s) => {
    if (s.loadUint(32) !== REGISTRATION_TAG) throw new ProtocolError('MALFORMED_RECEIPT', 'not a registration (bad tag)')
    return { globalId: s.loadInt(32), registry: s.loadAddress(), owner: s.loadAddress(), nodeKey: s.loadBuffer(32) }
  })
}

/** root(n) = sha256(root(n-1) ++ cell_hash(receipt_n)) — commits a voucher to every receipt it pays. */
export function nextReceiptsRoot (prev: Buffer, receipt: Cell): Buffer {
  return createHash('sha256').update(prev).update(receipt.hash()).digest()
}

export function signatureCell (sig: Buffer): Cell {
  return beginCell().storeBuffer(sig, 64).endCell()
}

/** The 64-byte signature of a signature$_ cell; anything more or less is refused. */
export function parseSignatureCell (cell: Cell): Buffer {
  const s = cell.beginParse()
  const sig = s.loadBuffer(64)
  s.endParse()
  return sig
}

// Ed25519 through node:crypto (OpenSSL): the same deterministic signatures as @ton/crypto's
// tweetnacl, about 100x faster, which matters at two signatures and two checks per job.
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex')
const keyCache = new Map<string, KeyObject>()

function cachedKey (kind: 'private' | 'public', raw: Buffer): KeyObject {
  const id = kind + raw.toString('hex')
  let key = keyCache.get(id)
  if (key === undefined) {
    key = kind === 'private'
      ? createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, raw]), format: 'der', type: 'pkcs8' })
      : createPublicKey({ key: Buffer.concat([SPKI_ED25519, raw]), format: 'der', type: 'spki' })
    if (keyCache.size > 4096) keyCache.clear()
    keyCache.set(id, key)
  }
  return key
}

/** Ed25519 over the cell hash, exactly what TVM's check_signature(cell.hash(), …) verifies. */
export function signCell (cell: Cell, secretKey: Buffer): Buffer {
  // a @ton/crypto secret key is seed ++ public key
  return edSign(null, cell.hash(), cachedKey('private', secretKey.subarray(0, 32)))
}

export function verifyCell (cell: Cell, signature: Uint8Array, publicKey: Buffer): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false
  try {
    return edVerify(null, cell.hash(), cachedKey('public', publicKey), signature)
  } catch {
    return false // not a valid point: no signature can match it
  }
}

/** Decodes a BOC holding exactly one root cell, turning every failure into a typed error. */
export function cellFromBoc (bytes: Uint8Array, code: 'MALFORMED_RECEIPT' | 'MALFORMED_VOUCHER', maxBytes = 4096): Cell {
  if (bytes.length === 0 || bytes.length > maxBytes) throw new ProtocolError(code, `BOC of ${bytes.length} bytes is out of bounds`)
  try {
    const cells = Cell.fromBoc(Buffer.from(bytes))
    if (cells.length !== 1) throw new Error('expected one root')
    return cells[0]!
  } catch (err) {
    throw new ProtocolError(code, `bad BOC: ${(err as Error).message}`)
  }
}

function strictly<T> (code: 'MALFORMED_RECEIPT' | 'MALFORMED_VOUCHER', cell: Cell, read: (s: Slice) => T): T {
  try {
    const s = cell.beginParse()
    const value = read(s)
    s.endParse()
    return value
  } catch (err) {
    if (err instanceof ProtocolError) throw err
    throw new ProtocolError(code, `cannot parse: ${(err as Error).message}`)
  }
}
