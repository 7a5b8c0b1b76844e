import { randomBytes } from 'node:crypto'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { Address } from '@ton/core'
import type { Logger } from 'pino'
import { buildReceipt, receiptCost, signCell } from '../protocol/cells.ts'
import { ProtocolError } from '../protocol/errors.ts'
import { jobSpecHash } from '../protocol/spec.ts'
import { hashTensors, type Tensor } from '../protocol/tensor.ts'
import { FRAME_LIMITS, JOB_PROTOCOL, WIRE_ERRORS, type WireErrorCode } from '../protocol/wire/constants.ts'
import { fromWireTensors, toWireTensor, type Frame, type JobRequest, type JobResult, type VoucherFrame } from '../protocol/wire/frames.ts'
import { NONCE_BYTES } from '../protocol/wire/hello.ts'
import {
  CHAT_ROLES, classificationInputHash, classificationOutputHash, generationInputHash, generationOutputHash, type ChatTurn, type ScoredLabel
} from '../protocol/text.ts'
import { AbortedError, JobError } from './errors.ts'
import { FrameStream } from '../protocol/wire/stream.ts'
import { peerPublicKey, type Identity } from '../protocol/keys.ts'
import type { ChannelState } from './chain.ts'
import { authorizeHello, PaymentLedger, type TermsLimits } from './ledger.ts'
import type { NodeMetrics } from './metrics.ts'
import { SignedOutputs } from './signed-outputs.ts'
import type { ChannelLedger, VoucherStore } from './vouchers.ts'

export { JobError }

export interface ServedModel {
  name: string
  /** the model's bundle digest */
  hash: Buffer
  task: string
  pricePerUnit: bigint
  deterministic: boolean
  /** the pinned execution path (execution provider, threads, batching); part of every spec hash */
  execution: string
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
  /** The channel as deployed, checked to be a genuine channel of this node; undefined otherwise. `fresh` skips any cache. */
  channelFor(address: Address, options?: { fresh?: boolean }): Promise<ChannelState | undefined>
}

export interface JobServiceComponents {
  libp2p: Libp2p
  identity: Identity
  models: Inference
  vouchers: VoucherStore
  chain: ChannelReader
  logger: Logger
  metrics?: NodeMetrics
  /**
   * What the node signed for deterministic jobs; a second, different output for the same model and
   * spec is refused instead of signed. Default: a bounded SignedOutputs of its own.
   */
  signedOutputs?: Pick<SignedOutputs, 'admit'>
}

export interface JobServiceInit {
  providerOwner: Address
  provider: Address
  /** the network (TON global_id) receipts and vouchers are valid on */
  globalId: number
  /** the Provider's registration epoch, named in every receipt */
  epoch: number
  /** nanoton served beyond the last voucher; 0 = one job at a time (the default) */
  credit?: bigint
  /** sessions at once across all connections (maxInboundStreams is per connection); default 256 */
  maxSessions?: number
  /** sessions not bound to a channel, all peers together (a client holds one while it opens its channel); default 128 */
  maxUnboundSessions?: number
  /** unbound sessions one peer may hold; default 8 */
  maxSessionsPerPeer?: number
  /** sessions bound to one channel; default 8 */
  maxSessionsPerChannel?: number
  /** channel accounts kept in memory (those with nothing owed are dropped first); default 10,000 */
  maxChannels?: number
  /** channels the node accepts: default close delay ≥ 3600 s, fee ≤ 1000 bps */
  minCloseDelay?: number
  maxFeeBps?: number
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

/**
 * A channel's account, shared by every session bound to it and kept across reconnects: the
 * payment ledger, the channel's last known terms, and a queue so its vouchers apply one at a time.
 */
class ChannelAccount {
  sessions = 0
  private queue: Promise<unknown> = Promise.resolve()

  constructor (readonly channel: Address, readonly ledger: PaymentLedger, public terms: ChannelState) {}

  get idle (): boolean {
    return this.sessions === 0 && this.ledger.settled
  }

  async exclusive<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => {})
    return await run
  }
}

/** Serves /silk/job/1.0.0: one long-lived stream per client session, frames in order. */
export class JobService {
  private readonly open = new Set<Session>()
  private readonly accounts = new Map<string, ChannelAccount>()
  private readonly unboundPerPeer = new Map<string, number>()
  private unbound = 0
  private readonly budgets = new Map<string, { tokens: number, at: number }>()
  private started = false
  /** set by stop(): sessions finish the job in hand and take no more */
  draining = false
  readonly signedOutputs: Pick<SignedOutputs, 'admit'>

  constructor (readonly components: JobServiceComponents, readonly init: JobServiceInit) {
    this.signedOutputs = components.signedOutputs ?? new SignedOutputs()
  }

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
    this.draining = false
  }

  get activeSessions (): number {
    return this.open.size
  }

  /** channel accounts held in memory (for tests and status) */
  get channelAccounts (): number {
    return this.accounts.size
  }

  /** peers with a byte budget entry (bounded; for tests) */
  get budgetEntries (): number {
    return this.budgets.size
  }

  get termsLimits (): TermsLimits {
    return { minCloseDelay: this.init.minCloseDelay ?? 3600, maxFeeBps: this.init.maxFeeBps ?? 1000 }
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    const session = new Session(this, new FrameStream(stream), peer)
    const refusal = this.admitUnbound(peer)
    if (refusal !== undefined) {
      await session.refuse(new JobError('OVERLOADED', refusal, true))
      return
    }
    this.open.add(session)
    this.components.metrics?.sessions.set(this.open.size)
    try {
      await session.run()
    } catch (err) {
      this.components.logger.debug({ peer, err: (err as Error).message }, 'session ended')
    } finally {
      this.leave(session)
      this.open.delete(session)
      this.components.metrics?.sessions.set(this.open.size)
      await session.close()
    }
  }

  /** Why a new (unbound) session from `peer` is refused, or undefined after counting it. */
  private admitUnbound (peer: string): string | undefined {
    const max = this.init.maxSessions ?? 256
    if (this.open.size >= max) return `at most ${max} sessions at once`
    const maxUnbound = this.init.maxUnboundSessions ?? 128
    if (this.unbound >= maxUnbound) return `at most ${maxUnbound} sessions may wait unbound`
    const perPeer = this.init.maxSessionsPerPeer ?? 8
    const held = this.unboundPerPeer.get(peer) ?? 0
    if (held >= perPeer) return `at most ${perPeer} unbound sessions per peer`
    this.unbound++
    this.unboundPerPeer.set(peer, held + 1)
    return undefined
  }

  private releaseUnbound (peer: string): void {
    this.unbound--
    const left = (this.unboundPerPeer.get(peer) ?? 1) - 1
    if (left > 0) this.unboundPerPeer.set(peer, left)
    else this.unboundPerPeer.delete(peer)
  }

  /** Moves an unbound session onto its channel's account (created on first use, resumed after). */
  bind (session: Session, channel: Address, terms: ChannelState): ChannelAccount {
    const key = channel.toRawString()
    let account = this.accounts.get(key)
    if (account === undefined) {
      this.makeRoom()
      const stored = this.components.vouchers.get(channel)
      const ledger = new PaymentLedger(channel, this.init.globalId, { seqno: stored.seqno, amount: stored.amount, root: stored.root }, this.init.credit ?? 0n)
      account = new ChannelAccount(channel, ledger, terms)
      this.accounts.set(key, account)
    } else {
      account.terms = terms
    }
    const perChannel = this.init.maxSessionsPerChannel ?? 8
    if (account.sessions >= perChannel) throw new JobError('OVERLOADED', `at most ${perChannel} sessions per channel`)
    account.sessions++
    this.releaseUnbound(session.peer)
    return account
  }

  private makeRoom (): void {
    const max = this.init.maxChannels ?? 10_000
    if (this.accounts.size < max) return
    for (const [k, a] of this.accounts) {
      if (a.idle) this.accounts.delete(k)
      if (this.accounts.size < max) return
    }
    throw new JobError('OVERLOADED', 'too many channels with results owed; try later')
  }

  /** A session ends: its slot is freed; a settled account with no sessions is forgotten (all of it is on disk). */
  private leave (session: Session): void {
    const state = session.state
    if (state.kind === 'unbound') this.releaseUnbound(session.peer)
    if (state.kind === 'bound') {
      state.account.sessions--
      if (state.account.idle) this.accounts.delete(state.account.channel.toRawString())
    }
    session.state = { kind: 'closed' }
  }

  /**
   * Token bucket per peer: refills at maxBytesPerSecond, holds up to four seconds' worth (at least
   * one largest frame). False when the peer is over its budget. The table is bounded: a full
   * bucket is the same as none, so those go first, then the oldest.
   */
  spend (peer: string, bytes: number): boolean {
    const rate = this.init.maxBytesPerSecond ?? 64 * 1024 * 1024
    const cap = Math.max(4 * rate, 2 * FRAME_LIMITS.maxFrameBytes)
    const now = Date.now()
    const b = this.budgets.get(peer) ?? { tokens: cap, at: now }
    b.tokens = Math.min(cap, b.tokens + (now - b.at) / 1000 * rate) - bytes
    b.at = now
    this.budgets.delete(peer)
    this.budgets.set(peer, b)
    if (this.budgets.size > 2 * (this.init.maxSessions ?? 256)) this.pruneBudgets(now, rate, cap)
    return b.tokens >= 0
  }

  private pruneBudgets (now: number, rate: number, cap: number): void {
    for (const [peer, b] of this.budgets) {
      if (b.tokens + (now - b.at) / 1000 * rate >= cap) this.budgets.delete(peer)
    }
    // then the oldest of peers without a session: a peer still connected keeps what it spent
    const live = new Set([...this.open].map((session) => session.peer))
    for (const peer of this.budgets.keys()) {
      if (this.budgets.size <= 2 * (this.init.maxSessions ?? 256)) break
      if (!live.has(peer)) this.budgets.delete(peer)
    }
  }
}

interface Outcome {
  units: number
  /** the task's canonical input hash (input and every parameter) */
  inputHash: Buffer
  outputHash: Buffer
  /** false when the job was cancelled before it finished */
  complete: boolean
  result: Omit<JobResult, 'jobId' | 'receipt' | 'signature'>
}

type SessionState =
  /** `nonce`: the one the last Welcome carried, for the Hello that binds a channel (single use) */
  | { kind: 'unbound', nonce?: Buffer }
  | { kind: 'bound', channel: Address, account: ChannelAccount }
  | { kind: 'closed' }

class Session {
  state: SessionState = { kind: 'unbound' }
  /** jobs run one after another on this chain; stop() and in-order frames wait on it */
  private current: Promise<void> = Promise.resolve()
  private queuedJobs = 0
  private running?: { jobId: bigint, abort: AbortController }

  constructor (private readonly service: JobService, private readonly frames: FrameStream, readonly peer: string) {}

  private get c (): JobServiceComponents { return this.service.components }

  /** the key of the peer the client talks to (proved in the Noise handshake): the one a hello proof names */
  private get nodeKey (): Buffer {
    return peerPublicKey(this.c.libp2p.peerId) ?? this.c.identity.keyPair.publicKey
  }

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
      case 'hello': return await this.hello(frame.hello!.channel, frame.hello!.signature)
      case 'voucher': return await this.voucher(frame.voucher!)
      default: throw new JobError('MALFORMED_FRAME', `a client does not send ${frame.kind} frames`)
    }
  }

  private welcome (nonce: Uint8Array): NonNullable<Frame['welcome']> {
    const { init } = this.service
    return {
      providerOwner: init.providerOwner.toRawString(),
      provider: init.provider.toRawString(),
      models: this.c.models.list().map((m) => ({
        name: m.name, hash: m.hash, task: m.task, pricePerUnit: m.pricePerUnit, deterministic: m.deterministic, execution: m.execution
      })),
      credit: init.credit ?? 0n,
      lastVoucher: new Uint8Array(0),
      lastVoucherSig: new Uint8Array(0),
      nonce,
      owed: []
    }
  }

  /**
   * An unbound Hello gets the node's offer and a fresh nonce. A Hello naming a channel binds the
   * session only with the channel client key's signature over that nonce; the bound Welcome then
   * carries what only that client may see: its last voucher and the receipts it still owes.
   */
  private async hello (channelText: string, signature: Uint8Array): Promise<void> {
    const state = this.state
    if (state.kind !== 'unbound') throw new JobError('BAD_HELLO', 'this session is already bound to a channel')
    if (channelText === '') {
      const nonce = randomBytes(NONCE_BYTES)
      this.state = { kind: 'unbound', nonce }
      await this.frames.write({ welcome: this.welcome(nonce) })
      return
    }
    const nonce = state.nonce
    this.state = { kind: 'unbound' } // a nonce serves one attempt
    let channel: Address
    try { channel = Address.parse(channelText) } catch { throw new JobError('BAD_CHANNEL', 'channel is not a TON address') }
    const terms = await this.c.chain.channelFor(channel)
    if (terms === undefined) throw new JobError('BAD_CHANNEL', `channel ${channel.toRawString()} is not an open channel with this node`)
    authorizeHello({
      globalId: this.service.init.globalId,
      channel,
      nodeKey: this.nodeKey,
      nonce,
      signature,
      terms,
      limits: this.service.termsLimits,
      now: this.service.init.now?.() ?? Math.floor(Date.now() / 1000)
    })
    if (this.state.kind !== 'unbound') throw new JobError('BAD_HELLO', 'this session is already bound to a channel')
    const account = this.service.bind(this, channel, terms)
    this.state = { kind: 'bound', channel, account }
    const welcome = this.welcome(new Uint8Array(0))
    const stored = this.c.vouchers.get(channel)
    if (stored.voucher !== undefined && stored.clientSig !== undefined) {
      welcome.lastVoucher = stored.voucher
      welcome.lastVoucherSig = stored.clientSig
    }
    welcome.owed = account.ledger.owed.map((o) => ({ receipt: o.receipt.toBoc(), signature: o.signature }))
    await this.frames.write({ welcome })
  }

  private bound (what: string): { channel: Address, account: ChannelAccount } {
    if (this.state.kind !== 'bound') throw new JobError('NO_CHANNEL', `send a Hello binding your channel before ${what}`)
    return this.state
  }

  private async job (req: JobRequest): Promise<void> {
    const { channel, account } = this.bound('jobs')
    const modelHash = Buffer.from(req.modelHash)
    const model = this.c.models.list().find((m) => m.hash.equals(modelHash))
    if (model === undefined) throw new JobError('UNKNOWN_MODEL', `no model with hash ${modelHash.toString('hex')} here`)
    const most = model.pricePerUnit * BigInt(maxUnits(model, req))
    try {
      account.ledger.admit(most, account.terms.deposit)
    } catch (err) {
      if (!(err instanceof JobError && err.code === 'DEPOSIT_EXHAUSTED')) throw err
      await this.refreshChannel(account) // a client may have topped it up
      account.ledger.admit(most, account.terms.deposit)
    }
    const started = process.hrtime.bigint()
    const abort = new AbortController()
    this.running = { jobId: req.jobId, abort }
    let outcome: Outcome
    try {
      outcome = await this.execute(model, modelHash, req, abort.signal)
    } catch (err) {
      account.ledger.release(most)
      throw err
    } finally {
      this.running = undefined
    }
    const receipt = {
      globalId: this.service.init.globalId,
      channel,
      epoch: this.service.init.epoch,
      jobId: req.jobId,
      units: outcome.units,
      price: model.pricePerUnit,
      deterministic: model.deterministic,
      complete: outcome.complete,
      time: this.service.init.now?.() ?? Math.floor(Date.now() / 1000),
      modelHash,
      specHash: jobSpecHash(model.execution, outcome.inputHash),
      outputHash: outcome.outputHash
    }
    let cell
    let signature
    try {
      // never sign two different outputs for one deterministic job: that pair would slash the node
      if (receipt.deterministic && receipt.complete && !this.service.signedOutputs.admit(modelHash, receipt.specHash, receipt.outputHash)) {
        this.c.logger.error({ model: model.name }, 'the model produced another output than the one signed before for the same job: not signed')
        throw new JobError('INFERENCE_FAILED', 'the node computed another output than it signed before for this job; nothing is billed')
      }
      cell = buildReceipt(receipt)
      signature = signCell(cell, this.c.identity.keyPair.secretKey)
      account.ledger.finish(most, { receipt: cell, signature, cost: receiptCost(receipt) })
    } catch (err) {
      account.ledger.release(most)
      throw err
    }
    await this.frames.write({ result: { ...outcome.result, jobId: req.jobId, receipt: cell.toBoc(), signature } })
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
        complete: true,
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
      let complete = true
      try {
        out = await this.c.models.generate(modelHash, {
          ...(request.messages.length > 0 ? { messages: request.messages } : { prompt: request.prompt }),
          maxNewTokens: request.maxNewTokens,
          signal
        }, onToken)
      } catch (err) {
        // cancelled: what was generated is still a result, billed by its tokens, but marked
        // incomplete so that it can never stand in an equivocation proof
        if (!(err instanceof AbortedError)) throw err
        out = { text: err.text, tokens: err.tokens, units: err.tokens }
        complete = false
      }
      await sent
      return {
        units: out.units,
        complete,
        inputHash: generationInputHash(request),
        outputHash: generationOutputHash(out),
        result: { ...none, text: out.text, tokens: out.tokens }
      }
    }
    const inputs = fromWireTensors(req.inputs)
    const { outputs, units } = await this.c.models.run(modelHash, inputs)
    return { units, complete: true, inputHash: hashTensors(inputs), outputHash: hashTensors(outputs), result: { ...none, outputs: outputs.map(toWireTensor) } }
  }

  /** Re-reads the channel past the cache (a client may have topped it up, or started closing it). */
  private async refreshChannel (account: ChannelAccount): Promise<void> {
    const state = await this.c.chain.channelFor(account.channel, { fresh: true })
    if (state === undefined) throw new JobError('BAD_CHANNEL', 'the channel is closing or closed')
    account.terms = state
  }

  /** Accepts a voucher that pays exactly for a prefix of the channel's owed receipts, then stores it durably. */
  private async voucher (frame: VoucherFrame): Promise<void> {
    const { channel, account } = this.bound('vouchers')
    const next = await account.exclusive(async () => {
      const accepted = account.ledger.check(frame.voucher, frame.signature, account.terms)
      const stored = await this.c.vouchers.update(channel, (ledger) => {
        if (ledger.seqno !== accepted.from.seqno) throw new JobError('STALE_VOUCHER', 'another voucher was stored on this channel meanwhile')
        return { ...ledger, ...accepted.to, voucher: accepted.cell.toBoc(), clientSig: accepted.signature }
      })
      account.ledger.commit(accepted)
      return stored
    })
    await this.frames.write({ voucherAck: { seqno: next.seqno } })
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
