import type { Address } from '@ton/core'
import type { TonClient } from '@ton/ton'
import { Channel, channelAddress, uint256ToBuffer, type ChannelData } from '../contracts/index.ts'

export interface ChannelState {
  clientKey: Buffer
  deposit: bigint
  paid: bigint
  closeAt: number
}

export interface ChainChannelsInit {
  registry: Address
  providerOwner: Address
  nodeKey: Buffer
}

/**
 * Reads channels through any TON HTTP API. A channel is accepted only if its address is the one
 * the Registry derives for (client, clientKey, this owner, this node key): that proves it runs the
 * genuine Channel code with our parties, whatever its getters might claim.
 */
export class ChainChannels {
  constructor (private readonly chain: TonClient, private readonly init: ChainChannelsInit) {}

  async channelFor (address: Address): Promise<ChannelState | undefined> {
    let data: ChannelData
    try {
      data = await this.chain.open(Channel.createFromAddress(address)).getChannelData()
    } catch {
      return undefined // not deployed, or not a channel
    }
    const expected = channelAddress(this.init.registry, data.client, data.clientKey, this.init.providerOwner, this.init.nodeKey)
    if (!expected.equals(address) || !data.initialized || data.closed || data.closeAt !== 0) return undefined
    return {
      clientKey: uint256ToBuffer(data.clientKey),
      deposit: data.deposit,
      paid: data.paid,
      closeAt: data.closeAt
    }
  }
}
