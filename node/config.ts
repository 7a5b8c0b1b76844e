import { dirname, resolve } from 'node:path'
import { Address } from '@ton/core'
import { z } from 'zod'
import { issueLines, nanotonField, peerMultiaddrField, readJsonFile, tonAddressField } from '../protocol/config-fields.ts'

export class ConfigError extends Error {
  override name = 'ConfigError'
  readonly code = 'BAD_CONFIG'
}

const address = tonAddressField
const nanoton = nanotonField

const peerMultiaddr = peerMultiaddrField

/** How the node is found and stays reachable; see docs/ARCHITECTURE.md, "Discovery". */
const discovery = z.strictObject({
  /** publish adverts, relay gossip, serve the DHT; off = reachable only by address */
  enabled: z.boolean().default(true),
  /** peers dialled at start */
  bootstrap: z.array(peerMultiaddr).default([]),
  /** multicast DNS on the local network (sends beyond loopback) */
  mdns: z.boolean().default(false),
  /** keep private and loopback addresses in DHT records; unset = only when chain.network is "local" */
  privateAddresses: z.boolean().optional(),
  relay: z.strictObject({
    /** serve as a circuit relay v2 hop for nodes behind NAT */
    server: z.boolean().default(false),
    /** reserve a slot on a relay found among connected peers (a specific relay: add its /p2p-circuit address to `listen`) */
    reserve: z.boolean().default(false)
  }).prefault({}),
  /** ask peers whether our addresses are publicly dialable */
  autonat: z.boolean().default(true),
  /** upgrade relayed connections to direct ones by hole punching */
  dcutr: z.boolean().default(true),
  /** seconds an advert lives: a node that stops disappears this long after its last advert */
  advertTtl: z.number().int().min(2).max(24 * 3600).default(1800),
  /** seconds between republishing; unset = a third of advertTtl */
  advertRefresh: z.number().int().min(1).optional(),
  /** jobs advertised as run at once; unset = batching.maxQueue */
  capacity: z.number().int().min(1).optional()
}).refine((d) => d.advertRefresh === undefined || d.advertRefresh < d.advertTtl, { message: 'advertRefresh must be shorter than advertTtl', path: ['advertRefresh'] })

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
  /** never start a claim whose fees (gas, forward, the owner's receiving fee) exceed this share of its value, basis points (node/settlement.ts) */
  claimMaxFeeBps: z.number().int().min(1).max(10_000).default(100),
  /** merge concurrent jobs of batchable models; bound the inference queue */
  batching: z.strictObject({
    enabled: z.boolean().default(true),
    maxQueue: z.number().int().min(1).default(256)
  }).default({ enabled: true, maxQueue: 256 }),
  /**
   * Confidential tier: 'tdx' gets quotes through configfs-tsm inside a TDX guest; 'dev' is a
   * labelled development attestation that clients accept only on a local chain.
   */
  tee: z.strictObject({
    kind: z.enum(['none', 'tdx', 'dev']).default('none'),
    tsmPath: z.string().optional(),
    lifetimeSeconds: z.number().int().min(60).max(86_400).optional()
  }).default({ kind: 'none' }),
  /** limits per client, so one peer cannot starve the others */
  limits: z.strictObject({
    /** sessions at once across all connections */
    maxSessions: z.number().int().min(1).default(256),
    /** sessions not (yet) bound to a channel, all peers together: peer ids cost nothing */
    maxUnboundSessions: z.number().int().min(1).default(128),
    /** unbound sessions one peer may hold */
    maxSessionsPerPeer: z.number().int().min(1).default(8),
    /** sessions bound to one channel at once */
    maxSessionsPerChannel: z.number().int().min(1).default(8),
    idleTimeoutMs: z.number().int().min(100).default(120_000),
    maxBytesPerSecond: z.number().int().min(1024).default(64 * 1024 * 1024)
  }).prefault({}),
  /** channels this node serves: it must have time to claim, and the fee must leave it enough */
  channels: z.strictObject({
    /** refuse channels whose close delay is shorter, seconds (the time left to claim after a client starts closing) */
    minCloseDelay: z.number().int().min(0).default(3600),
    /** refuse channels whose protocol fee is higher, basis points */
    maxFeeBps: z.number().int().min(0).max(10_000).default(1000),
    /** how long a channel read is reused, ms */
    cacheMs: z.number().int().min(0).default(5_000)
  }).prefault({}),
  /** how often to look for channels that started closing (to claim before the delay ends), ms */
  watchIntervalMs: z.number().int().min(100).default(30_000),
  /** claim everything owed when the node shuts down */
  claimOnShutdown: z.boolean().default(true),
  executionProviders: z.array(z.enum(['cuda', 'cpu'])).min(1).default(['cpu']),
  /** loopback operator endpoint (/health, /status, POST /claim); off unless set */
  admin: z.strictObject({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535),
    /** bearer token for POST routes (and for any route off loopback); SILK_ADMIN_TOKEN overrides it */
    token: z.string().min(16).optional()
  }).optional(),
  discovery: discovery.prefault({}),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info')
})

export type NodeConfig = z.output<typeof NodeConfigSchema>

/** Parses a config object; errors name the bad field. Relative paths resolve against `baseDir`. */
export function parseNodeConfig (raw: unknown, baseDir: string, source = 'config'): NodeConfig {
  const result = NodeConfigSchema.safeParse(raw)
  if (!result.success) {
    throw new ConfigError(`${source} is invalid:\n  ${issueLines(result.error)}`)
  }
  const c = result.data
  if (c.tee.kind === 'dev' && c.chain.network !== 'local') {
    throw new ConfigError(`${source} is invalid:\n  tee.kind: the development attestation is only for the local chain, not ${c.chain.network}`)
  }
  return { ...c, keyFile: resolve(baseDir, c.keyFile), modelsDir: resolve(baseDir, c.modelsDir), dataDir: resolve(baseDir, c.dataDir) }
}

export async function loadNodeConfig (path: string): Promise<NodeConfig> {
  const raw = await readJsonFile(path, (message) => new ConfigError(message))
  return parseNodeConfig(raw, dirname(resolve(path)), path)
}
