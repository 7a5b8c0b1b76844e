// Silk contracts: TypeScript wrappers, committed code cells, opcodes and exit codes.
export { Op, Errors, Fees, type ErrorName } from './constants.ts'
export { registryCode, providerCode, channelCode } from './code.ts'
export { publicKeyToInt, uint256ToBuffer, type PublicKey } from './keys.ts'
export {
  Registry, registryConfigToCell,
  type RegistryConfig, type RegistryData, type RegisterProviderMessage, type OpenChannelMessage
} from './Registry.ts'
export {
  Provider, ProviderState, providerAddress, providerConfigToCell,
  type ProviderConfig, type ProviderData, type ProviderStateValue
} from './Provider.ts'
export {
  Channel, channelAddress, channelConfigToCell,
  type ChannelConfig, type ChannelData, type ClaimMessage
} from './Channel.ts'
