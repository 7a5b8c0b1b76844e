import { randomBytes } from 'node:crypto'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { Address, type Sender } from '@ton/core'
import type { KeyPair } from '@ton/crypto'
import type { TonClient } from '@ton/ton'
import { createLibp2p } from 'libp2p'
import { channelAddress, Provider, providerAddress, Registry, type ChannelData } from '../contracts/index.ts'
import type { Advert, ModelQuery } from '../protocol/advert.ts'
import { globalIdOf, type NetworkName } from '../protocol/cells.ts'
import { peerPublicKey } from '../protocol/keys.ts'
import { transportOptions, type DiscoveryTransportOptions, type SilkLibp2p } from '../protocol/transport.ts'
import { JOB_PROTOCOL } from '../protocol/wire/constants.ts'
import { ChannelError, ConnectionError, ProviderRejectedError } from './errors.ts'
import { DiscoveryError, ProviderFinder, type FindProvidersOptions } from './discovery.ts'
import { chainStakeOf } from '../protocol/stake-reader.ts'
import { finishClose, readChannel, startClose, topUpChannel, waitForChannel } from './channels.ts'
import { ProviderSession, type TokenCounter } from './session.ts'
import { checkProvider } from './verify.ts'
import type { ModelInfo } from '../protocol/wire/frames.ts'
import { ChainCache } from './chain-cache.ts'
import { AttestationVerifier, PccsCollateral, registryAllowList, type CollateralSource } from './attestation.ts'
import type { AttestationError, TeePolicy, TeeTier, Verdict } from '../protocol/attestation.ts'
import { SessionTier } from './session-tier.ts'

export interface ClientWallet {
  address: Address
  /** sends the client's on-chain messages (opening channels) */
  sender: Sender
}

export interface SilkClientOptions {
  /** any TON HTTP API: the local devnet, testnet or mainnet */
  chain: TonClient
  registry: Address
  /** the wallet that opens and funds channels */
  wallet: ClientWallet
  /** signs vouchers; its public key is stored in each channel */
  clientKey: KeyPair
  /** bring your own libp2p node; otherwise one is made with an ephemeral key */
  libp2p?: Libp2p
  timeoutMs?: number
  /** how long to wait for a channel to appear on chain after opening it */
  channelTimeoutMs?: number
  /** how the client finds providers (adverts on gossip, DHT); `false` for none. Default: on, no bootstrap peers */
  discovery?: ClientDiscoveryOptions | false
  /**
   * Confidential tier: 'required' refuses providers without a verified TEE attestation whose
   * measurement the Registry allows; 'preferred' uses it when there is one; 'off' (default) skips it.
   */
  tee?: TeePolicy
  /**
   * The chain's network, required: receipts, vouchers and hellos name it, and development
   * attestations are accepted only when 'local' is chosen here explicitly.
   */
  network: NetworkName
  /** per model name or bundle hash hex: the model tokenizer's token count, to check chat units against the text */
  tokenCounters?: Readonly<Record<string, TokenCounter>>
  /** how long chain reads (registry parameters, provider records, the model allow-list) are reused, ms; default 10 s */
  chainCacheMs?: number
  /** where TDX collateral comes from (default: Intel's PCS), which TCB statuses pass, how long verdicts last */
  attestation?: ClientAttestationOptions
}

export interface ClientAttestationOptions {
  collateral?: CollateralSource
  acceptedTcbStatuses?: readonly string[]
  /** seconds a verdict lasts after the client's challenge; default ATTEST_LIMITS.maxEvidenceAgeSeconds (600) */
  maxEvidenceAgeSeconds?: number
  /** an open session's verdict is renewed this many seconds before it expires; default 60 (at most a fifth of its life) */
  renewBeforeSeconds?: number
  /** under `preferred`, a session's node that proved no tier is asked again after this many seconds; default 300 */
  recheckSeconds?: number
  /** the client's clock, unix seconds (tests move it) */
  now?: () => number
}

export interface ClientDiscoveryOptions extends Omit<DiscoveryTransportOptions, 'role' | 'relayServer' | 'relayReserve'> {
  /** join the advert topic; default true */
  gossip?: boolean
  /** ask this many of the first Silk peers met for every advert they know; default 3, 0 = never */
  catchUpPeers?: number
}

export interface ConnectOptions {
  signal?: AbortSignal
  /** refuse, before any job, the provider's models priced above this (nanoton per unit) */
  maxPricePerUnit?: bigint
  /** prices the caller was offered elsewhere (e.g. a pool candidate's advert): the Welcome must match them */
  prices?: ReadonlyArray<{ name: string, hash?: Uint8Array, pricePerUnit: bigint }>
}

export interface VerifiedProvider {
  session: ProviderSession
  provider: Address
  providerOwner: Address
  nodeKey: Buffer
  stake: bigint
  /** the Provider's registration epoch; every receipt must name it */
  epoch: number
  /**
   * the trust tier checked when connecting; the session keeps it fresh (session.tier, now) and each
   * result carries the tier valid when it was verified
   */
  tee: { tier: TeeTier, verdict?: Verdict }
}

/**
 * The Silk client: dials providers, checks them against the chain, opens channels and runs
 * verified, paid jobs.
 */
export class SilkClient {
  private readonly attestation: AttestationVerifier
  /** the client's clock for attestation, unix seconds */
  private readonly now: () => number
  private readonly reads: ChainCache
  private libp2p?: Libp2p
  private ownsLibp2p = false
  private finder?: ProviderFinder
  private readonly timeoutMs: number
  private readonly globalId: number
  /** the tier keepers of open sessions: their renewals stop with the client */
  private readonly tiers = new Set<SessionTier>()
  /** the channel this client opened to each provider (owner + node key), by its address's nonce */
  private readonly channels = new Map<string, Address>()

  constructor (private readonly opts: SilkClientOptions) {
    if ((opts.network as string | undefined) === undefined || !['local', 'testnet', 'mainnet'].includes(opts.network)) {
      throw new TypeError('SilkClient needs options.network: "mainnet", "testnet" or "local" (there is no default)')
    }
    this.globalId = globalIdOf(opts.network)
    this.now = opts.attestation?.now ?? (() => Math.floor(Date.now() / 1000))
    this.reads = new ChainCache(opts.chainCacheMs ?? 10_000)
    this.attestation = new AttestationVerifier({
      network: opts.network,
      allowList: registryAllowList(opts.chain, opts.registry),
      collateral: opts.attestation?.collateral ?? new PccsCollateral(),
      ...(opts.attestation?.acceptedTcbStatuses !== undefined ? { acceptedTcbStatuses: opts.attestation.acceptedTcbStatuses } : {}),
      ...(opts.attestation?.maxEvidenceAgeSeconds !== undefined ? { maxEvidenceAgeSeconds: opts.attestation.maxEvidenceAgeSeconds } : {}),
      now: this.now
    })
    this.timeoutMs = opts.timeoutMs ?? 30_000
  }

  async start (): Promise<void> {
    if (this.libp2p !== undefined) return
    if (this.opts.libp2p !== undefined) {
      this.libp2p = this.opts.libp2p
    } else {
      const discovery = this.opts.discovery === false ? undefined : { ...this.opts.discovery, role: 'client' as const }
      this.libp2p = await createLibp2p(transportOptions(undefined, [], discovery))
      this.ownsLibp2p = true
    }
    const host = this.libp2p as SilkLibp2p
    if (this.opts.discovery !== false && host.services.pubsub !== undefined) {
      const d = this.opts.discovery ?? {}
      this.finder = new ProviderFinder({ libp2p: host }, {
        subscribe: d.gossip ?? true,
        ...(d.catchUpPeers !== undefined ? { catchUpPeers: d.catchUpPeers } : {}),
        // only adverts of Providers staked in this Registry enter the table
        stake: { stakeOf: chainStakeOf(this.opts.chain, this.opts.registry) }
      })
      this.finder.start()
    }
  }

  async stop (): Promise<void> {
    for (const tier of [...this.tiers]) tier.stop()
    this.finder?.stop()
    this.finder = undefined
    if (this.libp2p !== undefined && this.ownsLibp2p) await this.libp2p.stop()
    this.libp2p = undefined
  }

  /** Adverts, DHT lookups and the live table behind findProviders(); undefined without discovery. */
  get discovery (): ProviderFinder | undefined {
    return this.finder
  }

  /**
   * Providers of a model (sha256 hash, its hex, or a name) from gossip and the DHT, cheapest first;
   * each advert is verified (signed by the peer it names, unexpired). Pass one to connect(), which
   * checks the provider on chain.
   */
  async findProviders (model: ModelQuery, options: FindProvidersOptions = {}): Promise<Advert[]> {
    if (this.libp2p === undefined) await this.start()
    if (this.finder === undefined) throw new DiscoveryError('NO_DISCOVERY', 'this client has no discovery: its libp2p host lacks pubsub/DHT, or discovery is off')
    return await this.finder.find(model, options)
  }

  /**
   * Dials a provider and refuses it unless its Provider contract holds the very key the peer
   * proved in the Noise handshake, with at least the Registry's minimum stake, and is active; and
   * unless its offer is the one it advertised: before the first job, a price in the Welcome that
   * differs from the advert's (or from `prices`) refuses the provider, and models priced above
   * `maxPricePerUnit` are refused.
   */
  async connect (address: string | Multiaddr | Advert, options: ConnectOptions = {}): Promise<VerifiedProvider> {
    if (this.libp2p === undefined) await this.start()
    const advert = typeof address === 'object' && 'signature' in address && 'seq' in address ? address : undefined
    const target = advert !== undefined ? (advert.addrs.length > 0 ? advert.addrs : advert.peerId) : typeof address === 'string' ? multiaddr(address) : address as Multiaddr
    let stream
    try {
      stream = await this.libp2p!.dialProtocol(target, JOB_PROTOCOL, { signal: options.signal ?? AbortSignal.timeout(this.timeoutMs) })
    } catch (err) {
      throw new ConnectionError(`cannot reach ${advert?.peerId.toString() ?? target.toString()}: ${(err as Error).message}`)
    }
    const remote = this.libp2p!.getConnections().find((c) => c.streams.includes(stream))?.remotePeer
    const nodeKey = remote !== undefined ? peerPublicKey(remote) : undefined
    if (nodeKey === undefined) {
      stream.abort(new Error('not an Ed25519 peer'))
      throw new ProviderRejectedError('NOT_ED25519', 'the peer does not have an Ed25519 key, so it cannot be a Silk node')
    }
    const session = await ProviderSession.open(stream, {
      peerKey: nodeKey,
      clientKey: this.opts.clientKey,
      globalId: this.globalId,
      timeoutMs: this.timeoutMs,
      ...(this.opts.tokenCounters !== undefined ? { tokenCounters: this.opts.tokenCounters } : {})
    })
    try {
      const checked = await this.verifyProvider(session, nodeKey)
      if (advert !== undefined && (!remote!.equals(advert.peerId) || !Address.parse(advert.provider).equals(checked.provider))) {
        throw new ProviderRejectedError('WRONG_PROVIDER', 'the advert names another peer or Provider contract than the node proves')
      }
      checkOffer(session.models, [...(advert?.models ?? []), ...(options.prices ?? [])])
      if (options.maxPricePerUnit !== undefined) session.limitPrice(options.maxPricePerUnit)
      const policy = this.opts.tee ?? 'off'
      const decision = await this.attestation.decide(this.libp2p!, remote!, policy, options)
      if (!decision.allowed) {
        const refused = new ProviderRejectedError('TEE_REQUIRED', `a verified confidential VM is required: ${decision.error?.message ?? 'no attestation'}`)
        // the attestation failure, so a caller can tell the node's fault from the client's (collateral unavailable)
        refused.cause = decision.error
        throw refused
      }
      session.attachTier(this.sessionTier(session, remote!, policy, decision))
      session.epoch = checked.epoch
      await this.applyAllowList(session)
      return { session, provider: checked.provider, providerOwner: checked.providerOwner, stake: checked.stake, epoch: checked.epoch, nodeKey, tee: { tier: decision.tier, ...(decision.verdict !== undefined ? { verdict: decision.verdict } : {}) } }
    } catch (err) {
      await session.close()
      throw err
    }
  }

  /** The keeper of a session's tier: re-attests its node before the verdict expires, for as long as the session lives. */
  private sessionTier (session: ProviderSession, peer: PeerId, policy: TeePolicy, decision: { verdict?: Verdict, error?: AttestationError }): SessionTier {
    const a = this.opts.attestation
    const tier: SessionTier = new SessionTier({
      policy,
      now: this.now,
      attest: async (signal) => {
        if (this.libp2p === undefined) throw new ConnectionError('the client is stopped')
        return await this.attestation.attest(this.libp2p, peer, signal !== undefined ? { signal } : {})
      },
      // a required tier lost: the session ends; a pool moves on to another provider
      onLost: () => { void session.close() },
      onStop: () => { this.tiers.delete(tier) },
      ...(decision.verdict !== undefined ? { verdict: decision.verdict } : {}),
      ...(decision.error !== undefined ? { error: decision.error } : {}),
      ...(a?.renewBeforeSeconds !== undefined ? { renewBeforeSeconds: a.renewBeforeSeconds } : {}),
      ...(a?.recheckSeconds !== undefined ? { recheckSeconds: a.recheckSeconds } : {})
    })
    this.tiers.add(tier)
    return tier
  }

  /**
   * When the Registry keeps a model allow-list, the session may only use models on it: a node can
   * serve anything, but a client pays only for what governance allowed.
   */
  private async applyAllowList (session: ProviderSession): Promise<void> {
    const registry = this.opts.chain.open(Registry.createFromAddress(this.opts.registry))
    const count = await this.reads.get('model-count', async () => await registry.getModelCount())
    if (count === 0) return
    const allowed = await Promise.all(session.models.map(async (m) =>
      await this.reads.get(`model:${Buffer.from(m.hash).toString('hex')}`, async () => await registry.isModelAllowed(Buffer.from(m.hash)))))
    session.restrictModels(session.models.filter((_, i) => allowed[i]))
  }

  private async verifyProvider (session: ProviderSession, nodeKey: Buffer): Promise<{ provider: Address, providerOwner: Address, stake: bigint, epoch: number }> {
    const { registry, chain } = this.opts
    const providerOwner = Address.parse(session.welcome.providerOwner)
    const provider = providerAddress(registry, providerOwner, nodeKey)
    if (session.welcome.provider !== '' && !Address.parse(session.welcome.provider).equals(provider)) {
      throw new ProviderRejectedError('WRONG_PROVIDER', 'the node names a Provider contract that is not the one derived from its key')
    }
    const { minStake } = await this.reads.get('registry', async () => await chain.open(Registry.createFromAddress(registry)).getRegistryData())
    let data
    try {
      data = await this.reads.get(`provider:${provider.toRawString()}`, async () => await chain.open(Provider.createFromAddress(provider)).getProviderData())
    } catch {
      throw new ProviderRejectedError('NOT_REGISTERED', `no Provider contract at ${provider.toString()}`)
    }
    checkProvider(data, nodeKey, minStake)
    return { provider, providerOwner, stake: data.stake, epoch: data.epoch }
  }

  /** Where the channel of this client to a provider with `nonce` lives (opened or not). */
  channelAddressFor (p: Pick<VerifiedProvider, 'providerOwner' | 'nodeKey'>, nonce: bigint): Address {
    return channelAddress(this.opts.registry, this.opts.wallet.address, this.opts.clientKey.publicKey, p.providerOwner, p.nodeKey, nonce)
  }

  /** The channel this client opened to a provider (with its state on chain); undefined if none. */
  async channel (p: Pick<VerifiedProvider, 'providerOwner' | 'nodeKey'>): Promise<{ address: Address, data?: ChannelData } | undefined> {
    const address = this.channels.get(channelKey(p))
    if (address === undefined) return undefined
    const data = await readChannel(this.opts.chain, address)
    return { address, ...(data !== undefined ? { data } : {}) }
  }

  /**
   * Makes sure a channel to the provider is open, opening one through the Registry with `deposit`
   * nanoton if this client has none open (or `options.channel`, one opened earlier, is gone), and
   * binds the session to it. A new channel gets a fresh random nonce (or `options.nonce`, for a
   * caller that must know the address beforehand), so its address is one no contract has used:
   * the target must be empty before anything is sent to it.
   */
  async openChannel (p: VerifiedProvider, deposit: bigint, options: { signal?: AbortSignal, channel?: Address, nonce?: bigint } = {}): Promise<Address> {
    const key = channelKey(p)
    const known = options.channel ?? this.channels.get(key)
    const data = known !== undefined ? await readChannel(this.opts.chain, known) : undefined
    let address: Address
    if (known !== undefined && data !== undefined && data.initialized && !data.closed && data.closeAt === 0) {
      address = known
    } else {
      const nonce = options.nonce ?? randomBytes(8).readBigUInt64BE()
      address = this.channelAddressFor(p, nonce)
      const target = await this.opts.chain.getContractState(address)
      if (target.state !== 'uninitialized') throw new ChannelError(`the new channel's address ${address.toString()} is already in use`)
      await this.opts.chain.open(Registry.createFromAddress(this.opts.registry)).sendOpenChannel(this.opts.wallet.sender, {
        clientKey: this.opts.clientKey.publicKey, providerOwner: p.providerOwner, nodeKey: p.nodeKey, deposit, nonce
      })
      await waitForChannel(this.opts.chain, address, (d) => d.initialized, 'the channel to open', { timeoutMs: this.opts.channelTimeoutMs ?? 60_000, ...options })
    }
    this.channels.set(key, address)
    await p.session.bind(address, options)
    return address
  }

  /** Adds to a channel's deposit from the client wallet; resolves once the chain holds it. */
  async topUp (channel: Address, amount: bigint, options: { signal?: AbortSignal } = {}): Promise<void> {
    await topUpChannel(this.opts.chain, this.opts.wallet.sender, channel, amount, options)
  }

  /** Starts closing a channel; the provider may claim until the returned close_at (unix seconds). */
  async closeChannel (channel: Address, options: { signal?: AbortSignal } = {}): Promise<number> {
    return await startClose(this.opts.chain, this.opts.wallet.sender, channel, options)
  }

  /** After close_at: the unspent deposit returns to the client wallet. */
  async finishClose (channel: Address, options: { signal?: AbortSignal } = {}): Promise<void> {
    await finishClose(this.opts.chain, this.opts.wallet.sender, channel, options)
  }

}

function channelKey (p: Pick<VerifiedProvider, 'providerOwner' | 'nodeKey'>): string {
  return `${p.providerOwner.toRawString()}/${p.nodeKey.toString('hex')}`
}

/**
 * Price bait: the offer a node makes in its Welcome must be the one it advertised (or that the
 * caller was given), model by model, in price, determinism and execution path.
 */
export function checkOffer (
  welcome: readonly ModelInfo[],
  offered: ReadonlyArray<{ name: string, hash?: Uint8Array, pricePerUnit: bigint, deterministic?: boolean, execution?: string }>
): void {
  for (const o of offered) {
    const m = welcome.find((w) => o.hash !== undefined ? Buffer.from(w.hash).equals(Buffer.from(o.hash)) : w.name === o.name)
    if (m === undefined) continue
    if (m.pricePerUnit !== o.pricePerUnit) {
      throw new ProviderRejectedError('PRICE_MISMATCH', `the provider offers ${o.name} at ${o.pricePerUnit} nanoton per unit but its session asks ${m.pricePerUnit}`)
    }
    if ((o.deterministic !== undefined && m.deterministic !== o.deterministic) || (o.execution !== undefined && m.execution !== o.execution)) {
      throw new ProviderRejectedError('OFFER_MISMATCH', `the provider's session states another execution of ${o.name} than its advert`)
    }
  }
}
