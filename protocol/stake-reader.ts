import { Address } from '@ton/core'
import type { TonClient } from '@ton/ton'
import { Provider, providerAddress, ProviderState, Registry, uint256ToBuffer } from '../contracts/index.ts'
import type { ProviderStanding, StakeOf } from './stake-gate.ts'

/** How long the Registry's minimum stake is reused before it is read again, ms. */
const MIN_STAKE_TTL_MS = 10 * 60 * 1000

/**
 * The StakeOf of a network: reads a Provider contract through the TON HTTP API and accepts it only
 * when the Registry derives that address from the owner and node key it stores (a look-alike
 * contract elsewhere reports whatever stake it likes). The Registry's minimum stake is read once
 * per ten minutes.
 */
export function chainStakeOf (chain: TonClient, registry: Address): StakeOf {
  let minStake: { value: bigint, until: number } | undefined
  const readMinStake = async (): Promise<bigint> => {
    if (minStake === undefined || minStake.until <= Date.now()) {
      const data = await chain.open(Registry.createFromAddress(registry)).getRegistryData()
      minStake = { value: data.minStake, until: Date.now() + MIN_STAKE_TTL_MS }
    }
    return minStake.value
  }
  return async (provider: string): Promise<ProviderStanding | undefined> => {
    const address = Address.parse(provider)
    const state = await chain.getContractState(address)
    if (state.state !== 'active') return undefined
    const data = await chain.open(Provider.createFromAddress(address)).getProviderData()
    const nodeKey = uint256ToBuffer(data.nodeKey)
    if (!providerAddress(registry, data.owner, nodeKey).equals(address)) return undefined
    return { owner: data.owner.toString(), nodeKey, stake: data.stake, active: data.state === ProviderState.active, minStake: await readMinStake() }
  }
}
