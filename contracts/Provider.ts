import {
  Address, beginCell, Cell, contractAddress, SendMode,
  type Contract, type ContractProvider, type Sender
} from '@ton/core'
import { providerCode } from './code.ts'
import { Fees, Op } from './constants.ts'
import { publicKeyToInt, type PublicKey } from './keys.ts'

/** Static init data of a Provider: the fields that fix its address (provider_storage$_). */
export interface ProviderConfig {
  registry: Address
  owner: Address
  nodeKey: PublicKey
}

export const ProviderState = { active: 0, unbonding: 1, slashed: 2 } as const
export type ProviderStateValue = typeof ProviderState[keyof typeof ProviderState]

/** get_provider_data, in stack order. */
export interface ProviderData {
  owner: Address
  nodeKey: bigint
  /** 0 until provider_init arrived */
  stake: bigint
  state: number
  /** unix seconds; 0 while active */
  unlockTime: number
}

export function providerConfigToCell (config: ProviderConfig): Cell {
  return beginCell()
    .storeAddress(config.registry)
    .storeAddress(config.owner)
    .storeUint(publicKeyToInt(config.nodeKey), 256)
    .storeMaybeRef(null)
    .endCell()
}

/** The address the Registry deploys the Provider of (owner, nodeKey) to; equals get_provider_address. */
export function providerAddress (registry: Address, owner: Address, nodeKey: PublicKey, code: Cell = providerCode): Address {
  return contractAddress(0, { code, data: providerConfigToCell({ registry, owner, nodeKey }) })
}

export class Provider implements Contract {
  constructor (readonly address: Address, readonly init?: { code: Cell, data: Cell }) {}

  static createFromAddress (address: Address): Provider {
    return new Provider(address)
  }

  /** Children live on the basechain, where the Registry deploys them. */
  static createFromConfig (config: ProviderConfig, code: Cell = providerCode): Provider {
    const init = { code, data: providerConfigToCell(config) }
    return new Provider(contractAddress(0, init), init)
  }

  static providerInitMessage (opts: { stake: bigint, minStake: bigint, queryId?: bigint }): Cell {
    return beginCell()
      .storeUint(Op.providerInit, 32)
      .storeUint(opts.queryId ?? 0n, 64)
      .storeCoins(opts.stake)
      .storeCoins(opts.minStake)
      .endCell()
  }

  static parseProviderInit (cell: Cell): { queryId: bigint, stake: bigint, minStake: bigint } {
    const s = cell.beginParse()
    if (s.loadUint(32) !== Op.providerInit) throw new Error('not a provider_init')
    const parsed = { queryId: s.loadUintBig(64), stake: s.loadCoins(), minStake: s.loadCoins() }
    s.endParse()
    return parsed
  }

  static stakeTopUpMessage (opts: { amount: bigint, queryId?: bigint }): Cell {
    return beginCell()
      .storeUint(Op.stakeTopUp, 32)
      .storeUint(opts.queryId ?? 0n, 64)
      .storeCoins(opts.amount)
      .endCell()
  }

  static parseStakeTopUp (cell: Cell): { queryId: bigint, amount: bigint } {
    const s = cell.beginParse()
    if (s.loadUint(32) !== Op.stakeTopUp) throw new Error('not a stake_top_up')
    const parsed = { queryId: s.loadUintBig(64), amount: s.loadCoins() }
    s.endParse()
    return parsed
  }

  /** stake_top_up from the owner; value defaults to amount + Fees.topUpGas. */
  async sendTopUp (provider: ContractProvider, via: Sender, opts: { amount: bigint, value?: bigint, queryId?: bigint }): Promise<void> {
    await provider.internal(via, {
      value: opts.value ?? opts.amount + Fees.topUpGas,
      sendMode: SendMode.PAY_GAS_SEPARATELY,
      body: Provider.stakeTopUpMessage(opts)
    })
  }

  async getProviderData (provider: ContractProvider): Promise<ProviderData> {
    const { stack } = await provider.get('get_provider_data', [])
    return {
      owner: stack.readAddress(),
      nodeKey: stack.readBigNumber(),
      stake: stack.readBigNumber(),
      state: stack.readNumber(),
      unlockTime: stack.readNumber()
    }
  }

  async getBalance (provider: ContractProvider): Promise<bigint> {
    return (await provider.getState()).balance
  }
}
