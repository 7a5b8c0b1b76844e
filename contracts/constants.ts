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
  unknownOp: 0xffff
} as const

export type ErrorName = keyof typeof Errors
