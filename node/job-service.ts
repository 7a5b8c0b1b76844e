import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { Address, type Cell } from '@ton/core'
import type { Logger } from 'pino'
import {
  buildReceipt, cellFromBoc, nextReceiptsRoot, parseVoucher, receiptCost, signCell, verifyCell
} from '../protocol/cells.ts'
import { ProtocolError } from '../protocol/errors.ts'
import { hashTensors, type Tensor } from '../protocol/tensor.ts'
import { FRAME_LIMITS, JOB_PROTOCOL, WIRE_ERRORS, type WireErrorCode } from '../protocol/wire/constants.ts'
import { fromWireTensors, toWireTensor, type Frame, type JobRequest, type JobResult, type VoucherFrame } from '../protocol/wire/frames.ts'
import {
  CHAT_ROLES, classificationInputHash, classificationOutputHash, generationInputHash, generationOutputHash, type ChatTurn, type ScoredLabel
} from '../protocol/text.ts'
import { AbortedError } from './errors.ts'
import { FrameStream } from '../protocol/wire/stream.ts'
import type { Identity } from '../protocol/keys.ts'
import type { ChannelState } from './chain.ts'
import type { NodeMetrics } from './metrics.ts'
import type { ChannelLedger, VoucherStore } from './vouchers.ts'

export interface ServedModel {
  name: string
  hash: Buffer
  task: string
  pricePerUnit: bigint
  deterministic: boolean
  generation?: { maxNewTokens: number }
}

export interface GenerateRequest {
  messages?: ChatTurn[]
  prompt?: string
  maxNewTokens: number
  signal?: AbortSignal
}

/** What the job service needs of inference (the Batcher in front of the ModelStore provides it). */
export interface Inference {
  list(): readonly ServedModel[]
  run(modelHash: Buffer, inputs: Tensor[]): Promise<{ outputs: Tensor[], units: number }>
  classify(modelHash: Buffer, texts: string[]): Promise<{ labels: ScoredLabel[][], units: number }>
  generate(modelHash: Buffer, request: GenerateRequest, onToken?: (text: string) => void): Promise<{ text: string, tokens: number, units: number }>
}

/** Jobs one session may queue behind the running one. */
const MAX_QUEUED_JOBS = 8

export interface ChannelReader {
  /** The channel as deployed, checked to be a genuine channel of this node; undefined otherwise. */
  channelFor(address: Address): Promise<ChannelState | undefined>
}

export interface JobServiceComponents {
  libp2p: Libp2p
  identity: Identity
  models: Inference
  vouchers: VoucherStore
  chain: ChannelReader
  logger: Logger
  metrics?: NodeMetrics
}

export interface JobServiceInit {
  providerOwner: Address
  provider: Address
  /** nanoton served beyond the last voucher; 0 = one job at a time (the default) */
  credit?: bigint
  maxSessions?: number
  /** sessions one peer may hold at once; more are refused with OVERLOADED */
  maxSessionsPerPeer?: number
  /** how long stop() waits for jobs in flight, ms */
  drainTimeoutMs?: number
  /** a session must deliver each complete frame within this, ms (idle clients and slow senders are cut off) */
  idleTimeoutMs?: number
  /** bytes per second one peer may send across its sessions, averaged over a few seconds */
  maxBytesPerSecond?: number
  /** called after every voucher is stored, so settlement can decide whether to claim */
  onVoucher?: (ledger: ChannelLedger) => void
  /** unix seconds for receipts (injected so tests control time) */
  now?: () => number
}

/** A typed failure that ends up as an ErrorFrame; the session goes on unless `fatal`. */
export class JobError extends Error {
  override name = 'JobError'
  constructor (readonly code: WireErrorCode, message: string, readonly fatal = false) {
    super(message)
  }
}

interface Unpaid { receipt: Cell, cost: bigint }

/** Serves /silk/job/1.0.0: one long-lived stream per client session, frames in order. */
export class JobService {
  private readonly sessions = new Map<string, Session>()
  private readonly open = new Set<Session>()
  private readonly perPeer = new Map<string, number>()
  private readonly budgets = new Map<string, { tokens: number, at: number }>()
  private started = false
  /** set by stop(): sessions finish the job in hand and take no more */
  draining = false

  constructor (readonly components: JobServiceComponents, readonly init: JobServiceInit) {}

  async start (): Promise<void> {
    if (this.started) return
    await this.components.libp2p.handle(JOB_PROTOCOL, (stream, connection) => { void this.serve(stream, connection) }, {
      maxInboundStreams: this.init.maxSessions ?? 256
    })
    this.started = true
  }

  /** Takes no new sessions or jobs, lets jobs in flight finish (bounded), then closes every session. */
  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.draining = true
    await this.components.libp2p.unhandle(JOB_PROTOCOL)
    const inFlight = [...this.open].map(async (s) => { await s.idle() })
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.all(inFlight), new Promise((resolve) => { timer = setTimeout(resolve, this.init.drainTimeoutMs ?? 30_000) })])
    clearTimeout(timer)
    await Promise.all([...this.open].map(async (s) => { await s.close() }))
    this.sessions.clear()
    this.draining = false
  }

  get activeSessions (): number {
    return this.open.size
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    const session = new Session(this, new FrameStream(stream), peer)
    const held = this.perPeer.get(peer) ?? 0
    if (held >= (this.init.maxSessionsPerPeer ?? 8)) {
      await session.refuse(new JobError('OVERLOADED', `at most ${this.init.maxSessionsPerPeer ?? 8} sessions per peer`, true))
      return
    }
    this.perPeer.set(peer, held + 1)
    this.open.add(session)
    this.components.metrics?.sessions.set(this.open.size)
    try {
      await session.run()
    } catch (err) {
      this.components.logger.debug({ peer, err: (err as Error).message }, 'session ended')
    } finally {
      if (session.channel !== undefined && this.sessions.get(session.channel.toRawString()) === session) {
        this.sessions.delete(session.channel.toRawString())
      }
      this.open.delete(session)
      const left = (this.perPeer.get(peer) ?? 1) - 1
      if (left > 0) this.perPeer.set(peer, left)
      else this.perPeer.delete(peer)
      this.components.metrics?.sessions.set(this.open.size)
      await session.close()
    }
  }

  /**
   * Token bucket per peer: refills at maxBytesPerSecond, holds up to four seconds' worth (at least
   * one largest frame). False when the peer is over its budget.
   */
  spend (peer: string, bytes: number): boolean {
    const rate = this.init.maxBytesPerSecond ?? 64 * 1024 * 1024
    const cap = Math.max(4 * rate, 2 * FRAME_LIMITS.maxFrameBytes)
    const now = Date.now()
    const b = this.budgets.get(peer) ?? { tokens: cap, at: now }
    b.tokens = Math.min(cap, b.tokens + (now - b.at) / 1000 * rate) - bytes
    b.at = now
    this.budgets.set(peer, b)
    return b.tokens >= 0
  }

  /** One live session per channel: a reconnecting client takes over from its stale session. */
  bind (session: Session, channel: Address): void {
    const key = channel.toRawString()
    const previous = this.sessions.get(key)
    if (previous !== undefined && previous !== session) void previous.close()
    this.sessions.set(key, session)
  }
}

interface Outcome {
  units: number
  inputHash: Buffer
  outputHash: Buffer
  result: Omit<JobResult, 'jobId' | 'receipt' | 'signature'>
}

class Session {
  channel?: Address
  private state?: ChannelState
  private unpaid: Unpaid[] = []
  /** jobs run one after another on this chain; stop() and in-order frames wait on it */
  private current: Promise<void> = Promise.resolve()
  private queuedJobs = 0
  private running?: { jobId: bigint, abort: AbortController }

  constructor (private readonly service: JobService, private readonly frames: FrameStream, readonly peer: string) {}

  private get c (): JobServiceComponents { return this.service.components }

  async run (): Promise<void> {
    for (;;) {
      let frame
      const seen = this.frames.bytesRead
      const deadline = AbortSignal.timeout(this.service.init.idleTimeoutMs ?? 120_000)
      try {
        frame = await this.frames.read({ signal: deadline })
      } catch (err) {
        if (deadline.aborted) {
          await this.sendError(0n, new JobError('IDLE_TIMEOUT', 'no complete frame in time; session closed', true))
          return
        }
        if (err instanceof ProtocolError) {
          // An oversize length prefix leaves the stream mid-frame: say why, then end the session.
          const jobErr = toJobError(err)
          await this.sendError(0n, jobErr)
          if (jobErr.fatal) return
          continue
        }
        return // stream closed or reset
      }
      if (!this.service.spend(this.peer, this.frames.bytesRead - seen)) {
        await this.sendError(0n, new JobError('RATE_LIMITED', 'too many bytes per second from this peer; session closed', true))
        return
      }
      if (this.service.draining) {
        await this.sendError(frame.job?.jobId ?? 0n, new JobError('SHUTTING_DOWN', 'the node is shutting down; use another provider', true))
        return
      }
      if (frame.kind === 'job') {
        this.enqueue(frame.job!)
        continue
      }
      if (frame.kind === 'cancel') {
        // handled at once, while the job it names may still be running
        if (this.running?.jobId === frame.cancel!.jobId) this.running.abort.abort()
        continue
      }
      await this.current // hellos and vouchers act after the jobs before them
      try {
        await this.dispatch(frame)
      } catch (err) {
        if (await this.failed(0n, err)) return
      }
    }
  }

  /** Jobs run in order, one at a time, while the reader stays free to see a Cancel. */
  private enqueue (req: JobRequest): void {
    if (this.queuedJobs >= MAX_QUEUED_JOBS) {
      void this.sendError(req.jobId, new JobError('OVERLOADED', `at most ${MAX_QUEUED_JOBS} jobs may wait in one session`))
      return
    }
    this.queuedJobs++
    this.current = this.current.then(async () => {
      try {
        await this.job(req)
      } catch (err) {
        if (await this.failed(req.jobId, err)) await this.close()
      } finally {
        this.queuedJobs--
      }
    })
  }

  /** Tells the client what went wrong; true when the session must end. */
  private async failed (jobId: bigint, err: unknown): Promise<boolean> {
    const jobErr = toJobError(err)
    if (jobErr.code === 'INTERNAL') this.c.logger.error({ err }, 'job failed')
    await this.sendError(jobId, jobErr)
    return jobErr.fatal
  }

  async idle (): Promise<void> {
    await this.current
  }

  async refuse (err: JobError): Promise<void> {
    await this.sendError(0n, err)
    await this.close()
  }

  async close (): Promise<void> {
    try { await this.frames.stream.close({ signal: AbortSignal.timeout(2_000) }) } catch { this.frames.stream.abort(new Error('session closed')) }
  }

  private async dispatch (frame: Frame & { kind: string }): Promise<void> {
    switch (frame.kind) {
      case 'hello': return await this.hello(frame.hello!.channel)
      case 'voucher': return await this.voucher(frame.voucher!)
      default: throw new JobError('MALFORMED_FRAME', `a client does not send ${frame.kind} frames`)
    }
  }

  private async hello (channelText: string): Promise<void> {
    const { init } = this.service
    const welcome: NonNullable<Frame['welcome']> = {
      providerOwner: init.providerOwner.toRawString(),
      provider: init.provider.toRawString(),
      models: this.c.models.list().map((m) => ({
        name: m.name, hash: m.hash, task: m.task, pricePerUnit: m.pricePerUnit, deterministic: m.deterministic
      })),
      credit: init.credit ?? 0n,
      lastVoucher: new Uint8Array(0),
      lastVoucherSig: new Uint8Array(0)
    }
    if (channelText !== '') {
      let channel: Address
      try { channel = Address.parse(channelText) } catch { throw new JobError('BAD_CHANNEL', 'channel is not a TON address') }
      const state = await this.c.chain.channelFor(channel)
      if (state === undefined) throw new JobError('BAD_CHANNEL', `channel ${channel.toRawString()} is not an open channel with this node`)
      this.channel = channel
      this.state = state
      this.unpaid = []
      this.service.bind(this, channel)
      const ledger = this.c.vouchers.get(channel)
      if (ledger.voucher !== undefined && ledger.clientSig !== undefined) {
        welcome.lastVoucher = ledger.voucher
        welcome.lastVoucherSig = ledger.clientSig
      }
    }
    await this.frames.write({ welcome })
  }

  private async job (req: JobRequest): Promise<void> {
    if (this.channel === undefined || this.state === undefined) throw new JobError('NO_CHANNEL', 'send a Hello naming your channel before jobs')
    const credit = this.service.init.credit ?? 0n
    const owed = this.unpaid.reduce((sum, u) => sum + u.cost, 0n)
    if (this.unpaid.length > 0 && owed >= credit) {
      throw new JobError('PAYMENT_REQUIRED', `${owed} nanoton of results are unpaid; send a voucher first`)
    }
    const modelHash = Buffer.from(req.modelHash)
    const model = this.c.models.list().find((m) => m.hash.equals(modelHash))
    if (model === undefined) throw new JobError('UNKNOWN_MODEL', `no model with hash ${modelHash.toString('hex')} here`)
    const ledger = this.c.vouchers.get(this.channel)
    const most = model.pricePerUnit * BigInt(maxUnits(model, req))
    if (ledger.amount + owed + most > this.state.deposit) await this.refreshChannel()
    if (ledger.amount + owed + most > this.state.deposit) {
      throw new JobError('DEPOSIT_EXHAUSTED', `this job may cost ${most} nanoton, more than the channel deposit has left; top it up`)
    }
    const started = process.hrtime.bigint()
    const abort = new AbortController()
    this.running = { jobId: req.jobId, abort }
    let outcome: Outcome
    try {
      outcome = await this.execute(model, modelHash, req, abort.signal)
    } finally {
      this.running = undefined
    }
    const receipt = {
      channel: this.channel,
      jobId: req.jobId,
      units: outcome.units,
      price: model.pricePerUnit,
      deterministic: model.deterministic,
      time: this.service.init.now?.() ?? Math.floor(Date.now() / 1000),
      modelHash,
      inputHash: outcome.inputHash,
      outputHash: outcome.outputHash
    }
    const cell = buildReceipt(receipt)
    this.unpaid.push({ receipt: cell, cost: receiptCost(receipt) })
    await this.frames.write({
      result: { ...outcome.result, jobId: req.jobId, receipt: cell.toBoc(), signature: signCell(cell, this.c.identity.keyPair.secretKey) }
    })
    this.c.metrics?.jobs.inc({ model: model.name })
    this.c.metrics?.latency.observe({ model: model.name }, Number(process.hrtime.bigint() - started) / 1e9)
  }

  /** Runs the job on the model's task and hashes what went in and came out, as the client will. */
  private async execute (model: ServedModel, modelHash: Buffer, req: JobRequest, signal: AbortSignal): Promise<Outcome> {
    const none = { outputs: [], labels: [] }
    if (model.task === 'text-classification') {
      if (req.texts.length === 0) throw new JobError('BAD_INPUT', `model "${model.name}" classifies texts: send texts`)
      const { labels, units } = await this.c.models.classify(modelHash, req.texts)
      return {
        units,
        inputHash: classificationInputHash(req.texts),
        outputHash: classificationOutputHash(labels),
        result: { ...none, labels: labels.map((set) => ({ labels: set })) }
      }
    }
    if (model.task === 'text-generation') {
      if (req.messages.length === 0 && (req.prompt ?? '') === '') throw new JobError('BAD_INPUT', `model "${model.name}" generates text: send messages or a prompt`)
      const request = { messages: chatTurns(req), prompt: req.prompt ?? '', maxNewTokens: req.maxNewTokens ?? model.generation?.maxNewTokens ?? 0 }
      // streamed pieces go out in order, and all of them before the result
      let sent = Promise.resolve()
      const onToken = req.stream === true
        ? (text: string) => { sent = sent.then(async () => { await this.frames.write({ partial: { jobId: req.jobId, text } }) }) }
        : undefined
      let out: { text: string, tokens: number, units: number }
      try {
        out = await this.c.models.generate(modelHash, {
          ...(request.messages.length > 0 ? { messages: request.messages } : { prompt: request.prompt }),
          maxNewTokens: request.maxNewTokens,
          signal
        }, onToken)
      } catch (err) {
        // cancelled: what was generated is still a result, billed by its tokens
        if (!(err instanceof AbortedError)) throw err
        out = { text: err.text, tokens: err.tokens, units: err.tokens }
      }
      await sent
      return {
        units: out.units,
        inputHash: generationInputHash(request),
        outputHash: generationOutputHash(out),
        result: { ...none, text: out.text, tokens: out.tokens }
      }
    }
    const inputs = fromWireTensors(req.inputs)
    const { outputs, units } = await this.c.models.run(modelHash, inputs)
    return { units, inputHash: hashTensors(inputs), outputHash: hashTensors(outputs), result: { ...none, outputs: outputs.map(toWireTensor) } }
  }

  /** Re-reads the channel (a client may have topped it up, or started closing it). */
  private async refreshChannel (): Promise<void> {
    const state = await this.c.chain.channelFor(this.channel!)
    if (state === undefined) throw new JobError('BAD_CHANNEL', 'the channel is closing or closed')
    this.state = state
  }

  /** Accepts a voucher that pays exactly for a prefix of the unpaid receipts, then stores it durably. */
  private async voucher (frame: VoucherFrame): Promise<void> {
    if (this.channel === undefined || this.state === undefined) throw new JobError('NO_CHANNEL', 'send a Hello naming your channel before vouchers')
    const cell = cellFromBoc(frame.voucher, 'MALFORMED_VOUCHER')
    const v = parseVoucher(cell)
    if (!v.channel.equals(this.channel)) throw new JobError('MALFORMED_VOUCHER', 'voucher names another channel')
    if (!verifyCell(cell, frame.signature, this.state.clientKey)) throw new JobError('BAD_SIGNATURE', 'voucher signature does not match the channel client key')
    let covered = 0
    const next = await this.c.vouchers.update(this.channel, (ledger) => {
      if (v.seqno <= ledger.seqno) throw new JobError('STALE_VOUCHER', `voucher seqno ${v.seqno} is not above ${ledger.seqno}`)
      if (v.amount > this.state!.deposit) throw new JobError('UNDERPAID', 'voucher exceeds the channel deposit')
      let root = ledger.root
      let amount = ledger.amount
      for (const u of this.unpaid) {
        if (amount >= v.amount) break
        root = nextReceiptsRoot(root, u.receipt)
        amount += u.cost
        covered++
      }
      if (covered === 0 || amount !== v.amount) {
        const due = this.unpaid.reduce((sum, u) => sum + u.cost, ledger.amount)
        throw new JobError('UNDERPAID', `voucher pays ${v.amount} nanoton in total; the receipts issued come to ${due}`)
      }
      if (!root.equals(v.receiptsRoot)) throw new JobError('BAD_RECEIPTS_ROOT', 'voucher receipts root does not match the receipts issued')
      return { ...ledger, seqno: v.seqno, amount: v.amount, root, voucher: cell.toBoc(), clientSig: Buffer.from(frame.signature) }
    })
    this.unpaid = this.unpaid.slice(covered)
    await this.frames.write({ voucherAck: { seqno: v.seqno } })
    this.service.init.onVoucher?.(next)
  }

  private async sendError (jobId: bigint, err: JobError): Promise<void> {
    this.c.metrics?.errors.inc({ code: err.code })
    try {
      await this.frames.write({ error: { jobId, code: err.code, message: err.message } })
    } catch {
      // the peer is gone; nothing to tell
    }
  }
}

function chatTurns (req: JobRequest): ChatTurn[] {
  return req.messages.map((m) => {
    if (!(CHAT_ROLES as readonly string[]).includes(m.role)) throw new JobError('BAD_INPUT', `unknown chat role "${m.role}" (use ${CHAT_ROLES.join(', ')})`)
    return { role: m.role as ChatTurn['role'], content: m.content }
  })
}

/** The most units a job can be billed, known before it runs (for the deposit check). */
function maxUnits (model: ServedModel, req: JobRequest): number {
  if (model.task === 'text-classification') return Math.max(1, req.texts.length)
  if (model.task === 'text-generation') return Math.max(1, req.maxNewTokens ?? model.generation?.maxNewTokens ?? 1)
  return Math.max(1, Number(req.inputs[0]?.dims[0] ?? 1n))
}

const PASSED_THROUGH = new Set<string>(WIRE_ERRORS)

/** Maps any failure to what the client is told: typed codes pass through, the rest is INTERNAL. */
function toJobError (err: unknown): JobError {
  if (err instanceof JobError) return err
  const code = (err as { code?: unknown } | undefined)?.code
  if (err instanceof Error && typeof code === 'string' && PASSED_THROUGH.has(code)) {
    return new JobError(code as WireErrorCode, err.message, code === 'FRAME_TOO_LARGE')
  }
  return new JobError('INTERNAL', 'internal error')
}
