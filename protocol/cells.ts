import { createHash, createPrivateKey, createPublicKey, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto'
import { Address, beginCell, Cell, type Slice } from '@ton/core'
import { ProtocolError } from './errors.ts'

// Builders and parsers in pairs for the signed records of protocol/schema.tlb.

export const RECEIPT_TAG = 0x52435054
export const VOUCHER_TAG = 0x56434852
export const CLOSE_REQUEST_TAG = 0x43524551
export const ZERO_ROOT = Buffer.alloc(32)

export interface Receipt {
  channel: Address
  jobId: bigint
  units: number
  /** nanoton per unit */
  price: bigint
  deterministic: boolean
  /** unix seconds */
  time: number
  modelHash: Buffer
  inputHash: Buffer
  outputHash: Buffer
}

export interface Voucher {
  channel: Address
  seqno: number
  /** cumulative nanoton over the channel's life */
  amount: bigint
  receiptsRoot: Buffer
}

/** The final state of a channel, signed by both the client and the node for cooperative_close. */
export interface CloseRequest {
  channel: Address
  /** at least the last claimed voucher's seqno */
  seqno: number
  /** final cumulative nanoton paid to the provider over the channel's life */
  amount: bigint
  receiptsRoot: Buffer
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
    .storeBuffer(hash256(r.inputHash, 'inputHash'))
    .storeBuffer(hash256(r.outputHash, 'outputHash'))
    .endCell()
  return beginCell()
    .storeUint(RECEIPT_TAG, 32)
    .storeAddress(r.channel)
    .storeUint(r.jobId, 64)
    .storeUint(r.units, 32)
    .storeCoins(r.price)
    .storeBit(r.deterministic)
    .storeUint(r.time, 32)
    .storeRef(hashes)
    .endCell()
}

export function parseReceipt (cell: Cell): Receipt {
  return strictly('MALFORMED_RECEIPT', cell, (s) => {
    if (s.loadUint(32) !== RECEIPT_TAG) throw new ProtocolError('MALFORMED_RECEIPT', 'not a receipt (bad tag)')
    const channel = s.loadAddress()
    const jobId = s.loadUintBig(64)
    const units = s.loadUint(32)
    const price = s.loadCoins()
    const deterministic = s.loadBit()
    const time = s.loadUint(32)
    const h = s.loadRef().beginParse()
    const modelHash = h.loadBuffer(32)
    const inputHash = h.loadBuffer(32)
    const outputHash = h.loadBuffer(32)
    h.endParse()
    return { channel, jobId, units, price, deterministic, time, modelHash, inputHash, outputHash }
  })
}

export function buildVoucher (v: Voucher): Cell {
  if (v.receiptsRoot.length !== 32) throw new ProtocolError('MALFORMED_VOUCHER', 'receiptsRoot must be 32 bytes')
  return beginCell()
    .storeUint(VOUCHER_TAG, 32)
    .storeAddress(v.channel)
    .storeUint(v.seqno, 32)
    .storeCoins(v.amount)
    .storeBuffer(v.receiptsRoot)
    .endCell()
}

export function parseVoucher (cell: Cell): Voucher {
  return strictly('MALFORMED_VOUCHER', cell, (s) => {
    if (s.loadUint(32) !== VOUCHER_TAG) throw new ProtocolError('MALFORMED_VOUCHER', 'not a voucher (bad tag)')
    return { channel: s.loadAddress(), seqno: s.loadUint(32), amount: s.loadCoins(), receiptsRoot: s.loadBuffer(32) }
  })
}

export function buildCloseRequest (r: CloseRequest): Cell {
  if (r.receiptsRoot.length !== 32) throw new ProtocolError('MALFORMED_VOUCHER', 'receiptsRoot must be 32 bytes')
  return beginCell()
    .storeUint(CLOSE_REQUEST_TAG, 32)
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
    return { channel: s.loadAddress(), seqno: s.loadUint(32), amount: s.loadCoins(), receiptsRoot: s.loadBuffer(32) }
  })
}

/** root(n) = sha256(root(n-1) ++ cell_hash(receipt_n)) — commits a voucher to every receipt it pays. */
export function nextReceiptsRoot (prev: Buffer, receipt: Cell): Buffer {
  return createHash('sha256').update(prev).update(receipt.hash()).digest()
}

export function signatureCell (sig: Buffer): Cell {
  return beginCell().storeBuffer(sig, 64).endCell()
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
