// Chain access through any TON HTTP API (local devnet, testnet, mainnet): one code path.
import '../protocol/polyfill.ts' // first: Node 20 lacks Promise.withResolvers, which libp2p calls
export * from './client.ts'
export * from './operations.ts'
