// One in-process TON chain on @ton/sandbox, shared by the devnet server and tests.
//
// - Every access to the sandbox Blockchain goes through one async lock.
// - Transactions are indexed here (by account, lt, hash, message): sandbox's own getTransactions
//   reverses its list in place and its lt/hash lookup never matches.
// - Delivery "realistic" (default): an external message is processed at once (a rejected one is an
//   error, as on a real network), the internal messages it causes are delivered later, one hop per
//   `hopDelayMs`, so clients must wait for transactions as on testnet. "instant" runs the whole
//   cascade before `sendBoc` returns. `settle()` flushes everything pending (tests).
// - Chain time tracks the wall clock; `advanceTime(s)` moves it forward for good (close delays,
//   unbonding). Once advanced, wallet messages must take valid_until from chain time (see
//   client.ts `sendTransfer`), not from the local clock, or the wallet rejects them.

import {
  Address, beginCell, Cell, external, internal, loadMessage, loadTransaction, SendMode, storeMessage,
  storeShardAccount, type Message, type StateInit, type Transaction, type TupleItem
} from '@ton/core'
import { Blockchain, EmulationError, GetMethodError, TreasuryContract, type SandboxContract } from '@ton/sandbox'
import { DevnetError, badRequest } from './errors.ts'
import { configWithGlobalId } from '../contracts/network.ts'
import { GLOBAL_IDS } from '../protocol/cells.ts'

export type DeliveryMode = 'realistic' | 'instant'

/** The subset of a pino logger the chain uses. */
export interface ChainLogger {
  debug: (obj: object, msg?: string) => void
  info: (obj: object, msg?: string) => void
  warn: (obj: object, msg?: string) => void
  error: (obj: object, msg?: string) => void
}

export interface LocalChainOptions {
  /** 'realistic' (default): internal messages are delivered after `sendBoc` returns. */
  delivery?: DeliveryMode
  /** Delay between hops of a message cascade in realistic mode (default 100 ms). */
  hopDelayMs?: number
  /** Initial faucet balance in nanoton (default 1e9 TON). */
  treasuryBalance?: bigint
  logger?: ChainLogger
}

export interface TxRecord {
  /** Position in the chain's global order (0-based). */
  readonly index: number
  readonly account: Address
  readonly lt: bigint
  readonly hash: Buffer
  readonly hashHex: string
  readonly utime: number
  /** Pseudo masterchain seqno of the "block" that holds it. */
  readonly block: number
  readonly tx: Transaction
  /** Base64 BOC of the transaction cell (what the HTTP API returns as `data`). */
  readonly boc: string
}

export interface SendBocResult {
  /** Hash of the external message cell. */
  hash: Buffer
  /** TEP-467 normalized hash of the external message. */
  hashNorm: Buffer
  /** The transaction that processed the external message. */
  tx: TxRecord
}

export type AccountStatus = 'active' | 'uninitialized' | 'frozen'

export interface AccountInfo {
  address: Address
  balance: bigint
  status: AccountStatus
  code: Cell | null
  data: Cell | null
  lastTxLt: bigint
  lastTxHash: Buffer
  frozenHash: Buffer | null
}

export interface GetMethodOutcome {
  exitCode: number
  gasUsed: bigint
  stack: TupleItem[]
}

export interface FeeEstimate {
  inFwdFee: bigint
  storageFee: bigint
  gasFee: bigint
  fwdFee: bigint
}

export interface TxQuery {
  limit?: number
  lt?: bigint | string
  /** hex or base64 */
  hash?: string | Buffer
  /** Stop before transactions with lt <= toLt (exclusive bound, as the public API). */
  toLt?: bigint | string
}

interface Pending { msg: Message, cascade: number }

const ZERO_HASH = Buffer.alloc(32)
const MAX_SETTLE_TXS = 100_000
const silent: ChainLogger = { debug () {}, info () {}, warn () {}, error () {} }

class Mutex {
  private tail: Promise<unknown> = Promise.resolve()
  run<T> (fn: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(fn)
    this.tail = result.then(() => undefined, () => undefined)
    return result
  }
}

/** `src>dest@createdLt`: identifies an internal message across its source and result transactions. */
function msgKey (src: Address, dest: Address, createdLt: bigint): string {
  return `${src.toRawString()}>${dest.toRawString()}@${createdLt.toString()}`
}

/** Parses a transaction or message hash given as hex (64 chars) or base64 / base64url (44/43 chars). */
export function parseHash (hash: string | Buffer): Buffer {
  if (Buffer.isBuffer(hash)) {
    if (hash.length !== 32) throw badRequest('hash must be 32 bytes')
    return hash
  }
  const s = hash.trim()
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, 'hex')
  if (/^[A-Za-z0-9+/\-_]{43}=?$/.test(s)) {
    const b = Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
    if (b.length === 32) return b
  }
  throw badRequest(`invalid hash: ${s.slice(0, 80)}`)
}

export function parseAddress (address: string | Address): Address {
  if (Address.isAddress(address)) return address
  if (typeof address !== 'string') throw badRequest('address must be a string')
  try {
    return Address.parse(address.trim())
  } catch {
    throw badRequest(`invalid address: ${String(address).slice(0, 100)}`)
  }
}

function toBigInt (v: bigint | string | number, what: string): bigint {
  if (typeof v === 'bigint') return v
  try {
    const b = BigInt(typeof v === 'number' ? Math.trunc(v) : v.trim())
    return b
  } catch {
    throw badRequest(`invalid ${what}: ${String(v).slice(0, 60)}`)
  }
}

/** Normalized external-in message hash (TEP-467): no source, no import fee, no init, body by ref. */
export function normalizedExternalHash (msg: Message): Buffer {
  if (msg.info.type !== 'external-in') throw badRequest('not an external-in message')
  return beginCell()
    .storeUint(2, 2)
    .storeUint(0, 2)
    .storeAddress(msg.info.dest)
    .storeCoins(0)
    .storeBit(false)
    .storeBit(true)
    .storeRef(msg.body)
    .endCell()
    .hash()
}

export class LocalChain {
  readonly delivery: DeliveryMode
  readonly hopDelayMs: number
  private readonly lock = new Mutex()
  private readonly log: ChainLogger
  private offset = 0
  private lastNow = 0
  private seqno = 1
  private nextCascade = 1
  private pending: Pending[] = []
  private timer: NodeJS.Timeout | null = null
  private closed = false
  private readonly all: TxRecord[] = []
  private readonly byAccount = new Map<string, TxRecord[]>()
  private readonly byHash = new Map<string, TxRecord>()
  private readonly byInMsg = new Map<string, TxRecord>()
  private readonly byOutMsg = new Map<string, TxRecord>()
  private readonly listeners = new Set<(tx: TxRecord) => void>()

  private constructor (
    private readonly bc: Blockchain,
    private readonly treasury: SandboxContract<TreasuryContract>,
    opts: LocalChainOptions
  ) {
    this.delivery = opts.delivery ?? 'realistic'
    this.hopDelayMs = Math.max(0, opts.hopDelayMs ?? 100)
    this.log = opts.logger ?? silent
  }

  static async create (opts: LocalChainOptions = {}): Promise<LocalChain> {
    if (opts.delivery !== undefined && opts.delivery !== 'realistic' && opts.delivery !== 'instant') {
      throw badRequest(`unknown delivery mode: ${String(opts.delivery)}`)
    }
    const bc = await Blockchain.create()
    // the devnet is the local network (config param 19): what is signed here is worthless elsewhere
    bc.setConfig(configWithGlobalId(bc.config, GLOBAL_IDS.local))
    bc.verbosity = { print: false, blockchainLogs: false, vmLogs: 'none', debugLogs: false }
    const start = Math.floor(Date.now() / 1000)
    bc.now = start
    const treasury = await bc.treasury('silk-devnet-faucet', { balance: opts.treasuryBalance ?? 1_000_000_000n * 1_000_000_000n })
    const chain = new LocalChain(bc, treasury, opts)
    chain.lastNow = start
    // Index the treasury's genesis deployment so its last_transaction_id resolves.
    const genesis = await bc.getTransactions(treasury.address)
    for (const tx of [...genesis].sort((a, b) => (a.lt < b.lt ? -1 : 1))) chain.record(tx, treasury.address)
    return chain
  }

  // ---- time ----

  /** Chain time (unix seconds): wall clock plus every `advanceTime`, never going backwards. */
  now (): number {
    const t = Math.floor(Date.now() / 1000) + this.offset
    if (t > this.lastNow) this.lastNow = t
    return this.lastNow
  }

  /** Moves chain time forward by `seconds` for good; returns the new chain time. */
  advanceTime (seconds: number): number {
    if (!Number.isFinite(seconds) || seconds < 0) throw badRequest('advanceTime takes a non-negative number of seconds')
    this.offset += Math.floor(seconds)
    return this.now()
  }

  // ---- chain facts ----

  get treasuryAddress (): Address { return this.treasury.address }
  /** Pseudo masterchain seqno: grows with every batch of transactions. */
  get blockSeqno (): number { return this.seqno }
  get lastLt (): bigint { return this.bc.lt }
  /** Internal messages waiting for delivery (realistic mode). */
  get pendingCount (): number { return this.pending.length }
  get transactionCount (): number { return this.all.length }

  onTransaction (listener: (tx: TxRecord) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  // ---- writes ----

  /**
   * Processes an external-in message (a BOC as from `sendBoc`). Throws REJECTED when the
   * contract does not accept it (bad signature, stale seqno, expired valid_until), with no state change.
   */
  async sendBoc (boc: Buffer | string | Cell): Promise<SendBocResult> {
    let cell: Cell
    if (boc instanceof Cell) {
      cell = boc
    } else {
      try {
        const cells = Cell.fromBoc(typeof boc === 'string' ? Buffer.from(boc, 'base64') : boc)
        if (cells.length !== 1 || cells[0] === undefined) throw new Error('expected one root cell')
        cell = cells[0]
      } catch (e) {
        throw badRequest(`invalid BOC: ${(e as Error).message}`)
      }
    }
    let msg: Message
    try {
      msg = loadMessage(cell.beginParse())
    } catch (e) {
      throw badRequest(`invalid message: ${(e as Error).message}`)
    }
    if (msg.info.type !== 'external-in') throw badRequest(`only external-in messages can be sent, got ${msg.info.type}`)
    const hashNorm = normalizedExternalHash(msg)
    const hash = cell.hash()
    const tx = await this.lock.run(async () => {
      this.assertOpen()
      const cascade = this.nextCascade++
      this.seqno++
      const rec = await this.execute(msg, cascade)
      if (this.delivery === 'instant') await this.drain(cascade)
      else this.schedule()
      return rec
    })
    return { hash, hashNorm, tx }
  }

  /**
   * Faucet: the treasury sends `amount` nanoton to `address` (non-bounceable, fees paid separately,
   * so the recipient gets exactly `amount`). Returns after the recipient's transaction is processed,
   * in any delivery mode.
   */
  async fund (address: Address | string, amount: bigint | string): Promise<TxRecord> {
    const to = parseAddress(address)
    const value = toBigInt(amount, 'amount')
    if (value <= 0n) throw badRequest('amount must be positive')
    const body = this.treasury.createTransfer({
      messages: [internal({ to, value, bounce: false })],
      sendMode: SendMode.PAY_GAS_SEPARATELY
    })
    const msg = external({ to: this.treasury.address, body })
    return await this.lock.run(async () => {
      this.assertOpen()
      const cascade = this.nextCascade++
      this.seqno++
      const src = await this.execute(msg, cascade)
      const out = [...src.tx.outMessages.values()][0]
      if (out === undefined || out.info.type !== 'internal') {
        this.drop(cascade)
        throw new DevnetError('REJECTED', `faucet transfer failed (treasury balance ${(await this.bc.getContract(this.treasury.address)).balance})`)
      }
      const key = msgKey(out.info.src, out.info.dest, out.info.createdLt)
      await this.drain(cascade)
      const result = this.byInMsg.get(key)
      if (result === undefined) throw new DevnetError('REJECTED', 'faucet transfer was not delivered')
      return result
    })
  }

  /** Delivers every pending internal message, hop after hop, until none is left. Returns the count. */
  async settle (): Promise<number> {
    return await this.lock.run(async () => await this.drain())
  }

  /** Stops delivery; pending messages are dropped. Further writes throw CLOSED. */
  async close (): Promise<void> {
    await this.lock.run(() => {
      this.closed = true
      if (this.timer !== null) clearTimeout(this.timer)
      this.timer = null
      this.pending = []
    })
  }

  // ---- reads ----

  async getAccount (address: Address | string): Promise<AccountInfo> {
    const addr = parseAddress(address)
    return await this.lock.run(async () => {
      const sc = await this.bc.getContract(addr)
      const state = sc.accountState
      let status: AccountStatus = 'uninitialized'
      let code: Cell | null = null
      let data: Cell | null = null
      let frozenHash: Buffer | null = null
      if (state?.type === 'active') {
        status = 'active'
        code = state.state.code ?? null
        data = state.state.data ?? null
      } else if (state?.type === 'frozen') {
        status = 'frozen'
        frozenHash = Buffer.from(state.stateHash.toString(16).padStart(64, '0'), 'hex')
      }
      const lastTxLt = sc.lastTransactionLt
      const lastTxHash = lastTxLt === 0n ? ZERO_HASH : Buffer.from(sc.lastTransactionHash.toString(16).padStart(64, '0'), 'hex')
      return { address: addr, balance: sc.balance, status, code, data, lastTxLt, lastTxHash, frozenHash }
    })
  }

  /** Runs a get method. A non-zero exit code is returned, not thrown; a non-active account gives -13. */
  async runGetMethod (address: Address | string, method: string | number, stack: TupleItem[] = []): Promise<GetMethodOutcome> {
    const addr = parseAddress(address)
    return await this.lock.run(async () => {
      const sc = await this.bc.getContract(addr)
      if (sc.accountState?.type !== 'active') return { exitCode: -13, gasUsed: 0n, stack: [] }
      try {
        const r = await this.bc.runGetMethod(addr, method, stack, { now: this.now() })
        return { exitCode: r.exitCode, gasUsed: r.gasUsed, stack: r.stack }
      } catch (e) {
        if (e instanceof GetMethodError) return { exitCode: e.exitCode, gasUsed: e.gasUsed, stack: [] }
        throw new DevnetError('REJECTED', `get method failed: ${(e as Error).message}`)
      }
    })
  }

  /**
   * Emulates an external message to `address` without committing anything and reports its fees
   * (the shape of the public API's estimateFee).
   */
  async estimateFee (address: Address | string, args: { body: Cell, initCode?: Cell | null, initData?: Cell | null, ignoreChksig?: boolean }): Promise<FeeEstimate> {
    const addr = parseAddress(address)
    const init: StateInit | null = args.initCode != null && args.initData != null ? { code: args.initCode, data: args.initData } : null
    const msg = external({ to: addr, body: args.body, init })
    const msgCell = beginCell().store(storeMessage(msg)).endCell()
    return await this.lock.run(async () => {
      const sc = await this.bc.getContract(addr)
      const res = await this.bc.executor.runTransaction({
        message: msgCell,
        config: this.bc.configBase64,
        libs: this.bc.libs ?? null,
        verbosity: 'short',
        shardAccount: beginCell().store(storeShardAccount(sc.account)).endCell().toBoc().toString('base64'),
        now: this.now(),
        lt: this.bc.lt + 1_000_000n,
        randomSeed: Buffer.alloc(32),
        ignoreChksig: args.ignoreChksig ?? false,
        debugEnabled: false,
        prevBlocksInfo: this.bc.prevBlocks
      })
      if (!res.result.success) {
        const exit = res.result.vmResults?.vmExitCode
        throw new DevnetError('REJECTED', `cannot apply external message to current state: ${res.result.error}${exit !== undefined ? ` (exit code ${exit})` : ''}`)
      }
      const tx = loadTransaction(Cell.fromBase64(res.result.transaction).beginParse())
      const d = tx.description
      if (d.type !== 'generic') throw new DevnetError('REJECTED', `unexpected transaction type ${d.type}`)
      const storageFee = d.storagePhase?.storageFeesCollected ?? 0n
      const gasFee = d.computePhase.type === 'vm' ? d.computePhase.gasFees : 0n
      const actionFees = d.actionPhase?.totalActionFees ?? 0n
      const fwdFee = d.actionPhase?.totalFwdFees ?? 0n
      let inFwdFee = tx.totalFees.coins - storageFee - gasFee - actionFees
      if (inFwdFee < 0n) inFwdFee = 0n
      return { inFwdFee, storageFee, gasFee, fwdFee }
    })
  }

  /**
   * An account's transactions, newest first. With `hash` (and/or `lt`) the list starts at that
   * transaction, inclusive; with `toLt` it stops before lt <= toLt. As the public getTransactions.
   */
  getTransactions (address: Address | string, q: TxQuery = {}): TxRecord[] {
    const addr = parseAddress(address)
    const list = this.byAccount.get(addr.toRawString()) ?? []
    const limit = Math.max(1, Math.min(1000, Math.floor(q.limit ?? 10)))
    if (!Number.isFinite(limit)) throw badRequest('invalid limit')
    const toLt = q.toLt === undefined || q.toLt === '' ? 0n : toBigInt(q.toLt, 'to_lt')
    const lt = q.lt === undefined || q.lt === '' || q.lt === '0' || q.lt === 0n ? undefined : toBigInt(q.lt, 'lt')
    const hash = q.hash === undefined || q.hash === '' ? undefined : parseHash(q.hash)
    let start = list.length - 1
    if (hash !== undefined || lt !== undefined) {
      start = -1
      for (let i = list.length - 1; i >= 0; i--) {
        const r = list[i]
        if (r === undefined) continue
        if (hash !== undefined && !r.hash.equals(hash)) continue
        if (lt !== undefined && r.lt !== lt) continue
        start = i
        break
      }
      if (start < 0) {
        throw new DevnetError('NOT_FOUND', `cannot locate transaction lt=${lt?.toString() ?? '?'} hash=${hash?.toString('hex') ?? '?'} on ${addr.toString()}`)
      }
    }
    const out: TxRecord[] = []
    for (let i = start; i >= 0 && out.length < limit; i--) {
      const r = list[i]
      if (r === undefined) continue
      if (r.lt <= toLt) break
      out.push(r)
    }
    return out
  }

  getTransaction (hash: string | Buffer): TxRecord | undefined {
    return this.byHash.get(parseHash(hash).toString('hex'))
  }

  /** The transaction on `destination` that processed the internal message `source → destination` created at `createdLt`. */
  findResultTx (source: Address | string, destination: Address | string, createdLt: bigint | string): TxRecord | undefined {
    return this.byInMsg.get(msgKey(parseAddress(source), parseAddress(destination), toBigInt(createdLt, 'created_lt')))
  }

  /** The transaction on `source` that created the internal message `source → destination` at `createdLt`. */
  findSourceTx (source: Address | string, destination: Address | string, createdLt: bigint | string): TxRecord | undefined {
    return this.byOutMsg.get(msgKey(parseAddress(source), parseAddress(destination), toBigInt(createdLt, 'created_lt')))
  }

  /** The latest transactions of the whole chain, newest first. */
  recentTransactions (limit = 20): TxRecord[] {
    return this.all.slice(Math.max(0, this.all.length - limit)).reverse()
  }

  // ---- internals (called with the lock held) ----

  private assertOpen (): void {
    if (this.closed) throw new DevnetError('CLOSED', 'the local chain is closed')
  }

  /** Runs one message as one transaction and queues its internal out messages under `cascade`. */
  private async execute (msg: Message, cascade: number): Promise<TxRecord> {
    const dest = msg.info.dest
    if (!Address.isAddress(dest)) throw badRequest('message has no destination')
    this.bc.now = this.now()
    let step: IteratorResult<Transaction>
    try {
      const it = await this.bc.sendMessageIter(msg, { allowParallel: true })
      step = await it.next()
    } catch (e) {
      if (e instanceof EmulationError) {
        const exit = e.exitCode !== undefined ? ` (exit code ${e.exitCode})` : ''
        throw new DevnetError('REJECTED', `cannot apply external message to current state: ${e.error}${exit}`)
      }
      throw new DevnetError('REJECTED', `emulation failed: ${(e as Error).message}`)
    }
    if (step.done === true) throw new DevnetError('REJECTED', 'message produced no transaction')
    const rec = this.record(step.value, dest)
    for (const out of rec.tx.outMessages.values()) {
      if (out.info.type === 'internal') this.pending.push({ msg: out, cascade })
    }
    return rec
  }

  private record (btx: Transaction, account: Address): TxRecord {
    const tx = loadTransaction(btx.raw.beginParse())
    const hash = btx.raw.hash()
    const rec: TxRecord = {
      index: this.all.length,
      account,
      lt: tx.lt,
      hash,
      hashHex: hash.toString('hex'),
      utime: tx.now,
      block: this.seqno,
      tx,
      boc: btx.raw.toBoc().toString('base64')
    }
    this.all.push(rec)
    const key = account.toRawString()
    let list = this.byAccount.get(key)
    if (list === undefined) { list = []; this.byAccount.set(key, list) }
    list.push(rec)
    this.byHash.set(rec.hashHex, rec)
    const inInfo = tx.inMessage?.info
    if (inInfo?.type === 'internal') this.byInMsg.set(msgKey(inInfo.src, inInfo.dest, inInfo.createdLt), rec)
    for (const out of tx.outMessages.values()) {
      if (out.info.type === 'internal') this.byOutMsg.set(msgKey(out.info.src, out.info.dest, out.info.createdLt), rec)
    }
    const d = tx.description
    this.log.debug({
      account: account.toString(),
      lt: tx.lt.toString(),
      hash: rec.hashHex,
      exitCode: d.type === 'generic' && d.computePhase.type === 'vm' ? d.computePhase.exitCode : undefined,
      outMessages: tx.outMessagesCount
    }, 'transaction')
    for (const l of this.listeners) {
      try { l(rec) } catch (e) { this.log.warn({ err: e }, 'transaction listener failed') }
    }
    return rec
  }

  /** One hop: delivers the messages pending now (of one cascade, or all); new ones wait for the next hop. */
  private async hop (cascade?: number): Promise<number> {
    const batch = cascade === undefined ? this.pending : this.pending.filter((p) => p.cascade === cascade)
    if (batch.length === 0) return 0
    this.pending = cascade === undefined ? [] : this.pending.filter((p) => p.cascade !== cascade)
    this.seqno++
    for (const p of batch) {
      try {
        await this.execute(p.msg, p.cascade)
      } catch (e) {
        // Internal messages always produce a transaction on a real chain; an emulator failure is logged and dropped.
        this.log.error({ err: (e as Error).message, dest: String(p.msg.info.dest) }, 'internal message could not be processed')
      }
    }
    return batch.length
  }

  private async drain (cascade?: number): Promise<number> {
    let n = 0
    for (;;) {
      const k = await this.hop(cascade)
      if (k === 0) break
      n += k
      if (n > MAX_SETTLE_TXS) {
        this.drop(cascade)
        throw new DevnetError('REJECTED', `message cascade did not settle after ${MAX_SETTLE_TXS} transactions`)
      }
    }
    return n
  }

  private drop (cascade?: number): void {
    this.pending = cascade === undefined ? [] : this.pending.filter((p) => p.cascade !== cascade)
  }

  private schedule (): void {
    if (this.timer !== null || this.closed || this.pending.length === 0) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.lock.run(async () => {
        if (this.closed) return
        await this.hop()
        this.schedule()
      }).catch((e: unknown) => { this.log.error({ err: (e as Error).message }, 'delivery failed') })
    }, this.hopDelayMs)
  }
}
