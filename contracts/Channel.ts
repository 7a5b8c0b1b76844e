import {
  Address, beginCell, Cell, contractAddress, SendMode,
  type Contract, type ContractProvider, type Sender
} from '@ton/core'
import { signatureCell, parseSignatureCell } from '../protocol/cells.ts'
import { channelCode } from './code.ts'
import { Fees, Op } from './constants.ts'
import { publicKeyToInt, uint256ToBuffer, type PublicKey } from './keys.ts'

/** Static init data of a Channel: the fields that fix its address (channel_storage$_). */
export interface ChannelConfig {
  registry: Address
  client: Address
  clientKey: PublicKey
  providerOwner: Address
  nodeKey: PublicKey
  /** uint64 chosen by the client: a reopen with a new nonce is a new address, never a closed channel */
  nonce: bigint | number
}

/** get_channel_data, in stack order. */
export interface ChannelData {
  registry: Address
  client: Address
  clientKey: bigint
  providerOwner: Address
  nodeKey: bigint
  /** false until channel_init arrived; the fields below are then 0 */
  initialized: boolean
  deposit: bigint
  paid: bigint
  seqno: number
  /** 32 bytes */
  receiptsRoot: Buffer
  feeBps: number
  closeDelay: number
  /** unix seconds; 0 while open */
  closeAt: number
  closed: boolean
  /** uint64, part of the address */
  nonce: bigint
  /** unix seconds after which no claim is accepted and anyone may finish_close (opened + Bounds.channelLifetime); 0 until initialized */
  expiresAt: number
}

export interface ClaimMessage {
  queryId: bigint
  voucher: Cell
  clientSig: Buffer
  nodeSig: Buffer
}

export interface CooperativeCloseMessage {
  queryId: bigint
  /** protocol/cells.ts buildCloseRequest */
  request: Cell
  clientSig: Buffer
  nodeSig: Buffer
}

/** Default value of start_close / finish_close messages (what the contract does not spend is refunded on close). */
const CLOSE_VALUE = 20_000_000n

export function channelConfigToCell (config: ChannelConfig): Cell {
  const parties = beginCell()
    .storeUint(publicKeyToInt(config.clientKey), 256)
    .storeAddress(config.providerOwner)
    .storeUint(publicKeyToInt(config.nodeKey), 256)
    .storeUint(checkNonce(config.nonce), 64)
    .endCell()
  return beginCell()
    .storeAddress(config.registry)
    .storeAddress(config.client)
    .storeRef(parties)
    .storeMaybeRef(null)
    .endCell()
}

/** The address the Registry deploys this Channel to; equals get_channel_address. */
export function channelAddress (
  registry: Address, client: Address, clientKey: PublicKey, providerOwner: Address, nodeKey: PublicKey, nonce: bigint | number,
  code: Cell = channelCode
): Address {
  return contractAddress(0, { code, data: channelConfigToCell({ registry, client, clientKey, providerOwner, nodeKey, nonce }) })
}

function checkNonce (nonce: bigint | number): bigint {
  const n = BigInt(nonce)
  if (n < 0n || n >= 1n << 64n) throw new RangeError('nonce must be a uint64')
  return n
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

export class Channel implements Contract {
  constructor (readonly address: Address, readonly init?: { code: Cell, data: Cell }) {}

  static createFromAddress (address: Address): Channel {
    return new Channel(address)
  }

  /** Children live on the basechain, where the Registry deploys them. */
  static createFromConfig (config: ChannelConfig, code: Cell = channelCode): Channel {
    const init = { code, data: channelConfigToCell(config) }
    return new Channel(contractAddress(0, init), init)
  }

  static channelInitMessage (opts: { deposit: bigint, feeBps: number, closeDelay: number, queryId?: bigint }): Cell {
    return beginCell()
      .storeUint(Op.channelInit, 32)
      .storeUint(opts.queryId ?? 0n, 64)
      .storeCoins(opts.deposit)
      .storeUint(opts.feeBps, 16)
      .storeUint(opts.closeDelay, 32)
      .endCell()
  }

  static parseChannelInit (cell: Cell): { queryId: bigint, deposit: bigint, feeBps: number, closeDelay: number } {
    const s = cell.beginParse()
    if (s.loadUint(32) !== Op.channelInit) throw new Error('not a channel_init')
    const parsed = { queryId: s.loadUintBig(64), deposit: s.loadCoins(), feeBps: s.loadUint(16), closeDelay: s.loadUint(32) }
    s.endParse()
    return parsed
  }

  static topUpMessage (opts: { amount: bigint, queryId?: bigint }): Cell {
    return beginCell()
      .storeUint(Op.channelTopUp, 32)
      .storeUint(opts.queryId ?? 0n, 64)
      .storeCoins(opts.amount)
      .endCell()
  }

  static parseTopUp (cell: Cell): { queryId: bigint, amount: bigint } {
    const s = cell.beginParse()
    if (s.loadUint(32) !== Op.channelTopUp) throw new Error('not a channel_top_up')
    const parsed = { queryId: s.loadUintBig(64), amount: s.loadCoins() }
    s.endParse()
    return parsed
  }

  /** claim: the voucher cell (protocol/cells.ts buildVoucher) with the client's and the node's signatures over its hash. */
  static claimMessage (opts: { voucher: Cell, clientSig: Uint8Array, nodeSig: Uint8Array, queryId?: bigint }): Cell {
    return beginCell()
      .storeUint(Op.claim, 32)
      .storeUint(opts.queryId ?? 0n, 64)
      .storeRef(opts.voucher)
      .storeRef(signatureCell(Buffer.from(opts.clientSig)))
      .storeRef(signatureCell(Buffer.from(opts.nodeSig)))
      .endCell()
  }

  static parseClaim (cell: Cell): ClaimMessage {
    const s = cell.beginParse()
    if (s.loadUint(32) !== Op.claim) throw new Error('not a claim')
    const queryId = s.loadUintBig(64)
    const voucher = s.loadRef()
    const clientSig = parseSignatureCell(s.loadRef())
    const nodeSig = parseSignatureCell(s.loadRef())
    s.endParse()
    return { queryId, voucher, clientSig, nodeSig }
  }

  /** cooperative_close: the close_request cell (protocol/cells.ts buildCloseRequest) signed by the client and by the node. */
  static cooperativeCloseMessage (opts: { request: Cell, clientSig: Uint8Array, nodeSig: Uint8Array, queryId?: bigint }): Cell {
    return beginCell()
      .storeUint(Op.cooperativeClose, 32)
      .storeUint(opts.queryId ?? 0n, 64)
      .storeRef(opts.request)
      .storeRef(signatureCell(Buffer.from(opts.clientSig)))
      .storeRef(signatureCell(Buffer.from(opts.nodeSig)))
      .endCell()
  }

  static parseCooperativeClose (cell: Cell): CooperativeCloseMessage {
    const s = cell.beginParse()
    if (s.loadUint(32) !== Op.cooperativeClose) throw new Error('not a cooperative_close')
    const queryId = s.loadUintBig(64)
    const request = s.loadRef()
    const clientSig = parseSignatureCell(s.loadRef())
    const nodeSig = parseSignatureCell(s.loadRef())
    s.endParse()
    return { queryId, request, clientSig, nodeSig }
  }

  static startCloseMessage (queryId?: bigint): Cell { return queryOnly(Op.startClose, queryId) }
  static parseStartClose (cell: Cell): { queryId: bigint } { return parseQueryOnly(Op.startClose, 'start_close', cell) }
  static finishCloseMessage (queryId?: bigint): Cell { return queryOnly(Op.finishClose, queryId) }
  static parseFinishClose (cell: Cell): { queryId: bigint } { return parseQueryOnly(Op.finishClose, 'finish_close', cell) }
  /** Bodies of what the Channel sends: payout to the provider owner, refund to the client, excesses to a claimer. */
  static parsePayout (cell: Cell): { queryId: bigint } { return parseQueryOnly(Op.payout, 'payout', cell) }
  static parseRefund (cell: Cell): { queryId: bigint } { return parseQueryOnly(Op.refund, 'refund', cell) }
  static parseExcesses (cell: Cell): { queryId: bigint } { return parseQueryOnly(Op.excesses, 'excesses', cell) }

  /** channel_top_up from the client; value defaults to amount + Fees.topUpGas. */
  async sendTopUp (provider: ContractProvider, via: Sender, opts: { amount: bigint, value?: bigint, queryId?: bigint }): Promise<void> {
    await provider.internal(via, {
      value: opts.value ?? opts.amount + Fees.topUpGas,
      sendMode: SendMode.PAY_GAS_SEPARATELY,
      body: Channel.topUpMessage(opts)
    })
  }

  /** claim from anyone (the node's wallet); value defaults to Fees.claimGas, the unused part returns as excesses. */
  async sendClaim (
    provider: ContractProvider, via: Sender,
    opts: { voucher: Cell, clientSig: Uint8Array, nodeSig: Uint8Array, value?: bigint, queryId?: bigint }
  ): Promise<void> {
    await provider.internal(via, {
      value: opts.value ?? Fees.claimGas,
      sendMode: SendMode.PAY_GAS_SEPARATELY,
      body: Channel.claimMessage(opts)
    })
  }

  /** start_close from the client: claims stay possible for close_delay seconds. */
  async sendStartClose (provider: ContractProvider, via: Sender, opts: { value?: bigint, queryId?: bigint } = {}): Promise<void> {
    await provider.internal(via, {
      value: opts.value ?? CLOSE_VALUE,
      sendMode: SendMode.PAY_GAS_SEPARATELY,
      body: Channel.startCloseMessage(opts.queryId)
    })
  }

  /** finish_close from anyone after close_at: refunds deposit - paid and the rest of the balance to the client. */
  async sendFinishClose (provider: ContractProvider, via: Sender, opts: { value?: bigint, queryId?: bigint } = {}): Promise<void> {
    await provider.internal(via, {
      value: opts.value ?? CLOSE_VALUE,
      sendMode: SendMode.PAY_GAS_SEPARATELY,
      body: Channel.finishCloseMessage(opts.queryId)
    })
  }

  /**
   * cooperative_close from anyone (both signatures authorize it): pays amount - paid (less the fee) to
   * the provider owner, refunds everything else to the client and closes at once. value defaults to
   * Fees.cooperativeCloseGas; when the sender is not the client its unused part returns as excesses.
   */
  async sendCooperativeClose (
    provider: ContractProvider, via: Sender,
    opts: { request: Cell, clientSig: Uint8Array, nodeSig: Uint8Array, value?: bigint, queryId?: bigint }
  ): Promise<void> {
    await provider.internal(via, {
      value: opts.value ?? Fees.cooperativeCloseGas,
      sendMode: SendMode.PAY_GAS_SEPARATELY,
      body: Channel.cooperativeCloseMessage(opts)
    })
  }

  async getChannelData (provider: ContractProvider): Promise<ChannelData> {
    const { stack } = await provider.get('get_channel_data', [])
    return {
      registry: stack.readAddress(),
      client: stack.readAddress(),
      clientKey: stack.readBigNumber(),
      providerOwner: stack.readAddress(),
      nodeKey: stack.readBigNumber(),
      initialized: stack.readBoolean(),
      deposit: stack.readBigNumber(),
      paid: stack.readBigNumber(),
      seqno: stack.readNumber(),
      receiptsRoot: uint256ToBuffer(stack.readBigNumber()),
      feeBps: stack.readNumber(),
      closeDelay: stack.readNumber(),
      closeAt: stack.readNumber(),
      closed: stack.readBoolean(),
      nonce: stack.readBigNumber(),
      expiresAt: stack.readNumber()
    }
  }

  async getBalance (provider: ContractProvider): Promise<bigint> {
    return (await provider.getState()).balance
  }
}
