// Standalone devnet: node --import tsx devnet/main.ts [--host 127.0.0.1] [--port 8081] [--instant] [--hop-delay-ms 100]
// Prints DEVNET_ENDPOINT=<url> on the first line of stdout, then serves until SIGINT/SIGTERM.
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { loggerOptions } from '../protocol/logging.ts'
import { startDevnet } from './server.ts'

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8081' },
    instant: { type: 'boolean', default: false },
    'hop-delay-ms': { type: 'string', default: '100' },
    help: { type: 'boolean', short: 'h', default: false }
  }
})

if (values.help) {
  process.stdout.write('usage: node --import tsx devnet/main.ts [--host 127.0.0.1] [--port 8081 (0 = any)] [--instant] [--hop-delay-ms 100]\n')
  process.exit(0)
}

const port = Number(values.port)
const hopDelayMs = Number(values['hop-delay-ms'])
if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --port ${values.port}`)
if (!Number.isFinite(hopDelayMs) || hopDelayMs < 0) throw new Error(`bad --hop-delay-ms ${values['hop-delay-ms']}`)

const logger = pino(loggerOptions(process.env.LOG_LEVEL ?? 'info'), pino.destination(2))
const devnet = await startDevnet({ host: values.host, port, logger, delivery: values.instant ? 'instant' : 'realistic', hopDelayMs })
process.stdout.write(`DEVNET_ENDPOINT=${devnet.endpoint}\n`)
process.stdout.write(`silk devnet: JSON-RPC ${devnet.endpoint}\n  faucet   POST ${devnet.baseUrl}/faucet {"address","amount"}\n  explorer ${devnet.baseUrl}/\n`)

let stopping = false
const stop = (signal: string): void => {
  if (stopping) return
  stopping = true
  logger.info({ signal }, 'devnet stopping')
  devnet.close().then(() => process.exit(0), (e: unknown) => { logger.error({ err: String(e) }, 'close failed'); process.exit(1) })
}
process.on('SIGINT', () => { stop('SIGINT') })
process.on('SIGTERM', () => { stop('SIGTERM') })
