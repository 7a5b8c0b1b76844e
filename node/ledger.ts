import type { Address, Cell } from '@ton/core'
import { cellFromBoc, nextReceiptsRoot, parseVoucher, verifyCell, type Voucher } from '../protocol/cells.ts'
import { helloProof, NONCE_BYTES } from '../protocol/wire/hello.ts'
import { JobError } from './errors.ts'

// The node's money decisions, pure: who may bind a channel, whether a job may start on credit,
// which voucher pays for what. No network, no disk: the job service feeds them chain reads and
// stores what they accept.

/** Where a channel's payments stand: the last accepted voucher (0 / 0 / zeros if none). */
export interface PaidPosition {
  seqno: number
  amount: bigint
  root: Buffer
}

/** A receipt issued on the channel and not paid for yet. */
export interface Owed {
  receipt: Cell
  signature: Buffer
  cost: bigint
}

/** What the node must know of a channel to take its money (node/chain.ts reads it). */
export interface ChannelTerms {
  clientKey: Buffer
  deposit: bigint
  /** seconds the provider has to claim after the client starts closing */
  closeDelay: number
  /** protocol fee taken from each payout, basis points */
  feeBps: number
  /** unix seconds after which the channel accepts no claim (0 or absent: no limit known) */
  expiresAt?: number
}

export interface TermsLimits {
  /** refuse channels whose close delay is shorter (seconds) */
  minCloseDelay: number
  /** refuse channels whose protocol fee is higher (basis points) */
  maxFeeBps: number
}

/**
 * Binding a session to a channel: the channel's terms must be acceptable and the Hello must carry
 * the channel client key's signature over (network, channel, this node's key, the nonce this node
 * just sent). Anything else is refused, so nobody but the channel's client can spend its credit,
 * see its vouchers or stand in for its session.
 */
export function authorizeHello (p: {
  globalId: number
  channel: Address
  nodeKey: Buffer
  /** the nonce of the Welcome this session was last sent; undefined once used */
  nonce: Uint8Array | undefined
  signature: Uint8Array
  terms: ChannelTerms
  limits: TermsLimits
  /** unix seconds; needed to refuse a channel that expires before the node could claim */
  now?: number
}): void {
  if (p.terms.closeDelay < p.limits.minCloseDelay) {
    throw new JobError('CHANNEL_TERMS', `the channel's close delay of ${p.terms.closeDelay} s is below the ${p.limits.minCloseDelay} s this node needs to claim`)
  }
  if (p.terms.feeBps > p.limits.maxFeeBps) {
    throw new JobError('CHANNEL_TERMS', `the channel's protocol fee of ${p.terms.feeBps} bps is above the ${p.limits.maxFeeBps} bps this node accepts`)
  }
  const expiresAt = p.terms.expiresAt ?? 0
  if (expiresAt !== 0 && p.now !== undefined && expiresAt - p.now < p.limits.minCloseDelay) {
    throw new JobError('CHANNEL_TERMS', `the channel stops accepting claims in ${expiresAt - p.now} s, less than the ${p.limits.minCloseDelay} s this node needs to claim`)
  }
  if (p.nonce?.length !== NONCE_BYTES) throw new JobError('BAD_HELLO', 'no fresh nonce to sign: open the session with an unbound Hello first')
  const proof = helloProof({ globalId: p.globalId, channel: p.channel, nodeKey: p.nodeKey, nonce: p.nonce })
  if (!verifyCell(proof, p.signature, p.terms.clientKey)) {
    throw new JobError('BAD_HELLO', 'the Hello is not signed by the channel\'s client key over this node and nonce')
  }
}

/** A voucher that passed every check, ready to be stored and then committed. */
export interface AcceptedVoucher {
  voucher: Voucher
  cell: Cell
  signature: Buffer
  /** the position it was checked against: it applies only on top of that */
  from: PaidPosition
  to: PaidPosition
  /** how many of the owed receipts it pays, oldest first */
  covered: number
}

/**
 * One channel's account at this node, shared by every session bound to the channel and kept
 * across reconnects: the paid position, the receipts owed since, and the most the jobs running
 * now may cost. Credit and the deposit bound what is owed plus what is running.
 */
export class PaymentLedger {
  private owedReceipts: Owed[] = []
  /** upper bound of the cost of the jobs admitted and not finished */
  private running = 0n

  constructor (
    readonly channel: Address,
    readonly globalId: number,
    private paid: PaidPosition,
    /** nanoton served beyond the last voucher (0 = one unpaid job at a time) */
    readonly credit: bigint
  ) {}

  get position (): PaidPosition {
    return { ...this.paid }
  }

  /** receipts issued and not paid for, oldest first */
  get owed (): readonly Owed[] {
    return this.owedReceipts
  }

  get owedAmount (): bigint {
    return this.owedReceipts.reduce((sum, o) => sum + o.cost, 0n)
  }

  /** true while nothing is owed or running: the ledger may be forgotten (it is all on disk) */
  get settled (): boolean {
    return this.owedReceipts.length === 0 && this.running === 0n
  }

  /**
   * Lets a job that may cost up to `most` start, or refuses: PAYMENT_REQUIRED while what is owed
   * and running reaches the credit, DEPOSIT_EXHAUSTED when the deposit cannot cover it all.
   * On success `most` stays reserved until finish() or release().
   */
  admit (most: bigint, deposit: bigint): void {
    const pending = this.owedAmount + this.running
    if ((this.owedReceipts.length > 0 || this.running > 0n) && pending >= this.credit) {
      throw new JobError('PAYMENT_REQUIRED', `${pending} nanoton of results are unpaid or running; send a voucher first`)
    }
    if (this.paid.amount + pending + most > deposit) {
      throw new JobError('DEPOSIT_EXHAUSTED', `this job may cost ${most} nanoton, more than the channel deposit has left; top it up`)
    }
    this.running += most
  }

  /** The admitted job produced `owed`: its reservation becomes a receipt owed. */
  finish (most: bigint, owed: Owed): void {
    if (owed.cost > most) throw new RangeError(`a job admitted for ${most} cannot cost ${owed.cost}`)
    this.running -= most
    this.owedReceipts.push(owed)
  }

  /** The admitted job failed without a receipt. */
  release (most: bigint): void {
    this.running -= most
  }

  /**
   * Checks a voucher without changing anything: it must be for this network and channel, signed by
   * the channel's client key, above the last seqno, within the deposit, and pay exactly for a
   * non-empty prefix of the owed receipts with the matching receipts root.
   */
  check (boc: Uint8Array, signature: Uint8Array, terms: Pick<ChannelTerms, 'clientKey' | 'deposit'>): AcceptedVoucher {
    let cell: Cell
    let v: Voucher
    try {
      cell = cellFromBoc(boc, 'MALFORMED_VOUCHER')
      v = parseVoucher(cell)
    } catch (err) {
      throw new JobError('MALFORMED_VOUCHER', (err as Error).message)
    }
    if (v.globalId !== this.globalId) throw new JobError('WRONG_NETWORK', `the voucher is for network ${v.globalId}, this node runs on ${this.globalId}`)
    if (!v.channel.equals(this.channel)) throw new JobError('WRONG_CHANNEL', 'the voucher names another channel')
    if (!verifyCell(cell, signature, terms.clientKey)) throw new JobError('BAD_SIGNATURE', 'voucher signature does not match the channel client key')
    const from = this.position
    if (v.seqno <= from.seqno) throw new JobError('STALE_VOUCHER', `voucher seqno ${v.seqno} is not above ${from.seqno}`)
    if (v.amount > terms.deposit) throw new JobError('OVER_DEPOSIT', `the voucher's ${v.amount} nanoton exceed the channel deposit of ${terms.deposit}`)
    let root = from.root
    let amount = from.amount
    let covered = 0
    for (const o of this.owedReceipts) {
      if (amount >= v.amount) break
      root = nextReceiptsRoot(root, o.receipt)
      amount += o.cost
      covered++
    }
    if (covered === 0 || amount !== v.amount) {
      throw new JobError('UNDERPAID', `voucher pays ${v.amount} nanoton in total; the receipts issued come to ${from.amount + this.owedAmount}`)
    }
    if (!root.equals(v.receiptsRoot)) throw new JobError('BAD_RECEIPTS_ROOT', 'voucher receipts root does not match the receipts issued')
    return { voucher: v, cell, signature: Buffer.from(signature), from, to: { seqno: v.seqno, amount, root }, covered }
  }

  /** Applies a checked voucher (after it is stored durably); refused if the position moved since. */
  commit (accepted: AcceptedVoucher): void {
    if (accepted.from.seqno !== this.paid.seqno || accepted.from.amount !== this.paid.amount) {
      throw new JobError('STALE_VOUCHER', 'another voucher was accepted on this channel meanwhile')
    }
    this.paid = accepted.to
    this.owedReceipts = this.owedReceipts.slice(accepted.covered)
  }
}
