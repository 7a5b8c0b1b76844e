import { createHash } from 'node:crypto'

/**
 * The job specification a receipt commits to (its `specHash`): what ran — the task's canonical
 * input hash, which covers the input and every parameter of the job (protocol/text.ts,
 * protocol/tensor.ts) — and how: the execution path the node pinned for the model (execution
 * provider, threads, batching), as stated in its advert and Welcome. Two complete, deterministic
 * receipts of one model with one spec and different outputs prove equivocation; a result from
 * another execution path (a CUDA→CPU fallback) has another spec and proves nothing.
 */
export function jobSpecHash (execution: string, inputHash: Buffer): Buffer {
  if (inputHash.length !== 32) throw new RangeError('inputHash must be 32 bytes')
  return createHash('sha256').update('silk-spec-v2\n').update(execution).update('\n').update(inputHash).digest()
}
