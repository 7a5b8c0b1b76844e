import { createHash } from 'node:crypto'

// Canonical hashes of text jobs, identical on client and node: sha256 over a tag and the JSON of
// the value with keys in a fixed order (the values below have no other objects).

export const CHAT_ROLES = ['system', 'user', 'assistant'] as const
export interface ChatTurn { role: typeof CHAT_ROLES[number], content: string }
export interface ScoredLabel { label: string, score: number }

function digest (tag: string, value: unknown): Buffer {
  return createHash('sha256').update(`silk-${tag}-v1\n`).update(JSON.stringify(value)).digest()
}

/**
 * The decoding a node applies to every generation job: greedy, one beam, no sampling (so no seed,
 * temperature or top-p). It is hashed with each job's input so that a receipt commits to every
 * generation parameter, and changing any of them changes the spec a receipt names.
 */
export const GENERATION_DECODING = { doSample: false, numBeams: 1 } as const

/** The generation job's whole input: conversation or prompt, token limit and decoding parameters. */
export function generationInputHash (req: { messages: ReadonlyArray<{ role: string, content: string }>, prompt: string, maxNewTokens: number }): Buffer {
  return createHash('sha256').update('silk-generate-in-v2\n').update(JSON.stringify([
    req.messages.map((m) => [m.role, m.content]),
    req.prompt,
    req.maxNewTokens,
    GENERATION_DECODING.doSample,
    GENERATION_DECODING.numBeams
  ])).digest()
}

export function generationOutputHash (out: { text: string, tokens: number }): Buffer {
  return digest('generate-out', [out.text, out.tokens])
}

export function classificationInputHash (texts: readonly string[]): Buffer {
  return digest('classify-in', texts)
}

export function classificationOutputHash (labels: ReadonlyArray<readonly ScoredLabel[]>): Buffer {
  return digest('classify-out', labels.map((set) => set.map((l) => [l.label, l.score])))
}
