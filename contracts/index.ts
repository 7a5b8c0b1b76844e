// Silk contracts: TypeScript wrappers, committed code cells, opcodes and exit codes.
import '../protocol/polyfill.ts' // first: Node 20 lacks Promise.withResolvers, which libp2p calls
export { Op, Errors, Fees, Bounds, type ErrorName } from './constants.ts'
export { registryCode, providerCode, channelCode } from './code.ts'
export { publicKeyToInt, uint256ToBuffer, hash256ToInt, type PublicKey, type Hash256 } from './keys.ts'
export {
  Registry, registryConfigToCell, checkRegistryParams, checkNonce, DEFAULT_UNBONDING_DELAY, DEFAULT_SLASH_SHARE_BPS, GOVERNANCE_VALUE,
  type RegistryConfig, type RegistryData, type RegistryParams, type RegisterProviderMessage, type OpenChannelMessage
} from './Registry.ts'
export {
  Provider, ProviderState, providerAddress, providerConfigToCell,
  type ProviderConfig, type ProviderData, type ProviderStateValue, type EquivocationProof
} from './Provider.ts'
export {
  Channel, channelAddress, channelConfigToCell,
  type ChannelConfig, type ChannelData, type ClaimMessage, type CooperativeCloseMessage
} from './Channel.ts'
export { configWithGlobalId, globalIdOfConfig } from './network.ts'
