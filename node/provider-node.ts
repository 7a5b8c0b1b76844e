import { Address } from '@ton/core'
import type { TonClient } from '@ton/ton'
import type { Multiaddr } from '@multiformats/multiaddr'
import { pino, type Logger } from 'pino'
import { providerAddress } from '../contracts/index.ts'
import { chainClient } from '../chain/client.ts'
import type { Identity } from '../protocol/keys.ts'
import type { DiscoveryTransportOptions } from '../protocol/transport.ts'
import { ChainChannels, providerEpoch } from './chain.ts'
import { globalIdOf } from '../protocol/cells.ts'
import type { NodeConfig } from './config.ts'
import { AdvertPublisher } from './discovery.ts'
import { AttestationService, DevAttestor, TdxAttestor } from './attestation.ts'
import { createHost, type Host } from './host.ts'
import { JobService } from './job-service.ts'
import { readKeyFile } from './keyfile.ts'
import { ModelStore, type LoadProgress } from './models.ts'
import { DEFAULT_CLAIM_POLICY, explorerFor, Settlement, type ClaimPolicy } from './settlement.ts'
import { chainStakeOf } from '../protocol/stake-reader.ts'
import { VoucherStore } from './vouchers.ts'
import { Batcher } from './batcher.ts'
import { NodeMetrics } from './metrics.ts'

export interface ProviderNodeOptions {
  config: NodeConfig
  identity: Identity
  chain?: TonClient
  logger?: Logger
  /** model loading progress (the CLI draws a bar with it) */
  onProgress?: (progress: LoadProgress) => void
  /** when a claim is worth its fees; default from the config (claimMaxFeeBps) */
  claimPolicy?: ClaimPolicy
  /** how long a successful chain contact counts for /health (default 30 s) */
  chainFreshMs?: number
}

/** What /health answers: ready only when the chain answered recently, models are loaded and the host listens. */
export interface Readiness {
  ready: boolean
  chain: { ok: boolean, lastContact?: string, error?: string }
  models: { ok: boolean, loaded: number }
  listening: { ok: boolean, addresses: string[] }
}

/** A chain contact this recent counts; older ones are re-checked with one getter call. */
const CHAIN_FRESH_MS = 30_000
const CHAIN_PROBE_TIMEOUT_MS = 5_000

/** A provider node: models, libp2p host, job service, voucher store and settlement, wired together. */
export class ProviderNode {
  readonly identity: Identity
  readonly models: ModelStore
  readonly vouchers: VoucherStore
  readonly settlement: Settlement
  readonly batcher: Batcher
  readonly metrics = new NodeMetrics()
  readonly chain: TonClient
  readonly logger: Logger
  readonly providerOwner: Address
  readonly provider: Address
  private host?: Host
  private attestation?: AttestationService
  private jobs?: JobService
  private publisher?: AdvertPublisher
  private chainContact: { at: number, error?: undefined } | { at?: number, error: string } = { error: 'not checked yet' }
  private chainProbe?: Promise<void>

  constructor (private readonly options: ProviderNodeOptions) {
    const { config, identity } = options
    this.identity = identity
    this.logger = options.logger ?? pino({ level: config.logLevel })
    this.chain = options.chain ?? chainClient(config.chain.endpoint, config.chain.apiKey)
    this.providerOwner = Address.parse(config.providerOwner)
    const registry = Address.parse(config.chain.registry)
    this.provider = providerAddress(registry, this.providerOwner, identity.keyPair.publicKey)
    this.models = new ModelStore({
      dir: config.modelsDir,
      executionProviders: config.executionProviders,
      logger: this.logger,
      ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {})
    })
    this.batcher = new Batcher(this.models, config.batching)
    this.vouchers = new VoucherStore(config.dataDir)
    this.settlement = new Settlement(
      { chain: this.chain, identity, vouchers: this.vouchers, logger: this.logger, metrics: this.metrics },
      {
        threshold: config.claimThreshold,
        policy: options.claimPolicy ?? { ...DEFAULT_CLAIM_POLICY, maxFeeBps: config.claimMaxFeeBps },
        explorer: explorerFor(config.chain.network, config.chain.endpoint),
        watchIntervalMs: config.watchIntervalMs
      }
    )
  }

  static async fromConfig (config: NodeConfig, logger?: Logger, onProgress?: (p: LoadProgress) => void): Promise<ProviderNode> {
    const identity = await readKeyFile(config.keyFile)
    return new ProviderNode({ config, identity, ...(logger !== undefined ? { logger } : {}), ...(onProgress !== undefined ? { onProgress } : {}) })
  }

  get config (): NodeConfig {
    return this.options.config
  }

  get addresses (): Multiaddr[] {
    return this.host?.getMultiaddrs() ?? []
  }

  /** The advert publisher (its book holds the adverts this node has seen); undefined when discovery is off. */
  get discovery (): AdvertPublisher | undefined {
    return this.publisher
  }

  private discoveryTransport (): DiscoveryTransportOptions | undefined {
    const { discovery: d, chain } = this.options.config
    if (!d.enabled) return undefined
    return {
      role: 'node',
      bootstrap: d.bootstrap,
      mdns: d.mdns,
      privateAddresses: d.privateAddresses ?? chain.network === 'local',
      relayServer: d.relay.server,
      relayReserve: d.relay.reserve,
      autonat: d.autonat,
      dcutr: d.dcutr
    }
  }

  async start (): Promise<void> {
    if (this.host !== undefined) return
    const { config } = this.options
    await this.models.start()
    await this.vouchers.start()
    await this.settlement.start()
    this.host = await createHost(this.identity, config.listen, this.discoveryTransport())
    const registry = Address.parse(config.chain.registry)
    // receipts name the registration they are signed under; a node not (yet) registered signs
    // epoch 0, which no client accepts
    const epoch = await providerEpoch(this.chain, registry, this.providerOwner, this.identity.keyPair.publicKey)
    if (epoch === undefined) this.logger.warn({ provider: this.provider.toString() }, 'no staked Provider on chain for this node: clients will refuse it')
    const { maxSessions, maxUnboundSessions, maxSessionsPerPeer, maxSessionsPerChannel, idleTimeoutMs, maxBytesPerSecond } = config.limits
    this.jobs = new JobService(
      {
        libp2p: this.host,
        identity: this.identity,
        models: this.batcher,
        vouchers: this.vouchers,
        chain: new ChainChannels(this.chain, { registry, providerOwner: this.providerOwner, nodeKey: this.identity.keyPair.publicKey, ttlMs: config.channels.cacheMs }),
        logger: this.logger,
        metrics: this.metrics
      },
      {
        providerOwner: this.providerOwner,
        provider: this.provider,
        globalId: globalIdOf(config.chain.network),
        epoch: epoch ?? 0,
        credit: config.credit,
        maxSessions,
        maxUnboundSessions,
        maxSessionsPerPeer,
        maxSessionsPerChannel,
        idleTimeoutMs,
        maxBytesPerSecond,
        minCloseDelay: config.channels.minCloseDelay,
        maxFeeBps: config.channels.maxFeeBps,
        onVoucher: (ledger) => { this.settlement.onVoucher(ledger) }
      }
    )
    await this.jobs.start()
    // every node answers /silk/attest: with evidence inside a TEE, NO_ATTESTATION outside
    const tee = config.tee
    const lifetime = tee.lifetimeSeconds !== undefined ? { lifetimeSeconds: tee.lifetimeSeconds } : {}
    const attestor = tee.kind === 'tdx'
      ? new TdxAttestor({ nodeKey: this.identity.keyPair.publicKey, ...(tee.tsmPath !== undefined ? { tsmPath: tee.tsmPath } : {}), ...lifetime })
      : tee.kind === 'dev' ? new DevAttestor({ keyPair: this.identity.keyPair, ...lifetime }) : undefined
    this.attestation = new AttestationService({ libp2p: this.host, logger: this.logger }, attestor !== undefined ? { attestor } : {})
    await this.attestation.start()
    if (config.discovery.enabled) {
      this.publisher = new AdvertPublisher({ libp2p: this.host, privateKey: this.identity.privateKey, logger: this.logger }, {
        provider: this.provider.toString(),
        providerOwner: this.providerOwner.toString(),
        // the same list the Welcome states (the batcher's execution paths), so adverts and sessions agree
        models: () => this.batcher.list().map((m) => ({ hash: m.hash, name: m.name, task: m.task, pricePerUnit: m.pricePerUnit, deterministic: m.deterministic, execution: m.execution })),
        capacity: config.discovery.capacity ?? config.batching.maxQueue,
        tee: this.attestation.kind,
        teeEvidence: async () => await this.attestation?.evidenceHash(),
        ttlSeconds: config.discovery.advertTtl,
        // relay and keep only adverts of Providers staked in this network's Registry
        book: { stake: { stakeOf: chainStakeOf(this.chain, registry) } },
        ...(config.discovery.advertRefresh !== undefined ? { refreshSeconds: config.discovery.advertRefresh } : {})
      })
      await this.publisher.start()
    }
    await this.probeChain()
    this.logger.info({ peer: this.identity.peerId.toString(), addrs: this.addresses.map(String), provider: this.provider.toString(), models: this.models.list().map((m) => m.name) }, 'node started')
  }

  /** One cheap call to the chain (masterchain info), bounded in time; single-flight. */
  private async probeChain (): Promise<void> {
    this.chainProbe ??= (async () => {
      let timer: NodeJS.Timeout | undefined
      try {
        await Promise.race([
          this.chain.getMasterchainInfo(),
          new Promise((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`no answer within ${CHAIN_PROBE_TIMEOUT_MS} ms`)) }, CHAIN_PROBE_TIMEOUT_MS) })
        ])
        this.chainContact = { at: Date.now() }
      } catch (err) {
        const message = ((err as Error).message ?? String(err)).split('\n')[0]!.slice(0, 200)
        this.chainContact = { ...(this.chainContact.at !== undefined ? { at: this.chainContact.at } : {}), error: message }
      } finally {
        clearTimeout(timer)
        this.chainProbe = undefined
      }
    })()
    await this.chainProbe
  }

  /** Ready = the chain answered within CHAIN_FRESH_MS (probed now if not), models are loaded, the host listens. */
  async readiness (): Promise<Readiness> {
    const fresh = (): boolean => this.chainContact.error === undefined && this.chainContact.at !== undefined && Date.now() - this.chainContact.at < (this.options.chainFreshMs ?? CHAIN_FRESH_MS)
    let answered = fresh()
    if (this.host !== undefined && !answered) {
      await this.probeChain()
      answered = this.chainContact.error === undefined
    }
    const c = this.chainContact
    const chain = { ok: this.host !== undefined && answered, ...(c.at !== undefined ? { lastContact: new Date(c.at).toISOString() } : {}), ...(c.error !== undefined ? { error: c.error } : {}) }
    const loaded = this.models.isStarted() ? this.models.list().length : 0
    const addresses = this.addresses.map(String)
    const models = { ok: loaded > 0, loaded }
    const listening = { ok: addresses.length > 0, addresses }
    return { ready: chain.ok && models.ok && listening.ok, chain, models, listening }
  }

  /** What an operator wants to see: identity, addresses, models and what the node is owed. */
  status (): Record<string, unknown> {
    const totals = this.vouchers.totals()
    return {
      peerId: this.identity.peerId.toString(),
      addresses: this.addresses.map(String),
      provider: this.provider.toString(),
      providerOwner: this.providerOwner.toString(),
      gasWallet: this.settlement.walletAddress.toString(),
      models: this.models.list().map((m) => ({ name: m.name, hash: m.hashHex, pricePerUnit: m.pricePerUnit.toString() })),
      channels: totals.channels,
      earned: totals.earned.toString(),
      claimed: totals.claimed.toString()
    }
  }

  /** Prometheus text for /metrics, with the money gauges brought up to date. */
  async metricsText (): Promise<string> {
    const totals = this.vouchers.totals()
    this.metrics.earned.set(Number(totals.earned))
    this.metrics.claimed.set(Number(totals.claimed))
    this.metrics.queueDepth.set(this.batcher.depth)
    for (const [reason, count] of Object.entries(this.publisher?.book.dropped ?? {})) this.metrics.advertsDropped.set({ reason }, count)
    return await this.metrics.registry.metrics()
  }

  /** Stops taking jobs, lets those in flight finish, claims what is owed, then closes everything. */
  async stop (): Promise<void> {
    if (this.host === undefined) return
    await this.publisher?.stop()
    this.publisher = undefined
    await this.jobs?.stop()
    if (this.options.config.claimOnShutdown) {
      await this.settlement.claimAll().catch((err: Error) => { this.logger.error({ err: err.message }, 'claim at shutdown failed') })
    }
    await this.settlement.stop()
    await this.attestation?.stop()
    await this.host.stop()
    await this.vouchers.stop()
    await this.models.stop()
    this.host = undefined
    this.jobs = undefined
  }
}
