import '../protocol/polyfill.ts' // first: Node 20 lacks Promise.withResolvers, which libp2p calls
export { startGateway, type Gateway, type GatewayModel, type GatewayOptions, type GatewayPool } from './server.ts'
export { launchGateway, type GatewaySecrets } from './launch.ts'
export { GatewayConfigSchema, GatewayConfigError, loadGatewayConfig, parseGatewayConfig, type GatewayConfig } from './config.ts'
export { GatewayError, toGatewayError, type ErrorType } from './errors.ts'
export type { SilkProof, ModerationVerdict } from './openai.ts'
export { DEFAULTS as GATEWAY_DEFAULTS } from './constants.ts'
export { RequestGuard, SpendingLimits, isLoopbackHost, type SpendingLimitsOptions, type Reservation } from './guard.ts'
