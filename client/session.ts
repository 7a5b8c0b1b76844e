import type { Stream } from '@libp2p/interface'
import type { Address, Cell } from '@ton/core'
import type { KeyPair } from '@ton/crypto'
import {
  buildVoucher, cellFromBoc, nextReceiptsRoot, parseReceipt, parseVoucher, receiptCost, signCell, verifyCell,
  ZERO_ROOT, type Receipt
} from '../protocol/cells.ts'
import { ProtocolError } from '../protocol/errors.ts'
import { hashTensors, type Tensor } from '../protocol/tensor.ts'
import { fromWireTensors, toWireTensor, type Frame, type FrameKind, type ModelInfo, type Welcome } from '../protocol/wire/frames.ts'
import { FrameStream } from '../protocol/wire/stream.ts'
import { AbortError, ConnectionError, InvalidReceiptError, JobFailedError, TimeoutError, UnknownModelError } from './errors.ts'

export interface JobResult {
  outputs: Tensor[]
  /** the verified receipt and the node's signature over it */
  receipt: Receipt
  receiptCell: Cell
  signature: Buffer
  /** nanoton paid for this job by the voucher sent after it */
  cost: bigint
  /** seqno of that voucher */
  seqno: number
}

export interface RunOptions {
  signal?: AbortSignal
  timeoutMs?: number
  /** refuse (and do not pay) a result that costs more than this, in nanoton */
  maxCost?: bigint
}

/** Where the client's payments on one channel stand. */
export interface ChannelPosition {
  seqno: number
  amount: bigint
  root: Buffer
}

/**
 * One long-lived job stream to one provider. Jobs run one at a time; each result is verified
 * before it is paid with the next voucher.
 */
export class ProviderSession {
  readonly models: ModelInfo[]
  private position: ChannelPosition = { seqno: 0, amount: 0n, root: ZERO_ROOT }
  private channel?: Address
  private nextJobId = 1n
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  constructor (
    private readonly frames: FrameStream,
    readonly peerKey: Buffer,
    readonly welcome: Welcome,
    private readonly clientKey: KeyPair,
    private readonly defaultTimeoutMs: number
  ) {
    this.models = welcome.models
  }

  static async open (stream: Stream, peerKey: Buffer, clientKey: KeyPair, timeoutMs: number): Promise<ProviderSession> {
    const frames = new FrameStream(stream)
    await frames.write({ hello: { channel: '' } })
    const reply = await expectFrame(frames, 'welcome', 0n, { timeoutMs })
    return new ProviderSession(frames, peerKey, reply.welcome!, clientKey, timeoutMs)
  }

  get paid (): ChannelPosition {
    return { ...this.position }
  }

  get channelAddress (): Address | undefined {
    return this.channel
  }

  model (nameOrHash: string | Uint8Array): ModelInfo {
    const m = this.models.find((m) => typeof nameOrHash === 'string'
      ? m.name === nameOrHash || Buffer.from(m.hash).toString('hex') === nameOrHash
      : Buffer.from(m.hash).equals(Buffer.from(nameOrHash)))
    if (m === undefined) throw new UnknownModelError(`the provider does not serve ${typeof nameOrHash === 'string' ? nameOrHash : Buffer.from(nameOrHash).toString('hex')}`)
    return m
  }

  /**
   * Binds the session to a channel. The node answers with the last voucher it holds; after
   * checking it carries our own signature, payments resume from there.
   */
  async bind (channel: Address, options: RunOptions = {}): Promise<void> {
    await this.exclusive(async () => {
      await this.frames.write({ hello: { channel: channel.toRawString() } })
      const { welcome } = await expectFrame(this.frames, 'welcome', 0n, this.limits(options))
      this.channel = channel
      this.position = { seqno: 0, amount: 0n, root: ZERO_ROOT }
      if (welcome!.lastVoucher.length > 0) {
        const cell = cellFromBoc(welcome!.lastVoucher, 'MALFORMED_VOUCHER')
        const v = parseVoucher(cell)
        if (v.channel.equals(channel) && verifyCell(cell, welcome!.lastVoucherSig, this.clientKey.publicKey)) {
          this.position = { seqno: v.seqno, amount: v.amount, root: v.receiptsRoot }
        }
      }
    })
  }

  /** Runs one job, verifies its receipt, pays for it, and returns the outputs. */
  async run (model: string | Uint8Array, inputs: Tensor[], options: RunOptions = {}): Promise<JobResult> {
    const info = this.model(model)
    return await this.exclusive(async () => {
      const channel = this.channel
      if (channel === undefined) throw new JobFailedError('NO_CHANNEL', 'bind the session to a channel first', 0n)
      const jobId = this.nextJobId++
      const limits = this.limits(options)
      try {
        await this.frames.write({ job: { jobId, modelHash: info.hash, inputs: inputs.map(toWireTensor) } }, limits)
        const { result } = await expectFrame(this.frames, 'result', jobId, limits)
        const outputs = fromWireTensors(result!.outputs)
        const receiptCell = cellFromBoc(result!.receipt, 'MALFORMED_RECEIPT')
        const signature = Buffer.from(result!.signature)
        const receipt = this.verify(receiptCell, signature, { channel, jobId, info, inputs, outputs, maxCost: options.maxCost })
        const cost = receiptCost(receipt)
        const next: ChannelPosition = {
          seqno: this.position.seqno + 1,
          amount: this.position.amount + cost,
          root: nextReceiptsRoot(this.position.root, receiptCell)
        }
        const voucher = buildVoucher({ channel, seqno: next.seqno, amount: next.amount, receiptsRoot: next.root })
        await this.frames.write({ voucher: { voucher: voucher.toBoc(), signature: signCell(voucher, this.clientKey.secretKey) } }, limits)
        await expectFrame(this.frames, 'voucherAck', 0n, limits)
        this.position = next
        return { outputs, receipt, receiptCell, signature, cost, seqno: next.seqno }
      } catch (err) {
        // A timed-out or aborted job leaves the stream mid-conversation: end the session.
        if (err instanceof TimeoutError || err instanceof AbortError || err instanceof ConnectionError) await this.close()
        throw err
      }
    })
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    try { await this.frames.stream.close() } catch { this.frames.stream.abort(new Error('closed')) }
  }

  private verify (cell: Cell, signature: Buffer, want: {
    channel: Address, jobId: bigint, info: ModelInfo, inputs: Tensor[], outputs: Tensor[], maxCost: bigint | undefined
  }): Receipt {
    let r: Receipt
    try { r = parseReceipt(cell) } catch (err) { throw new InvalidReceiptError('MALFORMED', (err as Error).message) }
    if (!verifyCell(cell, signature, this.peerKey)) throw new InvalidReceiptError('BAD_SIGNATURE', 'receipt is not signed by the provider\'s node key')
    if (!r.channel.equals(want.channel)) throw new InvalidReceiptError('WRONG_CHANNEL', 'receipt names another channel')
    if (r.jobId !== want.jobId) throw new InvalidReceiptError('WRONG_JOB', `receipt is for job ${r.jobId}, not ${want.jobId}`)
    if (!r.modelHash.equals(Buffer.from(want.info.hash))) throw new InvalidReceiptError('WRONG_MODEL', 'receipt names another model')
    if (!r.inputHash.equals(hashTensors(want.inputs))) throw new InvalidReceiptError('INPUT_MISMATCH', 'receipt input hash does not match what was sent')
    if (!r.outputHash.equals(hashTensors(want.outputs))) throw new InvalidReceiptError('OUTPUT_MISMATCH', 'receipt output hash does not match what was received')
    if (r.price !== want.info.pricePerUnit || r.deterministic !== want.info.deterministic) {
      throw new InvalidReceiptError('WRONG_PRICE', `receipt charges ${r.price} per unit; the provider advertised ${want.info.pricePerUnit}`)
    }
    if (want.maxCost !== undefined && receiptCost(r) > want.maxCost) {
      throw new InvalidReceiptError('TOO_EXPENSIVE', `result costs ${receiptCost(r)} nanoton, above the limit of ${want.maxCost}`)
    }
    return r
  }

  private limits (options: RunOptions): { signal: AbortSignal } {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.defaultTimeoutMs)
    return { signal: options.signal !== undefined ? AbortSignal.any([options.signal, timeout]) : timeout }
  }

  private async exclusive<T> (fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new ConnectionError('the session is closed')
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => {})
    return await run
  }
}

/** Reads until the awaited frame; an error frame becomes a JobFailedError, a broken stream a ConnectionError. */
async function expectFrame (frames: FrameStream, kind: FrameKind, jobId: bigint, options: { signal?: AbortSignal, timeoutMs?: number }): Promise<Frame> {
  const signal = options.signal ?? AbortSignal.timeout(options.timeoutMs ?? 30_000)
  for (;;) {
    let frame
    try {
      frame = await frames.read({ signal })
    } catch (err) {
      if (signal.aborted) {
        const reason = signal.reason as Error | undefined
        if (reason?.name === 'TimeoutError') throw new TimeoutError(`no ${kind} from the provider in time`)
        throw new AbortError('the job was aborted')
      }
      if (err instanceof ProtocolError) throw new ConnectionError(`the provider sent a bad frame: ${err.message}`)
      throw new ConnectionError(`the session broke: ${(err as Error).message}`)
    }
    if (frame.kind === kind) {
      if (kind !== 'result' || frame.result!.jobId === jobId) return frame
      continue // a result for an earlier, abandoned job
    }
    if (frame.kind === 'error') {
      const e = frame.error!
      if (e.jobId === 0n || e.jobId === jobId) throw new JobFailedError(e.code, e.message, e.jobId)
      continue
    }
    throw new ConnectionError(`the provider sent ${frame.kind} where ${kind} was due`)
  }
}
