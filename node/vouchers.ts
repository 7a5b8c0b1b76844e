import { appendFile, mkdir, open, readdir, readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { Address } from '@ton/core'
import { ZERO_ROOT } from '../protocol/cells.ts'

/** What the node knows of one channel: the best voucher it holds and what is settled on chain. */
export interface ChannelLedger {
  channel: Address
  /** seqno, cumulative amount and receipts root of the last accepted voucher (0 / 0 / zeros if none) */
  seqno: number
  amount: bigint
  root: Buffer
  /** the last accepted voucher and the client's signature over it, ready to be claimed */
  voucher?: Buffer
  clientSig?: Buffer
  /** cumulative amount already paid out on chain */
  claimed: bigint
}

export interface Payout {
  channel: string
  /** what this claim moved: voucher amount − previously claimed (before the protocol fee) */
  amount: string
  seqno: number
  txHash: string
  time: number
}

interface LedgerJson { channel: string, seqno: number, amount: string, root: string, voucher?: string, clientSig?: string, claimed: string }

/**
 * Durable voucher storage: one JSON file per channel, replaced atomically (write, fsync, rename),
 * so a node killed at any moment restarts with every voucher it acknowledged.
 */
export class VoucherStore {
  private readonly ledgers = new Map<string, ChannelLedger>()
  /** per channel, the tail of its queue of updates: one write at a time, each on the freshest ledger */
  private readonly writes = new Map<string, Promise<unknown>>()
  private readonly dir: string
  private tmpCounter = 0

  constructor (private readonly dataDir: string) {
    this.dir = join(dataDir, 'channels')
  }

  async start (): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json')) continue // leftovers of an interrupted write end in .tmp
      const json = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as LedgerJson
      const ledger: ChannelLedger = {
        channel: Address.parse(json.channel),
        seqno: json.seqno,
        amount: BigInt(json.amount),
        root: Buffer.from(json.root, 'hex'),
        claimed: BigInt(json.claimed)
      }
      if (json.voucher !== undefined) ledger.voucher = Buffer.from(json.voucher, 'base64')
      if (json.clientSig !== undefined) ledger.clientSig = Buffer.from(json.clientSig, 'hex')
      this.ledgers.set(ledger.channel.toRawString(), ledger)
    }
  }

  async stop (): Promise<void> {}

  get (channel: Address): ChannelLedger {
    return this.ledgers.get(channel.toRawString()) ?? { channel, seqno: 0, amount: 0n, root: ZERO_ROOT, claimed: 0n }
  }

  all (): ChannelLedger[] {
    return [...this.ledgers.values()]
  }

  /** What every channel's vouchers are worth and what of it is claimed on chain, in nanoton. */
  totals (): { earned: bigint, claimed: bigint, channels: number } {
    const all = this.all()
    return { earned: all.reduce((s, l) => s + l.amount, 0n), claimed: all.reduce((s, l) => s + l.claimed, 0n), channels: all.length }
  }

  /** Value the node holds vouchers for but has not claimed yet. */
  unclaimed (ledger: ChannelLedger): bigint {
    return ledger.amount - ledger.claimed
  }

  /**
   * Applies `change` to the freshest ledger of a channel and stores the result durably. Updates of
   * one channel run one at a time; if `change` throws, nothing is stored and the error propagates.
   */
  async update (channel: Address, change: (ledger: ChannelLedger) => ChannelLedger): Promise<ChannelLedger> {
    const key = channel.toRawString()
    const run = (this.writes.get(key) ?? Promise.resolve()).then(async () => {
      const next = change(this.get(channel))
      await this.write(next)
      return next
    })
    const tail = run.catch(() => {})
    this.writes.set(key, tail)
    void tail.then(() => { if (this.writes.get(key) === tail) this.writes.delete(key) })
    return await run
  }

  private async write (ledger: ChannelLedger): Promise<void> {
    const json: LedgerJson = {
      channel: ledger.channel.toRawString(),
      seqno: ledger.seqno,
      amount: ledger.amount.toString(),
      root: ledger.root.toString('hex'),
      claimed: ledger.claimed.toString()
    }
    if (ledger.voucher !== undefined) json.voucher = ledger.voucher.toString('base64')
    if (ledger.clientSig !== undefined) json.clientSig = ledger.clientSig.toString('hex')
    const file = join(this.dir, `${ledger.channel.hash.toString('hex')}.json`)
    const tmp = `${file}.${process.pid}.${this.tmpCounter++}.tmp`
    const handle = await open(tmp, 'w', 0o600)
    try {
      await handle.writeFile(JSON.stringify(json))
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(tmp, file)
    this.ledgers.set(ledger.channel.toRawString(), ledger)
  }

  async recordPayout (payout: Payout): Promise<void> {
    await appendFile(join(this.dataDir, 'payouts.jsonl'), JSON.stringify(payout) + '\n', { mode: 0o600 })
  }

  async payouts (): Promise<Payout[]> {
    try {
      const text = await readFile(join(this.dataDir, 'payouts.jsonl'), 'utf8')
      return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Payout)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
  }
}
