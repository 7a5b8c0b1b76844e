import { Cell, internal, type Address, type Message, type Transaction } from '@ton/core'
import type { TonClient } from '@ton/ton'
import type { Logger } from 'pino'
import { signCell } from '../protocol/cells.ts'
import type { Identity } from '../protocol/keys.ts'
import { Channel, Fees, Op } from '../contracts/index.ts'
import { devnetBaseUrl, exitCodeOf, sendAndWait, txHashHex, waitForTransaction, walletFromKey, type KeyWallet } from '../chain/client.ts'
import type { NodeMetrics } from './metrics.ts'
import type { ChannelLedger, Payout, VoucherStore } from './vouchers.ts'

/**
 * What one claim costs, nanoton, measured in @ton/sandbox with the v2 contracts and V4 wallets on
 * both ends (the cascade of `npm run bench:gas`; contracts/constants.ts Fees): 9,714,803 for the
 * node's gas wallet (its own transaction, the claim's forward fee, the channel's compute, and the
 * forward fees of the payout, protocol fee and excesses: Fees.claimGas goes out, the rest returns)
 * and 396,403 for the owner's wallet to take the payout in (a V4 wallet's compute; a payout worth
 * less fails with exit -14 and the owner gets nothing). Rounded up. A gas wallet's first claim
 * also deploys it (≈ 2.7 million more, once).
 */
export const CLAIM_COSTS = {
  claim: 9_800_000n,
  ownerReceive: 400_000n
} as const

export interface ClaimPolicy {
  /** the largest share of a claim's value its fees may take, basis points (100 = 1 %) */
  maxFeeBps: number
  costs: { claim: bigint, ownerReceive: bigint }
}

export const DEFAULT_CLAIM_POLICY: ClaimPolicy = { maxFeeBps: 100, costs: CLAIM_COSTS }

/** Where a channel stands for claiming: claims are accepted while open or closing, until close_at. */
export type ChannelPhase = 'open' | 'closing' | 'closed'

/**
 * economic: the fees are within the policy's share of the value.
 * last-chance: the channel closes soon and whatever is not claimed before close_at is lost, so any
 * claim worth more than its fees is made.
 * nothing-owed, closed (too late to claim), uneconomic (fees above the share; wait for more
 * vouchers), below-fees (closing, but the claim would cost more than it brings).
 */
export type ClaimDecision =
  | { claim: true, reason: 'economic' | 'last-chance', fees: bigint }
  | { claim: false, reason: 'nothing-owed' | 'closed' | 'uneconomic' | 'below-fees', fees: bigint }

/** Every fee one claim costs the node and the owner together. */
export function claimFees (policy: ClaimPolicy = DEFAULT_CLAIM_POLICY): bigint {
  return policy.costs.claim + policy.costs.ownerReceive
}

/** The least value a claim must move to be economic under the policy. */
export function minEconomicClaim (policy: ClaimPolicy = DEFAULT_CLAIM_POLICY): bigint {
  const bps = BigInt(policy.maxFeeBps)
  // ceil(fees / share): the smallest value v with fees * 10000 <= v * bps
  return (claimFees(policy) * 10_000n + bps - 1n) / bps
}

/** Whether to claim `value` nanoton (voucher amount less what was claimed) from a channel in `phase`. */
export function decideClaim (value: bigint, phase: ChannelPhase, policy: ClaimPolicy = DEFAULT_CLAIM_POLICY): ClaimDecision {
  const fees = claimFees(policy)
  if (value <= 0n) return { claim: false, reason: 'nothing-owed', fees }
  if (phase === 'closed') return { claim: false, reason: 'closed', fees }
  if (fees * 10_000n <= value * BigInt(policy.maxFeeBps)) return { claim: true, reason: 'economic', fees }
  if (phase === 'closing') return value > fees ? { claim: true, reason: 'last-chance', fees } : { claim: false, reason: 'below-fees', fees }
  return { claim: false, reason: 'uneconomic', fees }
}

/**
 * How long before a channel's lifetime ends (ChannelData.expiresAt, after which no claim is
 * accepted) its claims count as the last ones: a week, so a node that was down a few days still
 * gets its claim in.
 */
export const EXPIRY_WINDOW_SECONDS = 7 * 86_400

/**
 * A channel's phase from its on-chain state at `now` (unix seconds): closed once closed, or past
 * close_at or its lifetime; closing once a close has started or its lifetime ends within `window`.
 */
export function channelPhase (data: { closeAt: number, closed: boolean, expiresAt?: number }, now: number, window = EXPIRY_WINDOW_SECONDS): ChannelPhase {
  const expiresAt = data.expiresAt ?? 0
  if (data.closed || (data.closeAt !== 0 && now >= data.closeAt) || (expiresAt !== 0 && now >= expiresAt)) return 'closed'
  return data.closeAt !== 0 || (expiresAt !== 0 && expiresAt - now <= window) ? 'closing' : 'open'
}

/** What a successful claim transaction on the channel sent, read from its out messages. */
export interface ClaimMessages {
  /** to the owner (voucher delta less the protocol fee); 0 when the delta was all fee */
  payout: bigint
  /** created_lt of the payout message: finds the owner's transaction */
  payoutLt?: bigint
  owner?: Address
  protocolFee: bigint
  /** returned to the claimer */
  excesses: bigint
}

function opOf (m: Message): number | undefined {
  const s = m.body.beginParse()
  return s.remainingBits >= 32 ? s.preloadUint(32) : undefined
}

export function claimMessages (tx: Transaction): ClaimMessages {
  const out: ClaimMessages = { payout: 0n, protocolFee: 0n, excesses: 0n }
  for (const m of tx.outMessages.values()) {
    if (m.info.type !== 'internal') continue
    const op = opOf(m)
    if (op === Op.payout) {
      out.payout += m.info.value.coins
      out.payoutLt = m.info.createdLt
      out.owner = m.info.dest
    } else if (op === Op.protocolFee) out.protocolFee += m.info.value.coins
    else if (op === Op.excesses) out.excesses += m.info.value.coins
  }
  return out
}

/** What the owner's wallet kept from a payout: the value less its own transaction's fees (0 when they ate it). */
export function ownerReceived (tx: Transaction): bigint {
  const info = tx.inMessage?.info
  const value = info?.type === 'internal' ? info.value.coins : 0n
  const net = value - tx.totalFees.coins
  return net > 0n ? net : 0n
}

/** A payout record as this node writes it: the claim plus what the owner's wallet received. */
export interface SettledPayout extends Payout {
  /** nanoton sent to the owner (amount less the protocol fee) */
  payout?: string
  protocolFee?: string
  /** nanoton the node's gas wallet spent on the claim */
  claimFees?: string
  /** nanoton the owner's wallet kept: payout less the fees of its own transaction */
  received?: string
  /** the owner's transaction that took the payout in */
  ownerTxHash?: string
  ownerTime?: number
  /** why the claim was made: economic, or last-chance before close_at */
  reason?: string
}

export interface SettlementComponents {
  chain: TonClient
  identity: Identity
  vouchers: VoucherStore
  logger: Logger
  metrics?: NodeMetrics
}

export interface SettlementInit {
  /** claim a channel once its unclaimed vouchers reach this many nanoton (and the claim is economic) */
  threshold: bigint
  /** when a claim is worth its fees; default DEFAULT_CLAIM_POLICY (fees at most 1 % of the value) */
  policy?: ClaimPolicy
  /** unix seconds (a closing channel's deadline is compared with it) */
  now?: () => number
  /** link to a transaction on an explorer for this network */
  explorer: (txHash: string) => string
  timeoutMs?: number
  /** how often to check channels with unclaimed vouchers for a started close, ms (0 = never) */
  watchIntervalMs?: number
}

/**
 * Turns stored vouchers into Toncoin: counter-signs the best voucher of a channel with the node
 * key and sends the claim from the node's gas wallet (a V4 wallet of the same key). Claims run one
 * at a time, so the wallet's seqno never races. No claim starts unless decideClaim() says so: its
 * fees stay within the policy's share of its value, or the channel is about to close and the claim
 * still brings more than it costs.
 */
export class Settlement {
  private readonly wallet: KeyWallet
  private queue: Promise<unknown> = Promise.resolve()
  private readonly inFlight = new Set<string>()
  private watcher?: NodeJS.Timeout
  readonly policy: ClaimPolicy

  constructor (private readonly c: SettlementComponents, private readonly init: SettlementInit) {
    this.wallet = walletFromKey(c.identity.keyPair)
    this.policy = init.policy ?? DEFAULT_CLAIM_POLICY
  }

  get walletAddress (): Address {
    return this.wallet.address
  }

  /** The unclaimed value at which a channel is claimed: the configured threshold, raised to what is economic. */
  get effectiveThreshold (): bigint {
    const least = minEconomicClaim(this.policy)
    return this.init.threshold > least ? this.init.threshold : least
  }

  async start (): Promise<void> {
    const every = this.init.watchIntervalMs ?? 30_000
    if (every > 0 && this.watcher === undefined) {
      this.watcher = setInterval(() => { void this.claimClosing() }, every)
      this.watcher.unref()
    }
  }

  /** Stops watching and waits for claims already queued. */
  async stop (): Promise<void> {
    clearInterval(this.watcher)
    this.watcher = undefined
    await this.queue.catch(() => {})
  }

  /**
   * A client that starts closing leaves the node until close_at to claim: every channel holding
   * unclaimed vouchers is checked on chain and, when its close has started, claimed at once if the
   * claim brings more than its fees (the last chance).
   */
  async claimClosing (): Promise<Payout[]> {
    const payouts: Payout[] = []
    for (const ledger of this.c.vouchers.all()) {
      if (this.c.vouchers.unclaimed(ledger) === 0n) continue
      try {
        const data = await this.c.chain.open(Channel.createFromAddress(ledger.channel)).getChannelData()
        if (channelPhase(data, this.now()) !== 'closing') continue
        this.c.logger.info({ channel: ledger.channel.toString(), closeAt: data.closeAt }, 'channel is closing: claiming now')
        const p = await this.claim(ledger.channel)
        if (p !== undefined) payouts.push(p)
      } catch (err) {
        this.c.logger.warn({ channel: ledger.channel.toString(), err: (err as Error).message }, 'could not check or claim a closing channel')
      }
    }
    return payouts
  }

  /** Called after each stored voucher: claims when the channel's unclaimed value passes the (economic) threshold. */
  onVoucher (changed: ChannelLedger): void {
    // read afresh: a claim may have finished while this voucher was being stored
    const ledger = this.c.vouchers.get(changed.channel)
    if (this.c.vouchers.unclaimed(ledger) >= this.effectiveThreshold) {
      this.claim(ledger.channel).catch((err: Error) => { this.c.logger.error({ channel: ledger.channel.toString(), err: err.message }, 'claim failed') })
    }
  }

  /** Claims every channel holding unclaimed vouchers whose claim the policy allows; returns the payouts made. */
  async claimAll (): Promise<Payout[]> {
    const payouts: Payout[] = []
    for (const ledger of this.c.vouchers.all()) {
      if (this.c.vouchers.unclaimed(ledger) > 0n) {
        const p = await this.claim(ledger.channel)
        if (p !== undefined) payouts.push(p)
      }
    }
    return payouts
  }

  /** Claims one channel's best voucher; undefined when there was nothing to claim or the policy says wait. */
  async claim (channel: Address): Promise<SettledPayout | undefined> {
    const key = channel.toRawString()
    if (this.inFlight.has(key)) return undefined
    this.inFlight.add(key)
    const run = this.queue.then(async () => await this.claimNow(channel)).finally(() => this.inFlight.delete(key))
    this.queue = run.catch(() => {})
    return await run
  }

  private now (): number {
    return this.init.now?.() ?? Math.floor(Date.now() / 1000)
  }

  private async claimNow (channel: Address): Promise<SettledPayout | undefined> {
    const ledger = this.c.vouchers.get(channel)
    if (ledger.voucher === undefined || ledger.clientSig === undefined || ledger.amount <= ledger.claimed) return undefined
    // A claim sent before a crash may have landed without being recorded: trust the chain.
    const onChain = await this.c.chain.open(Channel.createFromAddress(channel)).getChannelData()
    if (onChain.paid >= ledger.amount) {
      await this.c.vouchers.update(channel, (l) => ({ ...l, claimed: max(l.claimed, onChain.paid) }))
      return undefined
    }
    const value = ledger.amount - max(ledger.claimed, onChain.paid)
    const decision = decideClaim(value, channelPhase(onChain, this.now()), this.policy)
    if (!decision.claim) {
      this.c.metrics?.claims.inc({ outcome: `skipped_${decision.reason.replace('-', '_')}` })
      this.c.logger.info({ channel: channel.toString(), value: value.toString(), fees: decision.fees.toString(), reason: decision.reason }, 'claim not started: the policy says wait')
      return undefined
    }
    const voucher = Cell.fromBoc(ledger.voucher)[0]!
    const body = Channel.claimMessage({ voucher, clientSig: ledger.clientSig, nodeSig: signCell(voucher, this.c.identity.keyPair.secretKey) })
    const channelState = await this.c.chain.getContractState(channel)
    const sinceLt = channelState.lastTransaction !== null ? BigInt(channelState.lastTransaction.lt) : -1n
    const timeoutMs = this.init.timeoutMs ?? 60_000
    const sent = await sendAndWait(this.c.chain, this.wallet, { messages: [internal({ to: channel, value: Fees.claimGas, bounce: true, body })] }, { timeoutMs })
    const tx = await waitForTransaction(this.c.chain, channel, (t) => isClaimFrom(t, this.wallet.address), { sinceLt, timeoutMs })
    const exitCode = exitCodeOf(tx)
    if (exitCode !== 0) {
      this.c.metrics?.claims.inc({ outcome: 'failed' })
      throw new ClaimError(exitCode, `claim on ${channel.toString()} failed with exit code ${String(exitCode)}`)
    }
    this.c.metrics?.claims.inc({ outcome: 'ok' })
    const messages = claimMessages(tx)
    // the gas wallet's own transaction and forward fee, plus what the channel kept of Fees.claimGas,
    // plus the gas wallet's fee for taking the excesses back
    const spent = sent.tx.totalFees.coins + forwardFees(sent.tx) + Fees.claimGas - messages.excesses +
      (messages.excesses > 0n ? await this.excessesFee(channel, sent.tx.lt, timeoutMs) : 0n)
    const payout: SettledPayout = {
      channel: channel.toString(),
      // what this claim moved: a claim that landed before a crash already took its part
      amount: value.toString(),
      seqno: ledger.seqno,
      txHash: txHashHex(tx),
      time: tx.now,
      payout: messages.payout.toString(),
      protocolFee: messages.protocolFee.toString(),
      claimFees: spent.toString(),
      reason: decision.reason
    }
    await this.c.vouchers.update(channel, (l) => ({ ...l, claimed: max(l.claimed, ledger.amount) }))
    const owner = await this.ownerTransaction(channel, messages, timeoutMs)
    if (owner !== undefined) {
      payout.received = ownerReceived(owner).toString()
      payout.ownerTxHash = txHashHex(owner)
      payout.ownerTime = owner.now
    }
    await this.c.vouchers.recordPayout(payout)
    this.c.metrics?.received.inc(Number(payout.received ?? 0))
    this.c.metrics?.claimFees.inc(Number(spent))
    this.c.logger.info({
      channel: payout.channel, amount: payout.amount, received: payout.received, fees: payout.claimFees, reason: decision.reason,
      tx: payout.txHash, explorer: this.init.explorer(payout.txHash), ownerTx: payout.ownerTxHash
    }, 'claimed')
    return payout
  }

  /** What the gas wallet paid to take the claim's excesses back (0 when it did not show up). */
  private async excessesFee (channel: Address, sentLt: bigint, timeoutMs: number): Promise<bigint> {
    const tx = await this.incoming(this.wallet.address, channel, { sinceLt: sentLt, timeoutMs })
    return tx?.totalFees.coins ?? 0n
  }

  /** The owner's transaction that took the payout in; undefined when there was none or it did not show up in time. */
  private async ownerTransaction (channel: Address, messages: ClaimMessages, timeoutMs: number): Promise<Transaction | undefined> {
    const { owner, payoutLt } = messages
    if (owner === undefined || payoutLt === undefined) return undefined
    const tx = await this.incoming(owner, channel, { createdLt: payoutLt, timeoutMs })
    if (tx === undefined) this.c.logger.warn({ channel: channel.toString() }, 'the owner\'s payout transaction did not show up; silk payouts shows the claim only')
    return tx
  }

  /** The transaction of `account` that took in a message from `from` (the one created at `createdLt`, if given). */
  private async incoming (account: Address, from: Address, o: { createdLt?: bigint, sinceLt?: bigint, timeoutMs: number }): Promise<Transaction | undefined> {
    try {
      return await waitForTransaction(this.c.chain, account, (t) => {
        const info = t.inMessage?.info
        return info?.type === 'internal' && info.src.equals(from) && (o.createdLt === undefined || info.createdLt === o.createdLt)
      }, { timeoutMs: o.timeoutMs, ...(o.sinceLt !== undefined ? { sinceLt: o.sinceLt } : {}) })
    } catch {
      return undefined
    }
  }
}

/** A claim the channel refused: its exit code (contracts/constants.ts Errors). */
export class ClaimError extends Error {
  override name = 'ClaimError'
  constructor (readonly exitCode: number | null, message: string) { super(message) }
}

function forwardFees (tx: Transaction): bigint {
  let total = 0n
  for (const m of tx.outMessages.values()) if (m.info.type === 'internal') total += m.info.forwardFee
  return total
}

function max (a: bigint, b: bigint): bigint {
  return a > b ? a : b
}

function isClaimFrom (tx: Transaction, wallet: Address): boolean {
  const msg = tx.inMessage
  if (msg?.info.type !== 'internal' || !msg.info.src.equals(wallet)) return false
  const s = msg.body.beginParse()
  return s.remainingBits >= 32 && s.preloadUint(32) === Op.claim
}

/** Where a network's transactions can be seen by a person. */
export function explorerFor (network: 'local' | 'testnet' | 'mainnet', endpoint: string): (txHash: string) => string {
  if (network === 'testnet') return (h) => `https://testnet.tonviewer.com/transaction/${h}`
  if (network === 'mainnet') return (h) => `https://tonviewer.com/transaction/${h}`
  const base = devnetBaseUrl(endpoint)
  return (h) => `${base}/tx/${h}`
}
