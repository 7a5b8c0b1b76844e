import {
  Address, beginCell, Cell, contractAddress, SendMode,
  type Contract, type ContractProvider, type Sender
} from '@ton/core'
import { channelCode, providerCode, registryCode } from './code.ts'
import { Fees, Op } from './constants.ts'
import { publicKeyToInt, type PublicKey } from './keys.ts'

export interface RegistryConfig {
  owner: Address
  /** protocol fee in basis points of every claimed amount */
  feeBps: number
  /** minimum Provider stake, nanoton */
  minStake: bigint
  /** seconds between start_close and finish_close */
  closeDelay: number
  /** child codes; default to the committed build */
  providerCode?: Cell
  channelCode?: Cell
}

/** get_registry_data, in stack order. */
export interface RegistryData {
  owner: Address
  feeBps: number
  minStake: bigint
  closeDelay: number
}

export interface RegisterProviderMessage {
  queryId: bigint
  nodeKey: bigint
  stake: bigint
}

export interface OpenChannelMessage {
  queryId: bigint
  clientKey: bigint
  providerOwner: Address
  nodeKey: bigint
  deposit: bigint
}

export function registryConfigToCell (config: RegistryConfig): Cell {
  return beginCell()
    .storeAddress(config.owner)
    .storeUint(config.feeBps, 16)
    .storeCoins(config.minStake)
    .storeUint(config.closeDelay, 32)
    .storeCoins(0n)
    .storeRef(config.providerCode ?? providerCode)
    .storeRef(config.channelCode ?? channelCode)
    .endCell()
}

function addressArg (address: Address): { type: 'slice', cell: Cell } {
  return { type: 'slice', cell: beginCell().storeAddress(address).endCell() }
}

export class Registry implements Contract {
  constructor (readonly address: Address, readonly init?: { code: Cell, data: Cell }) {}

  static createFromAddress (address: Address): Registry {
    return new Registry(address)
  }

  static createFromConfig (config: RegistryConfig, code: Cell = registryCode, workchain = 0): Registry {
    const init = { code, data: registryConfigToCell(config) }
    return new Registry(contractAddress(workchain, init), init)
  }

  static registerProviderMessage (opts: { nodeKey: PublicKey, stake: bigint, queryId?: bigint }): Cell {
    return beginCell()
      .storeUint(Op.registerProvider, 32)
      .storeUint(opts.queryId ?? 0n, 64)
      .storeUint(publicKeyToInt(opts.nodeKey), 256)
      .storeCoins(opts.stake)
      .endCell()
  }

  static parseRegisterProvider (cell: Cell): RegisterProviderMessage {
    const s = cell.beginParse()
    if (s.loadUint(32) !== Op.registerProvider) throw new Error('not a register_provider')
    const parsed = { queryId: s.loadUintBig(64), nodeKey: s.loadUintBig(256), stake: s.loadCoins() }
    s.endParse()
    return parsed
  }

  static openChannelMessage (opts: { clientKey: PublicKey, providerOwner: Address, nodeKey: PublicKey, deposit: bigint, queryId?: bigint }): Cell {
    return beginCell()
      .storeUint(Op.openChannel, 32)
      .storeUint(opts.queryId ?? 0n, 64)
      .storeUint(publicKeyToInt(opts.clientKey), 256)
      .storeAddress(opts.providerOwner)
      .storeUint(publicKeyToInt(opts.nodeKey), 256)
      .storeCoins(opts.deposit)
      .endCell()
  }

  static parseOpenChannel (cell: Cell): OpenChannelMessage {
    const s = cell.beginParse()
    if (s.loadUint(32) !== Op.openChannel) throw new Error('not an open_channel')
    const parsed = {
      queryId: s.loadUintBig(64),
      clientKey: s.loadUintBig(256),
      providerOwner: s.loadAddress(),
      nodeKey: s.loadUintBig(256),
      deposit: s.loadCoins()
    }
    s.endParse()
    return parsed
  }

  static protocolFeeMessage (queryId?: bigint): Cell {
    return beginCell().storeUint(Op.protocolFee, 32).storeUint(queryId ?? 0n, 64).endCell()
  }

  async sendDeploy (provider: ContractProvider, via: Sender, value: bigint): Promise<void> {
    await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: beginCell().endCell() })
  }

  /** Plain transfer (empty body), accepted as a top-up. */
  async sendTopUp (provider: ContractProvider, via: Sender, value: bigint): Promise<void> {
    await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: beginCell().endCell() })
  }

  /** The sender becomes the owner of the Provider for nodeKey; value defaults to stake + Fees.providerDeployGas. */
  async sendRegisterProvider (
    provider: ContractProvider, via: Sender,
    opts: { nodeKey: PublicKey, stake: bigint, value?: bigint, queryId?: bigint }
  ): Promise<void> {
    await provider.internal(via, {
      value: opts.value ?? opts.stake + Fees.providerDeployGas,
      sendMode: SendMode.PAY_GAS_SEPARATELY,
      body: Registry.registerProviderMessage(opts)
    })
  }

  /** The sender (client wallet) opens a Channel to the provider (providerOwner, nodeKey); value defaults to deposit + Fees.channelDeployGas. */
  async sendOpenChannel (
    provider: ContractProvider, via: Sender,
    opts: { clientKey: PublicKey, providerOwner: Address, nodeKey: PublicKey, deposit: bigint, value?: bigint, queryId?: bigint }
  ): Promise<void> {
    await provider.internal(via, {
      value: opts.value ?? opts.deposit + Fees.channelDeployGas,
      sendMode: SendMode.PAY_GAS_SEPARATELY,
      body: Registry.openChannelMessage(opts)
    })
  }

  async getRegistryData (provider: ContractProvider): Promise<RegistryData> {
    const { stack } = await provider.get('get_registry_data', [])
    return {
      owner: stack.readAddress(),
      feeBps: stack.readNumber(),
      minStake: stack.readBigNumber(),
      closeDelay: stack.readNumber()
    }
  }

  /** Protocol fees received so far, nanoton. */
  async getFeesCollected (provider: ContractProvider): Promise<bigint> {
    const { stack } = await provider.get('get_fees_collected', [])
    return stack.readBigNumber()
  }

  async getProviderAddress (provider: ContractProvider, owner: Address, nodeKey: PublicKey): Promise<Address> {
    const { stack } = await provider.get('get_provider_address', [
      addressArg(owner),
      { type: 'int', value: publicKeyToInt(nodeKey) }
    ])
    return stack.readAddress()
  }

  async getChannelAddress (
    provider: ContractProvider, client: Address, clientKey: PublicKey, providerOwner: Address, nodeKey: PublicKey
  ): Promise<Address> {
    const { stack } = await provider.get('get_channel_address', [
      addressArg(client),
      { type: 'int', value: publicKeyToInt(clientKey) },
      addressArg(providerOwner),
      { type: 'int', value: publicKeyToInt(nodeKey) }
    ])
    return stack.readAddress()
  }

  async getBalance (provider: ContractProvider): Promise<bigint> {
    return (await provider.getState()).balance
  }
}
