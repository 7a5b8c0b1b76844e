import { Address } from '@ton/core'
import { z } from 'zod'
import { issueLines, nanotonField, peerMultiaddrField, readJsonFile, tonAddressField } from '../protocol/config-fields.ts'
import { DEFAULTS } from './constants.ts'

export class GatewayConfigError extends Error {
  override name = 'GatewayConfigError'
  readonly code = 'BAD_CONFIG'
}

const address = tonAddressField
const nanoton = nanotonField
const peerMultiaddr = peerMultiaddrField

/**
 * `silk gateway --config <file>`. Which chain and providers to trust and what to spend come first;
 * serving and tuning after. Secrets (the wallet mnemonic, API keys) come from the environment.
 */
export const GatewayConfigSchema = z.strictObject({
  chain: z.strictObject({
    /** required: the development attestation is accepted only when 'local' is chosen explicitly */
    network: z.enum(['local', 'testnet', 'mainnet']),
    endpoint: z.url(),
    apiKey: z.string().optional(),
    registry: address
  }),
  /** providers to use; empty = find them by discovery (then list `models`) */
  providers: z.array(peerMultiaddr).default([]),
  /** discovery bootstrap peers, when `providers` is empty */
  bootstrap: z.array(peerMultiaddr).default([]),
  /** deposit of each new channel, nanoton; default 0.5 TON */
  deposit: nanoton.default(500_000_000n),
  /** refuse providers that charge more per unit, nanoton */
  maxPricePerUnit: nanoton.optional(),
  /** confidential tier: 'required' serves only from attested confidential VMs whose measurement the Registry allows */
  tee: z.enum(['required', 'preferred', 'off']).default('off'),
  /** TCB statuses of TDX quotes to accept (default only 'UpToDate') */
  acceptedTcbStatuses: z.array(z.string()).optional(),
  /** the models to offer; unset = what the `providers` serve */
  models: z.array(z.strictObject({ id: z.string().min(1), task: z.enum(['text-generation', 'text-classification']) })).min(1).optional(),
  /** what the gateway's wallet may spend (nanoton): overall and per API key per period, and per request */
  spending: z.strictObject({
    periodHours: z.number().positive().max(24 * 366).default(24),
    total: nanoton.default(DEFAULTS.spending.total),
    perKey: nanoton.optional(),
    perRequest: nanoton.default(DEFAULTS.spending.perRequest)
  }).default({ periodHours: 24, total: DEFAULTS.spending.total, perRequest: DEFAULTS.spending.perRequest }),
  /** Host header names to answer (DNS-rebinding guard); default the loopback names, or `host` */
  allowedHosts: z.array(z.string().min(1)).optional(),
  /** web origins allowed to call the API from a browser (CORS); default none */
  corsOrigins: z.array(z.url()).default([]),
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8080),
  moderationThreshold: z.number().min(0).max(1).default(DEFAULTS.moderationThreshold),
  moderationModel: z.string().min(1).optional(),
  defaultMaxTokens: z.number().int().min(1).default(DEFAULTS.maxTokens),
  maxBodyBytes: z.number().int().min(1024).default(DEFAULTS.maxBodyBytes),
  jobTimeoutMs: z.number().int().min(100).optional(),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info')
}).refine((c) => c.providers.length > 0 || c.models !== undefined, { message: 'with no providers (discovery), list the models to offer', path: ['models'] })

export type GatewayConfig = z.output<typeof GatewayConfigSchema>

/** Parses a config object; errors name the bad field. */
export function parseGatewayConfig (raw: unknown, source = 'config'): GatewayConfig {
  const result = GatewayConfigSchema.safeParse(raw)
  if (!result.success) {
    throw new GatewayConfigError(`${source} is invalid:\n  ${issueLines(result.error)}`)
  }
  return result.data
}

export async function loadGatewayConfig (path: string): Promise<GatewayConfig> {
  const raw = await readJsonFile(path, (message) => new GatewayConfigError(message))
  return parseGatewayConfig(raw, path)
}
