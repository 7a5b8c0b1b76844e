import { Cell, internal, type Address } from '@ton/core'
import type { TonClient, Transaction } from '@ton/ton'
import type { Logger } from 'pino'
import { signCell } from '../protocol/cells.ts'
import type { Identity } from '../protocol/keys.ts'
import { Channel, Fees, Op } from '../contracts/index.ts'
import { devnetBaseUrl, exitCodeOf, sendAndWait, txHashHex, waitForTransaction, walletFromKey, type KeyWallet } from '../chain/client.ts'
import type { NodeMetrics } from './metrics.ts'
import type { ChannelLedger, Payout, VoucherStore } from './vouchers.ts'

export interface SettlementComponents {
  chain: TonClient
  identity: Identity
  vouchers: VoucherStore
  logger: Logger
  metrics?: NodeMetrics
}

export interface SettlementInit {
  /** claim a channel once its unclaimed vouchers reach this many nanoton */
  threshold: bigint
  /** link to a transaction on an explorer for this network */
  explorer: (txHash: string) => string
  timeoutMs?: number
  /** how often to check channels with unclaimed vouchers for a started close, ms (0 = never) */
  watchIntervalMs?: number
}

export class ClaimError extends Error {
  override name = 'ClaimError'
  constructor (readonly exitCode: number | null, message: string) { super(message) }
}

/**
 * Turns stored vouchers into Toncoin: counter-signs the best voucher of a channel with the node
 * key and sends the claim from the node's gas wallet (a V4 wallet of the same key). Claims run one
 * at a time, so the wallet's seqno never races.
 */
export class Settlement {
  private readonly wallet: KeyWallet
  private queue: Promise<unknown> = Promise.resolve()
  private readonly inFlight = new Set<string>()
  private watcher?: NodeJS.Timeout

  constructor (private readonly c: SettlementComponents, private readonly init: SettlementInit) {
    this.wallet = walletFromKey(c.identity.keyPair)
  }

  get walletAddress (): Address {
    return this.wallet.address
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
   * unclaimed vouchers is checked on chain and claimed at once when its close has started.
   */
  async claimClosing (): Promise<Payout[]> {
    const payouts: Payout[] = []
    for (const ledger of this.c.vouchers.all()) {
      if (this.c.vouchers.unclaimed(ledger) === 0n) continue
      try {
        const data = await this.c.chain.open(Channel.createFromAddress(ledger.channel)).getChannelData()
        if (data.closeAt === 0 || data.closed) continue
        this.c.logger.info({ channel: ledger.channel.toString(), closeAt: data.closeAt }, 'channel is closing: claiming now')
        const p = await this.claim(ledger.channel)
        if (p !== undefined) payouts.push(p)
      } catch (err) {
        this.c.logger.warn({ channel: ledger.channel.toString(), err: (err as Error).message }, 'could not check or claim a closing channel')
      }
    }
    return payouts
  }

  /** Called after each stored voucher: claims when the channel's unclaimed value passes the threshold. */
  onVoucher (changed: ChannelLedger): void {
    // read afresh: a claim may have finished while this voucher was being stored
    const ledger = this.c.vouchers.get(changed.channel)
    if (this.c.vouchers.unclaimed(ledger) >= this.init.threshold) {
      this.claim(ledger.channel).catch((err: Error) => { this.c.logger.error({ channel: ledger.channel.toString(), err: err.message }, 'claim failed') })
    }
  }

  /** Claims every channel holding unclaimed vouchers; returns the payouts made. */
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

  /** Claims one channel's best voucher; undefined when there was nothing left to claim. */
  async claim (channel: Address): Promise<Payout | undefined> {
    const key = channel.toRawString()
    if (this.inFlight.has(key)) return undefined
    this.inFlight.add(key)
    const run = this.queue.then(async () => await this.claimNow(channel)).finally(() => this.inFlight.delete(key))
    this.queue = run.catch(() => {})
    return await run
  }

  private async claimNow (channel: Address): Promise<Payout | undefined> {
    const ledger = this.c.vouchers.get(channel)
    if (ledger.voucher === undefined || ledger.clientSig === undefined || ledger.amount <= ledger.claimed) return undefined
    // A claim sent before a crash may have landed without being recorded: trust the chain.
    const onChain = await this.c.chain.open(Channel.createFromAddress(channel)).getChannelData()
    if (onChain.paid >= ledger.amount) {
      await this.c.vouchers.update(channel, (l) => ({ ...l, claimed: max(l.claimed, onChain.paid) }))
      return undefined
    }
    const voucher = Cell.fromBoc(ledger.voucher)[0]!
    const body = Channel.claimMessage({ voucher, clientSig: ledger.clientSig, nodeSig: signCell(voucher, this.c.identity.keyPair.secretKey) })
    const channelState = await this.c.chain.getContractState(channel)
    const sinceLt = channelState.lastTransaction !== null ? BigInt(channelState.lastTransaction.lt) : -1n
    const timeoutMs = this.init.timeoutMs ?? 60_000
    await sendAndWait(this.c.chain, this.wallet, { messages: [internal({ to: channel, value: Fees.claimGas, bounce: true, body })] }, { timeoutMs })
    const tx = await waitForTransaction(this.c.chain, channel, (t) => isClaimFrom(t, this.wallet.address), { sinceLt, timeoutMs })
    const exitCode = exitCodeOf(tx)
    if (exitCode !== 0) {
      this.c.metrics?.claims.inc({ outcome: 'failed' })
      throw new ClaimError(exitCode, `claim on ${channel.toString()} failed with exit code ${String(exitCode)}`)
    }
    this.c.metrics?.claims.inc({ outcome: 'ok' })
    const payout: Payout = {
      channel: channel.toString(),
      amount: (ledger.amount - ledger.claimed).toString(),
      seqno: ledger.seqno,
      txHash: txHashHex(tx),
      time: tx.now
    }
    await this.c.vouchers.update(channel, (l) => ({ ...l, claimed: max(l.claimed, ledger.amount) }))
    await this.c.vouchers.recordPayout(payout)
    this.c.logger.info({ channel: payout.channel, amount: payout.amount, tx: payout.txHash, explorer: this.init.explorer(payout.txHash) }, 'claimed')
    return payout
  }
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
