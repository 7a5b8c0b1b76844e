import type { Stream } from '@libp2p/interface'
import type { Address, Cell } from '@ton/core'
import type { KeyPair } from '@ton/crypto'
import {
  buildVoucher, cellFromBoc, nextReceiptsRoot, parseReceipt, parseVoucher, receiptCost, signCell, verifyCell,
  ZERO_ROOT, type Receipt
} from '../protocol/cells.ts'
import { ProtocolError } from '../protocol/errors.ts'
import { hashTensors, type Tensor } from '../protocol/tensor.ts'
import {
  fromWireTensors, jobRequest, toWireTensor, type Frame, type FrameKind, type JobRequest, type JobResult as WireJobResult, type ModelInfo, type Welcome
} from '../protocol/wire/frames.ts'
import {
  classificationInputHash, classificationOutputHash, generationInputHash, generationOutputHash, type ChatTurn, type ScoredLabel
} from '../protocol/text.ts'
import type { TeeTier } from '../protocol/attestation.ts'
import { FrameStream } from '../protocol/wire/stream.ts'
import { AbortError, ConnectionError, InvalidReceiptError, JobFailedError, TimeoutError, UnknownModelError } from './errors.ts'

/** What every paid job returns besides its output. */
export interface PaidJob {
  /** the verified receipt and the node's signature over it */
  receipt: Receipt
  receiptCell: Cell
  signature: Buffer
  /** nanoton paid for this job by the voucher sent after it */
  cost: bigint
  /** seqno of that voucher */
  seqno: number
  /** the trust tier that served it: 'tdx' (attested confidential VM), 'dev' (local only), 'none' */
  tier: TeeTier
}

export interface JobResult extends PaidJob { outputs: Tensor[] }
export interface ClassifyResult extends PaidJob { labels: ScoredLabel[][] }
export interface ChatResult extends PaidJob { text: string, tokens: number }

export interface ChatRequest {
  messages?: ChatTurn[]
  prompt?: string
  /** default 128 */
  maxNewTokens?: number
}

/** Text pieces as they are generated; `result` is the verified, paid whole. */
export interface ChatStream extends AsyncGenerator<string, void, undefined> {
  result: Promise<ChatResult>
  cancel: () => Promise<void>
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
  /** the models this session may use: what the node serves, less what the Registry does not allow */
  models: ModelInfo[]
  private refused: ModelInfo[] = []
  private position: ChannelPosition = { seqno: 0, amount: 0n, root: ZERO_ROOT }
  private channel?: Address
  private nextJobId = 1n
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false
  /** set by the client after checking the provider's attestation */
  tier: TeeTier = 'none'

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

  /** Keeps only `allowed` of the node's models usable (the rest are refused with a clear error). */
  restrictModels (allowed: ModelInfo[]): void {
    this.refused = this.models.filter((m) => !allowed.includes(m))
    this.models = allowed
  }

  model (nameOrHash: string | Uint8Array): ModelInfo {
    const m = this.models.find((m) => typeof nameOrHash === 'string'
      ? m.name === nameOrHash || Buffer.from(m.hash).toString('hex') === nameOrHash
      : Buffer.from(m.hash).equals(Buffer.from(nameOrHash)))
    const named = (x: ModelInfo): boolean => typeof nameOrHash === 'string' ? x.name === nameOrHash : Buffer.from(x.hash).equals(Buffer.from(nameOrHash))
    if (m === undefined && this.refused.some(named)) throw new UnknownModelError(`${typeof nameOrHash === 'string' ? nameOrHash : 'this model'} is not on the Registry's model allow-list`)
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

  /** Runs one tensor job, verifies its receipt, pays for it, and returns the outputs. */
  async run (model: string | Uint8Array, inputs: Tensor[], options: RunOptions = {}): Promise<JobResult> {
    const info = this.model(model)
    const inputHash = hashTensors(inputs)
    const paid = await this.job(info, { inputs: inputs.map(toWireTensor) }, options, (result) => {
      const outputs = fromWireTensors(result.outputs)
      return { output: outputs, outputHash: hashTensors(outputs), inputHash, maxUnits: Math.max(1, inputs[0]?.dims[0] ?? 1) }
    })
    return { ...paid.paid, outputs: paid.output }
  }

  /** Classifies texts (e.g. moderation): per text, every label of the model with its score. */
  async classify (model: string | Uint8Array, texts: string[], options: RunOptions = {}): Promise<ClassifyResult> {
    const info = this.model(model)
    const paid = await this.job(info, { texts }, options, (result) => {
      const labels = result.labels.map((set) => set.labels.map((l) => ({ label: l.label, score: l.score })))
      return { output: labels, outputHash: classificationOutputHash(labels), inputHash: classificationInputHash(texts), maxUnits: texts.length }
    })
    return { ...paid.paid, labels: paid.output }
  }

  /**
   * Generates a reply, streamed: iterate to get text pieces as the node produces them; `result`
   * resolves to the verified, paid whole. Breaking out of the loop cancels the job (the tokens
   * generated so far are still billed and verified).
   */
  chat (model: string | Uint8Array, request: ChatRequest, options: RunOptions = {}): ChatStream {
    const info = this.model(model)
    const maxNewTokens = request.maxNewTokens ?? 128
    const wire = { messages: request.messages ?? [], prompt: request.prompt ?? '', maxNewTokens }
    const pieces: string[] = []
    const streamed: string[] = []
    let wake: (() => void) | undefined
    let finished = false
    let jobId = 0n
    const result = this.job(info, { ...wire, stream: true }, options, (r) => {
      const text = r.text ?? ''
      const tokens = r.tokens ?? 0
      if (streamed.join('') !== text) throw new InvalidReceiptError('OUTPUT_MISMATCH', 'the streamed pieces differ from the final text')
      return { output: { text, tokens }, outputHash: generationOutputHash({ text, tokens }), inputHash: generationInputHash(wire), maxUnits: maxNewTokens, exactUnits: tokens }
    }, (id, piece) => {
      jobId = id
      streamed.push(piece)
      pieces.push(piece)
      wake?.()
    }).then((paid) => ({ ...paid.paid, ...paid.output })).finally(() => { finished = true; wake?.() })
    result.catch(() => {})
    const cancel = async (): Promise<void> => { if (!finished && jobId !== 0n) await this.frames.write({ cancel: { jobId } }).catch(() => {}) }
    async function * iterate (): AsyncGenerator<string, void, undefined> {
      try {
        for (;;) {
          while (pieces.length > 0) yield pieces.shift()!
          if (finished) break
          await new Promise<void>((resolve) => { wake = resolve })
          wake = undefined
        }
        await result
      } finally {
        await cancel()
      }
    }
    return Object.assign(iterate(), { result, cancel })
  }

  /**
   * The life of one job: send it, collect streamed pieces, check the receipt against what was
   * sent and received, pay with the next voucher. Jobs of one session run one at a time.
   */
  private async job<T> (
    info: ModelInfo,
    body: Partial<JobRequest>,
    options: RunOptions,
    check: (result: WireJobResult) => { output: T, inputHash: Buffer, outputHash: Buffer, maxUnits: number, exactUnits?: number },
    onPartial?: (jobId: bigint, text: string) => void
  ): Promise<{ paid: PaidJob, output: T }> {
    return await this.exclusive(async () => {
      const channel = this.channel
      if (channel === undefined) throw new JobFailedError('NO_CHANNEL', 'bind the session to a channel first', 0n)
      const jobId = this.nextJobId++
      const limits = this.limits(options)
      try {
        await this.frames.write({ job: jobRequest({ ...body, jobId, modelHash: info.hash }) }, limits)
        const { result } = await expectFrame(this.frames, 'result', jobId, limits, onPartial !== undefined ? (text) => { onPartial(jobId, text) } : undefined)
        const checked = check(result!)
        const receiptCell = cellFromBoc(result!.receipt, 'MALFORMED_RECEIPT')
        const signature = Buffer.from(result!.signature)
        const receipt = this.verify(receiptCell, signature, { channel, jobId, info, ...checked, maxCost: options.maxCost })
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
        return { paid: { receipt, receiptCell, signature, cost, seqno: next.seqno, tier: this.tier }, output: checked.output }
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
    channel: Address, jobId: bigint, info: ModelInfo, inputHash: Buffer, outputHash: Buffer, maxUnits: number, exactUnits?: number, maxCost: bigint | undefined
  }): Receipt {
    let r: Receipt
    try { r = parseReceipt(cell) } catch (err) { throw new InvalidReceiptError('MALFORMED', (err as Error).message) }
    if (!verifyCell(cell, signature, this.peerKey)) throw new InvalidReceiptError('BAD_SIGNATURE', 'receipt is not signed by the provider\'s node key')
    if (!r.channel.equals(want.channel)) throw new InvalidReceiptError('WRONG_CHANNEL', 'receipt names another channel')
    if (r.jobId !== want.jobId) throw new InvalidReceiptError('WRONG_JOB', `receipt is for job ${r.jobId}, not ${want.jobId}`)
    if (!r.modelHash.equals(Buffer.from(want.info.hash))) throw new InvalidReceiptError('WRONG_MODEL', 'receipt names another model')
    if (!r.inputHash.equals(want.inputHash)) throw new InvalidReceiptError('INPUT_MISMATCH', 'receipt input hash does not match what was sent')
    if (!r.outputHash.equals(want.outputHash)) throw new InvalidReceiptError('OUTPUT_MISMATCH', 'receipt output hash does not match what was received')
    if (r.price !== want.info.pricePerUnit || r.deterministic !== want.info.deterministic) {
      throw new InvalidReceiptError('WRONG_PRICE', `receipt charges ${r.price} per unit; the provider advertised ${want.info.pricePerUnit}`)
    }
    if (r.units > want.maxUnits || (want.exactUnits !== undefined && r.units !== want.exactUnits)) {
      throw new InvalidReceiptError('WRONG_UNITS', `receipt bills ${r.units} units for this job`)
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
async function expectFrame (
  frames: FrameStream, kind: FrameKind, jobId: bigint, options: { signal?: AbortSignal, timeoutMs?: number }, onPartial?: (text: string) => void
): Promise<Frame> {
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
    if (frame.kind === 'partial') {
      if (frame.partial!.jobId === jobId) onPartial?.(frame.partial!.text)
      continue
    }
    if (frame.kind === 'error') {
      const e = frame.error!
      if (e.jobId === 0n || e.jobId === jobId) throw new JobFailedError(e.code, e.message, e.jobId)
      continue
    }
    throw new ConnectionError(`the provider sent ${frame.kind} where ${kind} was due`)
  }
}
