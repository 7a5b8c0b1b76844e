// The concurrent loop behind the throughput phases of bench/jobs.bench.ts (used there and in bench/fleet.ts).
import { JobFailedError } from '../client/index.ts'

export const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)

export interface Burst {
  /** jobs that succeeded */
  ok: number
  wallMs: number
  /** successful jobs of each loop */
  perWorker: number[]
  /** duration of each successful job, ms */
  samples: number[]
  /** failures by kind */
  errors: Map<string, number>
  /** event-loop utilization of this process over the phase: near 1 = its one JS thread was the bottleneck */
  elu: number
  /** CPU time of this process (all its threads: JS, libuv pool, onnxruntime) over the phase, ms */
  cpuMs: number
}

/**
 * `workers` loops at once, each running `job(w)` in sequence until `seconds` have passed (a job
 * started before then is finished and counted). A loop gives up after 5 failed jobs.
 */
export async function burst (workers: number, seconds: number, job: (w: number) => Promise<unknown>): Promise<Burst> {
  const perWorker = new Array<number>(workers).fill(0)
  const samples: number[] = []
  const errors = new Map<string, number>()
  const elu0 = performance.eventLoopUtilization()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const end = t0 + seconds * 1000
  await Promise.all(perWorker.map(async (_, w) => {
    let failures = 0
    while (performance.now() < end) {
      const t = performance.now()
      try {
        await job(w)
        perWorker[w]!++
        samples.push(performance.now() - t)
      } catch (err) {
        const k = err instanceof JobFailedError ? `JobFailedError ${err.code}` : `${(err as Error).name}: ${(err as Error).message.slice(0, 100)}`
        errors.set(k, (errors.get(k) ?? 0) + 1)
        if (++failures >= 5) return
      }
    }
  }))
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  return { ok: sum(perWorker), wallMs, perWorker, samples, errors, elu: performance.eventLoopUtilization(elu0).utilization, cpuMs: (cpu.user + cpu.system) / 1000 }
}
