// Shapes of the TON HTTP API v2 (toncenter) JSON that @ton/ton's TonClient validates with zod.

import { Address, beginCell, Cell, storeStateInit, type Message, type TupleItem } from '@ton/core'
import { badRequest } from './errors.ts'
import type { TxRecord } from './LocalChain.ts'

/** How the devnet prints addresses: user-friendly, url-safe, bounceable, test-only flag set. */
export function friendly (a: Address): string {
  return a.toString({ urlSafe: true, bounceable: true, testOnly: true })
}

export function blockId (seqno: number): Record<string, unknown> {
  const h = Buffer.alloc(32)
  h.writeUInt32BE(seqno >>> 0, 28)
  return {
    '@type': 'ton.blockIdExt',
    workchain: -1,
    shard: '-9223372036854775808',
    seqno,
    root_hash: h.toString('base64'),
    file_hash: h.toString('base64')
  }
}

/** Text of a simple comment body (op 0 + UTF-8 snake), or null. */
export function commentOf (body: Cell): string | null {
  try {
    const s = body.beginParse()
    if (s.remainingBits < 32 || s.loadUint(32) !== 0) return null
    return s.loadStringTail()
  } catch {
    return null
  }
}

export function messageJson (m: Message): Record<string, unknown> {
  const info = m.info
  let source = ''
  let destination = ''
  let value = '0'
  let fwdFee = '0'
  let ihrFee = '0'
  let createdLt = '0'
  if (info.type === 'internal') {
    source = friendly(info.src)
    destination = friendly(info.dest)
    value = info.value.coins.toString()
    fwdFee = info.forwardFee.toString()
    ihrFee = info.ihrFee.toString()
    createdLt = info.createdLt.toString()
  } else if (info.type === 'external-in') {
    destination = friendly(info.dest)
  } else {
    source = friendly(info.src)
    createdLt = info.createdLt.toString()
  }
  const comment = commentOf(m.body)
  return {
    '@type': 'raw.message',
    source,
    destination,
    value,
    fwd_fee: fwdFee,
    ihr_fee: ihrFee,
    created_lt: createdLt,
    body_hash: m.body.hash().toString('base64'),
    msg_data: {
      '@type': 'msg.dataRaw',
      body: m.body.toBoc().toString('base64'),
      init_state: m.init != null ? beginCell().store(storeStateInit(m.init)).endCell().toBoc().toString('base64') : ''
    },
    message: comment ?? ''
  }
}

export function transactionJson (r: TxRecord): Record<string, unknown> {
  const tx = r.tx
  const fee = tx.totalFees.coins
  const d = tx.description
  const storageFee = (d.type === 'generic' || d.type === 'tick-tock' || d.type === 'storage') ? (d.storagePhase?.storageFeesCollected ?? 0n) : 0n
  const json: Record<string, unknown> = {
    '@type': 'raw.transaction',
    address: { '@type': 'accountAddress', account_address: friendly(r.account) },
    utime: r.utime,
    data: r.boc,
    transaction_id: { '@type': 'internal.transactionId', lt: r.lt.toString(), hash: r.hash.toString('base64') },
    fee: fee.toString(),
    storage_fee: storageFee.toString(),
    other_fee: (fee - storageFee).toString(),
    out_msgs: [...tx.outMessages.values()].map(messageJson)
  }
  if (tx.inMessage != null) json.in_msg = messageJson(tx.inMessage)
  return json
}

// ---- get-method stacks ----

function parseNum (v: unknown): bigint {
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v)
  if (typeof v !== 'string') throw badRequest('stack number must be a string')
  const s = v.trim()
  try {
    if (s.startsWith('-')) return -BigInt(s.slice(1))
    return BigInt(s)
  } catch {
    throw badRequest(`invalid stack number: ${s.slice(0, 80)}`)
  }
}

function parseCellArg (v: unknown): Cell {
  let b64: unknown = v
  if (v !== null && typeof v === 'object' && 'bytes' in v) b64 = (v as { bytes: unknown }).bytes
  if (typeof b64 !== 'string') throw badRequest('stack cell must be a base64 BOC')
  try {
    const cells = Cell.fromBoc(Buffer.from(b64, 'base64'))
    if (cells.length !== 1 || cells[0] === undefined) throw new Error('expected one root')
    return cells[0]
  } catch (e) {
    throw badRequest(`invalid stack cell: ${(e as Error).message}`)
  }
}

/** API stack arguments (`["num","123"]`, `["tvm.Cell", b64]`, `["tvm.Slice", b64]`…) → TVM tuple items. */
export function parseStackArgs (stack: unknown): TupleItem[] {
  if (stack === undefined || stack === null) return []
  if (!Array.isArray(stack)) throw badRequest('stack must be an array')
  return stack.map((entry: unknown, i): TupleItem => {
    if (!Array.isArray(entry) || entry.length < 1 || typeof entry[0] !== 'string') {
      throw badRequest(`stack entry ${i} must be [type, value]`)
    }
    const [type, value] = entry as [string, unknown]
    switch (type) {
      case 'num': case 'number': case 'int':
        return { type: 'int', value: parseNum(value) }
      case 'tvm.Cell': case 'cell':
        return { type: 'cell', cell: parseCellArg(value) }
      case 'tvm.Slice': case 'slice':
        return { type: 'slice', cell: parseCellArg(value) }
      case 'tvm.Builder': case 'builder':
        return { type: 'builder', cell: parseCellArg(value) }
      case 'null':
        return { type: 'null' }
      default:
        throw badRequest(`unsupported stack entry type: ${type.slice(0, 40)}`)
    }
  })
}

function hexNum (v: bigint): string {
  return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`
}

/** Nested (inside a tuple) form of the public API, as TonClient's parseStackEntry reads it. */
function stackEntryJson (item: TupleItem): Record<string, unknown> {
  switch (item.type) {
    case 'int':
      return { '@type': 'tvm.stackEntryNumber', number: { '@type': 'tvm.numberDecimal', number: item.value.toString() } }
    case 'cell':
    case 'builder':
      return { '@type': 'tvm.stackEntryCell', cell: { '@type': 'tvm.cell', bytes: item.cell.toBoc().toString('base64') } }
    case 'slice':
      return { '@type': 'tvm.stackEntrySlice', slice: { '@type': 'tvm.slice', bytes: item.cell.toBoc().toString('base64') } }
    case 'tuple':
      return { '@type': 'tvm.stackEntryTuple', tuple: { '@type': 'tvm.tuple', elements: item.items.map(stackEntryJson) } }
    case 'null':
    case 'nan':
      // No nested null in the public API that TonClient can read; an empty list is the closest.
      return { '@type': 'tvm.stackEntryList', list: { '@type': 'tvm.list', elements: [] } }
  }
}

/** TVM tuple items → top-level stack entries of the public API. */
export function stackResultJson (stack: TupleItem[]): unknown[] {
  return stack.map((item) => {
    switch (item.type) {
      case 'int': return ['num', hexNum(item.value)]
      case 'nan': return ['num', 'NaN']
      case 'null': return ['null']
      case 'cell': return ['cell', { bytes: item.cell.toBoc().toString('base64') }]
      case 'slice': return ['slice', { bytes: item.cell.toBoc().toString('base64') }]
      case 'builder': return ['builder', { bytes: item.cell.toBoc().toString('base64') }]
      case 'tuple': return ['tuple', { '@type': 'tvm.tuple', elements: item.items.map(stackEntryJson) }]
    }
    return ['null']
  })
}
