import type { Address } from '@ton/core'
import type { TonClient } from '@ton/ton'
import { Channel, channelAddress, Provider, providerAddress, uint256ToBuffer, type ChannelData } from '../contracts/index.ts'
import type { ChannelTerms } from './ledger.ts'

export interface ChannelState extends ChannelTerms {
  paid: bigint
  closeAt: number
}

export interface ChainChannelsInit {
  registry: Address
  providerOwner: Address
  nodeKey: Buffer
  /** how long a channel read is reused, ms; default 5 s */
  ttlMs?: number
  /** most channels remembered at once; default 4096 */
  maxEntries?: number
}

/**
 * Reads channels through any TON HTTP API. A channel is accepted only if its address is the one
 * the Registry derives for (client, clientKey, this owner, this node key, nonce): that proves it
 * runs the genuine Channel code with our parties, whatever its getters might claim.
 *
 * Reads are cached briefly (answers "not a channel of ours" too) and bounded, so Hellos naming
 * channels cannot turn into one chain request each.
 */
export class ChainChannels {
  private readonly cache = new Map<string, { until: number, value: Promise<ChannelState | undefined> }>()

  constructor (private readonly chain: TonClient, private readonly init: ChainChannelsInit) {}

  /** The channel as deployed and open with this node, or undefined; `fresh` skips the cache (deposit top-ups). */
  async channelFor (address: Address, options: { fresh?: boolean } = {}): Promise<ChannelState | undefined> {
    const key = address.toRawString()
    const now = Date.now()
    const hit = this.cache.get(key)
    if (options.fresh !== true && hit !== undefined && hit.until > now) return await hit.value
    const value = this.read(address)
    this.cache.delete(key) // re-inserted last: the map's order is the eviction order
    if (this.cache.size >= (this.init.maxEntries ?? 4096)) this.evict(now)
    this.cache.set(key, { until: now + (this.init.ttlMs ?? 5_000), value })
    value.catch(() => { if (this.cache.get(key)?.value === value) this.cache.delete(key) })
    return await value
  }

  private evict (now: number): void {
    for (const [k, e] of this.cache) if (e.until <= now) this.cache.delete(k)
    const max = this.init.maxEntries ?? 4096
    for (const k of this.cache.keys()) {
      if (this.cache.size < max) break
      this.cache.delete(k) // oldest first
    }
  }

  private async read (address: Address): Promise<ChannelState | undefined> {
    let data: ChannelData
    try {
      data = await this.chain.open(Channel.createFromAddress(address)).getChannelData()
    } catch {
      return undefined // not deployed, or not a channel
    }
    const expected = channelAddress(this.init.registry, data.client, data.clientKey, this.init.providerOwner, this.init.nodeKey, data.nonce)
    if (!expected.equals(address) || !data.initialized || data.closed || data.closeAt !== 0) return undefined
    return {
      clientKey: uint256ToBuffer(data.clientKey),
      deposit: data.deposit,
      paid: data.paid,
      closeAt: data.closeAt,
      closeDelay: data.closeDelay,
      feeBps: data.feeBps,
      expiresAt: data.expiresAt
    }
  }
}

/**
 * The epoch of this node's Provider registration, which every receipt names (equivocation proofs
 * apply to one registration only). Undefined when the Provider is not on chain.
 */
export async function providerEpoch (chain: TonClient, registry: Address, owner: Address, nodeKey: Buffer): Promise<number | undefined> {
  try {
    const data = await chain.open(Provider.createFromAddress(providerAddress(registry, owner, nodeKey))).getProviderData()
    return data.stake > 0n ? data.epoch : undefined
  } catch {
    return undefined
  }
}
