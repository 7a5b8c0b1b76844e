// Chain access through any TON HTTP API (local devnet, testnet, mainnet): one code path.
export * from './client.ts'
export * from './operations.ts'
