import {
  Address, beginCell, Cell, contractAddress, SendMode,
  type Contract, type ContractProvider, type Sender
} from '@ton/core'
import { providerCode } from './code.ts'
import { signatureCell, parseSignatureCell } from '../protocol/cells.ts'
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
  /** 0 until provider_init arrived; 0 once slashed */
  stake: bigint
  state: number
  /** unix seconds after which withdraw is accepted; 0 while active */
  unlockTime: number
  /** the Registry's parameters when this provider registered (later changes do not apply to it) */
  minStake: bigint
  unbondingDelay: number
  slashShareBps: number
  /**
   * The registration this Provider holds (the Registry's counter when it registered; 0 until
   * provider_init arrived). Receipts name it; an equivocation proof must be of this epoch.
   */
  epoch: number
}

/** Two receipts (protocol/cells.ts buildReceipt) the node signed, with its signatures over their cell hashes. */
export interface EquivocationProof {
  receiptA: Cell
  sigA: Uint8Array
  receiptB: Cell
  sigB: Uint8Array
}

/** Default value of unbond / withdraw_stake (what is not spent returns with the stake). */
const OWNER_ACTION_VALUE = 20_000_000n

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

function queryOnly (op: number, queryId: bigint | undefined): Cell {
  return beginCell().storeUint(op, 32).storeUint(queryId ?? 0n, 64).endCell()
}

function parseQueryOnly (op: number, name: string, cell: Cell): { queryId: bigint } {
  const s = cell.beginParse()
  if (s.loadUint(32) !== op) throw new Error(`not a ${name}`)
  const queryId = s.loadUintBig(64)
  s.endParse()
  return { queryId }
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

  static providerInitMessage (opts: { stake: bigint, minStake: bigint, unbondingDelay?: number, slashShareBps?: number, epoch?: number, queryId?: bigint }): Cell {
    return beginCell()
      .storeUint(Op.providerInit, 32)
      .storeUint(opts.queryId ?? 0n, 64)
      .storeCoins(opts.stake)
      .storeCoins(opts.minStake)
      .storeUint(opts.unbondingDelay ?? 0, 32)
      .storeUint(opts.slashShareBps ?? 0, 16)
      .storeUint(opts.epoch ?? 0, 32)
      .endCell()
  }

  static parseProviderInit (cell: Cell): { queryId: bigint, stake: bigint, minStake: bigint, unbondingDelay: number, slashShareBps: number, epoch: number } {
    const s = cell.beginParse()
    if (s.loadUint(32) !== Op.providerInit) throw new Error('not a provider_init')
    const parsed = {
      queryId: s.loadUintBig(64), stake: s.loadCoins(), minStake: s.loadCoins(), unbondingDelay: s.loadUint(32), slashShareBps: s.loadUint(16), epoch: s.loadUint(32)
    }
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

  static unbondMessage (queryId?: bigint): Cell { return queryOnly(Op.unbond, queryId) }
  static parseUnbond (cell: Cell): { queryId: bigint } { return parseQueryOnly(Op.unbond, 'unbond', cell) }
  static withdrawStakeMessage (queryId?: bigint): Cell { return queryOnly(Op.withdrawStake, queryId) }
  static parseWithdrawStake (cell: Cell): { queryId: bigint } { return parseQueryOnly(Op.withdrawStake, 'withdraw_stake', cell) }
  /** Bodies of what the Provider sends: the stake back to the owner, the reward to a reporter. */
  static parseStakeWithdrawal (cell: Cell): { queryId: bigint } { return parseQueryOnly(Op.stakeWithdrawal, 'stake_withdrawal', cell) }
  static parseSlashReward (cell: Cell): { queryId: bigint } { return parseQueryOnly(Op.slashReward, 'slash_reward', cell) }

  /** report_equivocation: receipts and signatures each in their own ref (A, sigA, B, sigB). */
  static reportEquivocationMessage (opts: EquivocationProof & { queryId?: bigint }): Cell {
    return beginCell()
      .storeUint(Op.reportEquivocation, 32)
      .storeUint(opts.queryId ?? 0n, 64)
      .storeRef(opts.receiptA)
      .storeRef(signatureCell(Buffer.from(opts.sigA)))
      .storeRef(opts.receiptB)
      .storeRef(signatureCell(Buffer.from(opts.sigB)))
      .endCell()
  }

  static parseReportEquivocation (cell: Cell): EquivocationProof & { queryId: bigint } {
    const s = cell.beginParse()
    if (s.loadUint(32) !== Op.reportEquivocation) throw new Error('not a report_equivocation')
    const queryId = s.loadUintBig(64)
    const receiptA = s.loadRef()
    const sigA = parseSignatureCell(s.loadRef())
    const receiptB = s.loadRef()
    const sigB = parseSignatureCell(s.loadRef())
    s.endParse()
    return { queryId, receiptA, sigA, receiptB, sigB }
  }

  /** stake_top_up from the owner; value defaults to amount + Fees.topUpGas. */
  async sendTopUp (provider: ContractProvider, via: Sender, opts: { amount: bigint, value?: bigint, queryId?: bigint }): Promise<void> {
    await provider.internal(via, {
      value: opts.value ?? opts.amount + Fees.topUpGas,
      sendMode: SendMode.PAY_GAS_SEPARATELY,
      body: Provider.stakeTopUpMessage(opts)
    })
  }

  /** unbond from the owner: state unbonding, withdraw accepted after the unbonding delay; the stake stays slashable until then. */
  async sendUnbond (provider: ContractProvider, via: Sender, opts: { value?: bigint, queryId?: bigint } = {}): Promise<void> {
    await provider.internal(via, { value: opts.value ?? OWNER_ACTION_VALUE, sendMode: SendMode.PAY_GAS_SEPARATELY, body: Provider.unbondMessage(opts.queryId) })
  }

  /** withdraw_stake from the owner after unlock_time: the whole balance goes to the owner and the contract is destroyed. */
  async sendWithdraw (provider: ContractProvider, via: Sender, opts: { value?: bigint, queryId?: bigint } = {}): Promise<void> {
    await provider.internal(via, { value: opts.value ?? OWNER_ACTION_VALUE, sendMode: SendMode.PAY_GAS_SEPARATELY, body: Provider.withdrawStakeMessage(opts.queryId) })
  }

  /** report_equivocation from anyone; value defaults to Fees.reportGas, the unused part returns with the reward. */
  async sendReportEquivocation (
    provider: ContractProvider, via: Sender, opts: EquivocationProof & { value?: bigint, queryId?: bigint }
  ): Promise<void> {
    await provider.internal(via, {
      value: opts.value ?? Fees.reportGas,
      sendMode: SendMode.PAY_GAS_SEPARATELY,
      body: Provider.reportEquivocationMessage(opts)
    })
  }

  async getProviderData (provider: ContractProvider): Promise<ProviderData> {
    const { stack } = await provider.get('get_provider_data', [])
    return {
      owner: stack.readAddress(),
      nodeKey: stack.readBigNumber(),
      stake: stack.readBigNumber(),
      state: stack.readNumber(),
      unlockTime: stack.readNumber(),
      minStake: stack.readBigNumber(),
      unbondingDelay: stack.readNumber(),
      slashShareBps: stack.readNumber(),
      epoch: stack.readNumber()
    }
  }

  async getBalance (provider: ContractProvider): Promise<bigint> {
    return (await provider.getState()).balance
  }
}
