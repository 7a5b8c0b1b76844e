import { pino } from 'pino'
import { chainClient } from '../chain/client.ts'
import { launchGateway, loadGatewayConfig } from '../gateway/index.ts'
import { loggerOptions } from '../protocol/logging.ts'
import type { WalletKind } from './args.ts'
import { mnemonicWords, out, pickWallet } from './common.ts'
import { logDestination } from './pretty-log.ts'

// `silk gateway`: pays from a V4R2 or W5 client wallet (--wallet, or the one that exists on chain).

export async function gateway (o: { config: string, port?: number, mnemonicFile?: string, wallet?: WalletKind }): Promise<void> {
  const config = await loadGatewayConfig(o.config)
  if (o.port !== undefined) config.port = o.port
  const words = await mnemonicWords(o.mnemonicFile, 'SILK_CLIENT_MNEMONIC')
  const chain = chainClient(config.chain.endpoint, config.chain.apiKey, { timeoutMs: 15_000 })
  const wallet = await pickWallet(words, config.chain.network, { kind: o.wallet, chain, source: o.mnemonicFile ?? 'SILK_CLIENT_MNEMONIC' })
  const apiKeys = (process.env.SILK_GATEWAY_API_KEYS ?? '').split(',').map((k) => k.trim()).filter((k) => k !== '')
  const logger = pino(loggerOptions(config.logLevel), logDestination(2))
  const gw = await launchGateway(config, { wallet, apiKeys }, logger)
  out(JSON.stringify({ event: 'listening', url: gw.url, openaiBaseUrl: `${gw.url}/v1`, auth: apiKeys.length > 0 }))
  const stop = (): void => { void gw.close().then(() => process.exit(0)) }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
