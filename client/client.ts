import type { Libp2p } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { Address, type Sender } from '@ton/core'
import type { KeyPair } from '@ton/crypto'
import type { TonClient } from '@ton/ton'
import { createLibp2p } from 'libp2p'
import { Channel, channelAddress, Provider, providerAddress, ProviderState, Registry, type ChannelData } from '../contracts/index.ts'
import { peerPublicKey } from '../protocol/keys.ts'
import { transportOptions } from '../protocol/transport.ts'
import { JOB_PROTOCOL } from '../protocol/wire/constants.ts'
import { ChannelError, ConnectionError, ProviderRejectedError } from './errors.ts'
import { ProviderSession } from './session.ts'

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
}

export interface VerifiedProvider {
  session: ProviderSession
  provider: Address
  providerOwner: Address
  nodeKey: Buffer
  stake: bigint
}

/**
 * The Silk client: dials providers, checks them against the chain, opens channels and runs
 * verified, paid jobs.
 */
export class SilkClient {
  private libp2p?: Libp2p
  private ownsLibp2p = false
  private readonly timeoutMs: number

  constructor (private readonly opts: SilkClientOptions) {
    this.timeoutMs = opts.timeoutMs ?? 30_000
  }

  async start (): Promise<void> {
    if (this.libp2p !== undefined) return
    if (this.opts.libp2p !== undefined) {
      this.libp2p = this.opts.libp2p
    } else {
      this.libp2p = await createLibp2p(transportOptions(undefined))
      this.ownsLibp2p = true
    }
  }

  async stop (): Promise<void> {
    if (this.libp2p !== undefined && this.ownsLibp2p) await this.libp2p.stop()
    this.libp2p = undefined
  }

  /**
   * Dials a provider and refuses it unless its Provider contract holds the very key the peer
   * proved in the Noise handshake, with at least the Registry's minimum stake, and is active.
   */
  async connect (address: string | Multiaddr, options: { signal?: AbortSignal } = {}): Promise<VerifiedProvider> {
    if (this.libp2p === undefined) await this.start()
    const ma = typeof address === 'string' ? multiaddr(address) : address
    let stream
    try {
      stream = await this.libp2p!.dialProtocol(ma, JOB_PROTOCOL, { signal: options.signal ?? AbortSignal.timeout(this.timeoutMs) })
    } catch (err) {
      throw new ConnectionError(`cannot reach ${ma.toString()}: ${(err as Error).message}`)
    }
    const remote = this.libp2p!.getConnections().find((c) => c.streams.includes(stream))?.remotePeer
    const nodeKey = remote !== undefined ? peerPublicKey(remote) : undefined
    if (nodeKey === undefined) {
      stream.abort(new Error('not an Ed25519 peer'))
      throw new ProviderRejectedError('NOT_ED25519', 'the peer does not have an Ed25519 key, so it cannot be a Silk node')
    }
    const session = await ProviderSession.open(stream, nodeKey, this.opts.clientKey, this.timeoutMs)
    try {
      const checked = await this.verifyProvider(session, nodeKey)
      return { session, ...checked, nodeKey }
    } catch (err) {
      await session.close()
      throw err
    }
  }

  private async verifyProvider (session: ProviderSession, nodeKey: Buffer): Promise<{ provider: Address, providerOwner: Address, stake: bigint }> {
    const { registry, chain } = this.opts
    const providerOwner = Address.parse(session.welcome.providerOwner)
    const provider = providerAddress(registry, providerOwner, nodeKey)
    if (session.welcome.provider !== '' && !Address.parse(session.welcome.provider).equals(provider)) {
      throw new ProviderRejectedError('WRONG_PROVIDER', 'the node names a Provider contract that is not the one derived from its key')
    }
    const { minStake } = await chain.open(Registry.createFromAddress(registry)).getRegistryData()
    let data
    try {
      data = await chain.open(Provider.createFromAddress(provider)).getProviderData()
    } catch {
      throw new ProviderRejectedError('NOT_REGISTERED', `no Provider contract at ${provider.toString()}`)
    }
    if (data.nodeKey !== BigInt('0x' + nodeKey.toString('hex'))) throw new ProviderRejectedError('KEY_MISMATCH', 'the on-chain node key is not the peer\'s key')
    if (data.stake < minStake) throw new ProviderRejectedError('STAKE_TOO_LOW', `stake ${data.stake} is below the minimum ${minStake}`)
    if (data.state !== ProviderState.active) throw new ProviderRejectedError('NOT_ACTIVE', 'the provider is unbonding or slashed')
    return { provider, providerOwner, stake: data.stake }
  }

  /** The channel between this client and a provider; undefined until it is opened on chain. */
  async channel (p: Pick<VerifiedProvider, 'providerOwner' | 'nodeKey'>): Promise<{ address: Address, data?: ChannelData }> {
    const address = channelAddress(this.opts.registry, this.opts.wallet.address, this.opts.clientKey.publicKey, p.providerOwner, p.nodeKey)
    return { address, ...await this.readChannel(address) }
  }

  /**
   * Makes sure a channel to the provider is open with at least `deposit` nanoton, opening it through
   * the Registry if needed, and binds the session to it.
   */
  async openChannel (p: VerifiedProvider, deposit: bigint): Promise<Address> {
    const { address, data } = await this.channel(p)
    if (data?.closed === true || (data !== undefined && data.closeAt !== 0)) throw new ChannelError('the channel to this provider is closed or closing')
    if (data === undefined || !data.initialized) {
      await this.opts.chain.open(Registry.createFromAddress(this.opts.registry)).sendOpenChannel(this.opts.wallet.sender, {
        clientKey: this.opts.clientKey.publicKey, providerOwner: p.providerOwner, nodeKey: p.nodeKey, deposit
      })
      await this.waitForChannel(address)
    }
    await p.session.bind(address)
    return address
  }

  private async waitForChannel (address: Address): Promise<ChannelData> {
    const deadline = Date.now() + (this.opts.channelTimeoutMs ?? 60_000)
    while (Date.now() < deadline) {
      const { data } = await this.readChannel(address)
      if (data?.initialized === true) return data
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    throw new ChannelError(`channel ${address.toString()} did not appear on chain in time`)
  }

  private async readChannel (address: Address): Promise<{ data?: ChannelData }> {
    try {
      return { data: await this.opts.chain.open(Channel.createFromAddress(address)).getChannelData() }
    } catch {
      return {}
    }
  }
}
