// Silk's local chain: an in-process TON chain (@ton/sandbox) served over the TON HTTP API v2, so
// the same @ton/ton TonClient code runs against it and against testnet/mainnet.
export { LocalChain, parseAddress, parseHash, normalizedExternalHash } from './LocalChain.ts'
export type {
  AccountInfo, AccountStatus, ChainLogger, DeliveryMode, FeeEstimate, GetMethodOutcome, LocalChainOptions,
  SendBocResult, TxQuery, TxRecord
} from './LocalChain.ts'
export { startDevnet } from './server.ts'
export type { Devnet, DevnetOptions } from './server.ts'
export {
  chainClient, chainTime, devnetBaseUrl, exitCodeOf, faucet, isSuccess, sendAndWait, sendTransfer, txHashHex,
  waitForTransaction, walletFromKey
} from '../chain/client.ts'
export type { ChainClientOptions, FaucetResult, KeyWallet, SentTransfer, TransferArgs, WaitOptions } from '../chain/client.ts'
export { DevnetError } from './errors.ts'
export type { DevnetErrorCode } from './errors.ts'
export { describeTransaction, describeAddress } from './explorer.ts'
export type { TxView, AddressView, MessageView } from './explorer.ts'
