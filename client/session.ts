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
import type { SessionTier, TierStanding } from './session-tier.ts'
import { FrameStream } from '../protocol/wire/stream.ts'
import { helloProof } from '../protocol/wire/hello.ts'
import { AbortError, BudgetExceededError, ChannelError, ConnectionError, InvalidReceiptError, JobFailedError, ProviderRejectedError, TimeoutError, UnknownModelError } from './errors.ts'
import { verifyReceipt } from './verify.ts'

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
  /**
   * the trust tier that served it: 'tdx' (attested confidential VM), 'dev' (local only), 'none';
   * that of the provider's verdict valid when the result was verified, never one that had lapsed
   */
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
  /** refuse (and do not pay) a result that costs more than this, in nanoton; default: the job's most units at the offered price */
  maxCost?: bigint
}

/** Where the client's payments on one channel stand. */
export interface ChannelPosition {
  seqno: number
  amount: bigint
  root: Buffer
}

/**
 * Counts the tokens of a delivered text with the model's own tokenizer (no special tokens). A
 * node's token count above this plus one (the end token) is refused; a BPE tokenizer's canonical
 * count is not below the tokens a model generated for the text in practice (finer splits than the
 * canonical ones are rare), so an honest node passes.
 */
export type TokenCounter = (text: string) => number

export interface SessionInit {
  /** the node key proven in the Noise handshake */
  peerKey: Buffer
  clientKey: KeyPair
  /** the network the client runs on (receipts, vouchers and hellos name it) */
  globalId: number
  timeoutMs: number
  /** per model name or hash hex: the tokenizer's count, to check chat units against the text */
  tokenCounters?: Readonly<Record<string, TokenCounter>>
}

/** Bytes of streamed text one chat may buffer per token it asked for (no token decodes to more). */
const MAX_PIECE_BYTES_PER_TOKEN = 64

/**
 * One long-lived job stream to one provider. Jobs run one at a time; each result is verified
 * before it is paid with the next voucher.
 */
export class ProviderSession {
  /** the models this session may use: what the node serves, less what the Registry does not allow */
  models: ModelInfo[]
  private refused: ModelInfo[] = []
  private tooExpensive: ModelInfo[] = []
  private position: ChannelPosition = { seqno: 0, amount: 0n, root: ZERO_ROOT }
  private channel?: Address
  private nextJobId = 1n
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false
  /** the nonce of the node's last Welcome, signed by the Hello that binds a channel */
  private nonce: Uint8Array
  /** set by the client after checking the provider's attestation; kept fresh while the session lives */
  private teeTier?: SessionTier
  /** the Provider's registration epoch, set by the client from the chain; no job runs before */
  epoch?: number

  constructor (private readonly frames: FrameStream, readonly welcome: Welcome, private readonly init: SessionInit) {
    this.models = welcome.models
    this.nonce = welcome.nonce
  }

  static async open (stream: Stream, init: SessionInit): Promise<ProviderSession> {
    const frames = new FrameStream(stream)
    await frames.write({ hello: { channel: '', signature: new Uint8Array(0) } })
    const reply = await expectFrame(frames, 'welcome', 0n, { timeoutMs: init.timeoutMs })
    return new ProviderSession(frames, reply.welcome!, init)
  }

  /** The provider's trust tier now: that of a verdict still valid, else 'none'. */
  get tier (): TeeTier {
    return this.teeTier?.tierAt() ?? 'none'
  }

  /** Where the provider's attestation stands (undefined before the client checked it). */
  get teeStanding (): TierStanding | undefined {
    return this.teeTier?.standing
  }

  /** The client's keeper of this provider's attestation (renewals, policy); once, before any job. */
  attachTier (tier: SessionTier): void {
    if (this.teeTier !== undefined) throw new Error('the session already has a tier keeper')
    this.teeTier = tier
  }

  /**
   * Ended: closed by the caller, after a broken job, because a required tier was lost, or by the
   * node (its idle timeout, a restart) — a stream the node closed can carry no more jobs.
   */
  get isClosed (): boolean {
    const stream = this.frames.stream
    return this.closed || stream.status !== 'open' || stream.remoteWriteStatus !== 'writable'
  }

  get peerKey (): Buffer {
    return this.init.peerKey
  }

  get paid (): ChannelPosition {
    return { ...this.position }
  }

  get channelAddress (): Address | undefined {
    return this.channel
  }

  /** Keeps only `allowed` of the node's models usable (the rest are refused with a clear error). */
  restrictModels (allowed: ModelInfo[]): void {
    this.refused.push(...this.models.filter((m) => !allowed.includes(m)))
    this.models = allowed
  }

  /** Refuses, before any job, the models the node prices above `max` nanoton per unit. */
  limitPrice (max: bigint): void {
    this.tooExpensive.push(...this.models.filter((m) => m.pricePerUnit > max))
    this.models = this.models.filter((m) => m.pricePerUnit <= max)
  }

  model (nameOrHash: string | Uint8Array): ModelInfo {
    const named = (x: ModelInfo): boolean => typeof nameOrHash === 'string'
      ? x.name === nameOrHash || Buffer.from(x.hash).toString('hex') === nameOrHash
      : Buffer.from(x.hash).equals(Buffer.from(nameOrHash))
    const m = this.models.find(named)
    const label = typeof nameOrHash === 'string' ? nameOrHash : Buffer.from(nameOrHash).toString('hex')
    if (m === undefined && this.tooExpensive.some(named)) {
      const price = this.tooExpensive.find(named)!.pricePerUnit
      throw new ProviderRejectedError('PRICE_TOO_HIGH', `the provider charges ${price} nanoton per unit for ${label}, above your maxPricePerUnit`)
    }
    if (m === undefined && this.refused.some(named)) throw new UnknownModelError(`${label} is not on the Registry's model allow-list`)
    if (m === undefined) throw new UnknownModelError(`the provider does not serve ${label}`)
    return m
  }

  /**
   * Binds the session to a channel, proving with the client key that the channel is ours. The
   * node answers with the last voucher it holds and the receipts still owed on the channel; after
   * checking that the voucher carries our signature and the receipts the node's, payments resume
   * from there and what is owed is paid at once (at most the node's credit plus one job).
   */
  async bind (channel: Address, options: RunOptions = {}): Promise<void> {
    await this.exclusive(async () => {
      if (this.channel !== undefined) throw new ChannelError('the session is already bound to a channel')
      const proof = helloProof({ globalId: this.init.globalId, channel, nodeKey: this.init.peerKey, nonce: this.nonce })
      const limits = this.limits(options)
      await this.send({ hello: { channel: channel.toRawString(), signature: signCell(proof, this.init.clientKey.secretKey) } }, limits)
      const { welcome } = await expectFrame(this.frames, 'welcome', 0n, limits)
      let position: ChannelPosition = { seqno: 0, amount: 0n, root: ZERO_ROOT }
      if (welcome!.lastVoucher.length > 0) {
        const cell = cellFromBoc(welcome!.lastVoucher, 'MALFORMED_VOUCHER')
        const v = parseVoucher(cell)
        if (v.globalId !== this.init.globalId || !v.channel.equals(channel) || !verifyCell(cell, welcome!.lastVoucherSig, this.init.clientKey.publicKey)) {
          throw new ChannelError('the node holds a last voucher that is not ours for this channel')
        }
        position = { seqno: v.seqno, amount: v.amount, root: v.receiptsRoot }
      }
      this.channel = channel
      this.position = position
      if (welcome!.owed.length > 0) await this.payOwed(channel, welcome!, limits)
    })
  }

  /** Pays the receipts a previous session left owed: each signed by the node, for this channel and network. */
  private async payOwed (channel: Address, welcome: Welcome, limits: { signal: AbortSignal }): Promise<void> {
    let next = { ...this.position }
    let largest = 0n
    for (const owed of welcome.owed) {
      const cell = cellFromBoc(owed.receipt, 'MALFORMED_RECEIPT')
      let r: Receipt
      try { r = parseReceipt(cell) } catch (err) { throw new InvalidReceiptError('MALFORMED', (err as Error).message) }
      if (!verifyCell(cell, owed.signature, this.init.peerKey)) throw new InvalidReceiptError('BAD_SIGNATURE', 'an owed receipt is not signed by the node')
      if (r.globalId !== this.init.globalId) throw new InvalidReceiptError('WRONG_NETWORK', 'an owed receipt is for another network')
      if (!r.channel.equals(channel)) throw new InvalidReceiptError('WRONG_CHANNEL', 'an owed receipt names another channel')
      const offered = this.models.find((m) => Buffer.from(m.hash).equals(r.modelHash)) ?? this.refused.find((m) => Buffer.from(m.hash).equals(r.modelHash))
      if (offered === undefined || offered.pricePerUnit !== r.price) throw new InvalidReceiptError('WRONG_PRICE', 'an owed receipt is not priced as the node offers its model')
      const cost = receiptCost(r)
      if (cost > largest) largest = cost
      next = { seqno: next.seqno, amount: next.amount + cost, root: nextReceiptsRoot(next.root, cell) }
    }
    // the node lets no more than its credit build up, plus the job that crossed it
    if (next.amount - this.position.amount > welcome.credit + largest) {
      throw new ChannelError(`the node says ${next.amount - this.position.amount} nanoton are owed, more than its credit allows`)
    }
    next.seqno = this.position.seqno + 1
    await this.pay(channel, next, limits)
  }

  private async pay (channel: Address, next: ChannelPosition, limits: { signal: AbortSignal }): Promise<void> {
    const voucher = buildVoucher({ globalId: this.init.globalId, channel, seqno: next.seqno, amount: next.amount, receiptsRoot: next.root })
    await this.send({ voucher: { voucher: voucher.toBoc(), signature: signCell(voucher, this.init.clientKey.secretKey) } }, limits)
    await expectFrame(this.frames, 'voucherAck', 0n, limits)
    this.position = next
  }

  /** Runs one tensor job, verifies its receipt, pays for it, and returns the outputs. */
  async run (model: string | Uint8Array, inputs: Tensor[], options: RunOptions = {}): Promise<JobResult> {
    const info = this.model(model)
    const inputHash = hashTensors(inputs)
    const maxUnits = Math.max(1, inputs[0]?.dims[0] ?? 1)
    const paid = await this.job(info, { inputs: inputs.map(toWireTensor) }, options, maxUnits, (result) => {
      const outputs = fromWireTensors(result.outputs)
      return { output: outputs, outputHash: hashTensors(outputs), inputHash, complete: 'required' }
    })
    return { ...paid.paid, outputs: paid.output }
  }

  /** Classifies texts (e.g. moderation): per text, every label of the model with its score. */
  async classify (model: string | Uint8Array, texts: string[], options: RunOptions = {}): Promise<ClassifyResult> {
    const info = this.model(model)
    const paid = await this.job(info, { texts }, options, texts.length, (result) => {
      const labels = result.labels.map((set) => set.labels.map((l) => ({ label: l.label, score: l.score })))
      if (labels.length !== texts.length) throw new InvalidReceiptError('OUTPUT_MISMATCH', `${labels.length} label sets for ${texts.length} texts`)
      return { output: labels, outputHash: classificationOutputHash(labels), inputHash: classificationInputHash(texts), complete: 'required', units: { min: texts.length, max: texts.length } }
    })
    return { ...paid.paid, labels: paid.output }
  }

  /**
   * Generates a reply, streamed: iterate to get text pieces as the node produces them; `result`
   * resolves to the verified, paid whole. Breaking out of the loop cancels the job (the tokens
   * generated so far are still billed and verified, and the receipt marks the result partial).
   */
  chat (model: string | Uint8Array, request: ChatRequest, options: RunOptions = {}): ChatStream {
    const info = this.model(model)
    const maxNewTokens = request.maxNewTokens ?? 128
    const wire = { messages: request.messages ?? [], prompt: request.prompt ?? '', maxNewTokens }
    const counter = this.init.tokenCounters?.[info.name] ?? this.init.tokenCounters?.[Buffer.from(info.hash).toString('hex')]
    // a node streams at most one piece per token; anything beyond is refused, not buffered
    const maxStreamedBytes = maxNewTokens * MAX_PIECE_BYTES_PER_TOKEN
    const pieces: string[] = []
    let streamed = ''
    let streamedPieces = 0
    let wake: (() => void) | undefined
    let finished = false
    let cancelled = false
    let jobId = 0n
    const result = this.job(info, { ...wire, stream: true }, options, maxNewTokens, (r) => {
      const text = r.text ?? ''
      const tokens = r.tokens ?? 0
      if (streamed !== text) throw new InvalidReceiptError('OUTPUT_MISMATCH', 'the streamed pieces differ from the final text')
      // one unit per generated token, an end token (which decodes to nothing) included: never
      // more than the request allowed, nor than the delivered text holds by the model's tokenizer
      const most = counter !== undefined ? counter(text) + 1 : maxNewTokens
      if (tokens > most) throw new InvalidReceiptError('WRONG_UNITS', `the node reports ${tokens} tokens for a text the tokenizer counts as ${most - 1}`)
      return {
        output: { text, tokens },
        outputHash: generationOutputHash({ text, tokens }),
        inputHash: generationInputHash(wire),
        complete: cancelled ? 'any' : 'required',
        units: { min: tokens, max: tokens }
      }
    }, (id, piece) => {
      jobId = id
      streamedPieces++
      if (streamedPieces > maxNewTokens || Buffer.byteLength(streamed) + Buffer.byteLength(piece) > maxStreamedBytes) {
        throw new ConnectionError(`the provider streamed more than ${maxNewTokens} tokens can hold`)
      }
      streamed += piece
      pieces.push(piece)
      wake?.()
    }).then((paid) => ({ ...paid.paid, ...paid.output })).finally(() => { finished = true; wake?.() })
    result.catch(() => {})
    const cancel = async (): Promise<void> => {
      if (finished || jobId === 0n) return
      cancelled = true
      await this.frames.write({ cancel: { jobId } }).catch(() => {})
    }
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
   * sent and received, pay with the next voucher. Jobs of one session run one at a time. Every
   * job has a most it may cost: the caller's maxCost, else its most units at the offered price.
   */
  private async job<T> (
    info: ModelInfo,
    body: Partial<JobRequest>,
    options: RunOptions,
    maxUnits: number,
    check: (result: WireJobResult) => { output: T, inputHash: Buffer, outputHash: Buffer, complete: 'required' | 'any', units?: { min: number, max: number } },
    onPartial?: (jobId: bigint, text: string) => void
  ): Promise<{ paid: PaidJob, output: T }> {
    return await this.exclusive(async () => {
      const channel = this.channel
      if (channel === undefined) throw new JobFailedError('NO_CHANNEL', 'bind the session to a channel first', 0n)
      const epoch = this.epoch
      if (epoch === undefined) throw new ConnectionError('the provider is not verified on chain: connect through SilkClient.connect')
      const worstCase = BigInt(maxUnits) * info.pricePerUnit
      // refused before it runs: a node must not work for a result the client would not pay
      if (options.maxCost !== undefined && worstCase > options.maxCost) throw new BudgetExceededError(worstCase, options.maxCost)
      const maxCost = options.maxCost ?? worstCase
      const limits = this.limits(options)
      // a verdict due for renewal is renewed first; under `required`, no valid one refuses the job
      await this.teeTier?.ensure(limits.signal)
      const jobId = this.nextJobId++
      try {
        await this.send({ job: jobRequest({ ...body, jobId, modelHash: info.hash }) }, limits)
        const { result } = await expectFrame(this.frames, 'result', jobId, limits, onPartial !== undefined ? (text) => { onPartial(jobId, text) } : undefined)
        const checked = check(result!)
        const receiptCell = cellFromBoc(result!.receipt, 'MALFORMED_RECEIPT')
        const signature = Buffer.from(result!.signature)
        const receipt = verifyReceipt(receiptCell, signature, {
          nodeKey: this.init.peerKey,
          globalId: this.init.globalId,
          epoch,
          channel,
          jobId,
          model: info,
          inputHash: checked.inputHash,
          outputHash: checked.outputHash,
          maxUnits,
          ...(checked.units !== undefined ? { units: checked.units } : {}),
          complete: checked.complete,
          maxCost
        })
        // the tier valid now, as the result is accepted; under `required` a lapsed one refuses it (unpaid,
        // the session closed: the node holds the receipt as owed, paid when the channel is bound again)
        const tier = this.teeTier?.tierForResult() ?? 'none'
        const cost = receiptCost(receipt)
        const next: ChannelPosition = {
          seqno: this.position.seqno + 1,
          amount: this.position.amount + cost,
          root: nextReceiptsRoot(this.position.root, receiptCell)
        }
        await this.pay(channel, next, limits)
        return { paid: { receipt, receiptCell, signature, cost, seqno: next.seqno, tier }, output: checked.output }
      } catch (err) {
        // A timed-out or aborted job leaves the stream mid-conversation; a refused result leaves
        // it unpaid (the node would ask for it first): end the session either way.
        if (err instanceof TimeoutError || err instanceof AbortError || err instanceof ConnectionError || err instanceof InvalidReceiptError) await this.close()
        throw err
      }
    })
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.teeTier?.stop()
    try { await this.frames.stream.close() } catch { this.frames.stream.abort(new Error('closed')) }
  }

  /** Writes a frame; a stream the node closed or reset is a ConnectionError (the pool reconnects). */
  private async send (frame: Frame, limits: { signal: AbortSignal }): Promise<void> {
    try {
      await this.frames.write(frame, limits)
    } catch (err) {
      if (limits.signal.aborted) throw err
      throw new ConnectionError(`the session broke: ${(err as Error).message}`)
    }
  }

  private limits (options: RunOptions): { signal: AbortSignal } {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.init.timeoutMs)
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
      // the node ended the session for being idle: nothing ran, a fresh session will do
      if (e.jobId === 0n && e.code === 'IDLE_TIMEOUT') throw new ConnectionError(`the provider closed the session: ${e.message}`)
      if (e.jobId === 0n || e.jobId === jobId) throw new JobFailedError(e.code, e.message, e.jobId)
      continue
    }
    throw new ConnectionError(`the provider sent ${frame.kind} where ${kind} was due`)
  }
}
