// Opcodes and exit codes, mirroring contracts/*.tolk and protocol/schema.tlb. One table for all.

export const Op = {
  registerProvider: 0x5250524f,
  openChannel: 0x4f50434e,
  protocolFee: 0x46454553,
  providerInit: 0x50494e49,
  stakeTopUp: 0x53545550,
  channelInit: 0x43494e49,
  channelTopUp: 0x43545550,
  claim: 0x434c4149,
  startClose: 0x53434c53,
  finishClose: 0x46434c53,
  payout: 0x5041594f,
  refund: 0x52454644,
  excesses: 0xd53276db
} as const

export const Errors = {
  unauthorized: 100, // sender is not allowed to send this message
  alreadyInitialized: 101,
  notInitialized: 102,
  notEnoughValue: 103, // message value does not cover amount + gas
  stakeTooLow: 104,
  wrongChannel: 110, // voucher names another channel
  badClientSignature: 111,
  badNodeSignature: 112,
  seqnoNotIncreasing: 113, // replayed or older voucher
  amountAboveDeposit: 114,
  amountBelowPaid: 115,
  channelClosed: 116,
  closeNotReady: 117, // finish_close before start_close or before the delay
  alreadyClosing: 118,
  malformedVoucher: 119, // claim carries a cell that is not a voucher
  unknownOp: 0xffff
} as const

export type ErrorName = keyof typeof Errors

/**
 * Minimum message values in nanoton, mirroring contracts/tolk/fees.tolk. Each covers the fees of
 * the cascade it starts with a margin (measured in contracts/*.test.ts); the unspent part stays
 * with the child as storage reserve (refunded on close) or, for a claim, returns as excesses.
 */
export const Fees = {
  /** register_provider: value >= stake + providerDeployGas */
  providerDeployGas: 50_000_000n,
  /** open_channel: value >= deposit + channelDeployGas */
  channelDeployGas: 50_000_000n,
  /** stake_top_up, channel_top_up: value >= amount + topUpGas */
  topUpGas: 10_000_000n,
  /** claim: value >= claimGas; the unused part comes back as excesses */
  claimGas: 30_000_000n
} as const
