import { writeFile, mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Command, InvalidArgumentError } from 'commander'
import { Address, fromNano, toNano } from '@ton/core'
import { mnemonicToPrivateKey } from '@ton/crypto'
import { pino } from 'pino'
import { loggerOptions } from '../protocol/logging.ts'
import { chainClient, deployRegistry, faucet, registerProvider, walletFromKey, type KeyWallet } from '../chain/index.ts'
import { Fees, Provider, providerAddress } from '../contracts/index.ts'
import { startDevnet } from '../devnet/server.ts'
import { launchGateway, loadGatewayConfig } from '../gateway/index.ts'
import { ADMIN_TOKEN_ENV, AdminServer } from '../node/admin.ts'
import { loadNodeConfig, type NodeConfig } from '../node/config.ts'
import { createKeyFile, readKeyFile } from '../node/keyfile.ts'
import { ProviderNode } from '../node/provider-node.ts'
import { explorerFor, type SettledPayout } from '../node/settlement.ts'
import { VoucherStore } from '../node/vouchers.ts'
import { GLOBAL_IDS, globalIdOf, type NetworkName } from '../protocol/cells.ts'

// The only place that reads argv and the environment.

const program = new Command('silk').description('Silk: private, verifiable AI inference paid in Toncoin')

const ton = (v: string): bigint => {
  try { return toNano(v) } catch { throw new InvalidArgumentError(`${v} is not an amount of TON`) }
}
const int = (v: string): number => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${v} is not a non-negative integer`)
  return n
}
const out = (line: string): void => { process.stdout.write(line + '\n') }

/** A wallet from a 24-word mnemonic in the environment; the words never reach a log or an error. */
async function walletFromEnv (name: string): Promise<KeyWallet> {
  const words = process.env[name]?.trim().split(/\s+/)
  if (words === undefined || words.length < 12) throw new Error(`set ${name} to the wallet's mnemonic (24 words)`)
  return walletFromKey(await mnemonicToPrivateKey(words))
}

program.command('devnet')
  .description('serve a local TON chain (TON HTTP API, faucet and explorer) from @ton/sandbox')
  .option('--host <host>', 'interface to bind', '127.0.0.1')
  .option('--port <port>', 'port (0 picks one)', int, 8081)
  .option('--instant', 'deliver whole message cascades at once instead of hop by hop', false)
  .action(async (o: { host: string, port: number, instant: boolean }) => {
    const devnet = await startDevnet({ host: o.host, port: o.port, delivery: o.instant ? 'instant' : 'realistic', logger: pino(loggerOptions('warn'), pino.destination(2)) })
    out(`DEVNET_ENDPOINT=${devnet.endpoint}`)
    out(`explorer: ${devnet.baseUrl}/   faucet: POST ${devnet.baseUrl}/faucet {"address","amount"}`)
    const stop = (): void => { void devnet.close().then(() => process.exit(0)) }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })

program.command('deploy')
  .description('deploy the Registry from the wallet whose mnemonic is in SILK_MNEMONIC')
  .requiredOption('--endpoint <url>', 'TON HTTP API JSON-RPC endpoint')
  .requiredOption('--network <network>', 'local | testnet | mainnet (no default: signatures are valid on one network only)')
  .option('--api-key <key>', 'API key for the endpoint')
  .option('--fee-bps <n>', 'protocol fee in basis points', int, 250)
  .option('--min-stake <ton>', 'minimum provider stake', ton, toNano('10'))
  .option('--close-delay <seconds>', 'channel close delay', int, 86_400)
  .option('--faucet', 'local network only: fund the deployer from the devnet faucet first', false)
  .action(async (o: { endpoint: string, network: string, apiKey?: string, feeBps: number, minStake: bigint, closeDelay: number, faucet: boolean }) => {
    const chain = chainClient(o.endpoint, o.apiKey)
    const deployer = await walletFromEnv('SILK_MNEMONIC')
    if (o.faucet) {
      if (o.network !== 'local') throw new Error('--faucet exists only on the local network')
      // the Registry keeps Fees.registryStorageReserve for good; the rest pays the deploy
      await faucet(o.endpoint, deployer.address, Fees.registryStorageReserve + toNano('1'))
    }
    if (!Object.hasOwn(GLOBAL_IDS, o.network)) throw new InvalidArgumentError(`--network ${o.network}: local, testnet or mainnet`)
    const registry = await deployRegistry(chain, deployer, { globalId: globalIdOf(o.network as NetworkName), feeBps: o.feeBps, minStake: o.minStake, closeDelay: o.closeDelay })
    out(`registry: ${registry.address.toString({ testOnly: o.network !== 'mainnet' })}`)
  })

const node = program.command('node').description('run a provider node')

node.command('init')
  .description('create a node key (mode 0600) and a config file')
  .requiredOption('--dir <dir>', 'folder for the key, config and data')
  .requiredOption('--owner <address>', 'wallet that owns the node, stakes and receives payouts')
  .requiredOption('--registry <address>', 'Silk Registry contract')
  .requiredOption('--endpoint <url>', 'TON HTTP API JSON-RPC endpoint')
  .requiredOption('--network <network>', 'local | testnet | mainnet (no default: signatures are valid on one network only)')
  .option('--models <dir>', 'models folder', resolve('models'))
  .option('--listen <multiaddr>', 'libp2p listen address', '/ip4/0.0.0.0/tcp/4001')
  .option('--claim-threshold <ton>', 'claim once a channel owes this much (never below the economic minimum: 1.02 TON while fees may take 1 %)', ton, toNano('1'))
  .option('--bootstrap <multiaddr...>', 'peers to join the Silk network through (…/p2p/<id>)', [])
  .action(async (o: { dir: string, owner: string, registry: string, endpoint: string, network: string, models: string, listen: string, claimThreshold: bigint, bootstrap: string[] }) => {
    const dir = resolve(o.dir)
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const identity = await createKeyFile(join(dir, 'node.key'))
    const config = {
      keyFile: 'node.key',
      providerOwner: o.owner,
      chain: { network: o.network, endpoint: o.endpoint, registry: o.registry },
      modelsDir: resolve(o.models),
      dataDir: 'data',
      listen: [o.listen],
      claimThreshold: o.claimThreshold.toString(),
      discovery: { bootstrap: o.bootstrap },
      admin: { host: '127.0.0.1', port: 4002 }
    }
    await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n', { flag: 'wx' })
    const provider = providerAddress(Address.parse(o.registry), Address.parse(o.owner), identity.keyPair.publicKey)
    out(`node key:     ${join(dir, 'node.key')} (mode 0600; back it up, never share it)`)
    out(`config:       ${join(dir, 'config.json')}`)
    out(`peer id:      ${identity.peerId.toString()}`)
    out(`provider:     ${provider.toString()}`)
    out(`gas wallet:   ${walletFromKey(identity.keyPair).address.toString()} (send it ~1 TON for claim fees)`)
    out('next: from the owner wallet, stake with `silk node register --config ' + join(dir, 'config.json') + ' --stake <TON>`')
  })

node.command('register')
  .description('stake for this node from the owner wallet (mnemonic in SILK_OWNER_MNEMONIC)')
  .requiredOption('--config <file>', 'node config')
  .requiredOption('--stake <ton>', 'stake in TON', ton)
  .action(async (o: { config: string, stake: bigint }) => {
    const config = await loadNodeConfig(o.config)
    const identity = await readKeyFile(config.keyFile)
    const owner = await walletFromEnv('SILK_OWNER_MNEMONIC')
    if (!owner.address.equals(Address.parse(config.providerOwner))) throw new Error('SILK_OWNER_MNEMONIC is not the wallet named as providerOwner in the config')
    const chain = chainClient(config.chain.endpoint, config.chain.apiKey)
    const provider = await registerProvider(chain, Address.parse(config.chain.registry), owner, identity.keyPair, o.stake, globalIdOf(config.chain.network))
    out(`registered: ${provider.address.toString()} with ${fromNano(o.stake)} TON staked`)
  })

node.command('start')
  .description('start the provider node')
  .requiredOption('--config <file>', 'node config')
  .action(async (o: { config: string }) => {
    const config = await loadNodeConfig(o.config)
    const logger = pino(loggerOptions(config.logLevel), pino.destination(2))
    const provider = await ProviderNode.fromConfig(config, logger, progressBar)
    // built before anything starts: an admin endpoint off loopback without a token is a config error
    const admin = config.admin !== undefined ? new AdminServer(provider, { ...config.admin, token: adminToken(config) }, logger) : undefined
    await provider.start()
    await admin?.start()
    out(JSON.stringify({ event: 'listening', peerId: provider.identity.peerId.toString(), addresses: provider.addresses.map(String), admin: admin?.url }))
    let stopping = false
    const stop = (signal: string): void => {
      if (stopping) return
      stopping = true
      logger.info({ signal }, 'stopping: finishing sessions and queued claims')
      void (async () => {
        await admin?.stop()
        await provider.stop()
        process.exit(0)
      })()
    }
    process.on('SIGINT', () => { stop('SIGINT') })
    process.on('SIGTERM', () => { stop('SIGTERM') })
  })

node.command('status')
  .description('what the node is: addresses, stake, models, what it earned and claimed')
  .requiredOption('--config <file>', 'node config')
  .action(async (o: { config: string }) => {
    const config = await loadNodeConfig(o.config)
    const identity = await readKeyFile(config.keyFile)
    const chain = chainClient(config.chain.endpoint, config.chain.apiKey)
    const provider = providerAddress(Address.parse(config.chain.registry), Address.parse(config.providerOwner), identity.keyPair.publicKey)
    out(`peer id:   ${identity.peerId.toString()}`)
    out(`provider:  ${provider.toString()}`)
    try {
      const d = await chain.open(Provider.createFromAddress(provider)).getProviderData()
      out(`stake:     ${fromNano(d.stake)} TON (state ${['active', 'unbonding', 'slashed'][d.state] ?? d.state})`)
    } catch {
      out('stake:     not registered yet (silk node register)')
    }
    const summary = await earnings(config)
    out(`earned:    ${fromNano(summary.earned)} TON in vouchers over ${summary.channels} channels; claimed ${fromNano(summary.claimed)} TON`)
  })

node.command('claim')
  .description('claim every channel now (asks the running node through its admin endpoint)')
  .requiredOption('--config <file>', 'node config')
  .action(async (o: { config: string }) => {
    const config = await loadNodeConfig(o.config)
    if (config.admin === undefined) throw new Error('the config has no admin endpoint')
    const token = adminToken(config)
    if (token === undefined) throw new Error(`POST /claim needs the admin token: set admin.token in the config or ${ADMIN_TOKEN_ENV}`)
    const host = config.admin.host.includes(':') ? `[${config.admin.host}]` : config.admin.host
    const res = await fetch(`http://${host}:${config.admin.port}/claim`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
    if (res.status === 401) throw new Error('the node refused the admin token')
    out(await res.text())
  })

program.command('gateway')
  .description('serve the OpenAI API (models, chat completions, moderations) from Silk providers, paid from the wallet whose mnemonic is in SILK_CLIENT_MNEMONIC; bearer keys in SILK_GATEWAY_API_KEYS (comma-separated)')
  .requiredOption('--config <file>', 'gateway config (see gateway/README.md)')
  .option('--port <port>', 'port to serve on, overriding the config (0 picks one)', int)
  .action(async (o: { config: string, port?: number }) => {
    const config = await loadGatewayConfig(o.config)
    if (o.port !== undefined) config.port = o.port
    const wallet = await walletFromEnv('SILK_CLIENT_MNEMONIC')
    const apiKeys = (process.env.SILK_GATEWAY_API_KEYS ?? '').split(',').map((k) => k.trim()).filter((k) => k !== '')
    const logger = pino(loggerOptions(config.logLevel), pino.destination(2))
    const gateway = await launchGateway(config, { wallet, apiKeys }, logger)
    out(JSON.stringify({ event: 'listening', url: gateway.url, openaiBaseUrl: `${gateway.url}/v1`, auth: apiKeys.length > 0 }))
    const stop = (): void => { void gateway.close().then(() => process.exit(0)) }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })

program.command('payouts')
  .description('what the owner received from each claim (net of the protocol fee and its own receiving fee), with the claim and the owner\'s transaction')
  .requiredOption('--config <file>', 'node config')
  .action(async (o: { config: string }) => {
    const config = await loadNodeConfig(o.config)
    const link = explorerFor(config.chain.network, config.chain.endpoint)
    const payouts = await new VoucherStore(config.dataDir).payouts() as SettledPayout[]
    if (payouts.length === 0) out('no payouts yet')
    let received = 0n
    for (const p of payouts) {
      for (const line of payoutLines(p, link)) out(line)
      received += BigInt(p.received ?? '0')
    }
    if (payouts.length > 0) out(`total received by the owner: ${fromNano(received)} TON`)
  })

/** One payout as an owner reads it: what reached the wallet first, then where it came from. */
function payoutLines (p: SettledPayout, link: (hash: string) => string): string[] {
  const when = new Date((p.ownerTime ?? p.time) * 1000).toISOString()
  const head = p.received !== undefined
    ? `${when}  owner received ${fromNano(BigInt(p.received))} TON`
    : `${when}  owner receipt unknown (claim of ${fromNano(BigInt(p.amount))} TON; its payout transaction was not seen)`
  const lines = [head]
  const parts = [`claimed ${fromNano(BigInt(p.amount))} TON`]
  if (p.protocolFee !== undefined) parts.push(`protocol fee ${fromNano(BigInt(p.protocolFee))}`)
  if (p.payout !== undefined && p.received !== undefined) parts.push(`owner's receiving fee ${fromNano(BigInt(p.payout) - BigInt(p.received))}`)
  if (p.claimFees !== undefined) parts.push(`node gas ${fromNano(BigInt(p.claimFees))}`)
  lines.push(`    ${parts.join(', ')}  channel ${p.channel}`)
  if (p.ownerTxHash !== undefined) lines.push(`    owner tx ${p.ownerTxHash}  ${link(p.ownerTxHash)}`)
  lines.push(`    claim tx ${p.txHash}  ${link(p.txHash)}`)
  return lines
}

/** The admin token: SILK_ADMIN_TOKEN overrides the config's; never logged. */
function adminToken (config: NodeConfig): string | undefined {
  const env = process.env[ADMIN_TOKEN_ENV]?.trim()
  return env !== undefined && env !== '' ? env : config.admin?.token
}

/** A one-line progress bar on stderr while models load (only on a terminal). */
function progressBar (p: { loaded: number, total: number, folder?: string }): void {
  if (!process.stderr.isTTY || p.total === 0) return
  const width = 24
  const done = Math.round(width * p.loaded / p.total)
  const label = p.folder !== undefined ? `loading ${p.folder}` : 'models loaded'
  process.stderr.write(`\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${p.loaded}/${p.total} ${label}`.padEnd(72) + (p.folder === undefined ? '\n' : ''))
}

async function earnings (config: NodeConfig): Promise<{ earned: bigint, claimed: bigint, channels: number }> {
  const store = new VoucherStore(config.dataDir)
  await store.start()
  return store.totals()
}

program.parseAsync().catch((err: Error) => {
  process.stderr.write(`silk: ${err.name === 'Error' ? '' : err.name + ': '}${err.message}\n`)
  process.exit(1)
})
