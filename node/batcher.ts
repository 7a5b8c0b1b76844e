import { DTYPES, type Tensor } from '../protocol/tensor.ts'
import { NodeError } from './errors.ts'
import { withBatching, type ModelInfo, type RunResult } from './models.ts'
import type { ClassifyResult, GenerateRequest, GenerateResult } from './text-models.ts'

/** What the batcher needs of a model store (ModelStore satisfies it). */
export interface TensorModels {
  list(): readonly ModelInfo[]
  /** Validates a tensor job exactly as run() would, without running it; returns its batch size. */
  checkInputs(modelHash: Uint8Array, inputs: readonly Tensor[]): number
  run(modelHash: Uint8Array, inputs: readonly Tensor[]): Promise<RunResult>
  classify(modelHash: Uint8Array, texts: string[]): Promise<ClassifyResult>
  generate(modelHash: Uint8Array, request: GenerateRequest, onToken?: (text: string) => void): Promise<GenerateResult>
}

export interface BatcherOptions {
  /** merge concurrent jobs of a batchable model (unit "row", maxBatch set); default true */
  enabled?: boolean
  /** jobs queued or running at once before new ones are refused with OVERLOADED; default 256 */
  maxQueue?: number
}

export class OverloadedError extends NodeError {
  override name = 'OverloadedError'
  constructor (message: string) { super('OVERLOADED', message) }
}

interface Pending {
  inputs: readonly Tensor[]
  rows: number
  /** Every input's name, dtype and non-batch axes: only jobs with equal keys are merged. */
  key: string
  resolve: (r: RunResult) => void
  reject: (e: unknown) => void
}

interface Lane {
  /** a run of this model is in flight */
  busy: boolean
  waiting: Pending[]
}

/**
 * A bounded queue in front of the model store that merges concurrent jobs of batchable models
 * into one session.run along the batch axis, then splits the outputs back per job. A job that
 * finds its model idle runs at once (no waiting for company); jobs that arrive while a run is in
 * flight wait for it and then go together, up to maxBatch rows. Rows are independent in such
 * models, so each job's output bytes are what it would get alone (tested).
 *
 * Every job is validated alone against the manifest (names, dtypes, every axis, sizes) before it
 * is queued, so a job refused alone is refused here with the same error; and only jobs whose
 * shapes agree on every non-batch axis are merged, so no job's bytes can land in another's rows.
 */
export class Batcher {
  private readonly lanes = new Map<string, Lane>()
  private queued = 0
  /** session.run calls and jobs served, for benchmarks and tests */
  readonly stats = { runs: 0, jobs: 0 }

  constructor (private readonly models: TensorModels, private readonly options: BatcherOptions = {}) {}

  get depth (): number {
    return this.queued
  }

  /** The store's models, each with its execution path stating whether this batcher merges its jobs. */
  list (): readonly ModelInfo[] {
    return this.models.list().map((m) => ({ ...m, execution: withBatching(m.execution, this.merges(m)) }))
  }

  private merges (model: ModelInfo): boolean {
    return this.options.enabled !== false && model.task === 'tensor' && model.unit === 'row' && model.maxBatch !== undefined
  }

  /** Text jobs are not merged, but count against the same queue bound. */
  async classify (modelHash: Uint8Array, texts: string[]): Promise<ClassifyResult> {
    return await this.bounded(async () => { this.count(); return await this.models.classify(modelHash, texts) })
  }

  async generate (modelHash: Uint8Array, request: GenerateRequest, onToken?: (text: string) => void): Promise<GenerateResult> {
    return await this.bounded(async () => { this.count(); return await this.models.generate(modelHash, request, onToken) })
  }

  async run (modelHash: Uint8Array, inputs: readonly Tensor[]): Promise<RunResult> {
    const model = this.models.list().find((m) => m.hash.equals(Buffer.from(modelHash)))
    if (model === undefined || !this.merges(model)) return await this.bounded(async () => { this.count(); return await this.models.run(modelHash, inputs) })
    // The whole shape is checked against the manifest here, alone, with the store's own checks.
    const rows = this.models.checkInputs(modelHash, inputs)
    const key = shapeKey(model, inputs)
    return await this.bounded(async () => await new Promise<RunResult>((resolve, reject) => {
      const lane = this.lane(model)
      lane.waiting.push({ inputs, rows, key, resolve, reject })
      if (!lane.busy) this.drain(model, lane)
    }))
  }

  private async bounded<T> (work: () => Promise<T>): Promise<T> {
    if (this.queued >= (this.options.maxQueue ?? 256)) throw new OverloadedError(`the node has ${this.queued} jobs queued; try again shortly`)
    this.queued++
    try {
      return await work()
    } finally {
      this.queued--
    }
  }

  private count (): void {
    this.stats.runs++
    this.stats.jobs++
  }

  private lane (model: ModelInfo): Lane {
    let lane = this.lanes.get(model.hashHex)
    if (lane === undefined) {
      lane = { busy: false, waiting: [] }
      this.lanes.set(model.hashHex, lane)
    }
    return lane
  }

  /**
   * Runs the oldest waiting job together with the later ones of the same shape key (up to maxBatch
   * rows; the others keep their place), then, after pending I/O had its turn, the next group.
   */
  private drain (model: ModelInfo, lane: Lane): void {
    const group: Pending[] = []
    const first = lane.waiting.shift()
    if (first !== undefined) {
      group.push(first)
      let rows = first.rows
      lane.waiting = lane.waiting.filter((job) => {
        if (job.key !== first.key || rows + job.rows > model.maxBatch!) return true
        group.push(job)
        rows += job.rows
        return false
      })
    }
    if (group.length === 0) {
      lane.busy = false
      return
    }
    lane.busy = true
    void this.runGroup(model, group).finally(() => { setImmediate(() => { this.drain(model, lane) }) })
  }

  private async runGroup (model: ModelInfo, jobs: Pending[]): Promise<void> {
    this.stats.jobs += jobs.length
    if (jobs.length === 1) {
      this.stats.runs++
      await this.models.run(model.hash, jobs[0]!.inputs).then(jobs[0]!.resolve, jobs[0]!.reject)
      return
    }
    try {
      this.stats.runs++
      const merged = model.inputs.map((spec) => concatRows(spec.name, jobs.map((j) => j.inputs.find((t) => t.name === spec.name)!)))
      const { outputs } = await this.models.run(model.hash, merged)
      let offset = 0
      for (const job of jobs) {
        job.resolve({ outputs: outputs.map((t) => sliceRows(t, offset, job.rows)), units: job.rows })
        offset += job.rows
      }
    } catch {
      // One bad job must not fail its neighbours: run each alone so only it gets its error.
      for (const job of jobs) {
        this.stats.runs++
        await this.models.run(model.hash, job.inputs).then(job.resolve, job.reject)
      }
    }
  }
}

/**
 * A validated job's shape without the batch axis, input by input in manifest order. Equal keys
 * mean the jobs' rows have the same layout, so concatenating them and slicing the outputs back
 * gives each job exactly its own rows (dynamic non-batch axes such as a sequence length differ
 * between valid jobs, and such jobs must never share a run).
 */
function shapeKey (model: ModelInfo, inputs: readonly Tensor[]): string {
  return JSON.stringify(model.inputs.map((spec) => {
    const t = inputs.find((i) => i.name === spec.name)!
    return [spec.name, t.dtype, t.dims.slice(1)]
  }))
}

function concatRows (name: string, parts: Tensor[]): Tensor {
  const first = parts[0]!
  const data = new Uint8Array(parts.reduce((n, t) => n + t.data.byteLength, 0))
  let o = 0
  for (const t of parts) { data.set(t.data, o); o += t.data.byteLength }
  return { name, dtype: first.dtype, dims: [parts.reduce((n, t) => n + t.dims[0]!, 0), ...first.dims.slice(1)], data }
}

function sliceRows (t: Tensor, start: number, rows: number): Tensor {
  const rowBytes = t.dims.slice(1).reduce((a, b) => a * b, 1) * DTYPES[t.dtype]
  return { name: t.name, dtype: t.dtype, dims: [rows, ...t.dims.slice(1)], data: t.data.slice(start * rowBytes, (start + rows) * rowBytes) }
}
