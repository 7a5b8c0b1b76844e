import '../protocol/polyfill.ts' // first: Node 20 lacks Promise.withResolvers, which libp2p calls
export { SilkClient, checkOffer, type SilkClientOptions, type ClientWallet, type VerifiedProvider, type ClientDiscoveryOptions, type ConnectOptions, type ClientAttestationOptions } from './client.ts'
export { SessionTier, SESSION_TIER_DEFAULTS, type TierStanding, type SessionTierOptions } from './session-tier.ts'
export { verifyReceipt, type ExpectedReceipt } from './verify.ts'
export { ProviderFinder, DiscoveryError, type DiscoveryErrorCode, type FindProvidersOptions } from './discovery.ts'
export { modelCid, type Advert, type AdvertModel, type ModelQuery } from '../protocol/advert.ts'
export { ProviderSession, type JobResult, type ClassifyResult, type ChatResult, type ChatRequest, type ChatStream, type PaidJob, type RunOptions, type ChannelPosition, type TokenCounter } from './session.ts'
export * from './errors.ts'
export { float32Tensor, float32Values, hashTensors, type Tensor } from '../protocol/tensor.ts'
export { ProviderPool, NoProviderError, discoveredCandidates, POOL_DEFAULTS, type Candidate, type ProviderPoolOptions, type PoolResult } from './pool.ts'
export { withRetry, type RetryOptions } from './retry.ts'
export { SpotChecker, submitEquivocation, equivocationProof, type SignedReceipt, type EquivocationReport, type SpotCheckOutcome, type SpotCheckOptions } from './spot-check.ts'
// What a program needs around the client: a chain connection and a paying wallet (V4R2 from a key,
// or W5 bound to a network), and the TON basics, so that `@silk-ai/silk/client` alone suffices.
export { chainClient, walletFromKey, networkWalletFromKey, walletSender, faucet, type KeyWallet, type NetworkKeyWallet, type AnyKeyWallet } from '../chain/client.ts'
export { GLOBAL_IDS, type NetworkName } from '../protocol/cells.ts'
export { Address, toNano, fromNano } from '@ton/core'
export { mnemonicNew, mnemonicToPrivateKey } from '@ton/crypto'
