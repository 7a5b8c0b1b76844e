import { pino } from 'pino'
import { loggerOptions } from '../protocol/logging.ts'
import { CliError, out, parseAddress, shown, ton } from './common.ts'
import { nanoOf } from './args.ts'
import { logDestination } from './pretty-log.ts'

// `silk devnet [start]` and `silk devnet faucet`.

export async function serveDevnet (o: { host: string, port: number, instant: boolean }): Promise<void> {
  const { startDevnet } = await import('../devnet/server.ts')
  const devnet = await startDevnet({ host: o.host, port: o.port, delivery: o.instant ? 'instant' : 'realistic', logger: pino(loggerOptions('warn'), logDestination(2)) })
  out(`DEVNET_ENDPOINT=${devnet.endpoint}`)
  out(`explorer: ${devnet.baseUrl}/   faucet: silk devnet faucet <address> <TON> --endpoint ${devnet.baseUrl}`)
  const stop = (): void => { void devnet.close().then(() => process.exit(0)) }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

export async function askFaucet (to: string, amount: string, o: { endpoint: string }): Promise<void> {
  const address = parseAddress(to, 'address')
  const { faucet } = await import('../chain/client.ts')
  let result
  try {
    result = await faucet(o.endpoint, address, nanoOf(amount))
  } catch (err) {
    // fetch itself failed (nothing listens there): say so; a faucet's own refusal is already one line
    const cause = (err as { cause?: { code?: string, message?: string } }).cause
    if (cause !== undefined) throw new CliError('CHAIN_UNREACHABLE', `no devnet at ${o.endpoint} (${cause.code ?? cause.message ?? 'unreachable'}): start one with \`silk devnet\``)
    throw new CliError('CHAIN_UNREACHABLE', (err as Error).message)
  }
  out(`sent ${ton(nanoOf(amount))} TON to ${shown(address, 'local', 'wallet')}: ${result.explorer}`)
}
