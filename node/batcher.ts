import { DTYPES, type Tensor } from '../protocol/tensor.ts'
import { NodeError } from './errors.ts'
import type { ModelInfo, RunResult } from './models.ts'
import type { ClassifyResult, GenerateRequest, GenerateResult } from './text-models.ts'

/** What the batcher needs of a model store (ModelStore satisfies it). */
export interface TensorModels {
  list(): readonly ModelInfo[]
  run(modelHash: Uint8Array, inputs: readonly Tensor[]): Promise<RunResult>
  classify(modelHash: Uint8Array, texts: string[]): Promise<ClassifyResult>
  generate(modelHash: Uint8Array, request: GenerateRequest, onToken?: (text: string) => void): Promise<GenerateResult>
}

export interface BatcherOptions {
  /** merge concurrent jobs of a batchable model (unit "row", maxBatch set); default true */
  enabled?: boolean
  /** how long the first job of a batch waits for company, ms; default 2 */
  maxWaitMs?: number
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
  resolve: (r: RunResult) => void
  reject: (e: unknown) => void
}

interface Batch { jobs: Pending[], rows: number, timer?: NodeJS.Timeout }

/**
 * A bounded queue in front of the model store that merges concurrent jobs of batchable models
 * into one session.run along the batch axis, then splits the outputs back per job. Rows are
 * independent in such models, so each job's output bytes are what it would get alone (tested).
 */
export class Batcher {
  private readonly batches = new Map<string, Batch>()
  private queued = 0
  /** session.run calls and jobs served, for benchmarks and tests */
  readonly stats = { runs: 0, jobs: 0 }

  constructor (private readonly models: TensorModels, private readonly options: BatcherOptions = {}) {}

  get depth (): number {
    return this.queued
  }

  list (): readonly ModelInfo[] {
    return this.models.list()
  }

  /** Text jobs are not merged, but count against the same queue bound. */
  async classify (modelHash: Uint8Array, texts: string[]): Promise<ClassifyResult> {
    return await this.bounded(async () => await this.models.classify(modelHash, texts))
  }

  async generate (modelHash: Uint8Array, request: GenerateRequest, onToken?: (text: string) => void): Promise<GenerateResult> {
    return await this.bounded(async () => await this.models.generate(modelHash, request, onToken))
  }

  private async bounded<T> (work: () => Promise<T>): Promise<T> {
    if (this.queued >= (this.options.maxQueue ?? 256)) throw new OverloadedError(`the node has ${this.queued} jobs queued; try again shortly`)
    this.queued++
    try {
      this.stats.runs++
      this.stats.jobs++
      return await work()
    } finally {
      this.queued--
    }
  }

  async run (modelHash: Uint8Array, inputs: readonly Tensor[]): Promise<RunResult> {
    if (this.queued >= (this.options.maxQueue ?? 256)) throw new OverloadedError(`the node has ${this.queued} jobs queued; try again shortly`)
    this.queued++
    try {
      const model = this.models.list().find((m) => m.hash.equals(Buffer.from(modelHash)))
      const rows = model !== undefined ? batchRows(model, inputs) : undefined
      if (this.options.enabled === false || model === undefined || rows === undefined) {
        this.stats.runs++
        this.stats.jobs++
        return await this.models.run(modelHash, inputs)
      }
      return await new Promise<RunResult>((resolve, reject) => { this.enqueue(model, { inputs, rows, resolve, reject }) })
    } finally {
      this.queued--
    }
  }

  private enqueue (model: ModelInfo, job: Pending): void {
    const key = model.hashHex
    let batch = this.batches.get(key)
    if (batch !== undefined && batch.rows + job.rows > model.maxBatch!) {
      this.flush(model, batch)
      batch = undefined
    }
    if (batch === undefined) {
      batch = { jobs: [], rows: 0 }
      this.batches.set(key, batch)
      const b = batch
      b.timer = setTimeout(() => { this.flush(model, b) }, this.options.maxWaitMs ?? 2)
    }
    batch.jobs.push(job)
    batch.rows += job.rows
    if (batch.rows >= model.maxBatch!) this.flush(model, batch)
  }

  private flush (model: ModelInfo, batch: Batch): void {
    clearTimeout(batch.timer)
    if (this.batches.get(model.hashHex) === batch) this.batches.delete(model.hashHex)
    void this.runBatch(model, batch.jobs)
  }

  private async runBatch (model: ModelInfo, jobs: Pending[]): Promise<void> {
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

/** Rows of a job if the model is batchable and the job's inputs agree on them; otherwise undefined. */
function batchRows (model: ModelInfo, inputs: readonly Tensor[]): number | undefined {
  if (model.unit !== 'row' || model.maxBatch === undefined || inputs.length !== model.inputs.length) return undefined
  const rows = inputs[0]?.dims[0]
  if (rows === undefined || rows < 1 || rows > model.maxBatch) return undefined
  for (const spec of model.inputs) {
    const t = inputs.find((i) => i.name === spec.name)
    if (t === undefined || t.dtype !== spec.dtype || t.dims[0] !== rows || t.dims.length !== spec.shape.length) return undefined
  }
  return rows
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
