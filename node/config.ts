import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { Address } from '@ton/core'
import { z } from 'zod'

export class ConfigError extends Error {
  override name = 'ConfigError'
  readonly code = 'BAD_CONFIG'
}

const address = z.string().refine((s) => Address.isFriendly(s) || Address.isRaw(s), 'not a TON address')
const nanoton = z.union([z.string(), z.number().int()]).transform((v, ctx) => {
  try {
    const n = BigInt(v)
    if (n >= 0n) return n
  } catch {}
  ctx.addIssue({ code: 'custom', message: 'not a non-negative whole number of nanoton' })
  return z.NEVER
})

/** Security-relevant identity and chain settings first, runtime tuning after. */
export const NodeConfigSchema = z.strictObject({
  keyFile: z.string().min(1),
  providerOwner: address,
  chain: z.strictObject({
    network: z.enum(['local', 'testnet', 'mainnet']),
    endpoint: z.url(),
    apiKey: z.string().optional(),
    registry: address
  }),
  modelsDir: z.string().min(1),
  dataDir: z.string().min(1),
  listen: z.array(z.string().startsWith('/')).min(1).default(['/ip4/127.0.0.1/tcp/0']),
  /** nanoton served beyond the last voucher; 0 = one job at a time */
  credit: nanoton.default(0n),
  /** claim on chain once a channel's unclaimed vouchers exceed this (nanoton) */
  claimThreshold: nanoton.default(1_000_000_000n),
  /** merge concurrent jobs of batchable models; bound the inference queue */
  batching: z.strictObject({
    enabled: z.boolean().default(true),
    maxWaitMs: z.number().min(0).max(1000).default(2),
    maxQueue: z.number().int().min(1).default(256)
  }).default({ enabled: true, maxWaitMs: 2, maxQueue: 256 }),
  /** how often to look for channels that started closing (to claim before the delay ends), ms */
  watchIntervalMs: z.number().int().min(100).default(30_000),
  /** claim everything owed when the node shuts down */
  claimOnShutdown: z.boolean().default(true),
  executionProviders: z.array(z.enum(['cuda', 'cpu'])).min(1).default(['cpu']),
  /** loopback operator endpoint (/health, /status, POST /claim); off unless set */
  admin: z.strictObject({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535) }).optional(),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info')
})

export type NodeConfig = z.output<typeof NodeConfigSchema>

/** Parses a config object; errors name the bad field. Relative paths resolve against `baseDir`. */
export function parseNodeConfig (raw: unknown, baseDir: string, source = 'config'): NodeConfig {
  const result = NodeConfigSchema.safeParse(raw)
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
    throw new ConfigError(`${source} is invalid:\n  ${lines.join('\n  ')}`)
  }
  const c = result.data
  return { ...c, keyFile: resolve(baseDir, c.keyFile), modelsDir: resolve(baseDir, c.modelsDir), dataDir: resolve(baseDir, c.dataDir) }
}

export async function loadNodeConfig (path: string): Promise<NodeConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    throw new ConfigError(`config file ${path} cannot be read`)
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`)
  }
  return parseNodeConfig(raw, dirname(resolve(path)), path)
}
