// The part of the OpenAI HTTP API the gateway serves: request schemas (zod) and response shapes,
// plus the non-standard `silk` field that carries each result's proof. See gateway/README.md.
import { z } from 'zod'
import type { TeeTier } from '../protocol/attestation.ts'
import type { ChatTurn, ScoredLabel } from '../protocol/text.ts'
import { invalidRequest } from './errors.ts'

const textPart = z.object({ type: z.literal('text'), text: z.string() })

const chatMessage = z.object({
  // 'developer' is the newer name of 'system'; tool and function turns need tools, which Silk models lack
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(textPart).min(1)]),
  name: z.string().optional()
})

/** Rejects a parameter Silk cannot honour rather than silently ignoring it. */
const absent = (what: string): z.ZodType<unknown> =>
  z.unknown().refine((v) => v === undefined || v === null || (Array.isArray(v) && v.length === 0), `${what} is not supported by Silk models`)

/**
 * POST /v1/chat/completions. Sampling parameters (temperature, top_p, seed, …) are accepted and
 * ignored: Silk decodes greedily so that every node returns the same, verifiable text.
 */
export const ChatCompletionRequest = z.object({
  model: z.string().min(1),
  messages: z.array(chatMessage).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  n: z.literal(1, { error: 'only n = 1 is supported' }).nullish(),
  stop: absent('stop'),
  tools: absent('tools'),
  functions: absent('functions')
})
export type ChatCompletionRequest = z.output<typeof ChatCompletionRequest>

/**
 * POST /v1/completions (legacy text completions): the prompt is sent as raw text, without a chat
 * template. One prompt per request; sampling parameters are accepted and ignored as for chat.
 */
export const CompletionRequest = z.object({
  model: z.string().min(1),
  prompt: z.union([z.string(), z.array(z.string()).length(1, 'one prompt per request is supported')]),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  n: z.literal(1, { error: 'only n = 1 is supported' }).nullish(),
  best_of: z.literal(1, { error: 'only best_of = 1 is supported' }).nullish(),
  echo: z.literal(false, { error: 'echo is not supported by Silk models' }).nullish(),
  logprobs: absent('logprobs'),
  suffix: absent('suffix'),
  stop: absent('stop')
})
export type CompletionRequest = z.output<typeof CompletionRequest>

export function completionPrompt (prompt: CompletionRequest['prompt']): string {
  return typeof prompt === 'string' ? prompt : prompt[0]!
}

/** POST /v1/moderations */
export const ModerationRequest = z.object({
  model: z.string().min(1).optional(),
  input: z.union([
    z.string().min(1),
    z.array(z.string().min(1)).min(1),
    z.array(z.object({ type: z.literal('text', { error: 'only text inputs are supported' }), text: z.string().min(1) })).min(1)
  ])
})
export type ModerationRequest = z.output<typeof ModerationRequest>

/** Parses a body or throws a 400 that names the first bad field as OpenAI does (`messages[0].role`). */
export function parseBody<T extends z.ZodType> (schema: T, body: unknown): z.output<T> {
  const result = schema.safeParse(body)
  if (result.success) return result.data
  const issue = result.error.issues[0]!
  const param = issue.path.reduce<string>((s, k) => typeof k === 'number' ? `${s}[${k}]` : s === '' ? String(k) : `${s}.${String(k)}`, '')
  const given = issue.path.reduce<unknown>((v, k) => typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[k] : undefined, body)
  const missing = issue.path.length > 0 && given === undefined
  throw invalidRequest(missing ? `Missing required parameter: '${param}'.` : `Invalid '${param || 'body'}': ${issue.message}.`, param || null,
    missing ? 'missing_required_parameter' : 'invalid_value')
}

export function chatTurns (messages: ChatCompletionRequest['messages']): ChatTurn[] {
  return messages.map((m) => ({
    role: m.role === 'developer' ? 'system' : m.role,
    content: typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('\n')
  }))
}

export function moderationTexts (input: ModerationRequest['input']): string[] {
  if (typeof input === 'string') return [input]
  return input.map((x) => typeof x === 'string' ? x : x.text)
}

/**
 * The proof behind a result, so a caller can check it without trusting the gateway: the receipt
 * cell (BOC) signed by `node_key`, which the Provider contract at `provider` holds with its stake.
 */
export interface SilkProof {
  /** hash of the receipt cell, hex */
  receipt: string
  /** the receipt cell, base64 BOC (channel, job id, model hash, input/output hashes, units, price) */
  receipt_boc: string
  /** Ed25519 signature of the receipt cell hash by the node key, hex */
  signature: string
  /** the node key (Ed25519 public key), hex */
  node_key: string
  /** nanoton paid for this result (a decimal string) */
  cost: string
  /** units billed: tokens generated, or texts classified */
  units: number
  /** the Provider contract on TON */
  provider: string
  /** the libp2p address the job ran on */
  peer: string
  /** 'tdx' (attested confidential VM), 'dev' (local only) or 'none' */
  tier: TeeTier
}

export interface ModelEntry { id: string, object: 'model', created: number, owned_by: string }

type FinishReason = 'stop' | 'length'
interface Usage { prompt_tokens: number, completion_tokens: number, total_tokens: number }

/** Silk does not see the prompt's tokens (the node tokenizes), so prompt_tokens is 0. */
export function usageOf (tokens: number): Usage {
  return { prompt_tokens: 0, completion_tokens: tokens, total_tokens: tokens }
}

export function chatCompletion (id: string, created: number, model: string, text: string, finish: FinishReason, tokens: number, silk: SilkProof): object {
  return {
    id,
    object: 'chat.completion',
    created,
    model,
    system_fingerprint: null,
    choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null, annotations: [] }, logprobs: null, finish_reason: finish }],
    usage: usageOf(tokens),
    silk
  }
}

export function chatChunk (
  id: string, created: number, model: string,
  choice: { delta: { role?: 'assistant', content?: string }, finish_reason: FinishReason | null } | null,
  extra: { usage?: Usage, silk?: SilkProof } = {}
): object {
  return {
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    system_fingerprint: null,
    choices: choice === null ? [] : [{ index: 0, delta: choice.delta, logprobs: null, finish_reason: choice.finish_reason }],
    ...extra
  }
}

export interface ModerationVerdict {
  flagged: boolean
  categories: Record<string, boolean>
  category_scores: Record<string, number>
}

/**
 * One text's labels as an OpenAI moderation result: every label except the safe ones is a
 * category, flagged when its score is above the threshold.
 */
export function moderationVerdict (labels: readonly ScoredLabel[], threshold: number, safeLabels: readonly string[]): ModerationVerdict {
  const categories: Record<string, boolean> = {}
  const scores: Record<string, number> = {}
  for (const { label, score } of labels) {
    if (safeLabels.includes(label)) continue
    categories[label] = score > threshold
    scores[label] = score
  }
  return { flagged: Object.values(categories).some(Boolean), categories, category_scores: scores }
}

export function textCompletion (id: string, created: number, model: string, text: string, finish: FinishReason, tokens: number, silk: SilkProof): object {
  return {
    id,
    object: 'text_completion',
    created,
    model,
    system_fingerprint: null,
    choices: [{ index: 0, text, logprobs: null, finish_reason: finish }],
    usage: usageOf(tokens),
    silk
  }
}

export function completionChunk (
  id: string, created: number, model: string,
  choice: { text: string, finish_reason: FinishReason | null } | null,
  extra: { usage?: Usage, silk?: SilkProof } = {}
): object {
  return {
    id,
    object: 'text_completion',
    created,
    model,
    system_fingerprint: null,
    choices: choice === null ? [] : [{ index: 0, text: choice.text, logprobs: null, finish_reason: choice.finish_reason }],
    ...extra
  }
}
