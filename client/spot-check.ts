import type { Address, Cell } from '@ton/core'
import type { TonClient } from '@ton/ton'
import type { Sender } from '@ton/core'
import { Provider, type EquivocationProof } from '../contracts/index.ts'
import type { Tensor } from '../protocol/tensor.ts'
import type { VerifiedProvider } from './client.ts'
import type { PoolResult, ProviderPool } from './pool.ts'
import type { JobResult, RunOptions } from './session.ts'

/** Two receipts by one node key for the same deterministic job with different outputs. */
export interface EquivocationReport {
  /** the Provider contract to report to */
  provider: Address
  /** the node's dialable address */
  address: string
  proof: EquivocationProof
}

export type SpotCheckOutcome =
  | { checked: false }
  | { checked: true, agreed: true, by: string }
  /** the second provider disagreed; `equivocation` is set when one of them contradicted itself */
  | { checked: true, agreed: false, by: string, equivocation?: EquivocationReport }

export interface SpotCheckOptions {
  /** share of deterministic jobs re-run on a second provider, 0…1 */
  share: number
  random?: () => number
}

interface Signed { result: JobResult, provider: VerifiedProvider }

/**
 * Spot checks: a share of deterministic jobs is re-run on another provider. When outputs differ,
 * each side is asked again; a node whose two signed receipts for the same input disagree has
 * equivocated, and the two receipts are the proof the Provider contract slashes on.
 */
export class SpotChecker {
  constructor (private readonly pool: ProviderPool, private readonly options: SpotCheckOptions) {}

  async run (model: string, inputs: Tensor[], options: RunOptions = {}): Promise<PoolResult & { spotCheck: SpotCheckOutcome }> {
    const first = await this.signedRun(model, inputs, options)
    const result = { ...first.result, address: first.address }
    if (!first.result.receipt.deterministic || (this.options.random ?? Math.random)() >= this.options.share) {
      return { ...result, spotCheck: { checked: false } }
    }
    let second: Signed & { address: string }
    try {
      second = await this.signedRun(model, inputs, options, [first.address])
    } catch {
      return { ...result, spotCheck: { checked: false } } // no second provider available
    }
    if (second.result.receipt.outputHash.equals(first.result.receipt.outputHash)) {
      return { ...result, spotCheck: { checked: true, agreed: true, by: second.address } }
    }
    const equivocation = await this.recheck(model, inputs, first, options) ?? await this.recheck(model, inputs, second, options)
    return { ...result, spotCheck: { checked: true, agreed: false, by: second.address, ...(equivocation !== undefined ? { equivocation } : {}) } }
  }

  /** Asks the same provider again; a different signed output is an equivocation proof. */
  private async recheck (model: string, inputs: Tensor[], earlier: Signed & { address: string }, options: RunOptions): Promise<EquivocationReport | undefined> {
    const again = await this.pool.useAt(earlier.address, async (provider) => await provider.session.run(model, inputs, options)).catch(() => undefined)
    if (again === undefined || again.receipt.outputHash.equals(earlier.result.receipt.outputHash)) return undefined
    return {
      provider: earlier.provider.provider,
      address: earlier.address,
      proof: { receiptA: earlier.result.receiptCell, sigA: earlier.result.signature, receiptB: again.receiptCell as Cell, sigB: again.signature }
    }
  }

  private async signedRun (model: string, inputs: Tensor[], options: RunOptions, exclude: string[] = []): Promise<Signed & { address: string }> {
    return await this.pool.use(model, async (provider) => ({ result: await provider.session.run(model, inputs, options), provider }), options.signal, exclude)
  }
}

/** Sends the proof to the Provider contract; the reporter's wallet receives its share of the stake. */
export async function submitEquivocation (chain: TonClient, sender: Sender, report: EquivocationReport): Promise<void> {
  await chain.open(Provider.createFromAddress(report.provider)).sendReportEquivocation(sender, report.proof)
}
