// Silk job benchmark: one run, one plain report.
//
//   npx tsx bench/jobs.bench.ts          (npm run bench)
//
// 1. Latency of a paid job through the network (libp2p on loopback, warm connection, open
//    channel: request → result → receipt check → voucher → ack) against ModelStore.run in-process
//    and against a raw onnxruntime session.run, on the same model (mlp-64-10) and input, batch 1,
//    with a breakdown of where a network job's time goes (the node's batcher wait, inference and
//    voucher store update, and the Ed25519 work of protocol/cells.ts signCell / verifyCell, are
//    metered inside the loop). Measured on a node with the default config (batching on) and on one
//    with batching off.
// 2. Throughput: the sequential loops above, and (issue #5) CLIENTS separate SilkClients (own
//    wallet, libp2p host, channel and session each) running sequential paid jobs at once for
//    BENCH_TPUT_S seconds against a node with batching on and one with batching off, next to the
//    same number of concurrent in-process callers of ModelStore.run through a Batcher with and
//    without batching; jobs/s, the network/direct ratio, Batcher.stats (runs vs jobs), and the
//    event-loop use and CPU time per job of the node's process and of the clients' process.
// 3. On-chain transactions and fees per 1,000 paid jobs, with the node claiming on its own
//    (claimThreshold = cost of CLAIM_EVERY jobs), counted from the devnet's transaction index.
// 4. Memory (RSS) along the way.
//
// Env vars: BENCH_N (1000), BENCH_WARMUP (200), BENCH_SETTLE_JOBS (1000), BENCH_CLAIM_EVERY (250),
// BENCH_CLIENTS (32), BENCH_TPUT_S (5: seconds of each of the four throughput phases),
// BENCH_BUDGET_S (150): the settlement run and the throughput phases (fixed size) go first; the
// measured network latency loops then stop early if the run reaches this many seconds since
// process start, and the report says so (0 = never stop early). It is a report, not a test:
// nothing is asserted.
//
// Where things run: the devnet, the nodes, and the latency and settlement clients share this one
// process and event loop, so a sequential network job's time includes the client's work as well
// as the node's. The CLIENTS clients of the throughput phases run in a child process
// (bench/fleet.ts, forked with tsx), so that this process's CPU time over a phase is the node
// side's. Files: bench/jobs.bench.ts (this), bench/fleet.ts, bench/burst.ts.
import '../protocol/polyfill.ts'
import os from 'node:os'
import { fork, type ChildProcess } from 'node:child_process'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { mkdtemp, open, readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Address, fromNano, toNano, type Transaction } from '@ton/core'
import { keyPairFromSeed } from '@ton/crypto'
import * as ort from 'onnxruntime-node'
import { float32Tensor, type ProviderSession, type Tensor } from '../client/index.ts'
import { Op } from '../contracts/index.ts'
import type { TxRecord } from '../devnet/LocalChain.ts'
import { Batcher } from '../node/batcher.ts'
import { ModelStore } from '../node/models.ts'
import { buildVoucher, GLOBAL_IDS, signCell, verifyCell, ZERO_ROOT } from '../protocol/cells.ts'
import { FEE_BPS, MODELS_DIR, startLocalNet, type LocalNet } from '../test/localnet.ts'
import { burst, sum, type Burst } from './burst.ts'
import { fleetInput, type FleetReply, type FleetRequest } from './fleet.ts'

const MODEL = 'mlp-64-10'
const N = envInt('BENCH_N', 1000)
const WARMUP = envInt('BENCH_WARMUP', 200)
const SETTLE_JOBS = envInt('BENCH_SETTLE_JOBS', 1000)
const CLAIM_EVERY = envInt('BENCH_CLAIM_EVERY', 250)
const CLIENTS = envInt('BENCH_CLIENTS', 32)
const TPUT_S = envInt('BENCH_TPUT_S', 5)
const BUDGET_S = process.env.BENCH_BUDGET_S === '0' ? 0 : envInt('BENCH_BUDGET_S', 150)

function envInt (name: string, dflt: number): number {
  const v = process.env[name]
  if (v === undefined || v === '') return dflt
  const n = Number(v)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer`)
  return n
}

// ---------- helpers ----------

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1)
const us = (ms: number): string => (ms * 1000).toFixed(1)
const pad = (s: string, n: number): string => s.padEnd(n)
const lpad = (s: string, n: number): string => s.padStart(n)
const ton = (n: bigint, digits = 6): string => Number(fromNano(n)).toFixed(digits)
const loadAvg = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ')

interface Stats { n: number, p50: number, p95: number, p99: number, mean: number, min: number, max: number }

/** Nearest-rank percentiles over durations in ms. */
function stats (samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b)
  const at = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN
  const mean = s.reduce((a, b) => a + b, 0) / s.length
  return { n: s.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), mean, min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN }
}

/** Runs fn n times in sequence (or until performance.now() passes `deadline`), timing each call. */
async function timeLoop (n: number, fn: (i: number) => Promise<unknown>, deadline = Infinity): Promise<{ samples: number[], wallMs: number }> {
  const samples: number[] = []
  const t0 = performance.now()
  for (let i = 0; i < n && performance.now() < deadline; i++) {
    const t = performance.now()
    await fn(i)
    samples.push(performance.now() - t)
  }
  return { samples, wallMs: performance.now() - t0 }
}

interface Meter { samples: number[], reset: () => void }
const newMeter = (): Meter => { const m: Meter = { samples: [], reset () { m.samples = [] } }; return m }

/**
 * Replaces `obj[key]` (an async method) on this instance with a wrapper that records each call's
 * duration; stop() puts the method back and returns the samples.
 */
function meterAsync<T extends object, K extends keyof T> (obj: T, key: K): { stop: () => number[] } {
  const samples: number[] = []
  const had = Object.hasOwn(obj, key)
  const own = obj[key]
  const orig = (obj[key] as unknown as (...a: unknown[]) => Promise<unknown>).bind(obj)
  ;(obj as Record<K, unknown>)[key] = async (...args: unknown[]) => {
    const t = performance.now()
    try { return await orig(...args) } finally { samples.push(performance.now() - t) }
  }
  return {
    stop () {
      if (had) (obj as Record<K, unknown>)[key] = own
      else delete (obj as Record<K, unknown>)[key]
      return samples
    }
  }
}

// protocol/cells.ts signCell / verifyCell do their Ed25519 with node:crypto's sign / verify, bound
// by named imports. Wrapping the module's functions and rebinding the ESM exports
// (syncBuiltinESMExports) meters the Ed25519 call inside every signCell and verifyCell made in
// this process, client and node alike. Their message is a 32-byte cell hash; other Ed25519 users
// in the process (libp2p's Noise handshakes, signed adverts) pass other lengths and are only counted.
const signM = newMeter()
const verifyM = newMeter()
let otherCryptoCalls = 0
{
  type Fn = (...a: unknown[]) => unknown
  const nodeCrypto = createRequire(import.meta.url)('node:crypto') as Record<'sign' | 'verify', Fn>
  const wrap = (orig: Fn, m: Meter, arity: number): Fn => function (this: unknown, ...args: unknown[]) {
    const cellHash = args[0] == null && args.length === arity && ArrayBuffer.isView(args[1]) && args[1].byteLength === 32
    if (!cellHash) { otherCryptoCalls++; return orig.apply(this, args) }
    const t = performance.now()
    try { return orig.apply(this, args) } finally { m.samples.push(performance.now() - t) }
  }
  nodeCrypto.sign = wrap(nodeCrypto.sign, signM, 3)
  nodeCrypto.verify = wrap(nodeCrypto.verify, verifyM, 4)
  syncBuiltinESMExports()
}

function opOf (tx: Transaction): string {
  const msg = tx.inMessage
  if (msg === undefined || msg === null) return 'none'
  if (msg.info.type === 'external-in') return 'external (wallet)'
  const s = msg.body.beginParse()
  if (s.remainingBits < 32) return 'plain transfer'
  const op = s.preloadUint(32)
  return Object.entries(Op).find(([, v]) => v === op)?.[0] ?? `op 0x${op.toString(16)}`
}

function exitCode (tx: Transaction): number | null {
  const d = tx.description
  return d.type === 'generic' && d.computePhase.type === 'vm' ? d.computePhase.exitCode : null
}

/** Why a transaction's compute phase did not succeed, or undefined when it did. */
function failure (tx: Transaction): string | undefined {
  const d = tx.description
  if (d.type !== 'generic') return undefined
  if (d.computePhase.type === 'skipped') return d.bouncePhase == null && tx.inMessage?.info.type === 'internal' && opOf(tx) !== 'plain transfer' ? `compute skipped (${d.computePhase.reason})` : undefined
  if (d.computePhase.exitCode === -14 || d.computePhase.exitCode === 13) return `out of gas (exit code ${d.computePhase.exitCode})`
  return d.computePhase.success ? undefined : `exit code ${d.computePhase.exitCode}`
}

function inValue (tx: Transaction): bigint {
  const info = tx.inMessage?.info
  return info?.type === 'internal' ? info.value.coins : 0n
}

/** Fees a transaction burned: its total_fees plus the forward fees its internal out messages pay in transit. */
function feesOf (tx: Transaction): bigint {
  let fwd = 0n
  for (const m of tx.outMessages.values()) if (m.info.type === 'internal') fwd += m.info.forwardFee
  return tx.totalFees.coins + fwd
}

// ---------- start ----------

const rssStart = process.memoryUsage().rss
const cpus = os.cpus()
console.log('Silk job benchmark')
console.log('==================')
console.log(`machine : ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores (${os.availableParallelism()} available), ${mb(os.totalmem())} MB RAM (${mb(os.freemem())} MB free)`)
console.log(`runtime : Node ${process.version}, onnxruntime-node ${ort.env.versions.common}, ${os.platform()} ${os.release()}`)
console.log(`load avg: ${loadAvg()} (1/5/15 min, at start; other work on the machine skews timings)`)
console.log('crypto  : Ed25519 via node:crypto in protocol/cells.ts signCell / verifyCell, as the project ships')
console.log(`sizes   : N=${N} measured sequential jobs per latency loop after ${WARMUP} warm-up; throughput: ${CLIENTS} concurrent clients / callers, ${TPUT_S} s per phase;`)
console.log(`          settlement run of ${SETTLE_JOBS} jobs, node claiming every ${CLAIM_EVERY}; time budget ${BUDGET_S > 0 ? `${BUDGET_S} s` : 'none'} (BENCH_* env vars change these)`)
console.log('')

const input: Tensor = float32Tensor('x', [1, 64], Array.from({ length: 64 }, (_, i) => Math.sin(i)))
/** one input per concurrent client / caller, so merged batches hold different rows */
const inputs: Tensor[] = Array.from({ length: CLIENTS }, (_, k) => fleetInput(k))

// ---------- raw onnxruntime ----------
const manifest = JSON.parse(await readFile(join(MODELS_DIR, 'mlp', 'manifest.json'), 'utf8')) as { file: string, pricePerUnit: string, maxBatch: number }
const price = BigInt(manifest.pricePerUnit)
// Same options as ModelStore#createSession with its defaults (cpu, 1 intra-op thread).
const raw = await ort.InferenceSession.create(await readFile(join(MODELS_DIR, 'mlp', manifest.file)), {
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  logSeverityLevel: 3,
  executionProviders: ['cpu']
})
const rawData = new Float32Array(Uint8Array.from(input.data).buffer)
const rawRun = async (): Promise<unknown> => await raw.run({ x: new ort.Tensor('float32', rawData, [1, 64]) })
await timeLoop(WARMUP, rawRun)
const rawT = await timeLoop(N, rawRun)

// ---------- ModelStore in-process ----------
const direct = new ModelStore({ dir: MODELS_DIR })
await direct.start()
const mlp = direct.get(MODEL)
if (mlp === undefined) throw new Error(`model ${MODEL} not found in ${MODELS_DIR}`)
const directRun = async (): Promise<unknown> => await direct.run(mlp.hash, [input])
await timeLoop(WARMUP, directRun)
const directT = await timeLoop(N, directRun)

// ---------- signCell / verifyCell called directly ----------
function meanSync (n: number, fn: () => unknown): number {
  for (let i = 0; i < 100; i++) fn()
  const t = performance.now()
  for (let i = 0; i < n; i++) fn()
  return (performance.now() - t) / n
}
const kp = keyPairFromSeed(Buffer.alloc(32, 7))
const voucherCell = buildVoucher({ globalId: GLOBAL_IDS.local, channel: new Address(0, Buffer.alloc(32, 1)), seqno: 1, amount: price, receiptsRoot: ZERO_ROOT })
const voucherSig = signCell(voucherCell, kp.secretKey)
if (!verifyCell(voucherCell, voucherSig, kp.publicKey)) throw new Error('signCell / verifyCell do not agree')
const cellSignMs = meanSync(2000, () => signCell(voucherCell, kp.secretKey))
const cellVerifyMs = meanSync(2000, () => verifyCell(voucherCell, voucherSig, kp.publicKey))
const directSignMs = stats(signM.samples).mean
const directVerifyMs = stats(verifyM.samples).mean

// ---------- concurrent in-process callers through a Batcher ----------
/**
 * One throughput phase. `b` is what the callers saw (and their process's ELU and CPU); for the
 * network phases `server` is this process (nodes + devnet) over the same phase.
 */
interface Phase { label: string, b: Burst, runs: number, jobs: number, infer?: number[], update?: number[], server?: { elu: number, cpuMs: number } }
async function batcherPhase (label: string, batcher: Batcher, run: (w: number) => Promise<unknown>): Promise<Phase> {
  await burst(CLIENTS, 0.5, run) // warm-up
  const before = { ...batcher.stats }
  const b = await burst(CLIENTS, TPUT_S, run)
  return { label, b, runs: batcher.stats.runs - before.runs, jobs: batcher.stats.jobs - before.jobs }
}
const directOn = new Batcher(direct, { enabled: true }) // the node's defaults: maxQueue 256
const directOff = new Batcher(direct, { enabled: false })
const dOn = await batcherPhase('direct: Batcher, batching on', directOn, async (w) => await directOn.run(mlp.hash, [inputs[w]!]))
const dOff = await batcherPhase('direct: Batcher, batching off', directOff, async (w) => await directOff.run(mlp.hash, [inputs[w]!]))

// ---------- the disk under the nodes' data dirs (os.tmpdir()), for scale ----------
// What VoucherStore does for every voucher: write a ~450-byte JSON ledger to a fresh .tmp file, fsync, close, rename.
const diskDir = await mkdtemp(join(os.tmpdir(), 'silk-bench-disk-'))
let diskTmp = 0
const durableWrite = async (k: number): Promise<void> => {
  const file = join(diskDir, `${k}.json`)
  const tmp = `${file}.${diskTmp++}.tmp`
  const handle = await open(tmp, 'w', 0o600)
  try {
    await handle.writeFile('x'.repeat(450))
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(tmp, file)
}
const diskSeq = await timeLoop(50, async () => { await durableWrite(0) })
const diskPar = await burst(CLIENTS, 1, durableWrite)
await rm(diskDir, { recursive: true, force: true })
const rssAfterInProcess = process.memoryUsage().rss

// ---------- network ----------
let net: LocalNet | undefined
let fleet: ChildProcess | undefined
try {
  const tNet = performance.now()
  net = await startLocalNet()
  const chain = net.devnet.chain
  const setupNetMs = performance.now() - tNet
  const waitChainIdle = async (): Promise<void> => {
    for (let quiet = 0; quiet < 4;) {
      await sleep(100)
      quiet = chain.pendingCount === 0 ? quiet + 1 : 0
    }
  }

  // ---- part 3 first (fixed size): SETTLE_JOBS paid jobs with automatic claims ----
  const threshold = BigInt(CLAIM_EVERY) * price
  const b = await net.addNode({ config: { claimThreshold: threshold.toString() } })
  const cb = await net.addClient()
  const pb = await cb.client.connect(b.node.addresses[0]!)
  // the channel's address is fixed by its nonce: chosen here so that its balance is counted from the start
  const nonceB = BigInt(Date.now())
  const channelB = cb.client.channelAddressFor(pb, nonceB)
  const parties: Array<[string, Address]> = [
    ['client wallet', cb.wallet.address],
    ['registry', net.registry],
    ['channel', channelB],
    ['node gas wallet', b.node.settlement!.walletAddress],
    ['provider owner', b.owner.address]
  ]
  const roleOf = (addr: Address): string => parties.find(([, p]) => p.equals(addr))?.[0] ?? `other ${addr.toString()}`
  const balances = async (): Promise<bigint> => {
    let total = 0n
    for (const [, addr] of parties) total += (await chain.getAccount(addr)).balance
    return total
  }
  await waitChainIdle()
  const balanceBefore = await balances()
  const registryBefore = (await chain.getAccount(net.registry)).balance
  type ChainPhase = 'open' | 'jobs' | 'final claim'
  const recorded: Array<{ rec: TxRecord, phase: ChainPhase }> = []
  let phase: ChainPhase = 'open'
  const unsubscribe = chain.onTransaction((rec) => { recorded.push({ rec, phase }) })

  const tOpen = performance.now()
  await cb.client.openChannel(pb, toNano('1'), { nonce: nonceB })
  await waitChainIdle()
  const openMs = performance.now() - tOpen
  phase = 'jobs'
  let settleError: string | undefined
  const settleT = await timeLoop(SETTLE_JOBS, async (i) => {
    if (settleError !== undefined) return
    try { await pb.session.run(MODEL, [input]) } catch (err) { settleError = `job ${i + 1}: ${(err as Error).message}` }
  })
  // Let a claim the last voucher triggered start, finish, and its payout hops land.
  const tDrain = performance.now()
  await sleep(50)
  await b.node.settlement!.stop() // only waits for queued claims; the node keeps running
  await waitChainIdle()
  const drainMs = performance.now() - tDrain
  const ledger = b.node.vouchers.get(channelB)
  const leftover = b.node.vouchers.unclaimed(ledger)
  if (leftover > 0n) {
    phase = 'final claim'
    await b.node.settlement!.claimAll()
    await waitChainIdle()
  }
  unsubscribe()
  const balanceAfter = await balances()
  const registryAfter = (await chain.getAccount(net.registry)).balance
  await pb.session.close()
  await cb.client.stop()
  const rssAfterSettle = process.memoryUsage().rss

  // ---- part 2, concurrent: CLIENTS clients against a node with batching on and one with it off ----
  // The clients live in a child process (bench/fleet.ts), so this process does the nodes' work
  // (and the devnet's) and its CPU time and event-loop use over a phase are the node side's.
  // claimOnShutdown off: with the default 1 TON threshold no claim happens during the run, and
  // claiming every channel at close would only make the exit slow.
  const tFleet = performance.now()
  const nodeOn = await net.addNode({ config: { claimOnShutdown: false } })
  const nodeOff = await net.addNode({ config: { claimOnShutdown: false, batching: { enabled: false } } })
  fleet = fork(fileURLToPath(new URL('./fleet.ts', import.meta.url)), ['fleet'], {
    execArgv: ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href],
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'inherit', 'ipc']
  })
  const child = fleet
  const ask = async (req: FleetRequest): Promise<FleetReply> => await new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => { reject(new Error(`the fleet process exited (${String(code)}) while asked to ${req.type}`)) }
    child.once('exit', onExit)
    child.once('message', (reply: FleetReply) => {
      child.off('exit', onExit)
      if (reply.type === 'error') reject(new Error(`fleet: ${reply.message}`))
      else resolve(reply)
    })
    child.send(req)
  })
  const ready = await ask({
    type: 'setup',
    endpoint: net.devnet.endpoint,
    baseUrl: net.devnet.baseUrl,
    registry: net.registry.toString(),
    nodes: [nodeOn, nodeOff].map((n) => n.node.addresses[0]!.toString()),
    clients: CLIENTS,
    deposit: toNano('0.5').toString()
  }) as Extract<FleetReply, { type: 'ready' }>
  const fleetSetupMs = performance.now() - tFleet
  await waitChainIdle()
  const rssFleet = process.memoryUsage().rss
  async function networkPhase (label: string, node: typeof nodeOn, index: number): Promise<Phase> {
    await ask({ type: 'warm', node: index, rounds: 3, model: MODEL })
    const batcher = node.node.batcher
    const before = { ...batcher.stats }
    const inferM = meterAsync(node.node.models, 'run')
    const updateM = meterAsync(node.node.vouchers, 'update')
    const elu0 = performance.eventLoopUtilization()
    const cpu0 = process.cpuUsage()
    const { burst: b } = await ask({ type: 'run', node: index, seconds: TPUT_S, model: MODEL }) as Extract<FleetReply, { type: 'result' }>
    const cpu = process.cpuUsage(cpu0)
    return {
      label,
      b,
      runs: batcher.stats.runs - before.runs,
      jobs: batcher.stats.jobs - before.jobs,
      infer: inferM.stop(),
      update: updateM.stop(),
      server: { elu: performance.eventLoopUtilization(elu0).utilization, cpuMs: (cpu.user + cpu.system) / 1000 }
    }
  }
  const nOn = await networkPhase('network: node with batching on', nodeOn, 0)
  const nOff = await networkPhase('network: node with batching off', nodeOff, 1)
  const rssAfterTput = process.memoryUsage().rss
  // The fleet leaves, so it does not run in the background of the latency loops.
  await ask({ type: 'stop' })

  // ---- part 1: sequential latency, one client, the same two nodes (default claimThreshold: no claim happens) ----
  const tPeer = performance.now()
  const cl = await net.addClient()
  const latencySession = async (node: typeof nodeOn): Promise<ProviderSession> => {
    const p = await cl.client.connect(node.node.addresses[0]!)
    await cl.client.openChannel(p, toNano('1') + BigInt(N + WARMUP) * price)
    return p.session
  }
  const sOn = await latencySession(nodeOn)
  const sOff = await latencySession(nodeOff)
  const peerSetupMs = performance.now() - tPeer
  // Time box: the loops stop at the budget (the first may use half of what is left, keeping a few
  // seconds to close and print), but each always runs at least min(N, 200) jobs.
  const endBy = BUDGET_S > 0 ? BUDGET_S * 1000 - 3000 : Infinity
  interface Loop { t: { samples: number[], wallMs: number }, batcher: number[], infer: number[], update: number[], sign: number[], verify: number[], other: number, cpuMs: number, rssBefore: number, rssAfter: number }
  async function latencyLoop (node: typeof nodeOn, session: ProviderSession, share: number): Promise<Loop> {
    const netRun = async (): Promise<unknown> => await session.run(MODEL, [input])
    const warm = await timeLoop(WARMUP, netRun)
    const now = performance.now()
    const deadline = Math.max(now + (endBy - now) * share, now + Math.min(N, 200) * stats(warm.samples).mean)
    const batcherM = meterAsync(node.node.batcher, 'run')
    const inferM = meterAsync(node.node.models, 'run')
    const updateM = meterAsync(node.node.vouchers, 'update')
    signM.reset()
    verifyM.reset()
    const other = otherCryptoCalls
    const rssBefore = process.memoryUsage().rss
    const cpu0 = process.cpuUsage()
    const t = await timeLoop(N, netRun, deadline)
    const cpu = process.cpuUsage(cpu0)
    return {
      t,
      batcher: batcherM.stop(),
      infer: inferM.stop(),
      update: updateM.stop(),
      sign: [...signM.samples],
      verify: [...verifyM.samples],
      other: otherCryptoCalls - other,
      cpuMs: (cpu.user + cpu.system) / 1000,
      rssBefore,
      rssAfter: process.memoryUsage().rss
    }
  }
  const loopOn = await latencyLoop(nodeOn, sOn, 0.5)
  const loopOff = await latencyLoop(nodeOff, sOff, 1)
  await sOn.close()
  await sOff.close()

  // ---------- print ----------
  const r = stats(rawT.samples)
  const d = stats(directT.samples)
  const on = stats(loopOn.t.samples)
  const off = stats(loopOff.t.samples)
  const st = stats(settleT.samples)
  const nOnJobs = on.n
  const nOffJobs = off.n

  console.log(`1. Job latency, ${MODEL}, batch 1, same input every time, sequential, one client (µs)`)
  if (nOnJobs < N || nOffJobs < N) {
    console.log(`   NOTE: the network loops stopped after ${nOnJobs} and ${nOffJobs} of N=${N} jobs to end within BENCH_BUDGET_S=${BUDGET_S} s`)
    console.log(`         (BENCH_BUDGET_S=0 runs all ${N}); the in-process rows ran all ${N}`)
  }
  console.log(`   ${pad('', 44)}${lpad('N', 6)}${lpad('p50', 10)}${lpad('p95', 10)}${lpad('p99', 10)}${lpad('mean', 10)}${lpad('min', 10)}${lpad('max', 10)}`)
  const row = (label: string, s: Stats): void => {
    console.log(`   ${pad(label, 44)}${lpad(String(s.n), 6)}${lpad(us(s.p50), 10)}${lpad(us(s.p95), 10)}${lpad(us(s.p99), 10)}${lpad(us(s.mean), 10)}${lpad(us(s.min), 10)}${lpad(us(s.max), 10)}`)
  }
  row('raw onnxruntime session.run', r)
  row('ModelStore.run (in-process)', d)
  row('paid job over libp2p, batching on (default)', on)
  row('paid job over libp2p, batching off', off)
  const ratio = (x: number, y: number, digits = 0): string => `${(x / y).toFixed(digits)}x`
  console.log(`   network / ModelStore : batching on p50 ${ratio(on.p50, d.p50)}, p95 ${ratio(on.p95, d.p95)}; batching off p50 ${ratio(off.p50, d.p50)}, p95 ${ratio(off.p95, d.p95)}`)
  console.log(`   network / raw ort    : batching on p50 ${ratio(on.p50, r.p50)}, p95 ${ratio(on.p95, r.p95)}; batching off p50 ${ratio(off.p50, r.p50)}, p95 ${ratio(off.p95, r.p95)}`)
  console.log(`   ModelStore / raw ort : p50 ${ratio(d.p50, r.p50, 2)}, p95 ${ratio(d.p95, r.p95, 2)}`)
  console.log(`   batching on / off    : p50 ${ratio(on.p50, off.p50, 2)} (+${us(on.p50 - off.p50)} µs), p95 ${ratio(on.p95, off.p95, 2)}`)
  console.log('')
  console.log('   where a network job\'s time goes (metered inside the loops; µs per job and share of the mean):')
  console.log(`     ${pad('', 62)}${lpad('batching on', 17)}${lpad('batching off', 17)}`)
  const cols = (f: (l: Loop) => number): string => [loopOn, loopOff].map((l) => {
    const n = l.t.samples.length
    const ms = f(l)
    return lpad(`${us(ms / n)} ${lpad(`${(ms / sum(l.t.samples) * 100).toFixed(0)}%`, 4)}`, 17)
  }).join('')
  const perJob = (xs: (l: Loop) => number[]): string => [loopOn, loopOff].map((l) => (xs(l).length / l.t.samples.length).toFixed(2)).join(' / ')
  console.log(`     ${pad(`Ed25519 verify in verifyCell (${perJob((l) => l.verify)} per job: receipt, voucher)`, 62)}${cols((l) => sum(l.verify))}`)
  console.log(`     ${pad(`Ed25519 sign in signCell (${perJob((l) => l.sign)} per job: receipt, voucher)`, 62)}${cols((l) => sum(l.sign))}`)
  console.log(`     ${pad('node: VoucherStore.update (check, JSON write + fsync + rename)', 62)}${cols((l) => sum(l.update))}`)
  console.log(`     ${pad('node: Batcher.run beyond ModelStore.run (batch wait, queue)', 62)}${cols((l) => sum(l.batcher) - sum(l.infer))}`)
  console.log(`     ${pad('node: ModelStore.run', 62)}${cols((l) => sum(l.infer))}`)
  console.log(`     ${pad('the rest: libp2p (noise, yamux, tcp), framing, protobuf,', 62)}${cols((l) => sum(l.t.samples) - sum(l.verify) - sum(l.sign) - sum(l.update) - sum(l.batcher))}`)
  console.log('       BOCs and cell hashes, tensor hashes, event loop, GC (client and node)')
  console.log(`     p50 µs of Batcher.run: on ${us(stats(loopOn.batcher).p50)}, off ${us(stats(loopOff.batcher).p50)}; of ModelStore.run: on ${us(stats(loopOn.infer).p50)}, off ${us(stats(loopOff.infer).p50)}` +
    (loopOn.other + loopOff.other > 0 ? `; other node:crypto sign/verify calls meanwhile: ${loopOn.other + loopOff.other}` : ''))
  console.log(`     CPU time of the whole process per job: on ${us(loopOn.cpuMs / nOnJobs)} µs, off ${us(loopOff.cpuMs / nOffJobs)} µs (of a mean of ${us(on.mean)} / ${us(off.mean)} µs: the rest is waiting)`)
  console.log(`     for scale, the disk: write + fsync + close + rename of a 450-byte file in ${os.tmpdir()}: ${us(stats(diskSeq.samples).p50)} µs p50, ${us(stats(diskSeq.samples).p95)} µs p95 one at a time;`)
  console.log(`       ${CLIENTS} at once: ${(diskPar.ok / (diskPar.wallMs / 1000)).toFixed(0)} per s`)
  console.log('   one Ed25519 operation, mean µs:                      sign    verify')
  console.log(`     ${pad('signCell / verifyCell called directly', 49)}${lpad(us(cellSignMs), 8)}  ${lpad(us(cellVerifyMs), 8)}   (protocol/cells.ts, a voucher cell, one key)`)
  console.log(`     ${pad('  of which the node:crypto call', 49)}${lpad(us(directSignMs), 8)}  ${lpad(us(directVerifyMs), 8)}`)
  console.log(`     ${pad('node:crypto call in the network loop (on)', 49)}${lpad(us(stats(loopOn.sign).mean), 8)}  ${lpad(us(stats(loopOn.verify).mean), 8)}`)
  console.log('')

  console.log('2. Throughput')
  const rate = (n: number, ms: number): string => (n / (ms / 1000)).toFixed(1)
  console.log(`   sequential, one client (the loops above): batching on ${rate(nOnJobs, loopOn.t.wallMs)} jobs/s, batching off ${rate(nOffJobs, loopOff.t.wallMs)} jobs/s`)
  console.log(`     for scale, sequential in-process: ModelStore.run ${rate(N, directT.wallMs)} calls/s, raw ort ${rate(N, rawT.wallMs)} calls/s`)
  console.log(`     settlement run (part 3, claims going on meanwhile): ${rate(settleT.samples.length, settleT.wallMs)} jobs/s, p50 ${us(st.p50)} µs, p95 ${us(st.p95)} µs, max ${us(st.max)} µs`)
  console.log(`   ${CLIENTS} at once (issue #5): ${MODEL}, batch 1, each client / caller runs jobs in sequence for ${TPUT_S} s`)
  console.log(`     network: ${CLIENTS} SilkClients in a child process (bench/fleet.ts), each its own wallet, libp2p host, channel and session`)
  console.log(`              (${CLIENTS * 2} channels on 2 nodes); the nodes and the devnet stay in this process`)
  console.log(`     direct : ${CLIENTS} async callers of Batcher.run over one in-process ModelStore (no network, no payment)`)
  console.log('     batching on = the node default (maxQueue 256); runs and jobs/run from Batcher.stats over the phase;')
  console.log('     ELU = event-loop utilization of a process (1.00: its one JS thread is saturated); cpu = its CPU time (all threads) per job;')
  console.log('     "node" = this process (for direct: the callers too), "clients" = the fleet process; latencies are as the callers saw them')
  console.log(`     ${pad('', 34)}${lpad('jobs/s', 9)}${lpad('jobs', 7)}${lpad('p50 ms', 9)}${lpad('p95 ms', 9)}${lpad('max ms', 9)}${lpad('runs', 7)}${lpad('jobs/run', 9)}` +
    `${lpad('node', 7)}${lpad('node cpu', 10)}${lpad('clients', 9)}${lpad('clients cpu', 13)}   per client`)
  console.log(`     ${pad('', 34)}${pad('', 9 + 7 + 9 + 9 + 9 + 7 + 9)}${lpad('ELU', 7)}${lpad('µs/job', 10)}${lpad('ELU', 9)}${lpad('µs/job', 13)}   min/med/max`)
  const tput = (p: Phase): number => p.b.ok / (p.b.wallMs / 1000)
  const ms = (x: number): string => x.toFixed(x < 10 ? 2 : 1)
  for (const p of [nOn, nOff, dOn, dOff]) {
    const s = stats(p.b.samples)
    const pw = [...p.b.perWorker].sort((x, y) => x - y)
    const node = p.server ?? p.b
    const clientCols = p.server !== undefined ? `${lpad(p.b.elu.toFixed(2), 9)}${lpad(us(p.b.cpuMs / p.b.ok), 13)}` : `${lpad('-', 9)}${lpad('-', 13)}`
    console.log(`     ${pad(p.label, 34)}${lpad(tput(p).toFixed(1), 9)}${lpad(String(p.b.ok), 7)}${lpad(ms(s.p50), 9)}${lpad(ms(s.p95), 9)}${lpad(ms(s.max), 9)}${lpad(String(p.runs), 7)}${lpad((p.jobs / p.runs).toFixed(2), 9)}` +
      `${lpad(node.elu.toFixed(2), 7)}${lpad(us(node.cpuMs / p.b.ok), 10)}${clientCols}   ${pw[0]}/${pw[Math.floor(pw.length / 2)]}/${pw[pw.length - 1]}`)
    if (p.update !== undefined && p.infer !== undefined) {
      const u = stats(p.update)
      const i = stats(p.infer)
      console.log(`       node meanwhile: VoucherStore.update p50 ${ms(u.p50)} ms, p95 ${ms(u.p95)} ms, ${(sum(p.update) / p.b.wallMs).toFixed(1)} in flight on average; ModelStore.run p50 ${us(i.p50)} µs, p95 ${us(i.p95)} µs`)
    }
    for (const [k, v] of p.b.errors) console.log(`       !! ${v} failed: ${k}`)
  }
  console.log(`     network / direct     : batching on ${(tput(nOn) / tput(dOn) * 100).toFixed(1)}% (1/${(tput(dOn) / tput(nOn)).toFixed(1)}), batching off ${(tput(nOff) / tput(dOff) * 100).toFixed(1)}% (1/${(tput(dOff) / tput(nOff)).toFixed(1)})`)
  console.log(`     batching on / off    : network ${ratio(tput(nOn), tput(nOff), 2)}, direct ${ratio(tput(dOn), tput(dOff), 2)}`)
  console.log(`     ${CLIENTS} clients / 1 client (network): batching on ${ratio(tput(nOn), nOnJobs / (loopOn.t.wallMs / 1000), 2)}, batching off ${ratio(tput(nOff), nOffJobs / (loopOff.t.wallMs / 1000), 2)}`)
  console.log('')

  const txs = recorded.map((x) => x.rec)
  const claimTxs = txs.filter((t) => t.account.equals(channelB) && opOf(t.tx) === 'claim')
  const okClaims = claimTxs.filter((t) => exitCode(t.tx) === 0)
  const openTxs = recorded.filter((x) => x.phase === 'open').map((x) => x.rec)
  const settleTxs = recorded.filter((x) => x.phase !== 'open').map((x) => x.rec)
  const fees = txs.reduce((s, t) => s + feesOf(t.tx), 0n)
  const feesIn = (list: TxRecord[]): bigint => list.reduce((s, t) => s + feesOf(t.tx), 0n)
  // Jobs per claim, from what the provider owner received: delta − fee, fee = delta · FEE_BPS / 10000.
  const payoutTxs = txs.filter((t) => t.account.equals(b.owner.address) && opOf(t.tx) === 'payout')
  const claimJobs = payoutTxs.map((t) => Math.round(Number(inValue(t.tx)) / (1 - FEE_BPS / 10_000) / Number(price)))
  const feeTxs = txs.filter((t) => t.account.equals(net!.registry) && opOf(t.tx) === 'protocolFee')
  const feeSent = feeTxs.reduce((s, t) => s + inValue(t.tx), 0n)
  const jobsDone = settleError === undefined ? SETTLE_JOBS : settleT.samples.length

  console.log(`3. On-chain footprint of ${SETTLE_JOBS} paid jobs (claimThreshold = ${CLAIM_EVERY} jobs = ${ton(threshold, 4)} TON; price ${ton(price, 5)} TON/job)`)
  if (settleError !== undefined) console.log(`   !! the run stopped early: ${settleError}`)
  console.log(`   transactions the devnet recorded: ${txs.length}`)
  console.log(`     channel open cascade : ${openTxs.length} txs (${openMs.toFixed(0)} ms from sending until the channel was usable and the cascade done)`)
  console.log(`     claims               : ${okClaims.length} successful (${claimTxs.length - okClaims.length} failed), ${settleTxs.length} txs with their payout/fee/excess hops` +
    (claimTxs.length > 0 ? ` = ${(settleTxs.length / claimTxs.length).toFixed(1)} per claim` : ''))
  console.log(`     jobs paid per claim  : ${claimJobs.join(', ')}`)
  if (leftover > 0n) console.log(`       (the last ${ton(leftover)} TON = ${Number(leftover / price)} jobs stayed below the threshold; one manual claimAll settled it, counted above)`)
  else console.log(`       (nothing was left unclaimed; the last claim and its hops landed ${drainMs.toFixed(0)} ms after the last job)`)
  console.log('     by account <- message:')
  const breakdown = new Map<string, number>()
  for (const t of txs) {
    const why = failure(t.tx)
    const k = `${roleOf(t.account)} <- ${opOf(t.tx)}${why !== undefined ? ` [${why}]` : ''}`
    breakdown.set(k, (breakdown.get(k) ?? 0) + 1)
  }
  for (const [k, v] of [...breakdown.entries()].sort((x, y) => x[0] < y[0] ? -1 : 1)) console.log(`       ${lpad(String(v), 4)}  ${k}`)
  const failed = txs.filter((t) => failure(t.tx) !== undefined)
  if (failed.length > 0) {
    console.log(`     ${failed.length} txs did not run their handler to the end (a non-bounceable message's value is credited anyway); their in-values, nanoton:`)
    for (const t of failed) console.log(`       ${pad(`${roleOf(t.account)} <- ${opOf(t.tx)}`, 34)} ${lpad(inValue(t.tx).toString(), 8)}  ${failure(t.tx) ?? ''}`)
  }
  console.log(`     registry balance: +${ton(registryAfter - registryBefore)} TON, for ${ton(feeSent)} TON of protocol fees delivered in ${feeTxs.length} txs (${feeTxs.filter((t) => failure(t.tx) === undefined).length} succeeded)`)
  console.log(`   txs per 1,000 jobs   : ${(txs.length * 1000 / jobsDone).toFixed(1)} (open ${openTxs.length}, claims ${settleTxs.length})`)
  console.log(`   fees burned on chain : ${ton(fees)} TON (tx fees + forward fees): open ${ton(feesIn(openTxs))}, claims ${ton(feesIn(settleTxs))}` +
    (okClaims.length > 0 ? ` = ${ton(feesIn(settleTxs) / BigInt(okClaims.length))} per claim` : ''))
  console.log(`   fees per job         : ${ton(fees / BigInt(jobsDone), 9)} TON = ${(Number(fees) / jobsDone / Number(price) * 100).toFixed(1)}% of the job price (claims alone ${(Number(feesIn(settleTxs)) / jobsDone / Number(price) * 100).toFixed(1)}%)`)
  console.log(`   check: the ${parties.length} accounts involved hold ${ton(balanceBefore - balanceAfter)} TON less than before (= the fees above when nothing leaked)`)
  const final = b.node.vouchers.get(channelB)
  console.log(`   vouchers: ${ton(final.amount)} TON paid by the client (${Number(final.amount / price)} jobs), ${ton(final.claimed)} TON recorded as claimed by the node`)
  console.log('')

  const rssEnd = process.memoryUsage().rss
  console.log('4. Memory (RSS of this process: devnet, nodes, the latency and settlement clients, onnxruntime), MB')
  console.log(`   at start ${mb(rssStart)}; after the in-process runs ${mb(rssAfterInProcess)}; after the settlement run ${mb(rssAfterSettle)}`)
  console.log(`   with 2 more nodes and ${CLIENTS} clients connected (${CLIENTS * 2} channels) ${mb(rssFleet)}; after the throughput phases ${mb(rssAfterTput)}`)
  console.log(`   (the ${CLIENTS} clients' own process: ${mb(ready.rss)} MB once connected)`)
  console.log(`   latency loop (batching on, ${nOnJobs} jobs) ${mb(loopOn.rssBefore)} -> ${mb(loopOn.rssAfter)}; (batching off, ${nOffJobs} jobs) ${mb(loopOff.rssBefore)} -> ${mb(loopOff.rssAfter)}`)
  console.log(`   at the end ${mb(rssEnd)} (heap used ${mb(process.memoryUsage().heapUsed)})`)
  console.log('')
  console.log(`setup: local network ${(setupNetMs / 1000).toFixed(1)} s; 2 nodes + ${CLIENTS} clients + ${CLIENTS * 2} channels ${(fleetSetupMs / 1000).toFixed(1)} s` +
    ` (dials paced at 4/s per node; ${ready.retries} refused and retried); latency client + 2 channels ${(peerSetupMs / 1000).toFixed(1)} s`)
  console.log(`total ${(performance.now() / 1000).toFixed(1)} s since process start (before closing); load avg at end ${loadAvg()}`)
} finally {
  if (fleet !== undefined && fleet.exitCode === null && fleet.signalCode === null) {
    await Promise.race([new Promise((resolve) => fleet!.once('exit', resolve)), sleep(3000)])
    if (fleet.exitCode === null && fleet.signalCode === null) fleet.kill('SIGKILL')
  }
  await direct.stop()
  await raw.release()
  await net?.close()
}

// Everything is closed; if a stray handle still holds the loop open, say so and exit anyway.
setTimeout(() => {
  console.error(`note: 1 s after closing everything the process was still held open (${process.getActiveResourcesInfo().join(', ')}); exiting`)
  process.exit(0)
}, 1000).unref()
