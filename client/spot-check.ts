import type { Address, Cell } from '@ton/core'
import type { TonClient } from '@ton/ton'
import type { Sender } from '@ton/core'
import { Provider, type EquivocationProof } from '../contracts/index.ts'
import type { Tensor } from '../protocol/tensor.ts'
import type { VerifiedProvider } from './client.ts'
import type { PoolResult, ProviderPool } from './pool.ts'
import type { JobResult, RunOptions } from './session.ts'
import type { Receipt } from '../protocol/cells.ts'
import { NotEquivocationError } from './errors.ts'

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
    if (again === undefined) return undefined
    let proof: EquivocationProof
    try {
      proof = equivocationProof(earlier.result, again)
    } catch (err) {
      if (err instanceof NotEquivocationError) return undefined
      throw err
    }
    return { provider: earlier.provider.provider, address: earlier.address, proof }
  }

  private async signedRun (model: string, inputs: Tensor[], options: RunOptions, exclude: string[] = []): Promise<Signed & { address: string }> {
    return await this.pool.use(model, async (provider) => ({ result: await provider.session.run(model, inputs, options), provider }), options.signal, exclude)
  }
}

/** Sends the proof to the Provider contract; the reporter's wallet receives its share of the stake. */
export async function submitEquivocation (chain: TonClient, sender: Sender, report: EquivocationReport): Promise<void> {
  await chain.open(Provider.createFromAddress(report.provider)).sendReportEquivocation(sender, report.proof)
}

/** A receipt with its cell and the node's signature, as every paid job returns it. */
export interface SignedReceipt { receipt: Receipt, receiptCell: Cell, signature: Uint8Array }

/**
 * Builds an equivocation proof only from what really is one: two complete, deterministic receipts
 * on one network and registration epoch, for the same model and the same job spec, with
 * different outputs. A cancelled or truncated result, another execution path or other job
 * parameters prove nothing (the Provider contract refuses them too), so none is built.
 * The signatures are the ones each session already verified against the node key.
 */
export function equivocationProof (a: SignedReceipt, b: SignedReceipt): EquivocationProof {
  const [ra, rb] = [a.receipt, b.receipt]
  if (!ra.complete || !rb.complete) throw new NotEquivocationError('INCOMPLETE', 'a partial (cancelled or truncated) result proves nothing')
  if (!ra.deterministic || !rb.deterministic) throw new NotEquivocationError('NOT_DETERMINISTIC', 'only deterministic results must agree')
  if (ra.globalId !== rb.globalId) throw new NotEquivocationError('DIFFERENT_NETWORK', 'the receipts are for different networks')
  if (ra.epoch !== rb.epoch) throw new NotEquivocationError('DIFFERENT_EPOCH', 'the receipts are of different registrations')
  if (!ra.modelHash.equals(rb.modelHash)) throw new NotEquivocationError('DIFFERENT_MODEL', 'the receipts are for different models')
  if (!ra.specHash.equals(rb.specHash)) throw new NotEquivocationError('DIFFERENT_SPEC', 'the receipts are for different job specs (input, parameters or execution path)')
  if (ra.outputHash.equals(rb.outputHash)) throw new NotEquivocationError('SAME_OUTPUT', 'the outputs agree')
  return { receiptA: a.receiptCell, sigA: a.signature, receiptB: b.receiptCell, sigB: b.signature }
}
