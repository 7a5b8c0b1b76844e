import {
  Address, beginCell, Cell, contractAddress, SendMode,
  type Builder, type Contract, type ContractProvider, type Sender, type Slice
} from '@ton/core'
import { buildRegistration, signatureCell, signCell, parseSignatureCell } from '../protocol/cells.ts'
import { channelCode, providerCode, registryCode } from './code.ts'
import { Bounds, Fees, Op } from './constants.ts'
import { hash256ToInt, publicKeyToInt, type Hash256, type PublicKey } from './keys.ts'

export interface RegistryConfig {
  owner: Address
  /**
   * The network's TON global_id (config param 19; protocol/cells.ts GLOBAL_IDS). Part of the init
   * data, so the Registry's address differs per network; the Registry refuses every message on a
   * chain whose global_id differs.
   */
  globalId: number
  /** protocol fee in basis points of every claimed amount */
  feeBps: number
  /** minimum Provider stake, nanoton */
  minStake: bigint
  /** seconds between start_close and finish_close */
  closeDelay: number
  /** seconds between unbond and withdraw; default DEFAULT_UNBONDING_DELAY (7 days) */
  unbondingDelay?: number
  /** share of a slashed stake paid to the reporter, basis points; default DEFAULT_SLASH_SHARE_BPS (50 %) */
  slashShareBps?: number
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
  unbondingDelay: number
  slashShareBps: number
  /** bumped by every governance change */
  version: number
  modelCount: number
  measurementCount: number
  /** the network this Registry is bound to (config param 19) */
  globalId: number
  /** register_provider messages accepted so far; the last one's value is the newest Provider's epoch */
  registrations: number
}

/** The parameters set_params replaces, all at once. */
export interface RegistryParams {
  feeBps: number
  minStake: bigint
  unbondingDelay: number
  closeDelay: number
  slashShareBps: number
}

export interface RegisterProviderMessage {
  queryId: bigint
  nodeKey: bigint
  stake: bigint
  /** the node key's signature over buildRegistration({ globalId, registry, owner, nodeKey }) */
  signature: Buffer
}

export interface OpenChannelMessage {
  queryId: bigint
  clientKey: bigint
  providerOwner: Address
  nodeKey: bigint
  deposit: bigint
  /** part of the Channel's address: a reopen with a new nonce is a new channel */
  nonce: bigint
}

export const DEFAULT_UNBONDING_DELAY = 7 * 86_400
export const DEFAULT_SLASH_SHARE_BPS = 5_000
/** Default value of governance messages; the unused part returns to the owner as excesses. */
export const GOVERNANCE_VALUE = 50_000_000n

function checkRange (name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${value}`)
}

/** Throws a RangeError for parameters the Registry would refuse (Bounds in contracts/constants.ts). */
export function checkRegistryParams (p: RegistryParams): void {
  checkRange('feeBps', p.feeBps, 0, Bounds.maxFeeBps)
  checkRange('slashShareBps', p.slashShareBps, 0, Bounds.maxSlashShareBps)
  checkRange('closeDelay', p.closeDelay, Bounds.minCloseDelay, Bounds.maxCloseDelay)
  checkRange('unbondingDelay', p.unbondingDelay, Bounds.minUnbondingDelay, Bounds.maxUnbondingDelay)
  if (p.minStake < 0n) throw new RangeError('minStake must not be negative')
}

/** The same fields without the bounds check: for tests that prove the contract refuses them. */
function storeParamsUnchecked (b: Builder, p: RegistryParams): Builder {
  return b
    .storeUint(p.feeBps, 16)
    .storeCoins(p.minStake)
    .storeUint(p.unbondingDelay, 32)
    .storeUint(p.closeDelay, 32)
    .storeUint(p.slashShareBps, 16)
}

function loadParams (s: Slice): RegistryParams {
  return {
    feeBps: s.loadUint(16),
    minStake: s.loadCoins(),
    unbondingDelay: s.loadUint(32),
    closeDelay: s.loadUint(32),
    slashShareBps: s.loadUint(16)
  }
}

function storeParams (b: Builder, p: RegistryParams): Builder {
  checkRegistryParams(p)
  return storeParamsUnchecked(b, p)
}

function checkGlobalId (globalId: number): void {
  if (!Number.isInteger(globalId) || globalId < -(2 ** 31) || globalId >= 2 ** 31) throw new RangeError(`globalId must be an int32, got ${globalId}`)
}

/** registry_storage$_ of a new Registry: version 0, no registrations, empty allow-lists. */
export function registryConfigToCell (config: RegistryConfig): Cell {
  checkGlobalId(config.globalId)
  const b = beginCell()
    .storeAddress(config.owner)
    .storeInt(config.globalId, 32)
    .storeUint(0, 32)
  storeParams(b, {
    feeBps: config.feeBps,
    minStake: config.minStake,
    unbondingDelay: config.unbondingDelay ?? DEFAULT_UNBONDING_DELAY,
    closeDelay: config.closeDelay,
    slashShareBps: config.slashShareBps ?? DEFAULT_SLASH_SHARE_BPS
  })
  return b
    .storeUint(0, 32)
    .storeMaybeRef(null).storeUint(0, 32)
    .storeMaybeRef(null).storeUint(0, 32)
    .storeRef(beginCell().storeRef(config.providerCode ?? providerCode).storeRef(config.channelCode ?? channelCode).endCell())
    .endCell()
}

/** A channel nonce as the uint64 the contracts store. */
export function checkNonce (nonce: bigint | number): bigint {
  const n = BigInt(nonce)
  if (n < 0n || n >= 1n << 64n) throw new RangeError('nonce must be a uint64')
  return n
}

function queryOnly (op: number, queryId: bigint | undefined): Builder {
  return beginCell().storeUint(op, 32).storeUint(queryId ?? 0n, 64)
}

function opened (op: number, name: string, cell: Cell): Slice {
  const s = cell.beginParse()
  if (s.loadUint(32) !== op) throw new Error(`not a ${name}`)
  return s
}

function ended<T> (s: Slice, value: T): T {
  s.endParse()
  return value
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

  /**
   * The node key's consent to be staked by `owner` at `registry` on network `globalId`: a signature
   * over protocol/cells.ts buildRegistration. The Registry checks it against the sender as owner.
   */
  static signRegistration (opts: { globalId: number, registry: Address, owner: Address, nodeSecretKey: Buffer }): Buffer {
    if (opts.nodeSecretKey.length !== 64) throw new RangeError('nodeSecretKey must be the 64-byte seed ++ public key')
    const nodeKey = opts.nodeSecretKey.subarray(32, 64) // a @ton/crypto secret key is seed ++ public key
    return signCell(buildRegistration({ globalId: opts.globalId, registry: opts.registry, owner: opts.owner, nodeKey }), opts.nodeSecretKey)
  }

  /** signature: Registry.signRegistration (the node key over buildRegistration with the sender as owner). */
  static registerProviderMessage (opts: { nodeKey: PublicKey, stake: bigint, signature: Uint8Array, queryId?: bigint }): Cell {
    if (opts.signature.length !== 64) throw new RangeError('signature must be 64 bytes')
    return beginCell()
      .storeUint(Op.registerProvider, 32)
      .storeUint(opts.queryId ?? 0n, 64)
      .storeUint(publicKeyToInt(opts.nodeKey), 256)
      .storeCoins(opts.stake)
      .storeRef(signatureCell(Buffer.from(opts.signature)))
      .endCell()
  }

  static parseRegisterProvider (cell: Cell): RegisterProviderMessage {
    const s = cell.beginParse()
    if (s.loadUint(32) !== Op.registerProvider) throw new Error('not a register_provider')
    const parsed = { queryId: s.loadUintBig(64), nodeKey: s.loadUintBig(256), stake: s.loadCoins(), signature: parseSignatureCell(s.loadRef()) }
    s.endParse()
    return parsed
  }

  /** nonce: uint64, part of the Channel's address; never reuse one for the same (client, clientKey, provider). */
  static openChannelMessage (opts: { clientKey: PublicKey, providerOwner: Address, nodeKey: PublicKey, deposit: bigint, nonce: bigint | number, queryId?: bigint }): Cell {
    return beginCell()
      .storeUint(Op.openChannel, 32)
      .storeUint(opts.queryId ?? 0n, 64)
      .storeUint(publicKeyToInt(opts.clientKey), 256)
      .storeCoins(opts.deposit)
      .storeUint(checkNonce(opts.nonce), 64)
      .storeRef(beginCell().storeAddress(opts.providerOwner).storeUint(publicKeyToInt(opts.nodeKey), 256).endCell())
      .endCell()
  }

  static parseOpenChannel (cell: Cell): OpenChannelMessage {
    const s = cell.beginParse()
    if (s.loadUint(32) !== Op.openChannel) throw new Error('not an open_channel')
    const queryId = s.loadUintBig(64)
    const clientKey = s.loadUintBig(256)
    const deposit = s.loadCoins()
    const nonce = s.loadUintBig(64)
    const p = s.loadRef().beginParse()
    const parsed = { queryId, clientKey, providerOwner: p.loadAddress(), nodeKey: p.loadUintBig(256), deposit, nonce }
    p.endParse()
    s.endParse()
    return parsed
  }

  /**
   * What a Channel sends with the fee. The Registry's code root accepts it on its opcode alone
   * (93 gas), so any value from 40,000 nanoton up succeeds; nothing on chain counts it.
   */
  static protocolFeeMessage (queryId?: bigint): Cell {
    return beginCell().storeUint(Op.protocolFee, 32).storeUint(queryId ?? 0n, 64).endCell()
  }

  static parseProtocolFee (cell: Cell): { queryId: bigint } {
    const s = opened(Op.protocolFee, 'protocol_fee', cell)
    return ended(s, { queryId: s.loadUintBig(64) })
  }

  /** What a slashed Provider sends with the treasury's part of its stake. */
  static slashedStakeMessage (opts: { owner: Address, nodeKey: PublicKey, queryId?: bigint }): Cell {
    return queryOnly(Op.slashedStake, opts.queryId).storeAddress(opts.owner).storeUint(publicKeyToInt(opts.nodeKey), 256).endCell()
  }

  static parseSlashedStake (cell: Cell): { queryId: bigint, owner: Address, nodeKey: bigint } {
    const s = opened(Op.slashedStake, 'slashed_stake', cell)
    return ended(s, { queryId: s.loadUintBig(64), owner: s.loadAddress(), nodeKey: s.loadUintBig(256) })
  }

  // ---------- governance (owner only; each bumps the version) ----------

  static changeOwnerMessage (opts: { newOwner: Address, queryId?: bigint }): Cell {
    return queryOnly(Op.changeOwner, opts.queryId).storeAddress(opts.newOwner).endCell()
  }

  static parseChangeOwner (cell: Cell): { queryId: bigint, newOwner: Address } {
    const s = opened(Op.changeOwner, 'change_owner', cell)
    return ended(s, { queryId: s.loadUintBig(64), newOwner: s.loadAddress() })
  }

  static setParamsMessage (opts: RegistryParams & { queryId?: bigint }): Cell {
    return storeParams(queryOnly(Op.setParams, opts.queryId), opts).endCell()
  }

  /** set_params without the client-side bounds check (tests of the contract's own refusal). */
  static setParamsMessageUnchecked (opts: RegistryParams & { queryId?: bigint }): Cell {
    return storeParamsUnchecked(queryOnly(Op.setParams, opts.queryId), opts).endCell()
  }

  static parseSetParams (cell: Cell): RegistryParams & { queryId: bigint } {
    const s = opened(Op.setParams, 'set_params', cell)
    const queryId = s.loadUintBig(64)
    return ended(s, { queryId, ...loadParams(s) })
  }

  static addModelMessage (opts: { modelHash: Hash256, queryId?: bigint }): Cell {
    return queryOnly(Op.addModel, opts.queryId).storeUint(hash256ToInt(opts.modelHash), 256).endCell()
  }

  static parseAddModel (cell: Cell): { queryId: bigint, modelHash: bigint } {
    const s = opened(Op.addModel, 'add_model', cell)
    return ended(s, { queryId: s.loadUintBig(64), modelHash: s.loadUintBig(256) })
  }

  static removeModelMessage (opts: { modelHash: Hash256, queryId?: bigint }): Cell {
    return queryOnly(Op.removeModel, opts.queryId).storeUint(hash256ToInt(opts.modelHash), 256).endCell()
  }

  static parseRemoveModel (cell: Cell): { queryId: bigint, modelHash: bigint } {
    const s = opened(Op.removeModel, 'remove_model', cell)
    return ended(s, { queryId: s.loadUintBig(64), modelHash: s.loadUintBig(256) })
  }

  static addMeasurementMessage (opts: { measurement: Hash256, queryId?: bigint }): Cell {
    return queryOnly(Op.addMeasurement, opts.queryId).storeUint(hash256ToInt(opts.measurement), 256).endCell()
  }

  static parseAddMeasurement (cell: Cell): { queryId: bigint, measurement: bigint } {
    const s = opened(Op.addMeasurement, 'add_measurement', cell)
    return ended(s, { queryId: s.loadUintBig(64), measurement: s.loadUintBig(256) })
  }

  static removeMeasurementMessage (opts: { measurement: Hash256, queryId?: bigint }): Cell {
    return queryOnly(Op.removeMeasurement, opts.queryId).storeUint(hash256ToInt(opts.measurement), 256).endCell()
  }

  static parseRemoveMeasurement (cell: Cell): { queryId: bigint, measurement: bigint } {
    const s = opened(Op.removeMeasurement, 'remove_measurement', cell)
    return ended(s, { queryId: s.loadUintBig(64), measurement: s.loadUintBig(256) })
  }

  /** amount 0n withdraws everything above the registry's storage reserve. */
  static withdrawTreasuryMessage (opts: { amount: bigint, destination: Address, queryId?: bigint }): Cell {
    return queryOnly(Op.withdrawTreasury, opts.queryId).storeCoins(opts.amount).storeAddress(opts.destination).endCell()
  }

  static parseWithdrawTreasury (cell: Cell): { queryId: bigint, amount: bigint, destination: Address } {
    const s = opened(Op.withdrawTreasury, 'withdraw_treasury', cell)
    return ended(s, { queryId: s.loadUintBig(64), amount: s.loadCoins(), destination: s.loadAddress() })
  }

  static parseTreasuryWithdrawal (cell: Cell): { queryId: bigint } {
    const s = opened(Op.treasuryWithdrawal, 'treasury_withdrawal', cell)
    return ended(s, { queryId: s.loadUintBig(64) })
  }

  async sendDeploy (provider: ContractProvider, via: Sender, value: bigint): Promise<void> {
    await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: beginCell().endCell() })
  }

  /** Plain transfer (empty body), accepted as a top-up. */
  async sendTopUp (provider: ContractProvider, via: Sender, value: bigint): Promise<void> {
    await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: beginCell().endCell() })
  }

  /**
   * The sender becomes the owner of the Provider for nodeKey; signature: Registry.signRegistration
   * with the sender as owner. value defaults to stake + Fees.providerDeployGas.
   */
  async sendRegisterProvider (
    provider: ContractProvider, via: Sender,
    opts: { nodeKey: PublicKey, stake: bigint, signature: Uint8Array, value?: bigint, queryId?: bigint }
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
    opts: { clientKey: PublicKey, providerOwner: Address, nodeKey: PublicKey, deposit: bigint, nonce: bigint | number, value?: bigint, queryId?: bigint }
  ): Promise<void> {
    await provider.internal(via, {
      value: opts.value ?? opts.deposit + Fees.channelDeployGas,
      sendMode: SendMode.PAY_GAS_SEPARATELY,
      body: Registry.openChannelMessage(opts)
    })
  }

  private async governance (provider: ContractProvider, via: Sender, body: Cell, value?: bigint): Promise<void> {
    await provider.internal(via, { value: value ?? GOVERNANCE_VALUE, sendMode: SendMode.PAY_GAS_SEPARATELY, body })
  }

  async sendChangeOwner (provider: ContractProvider, via: Sender, opts: { newOwner: Address, value?: bigint, queryId?: bigint }): Promise<void> {
    await this.governance(provider, via, Registry.changeOwnerMessage(opts), opts.value)
  }

  /** Replaces every parameter; Providers and Channels deployed earlier keep the values they were deployed with. */
  async sendSetParams (provider: ContractProvider, via: Sender, opts: RegistryParams & { value?: bigint, queryId?: bigint }): Promise<void> {
    await this.governance(provider, via, Registry.setParamsMessage(opts), opts.value)
  }

  async sendAddModel (provider: ContractProvider, via: Sender, opts: { modelHash: Hash256, value?: bigint, queryId?: bigint }): Promise<void> {
    await this.governance(provider, via, Registry.addModelMessage(opts), opts.value)
  }

  async sendRemoveModel (provider: ContractProvider, via: Sender, opts: { modelHash: Hash256, value?: bigint, queryId?: bigint }): Promise<void> {
    await this.governance(provider, via, Registry.removeModelMessage(opts), opts.value)
  }

  async sendAddMeasurement (provider: ContractProvider, via: Sender, opts: { measurement: Hash256, value?: bigint, queryId?: bigint }): Promise<void> {
    await this.governance(provider, via, Registry.addMeasurementMessage(opts), opts.value)
  }

  async sendRemoveMeasurement (provider: ContractProvider, via: Sender, opts: { measurement: Hash256, value?: bigint, queryId?: bigint }): Promise<void> {
    await this.governance(provider, via, Registry.removeMeasurementMessage(opts), opts.value)
  }

  /** Sends `amount` (0n: everything above the storage reserve) to `destination`; the unused value returns as excesses. */
  async sendWithdrawTreasury (
    provider: ContractProvider, via: Sender, opts: { amount: bigint, destination: Address, value?: bigint, queryId?: bigint }
  ): Promise<void> {
    await this.governance(provider, via, Registry.withdrawTreasuryMessage(opts), opts.value)
  }

  async getRegistryData (provider: ContractProvider): Promise<RegistryData> {
    const { stack } = await provider.get('get_registry_data', [])
    return {
      owner: stack.readAddress(),
      feeBps: stack.readNumber(),
      minStake: stack.readBigNumber(),
      closeDelay: stack.readNumber(),
      unbondingDelay: stack.readNumber(),
      slashShareBps: stack.readNumber(),
      version: stack.readNumber(),
      modelCount: stack.readNumber(),
      measurementCount: stack.readNumber(),
      globalId: stack.readNumber(),
      registrations: stack.readNumber()
    }
  }

  /** Bumped by every governance change. */
  async getVersion (provider: ContractProvider): Promise<number> {
    const { stack } = await provider.get('get_version', [])
    return stack.readNumber()
  }

  /**
   * The treasury: what withdraw_treasury with amount 0 would send now, i.e. the balance above
   * Fees.registryStorageReserve (protocol fees, slashed stakes and plain top-ups all land there).
   */
  async getTreasuryAvailable (provider: ContractProvider): Promise<bigint> {
    const { stack } = await provider.get('get_treasury_available', [])
    return stack.readBigNumber()
  }

  async isModelAllowed (provider: ContractProvider, modelHash: Hash256): Promise<boolean> {
    const { stack } = await provider.get('is_model_allowed', [{ type: 'int', value: hash256ToInt(modelHash) }])
    return stack.readBoolean()
  }

  async getModelCount (provider: ContractProvider): Promise<number> {
    const { stack } = await provider.get('get_model_count', [])
    return stack.readNumber()
  }

  async isMeasurementAllowed (provider: ContractProvider, measurement: Hash256): Promise<boolean> {
    const { stack } = await provider.get('is_measurement_allowed', [{ type: 'int', value: hash256ToInt(measurement) }])
    return stack.readBoolean()
  }

  async getMeasurementCount (provider: ContractProvider): Promise<number> {
    const { stack } = await provider.get('get_measurement_count', [])
    return stack.readNumber()
  }

  async getProviderAddress (provider: ContractProvider, owner: Address, nodeKey: PublicKey): Promise<Address> {
    const { stack } = await provider.get('get_provider_address', [
      addressArg(owner),
      { type: 'int', value: publicKeyToInt(nodeKey) }
    ])
    return stack.readAddress()
  }

  async getChannelAddress (
    provider: ContractProvider, client: Address, clientKey: PublicKey, providerOwner: Address, nodeKey: PublicKey, nonce: bigint | number
  ): Promise<Address> {
    const { stack } = await provider.get('get_channel_address', [
      addressArg(client),
      { type: 'int', value: publicKeyToInt(clientKey) },
      addressArg(providerOwner),
      { type: 'int', value: publicKeyToInt(nodeKey) },
      { type: 'int', value: checkNonce(nonce) }
    ])
    return stack.readAddress()
  }

  async getBalance (provider: ContractProvider): Promise<bigint> {
    return (await provider.getState()).balance
  }
}
