export { SilkClient, type SilkClientOptions, type ClientWallet, type VerifiedProvider } from './client.ts'
export { ProviderSession, type JobResult, type RunOptions, type ChannelPosition } from './session.ts'
export * from './errors.ts'
export { float32Tensor, float32Values, hashTensors, type Tensor } from '../protocol/tensor.ts'
