// Opcodes and exit codes, mirroring contracts/*.tolk and protocol/schema.tlb. One table for all.

export const Op = {
  registerProvider: 0x5250524f,
  openChannel: 0x4f50434e,
  protocolFee: 0x46454553,
  slashedStake: 0x534c5354,
  changeOwner: 0x434f574e,
  setParams: 0x5350524d,
  addModel: 0x414d444c,
  removeModel: 0x524d444c,
  addMeasurement: 0x414d5352,
  removeMeasurement: 0x524d5352,
  withdrawTreasury: 0x57545253,
  providerInit: 0x50494e49,
  stakeTopUp: 0x53545550,
  unbond: 0x554e4244,
  withdrawStake: 0x5753544b,
  reportEquivocation: 0x52455156,
  channelInit: 0x43494e49,
  channelTopUp: 0x43545550,
  claim: 0x434c4149,
  startClose: 0x53434c53,
  finishClose: 0x46434c53,
  cooperativeClose: 0x43434c53,
  payout: 0x5041594f,
  refund: 0x52454644,
  excesses: 0xd53276db,
  treasuryWithdrawal: 0x54525357,
  stakeWithdrawal: 0x53544b57,
  slashReward: 0x534c5257
} as const

export const Errors = {
  unauthorized: 100, // sender is not allowed to send this message
  alreadyInitialized: 101,
  notInitialized: 102,
  notEnoughValue: 103, // message value does not cover amount + gas
  stakeTooLow: 104,
  notBasechain: 105, // an address that would receive payouts is outside workchain 0
  badRegistrationSignature: 106, // register_provider: the node key did not sign the Registration
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
  malformedCloseRequest: 120, // cooperative_close carries a cell that is not a close_request
  wrongNetwork: 121, // a signed record's (or the Registry's) global_id is not this chain's (config param 19)
  feeTooHigh: 130, // set_params: fee_bps > Bounds.maxFeeBps
  slashShareTooHigh: 131, // set_params: slash_share_bps > Bounds.maxSlashShareBps
  modelAlreadyAllowed: 132,
  modelNotAllowed: 133, // remove_model of a hash that is not in the list
  measurementAlreadyAllowed: 134,
  measurementNotAllowed: 135,
  treasuryTooLow: 136, // withdraw_treasury above the balance less the storage reserve
  closeDelayOutOfRange: 137, // set_params: close_delay outside [Bounds.minCloseDelay, Bounds.maxCloseDelay]
  unbondingDelayOutOfRange: 138, // set_params: unbonding_delay outside [Bounds.minUnbondingDelay, Bounds.maxUnbondingDelay]
  registryUnderfunded: 139, // register_provider / open_channel while the Registry holds less than Fees.registryMinBalance
  providerUnbonding: 140, // stake_top_up or unbond while unbonding
  providerSlashed: 141, // stake_top_up, unbond or withdraw_stake of a slashed provider
  notUnbonding: 142, // withdraw_stake without unbond first
  stillLocked: 143, // withdraw_stake before unlock_time
  alreadySlashed: 144, // report_equivocation against a slashed provider
  badReceiptSignature: 145, // a receipt's signature is not by node_key
  malformedReceipt: 146,
  notDeterministic: 147, // a receipt is not marked deterministic
  differentModel: 148,
  differentSpec: 149, // the receipts are for different job specifications
  sameOutput: 150, // the receipts agree: no equivocation
  wrongEpoch: 151, // a receipt was signed under another registration of this Provider
  notComplete: 152, // a receipt is of a cancelled, truncated or partial result
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
  /** open_channel: value >= deposit + channelDeployGas; ~0.09 of it stays as the channel's storage reserve (client-funded, refunded on close) */
  channelDeployGas: 100_000_000n,
  /** stake_top_up, channel_top_up: value >= amount + topUpGas */
  topUpGas: 10_000_000n,
  /** claim: value >= claimGas; the unused part comes back as excesses */
  claimGas: 30_000_000n,
  /** cooperative_close: value >= cooperativeCloseGas; the unused part goes to the client with the refund (or back to a sender that is not the client) */
  cooperativeCloseGas: 30_000_000n,
  /** report_equivocation: value >= reportGas; the unused part returns with the reward */
  reportGas: 30_000_000n,
  /** withdraw_treasury never takes the Registry's balance below this (~50 years of its storage); deploy with at least this */
  registryStorageReserve: 2_000_000_000n,
  /** register_provider / open_channel bounce while the Registry holds less than this (~26 years of storage) */
  registryMinBalance: 1_000_000_000n,
  /** a slashed Provider keeps this much (the record of its slash); everything above it is forfeit */
  providerStorageReserve: 10_000_000n
} as const

/**
 * Governance bounds, mirroring contracts/tolk/bounds.tolk. set_params refuses anything outside them
 * (each bound its own exit code), so no delay can overflow now + delay in uint32 before 2100, a
 * client can always be paid out and a node can always claim, and self-reporting always loses at
 * least half of the stake.
 */
export const Bounds = {
  /** fee_bps <= 10 % */
  maxFeeBps: 1_000,
  /** slash_share_bps <= 50 %: a provider that reports itself gets back at most half its stake */
  maxSlashShareBps: 5_000,
  /** close_delay in [1 hour, 30 days]: a node has at least an hour to claim after start_close */
  minCloseDelay: 3_600,
  maxCloseDelay: 30 * 86_400,
  /** unbonding_delay in [1 day, 365 days] */
  minUnbondingDelay: 86_400,
  maxUnbondingDelay: 365 * 86_400,
  /**
   * A channel accepts claims for this long after opening (then anyone may finish_close it); its
   * storage reserve (Fees.channelStorageReserve, paid by the client) covers storage for longer.
   */
  channelLifetime: 4 * 365 * 86_400
} as const
