import { existsSync } from 'node:fs'
import { mkdir, stat, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { Address, fromNano } from '@ton/core'
import { pino } from 'pino'
import { chainClient, registerProvider, walletFromKey } from '../chain/index.ts'
import { Fees, Provider, providerAddress, Registry } from '../contracts/index.ts'
import { ADMIN_TOKEN_ENV, AdminServer } from '../node/admin.ts'
import { loadNodeConfig, type NodeConfig } from '../node/config.ts'
import { createKeyFile, readKeyFile } from '../node/keyfile.ts'
import { explorerFor, type SettledPayout } from '../node/settlement.ts'
import { VoucherStore } from '../node/vouchers.ts'
import { peerMultiaddrField } from '../protocol/config-fields.ts'
import { globalIdOf, GLOBAL_IDS } from '../protocol/cells.ts'
import { loggerOptions } from '../protocol/logging.ts'
import { nanoOf, type NetworkName, type WalletKind } from './args.ts'
import { bundledModelsDir, CliError, mnemonicWords, out, parseAddress, pickWallet, shown, ton } from './common.ts'
import { checkLine, oneLine, runDoctor } from './doctor.ts'
import { logDestination } from './pretty-log.ts'

// `silk node …` and `silk payouts`.

interface InitOptions { dir: string, owner: string, registry: string, endpoint: string, network: NetworkName, models?: string, listen: string, claimThreshold: string, bootstrap: string[], adminPort: number }

/** Every argument is checked before the key file is created: a retry after a typo just works. */
export async function init (o: InitOptions): Promise<void> {
  const dir = resolve(o.dir)
  const owner = parseAddress(o.owner, '--owner')
  const registry = parseAddress(o.registry, '--registry')
  try {
    multiaddr(o.listen)
  } catch {
    throw new CliError('BAD_ARGUMENT', `--listen ${o.listen}: not a multiaddr (e.g. /ip4/0.0.0.0/tcp/4001)`)
  }
  for (const b of o.bootstrap) {
    if (!peerMultiaddrField.safeParse(b).success) throw new CliError('BAD_ARGUMENT', `--bootstrap ${b}: not a multiaddr ending in /p2p/<peer id>`)
  }
  const modelsDir = o.models !== undefined ? resolve(o.models) : bundledModelsDir()
  if (modelsDir === undefined) throw new CliError('BAD_ARGUMENT', 'no bundled models found: give --models <dir>')
  if (!(await stat(modelsDir).catch(() => undefined))?.isDirectory()) throw new CliError('BAD_ARGUMENT', `--models ${modelsDir}: not a folder`)
  for (const file of ['node.key', 'config.json']) {
    if (existsSync(join(dir, file))) throw new CliError('EXISTS', `${join(dir, file)} already exists: this folder holds a node already (pick another --dir)`)
  }

  await mkdir(dir, { recursive: true, mode: 0o700 })
  const identity = await createKeyFile(join(dir, 'node.key'))
  const config = {
    keyFile: 'node.key',
    providerOwner: shown(owner, o.network, 'wallet'),
    chain: { network: o.network, endpoint: o.endpoint, registry: shown(registry, o.network, 'contract') },
    modelsDir,
    dataDir: 'data',
    listen: [o.listen],
    claimThreshold: nanoOf(o.claimThreshold).toString(),
    discovery: { bootstrap: o.bootstrap },
    admin: { host: '127.0.0.1', port: o.adminPort }
  }
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n', { flag: 'wx' })
  const provider = providerAddress(registry, owner, identity.keyPair.publicKey)
  const configFile = join(dir, 'config.json')
  out(`node key:     ${join(dir, 'node.key')} (mode 0600; back it up, never share it)`)
  out(`config:       ${configFile}`)
  out(`models:       ${modelsDir}`)
  out(`peer id:      ${identity.peerId.toString()}`)
  out(`provider:     ${shown(provider, o.network, 'contract')}`)
  out(`gas wallet:   ${shown(walletFromKey(identity.keyPair).address, o.network, 'wallet')} (not deployed yet: send it ~1 TON for claim fees)`)
  out(`next: stake from the owner wallet: silk node register --config ${configFile} --stake <TON> --mnemonic-file <owner words>`)
  out(`      then check everything:      silk node doctor --config ${configFile}`)
}

async function loaded (file: string): Promise<{ config: NodeConfig, network: NetworkName }> {
  const config = await loadNodeConfig(file)
  return { config, network: config.chain.network }
}

/** Checks what the chain would refuse (stake below the minimum, a balance too small) before sending anything. */
export async function register (o: { config: string, stake: string, mnemonicFile?: string, wallet?: WalletKind }): Promise<void> {
  const { config, network } = await loaded(o.config)
  const identity = await readKeyFile(config.keyFile)
  const stake = nanoOf(o.stake)
  const chain = chainClient(config.chain.endpoint, config.chain.apiKey, { timeoutMs: 15_000 })
  const ownerAddress = parseAddress(config.providerOwner, 'providerOwner')
  const words = await mnemonicWords(o.mnemonicFile, 'SILK_OWNER_MNEMONIC')
  const owner = await pickWallet(words, network, { kind: o.wallet, expect: ownerAddress, source: o.mnemonicFile ?? 'SILK_OWNER_MNEMONIC' })
  const registry = parseAddress(config.chain.registry, 'chain.registry')
  let data
  try {
    await chain.getMasterchainInfo()
  } catch (err) {
    throw new CliError('CHAIN_UNREACHABLE', `cannot reach the chain at ${config.chain.endpoint}: ${oneLine(err)}`)
  }
  try {
    data = await chain.open(Registry.createFromAddress(registry)).getRegistryData()
  } catch {
    throw new CliError('NOT_A_REGISTRY', `${shown(registry, network, 'contract')} is not a Silk Registry on ${config.chain.endpoint}`)
  }
  if (data.globalId !== GLOBAL_IDS[network]) throw new CliError('NOT_A_REGISTRY', `the Registry is for global id ${data.globalId}, but chain.network is ${network} (${GLOBAL_IDS[network]})`)
  if (stake < data.minStake) throw new CliError('STAKE_TOO_LOW', `stake ${ton(stake)} TON is below the Registry's minimum of ${ton(data.minStake)} TON`)
  // the stake travels with the Provider's deploy gas; the owner's wallet also pays its own fees
  const needed = stake + Fees.providerDeployGas + 50_000_000n
  const balance = (await chain.getContractState(owner.address)).balance
  if (balance < needed) {
    throw new CliError('INSUFFICIENT_BALANCE', `the owner wallet ${shown(owner.address, network, 'wallet')} holds ${ton(balance)} TON; staking ${ton(stake)} TON needs about ${ton(needed)} TON (stake + ${ton(Fees.providerDeployGas)} deploy gas + fees)`)
  }
  out(`staking ${ton(stake)} TON from ${shown(owner.address, network, 'wallet')}; waiting for the Provider (up to a minute)…`)
  const provider = await registerProvider(chain, registry, owner, identity.keyPair, stake, globalIdOf(network))
  out(`registered: ${shown(provider.address, network, 'contract')} with ${ton(stake)} TON staked`)
}

export async function doctor (o: { config: string }): Promise<void> {
  const { config } = await loaded(o.config)
  const identity = await readKeyFile(config.keyFile)
  const checks = await runDoctor(config, identity, { loadModels: true, adminPort: config.admin })
  for (const c of checks) out(checkLine(c))
  const failed = checks.filter((c) => c.state === 'fail').length
  const skipped = checks.filter((c) => c.state === 'skipped').length
  if (failed > 0) throw new CliError('CHECKS_FAILED', `${failed} check${failed > 1 ? 's' : ''} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
}

export async function start (o: { config: string, skipChecks: boolean }): Promise<void> {
  const { config } = await loaded(o.config)
  const logger = pino(loggerOptions(config.logLevel), logDestination(2))
  const { ProviderNode } = await import('../node/provider-node.ts')
  const provider = await ProviderNode.fromConfig(config, logger, progressBar)
  // built before anything starts: an admin endpoint off loopback without a token is a config error
  const admin = config.admin !== undefined ? new AdminServer(provider, { ...config.admin, token: adminToken(config) }, logger) : undefined
  if (!o.skipChecks) {
    const checks = await runDoctor(config, provider.identity, { loadModels: false, adminPort: config.admin, chain: provider.chain })
    for (const c of checks.filter((c) => c.state !== 'ok')) process.stderr.write(checkLine(c) + '\n')
    const failed = checks.filter((c) => c.state === 'fail' || c.state === 'skipped')
    if (failed.length > 0) throw new CliError('CHECKS_FAILED', `refusing to start: ${failed.map((c) => c.name).join(', ')} failed (see above; \`silk node doctor\` for details, --skip-checks to start anyway)`)
  }
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
}

/** Local facts always; chain facts only when the chain answers, and "cannot reach" is never "not registered". */
export async function status (o: { config: string }): Promise<void> {
  const { config, network } = await loaded(o.config)
  const identity = await readKeyFile(config.keyFile)
  const chain = chainClient(config.chain.endpoint, config.chain.apiKey, { timeoutMs: 10_000 })
  const registry = parseAddress(config.chain.registry, 'chain.registry')
  const owner = parseAddress(config.providerOwner, 'providerOwner')
  const provider = providerAddress(registry, owner, identity.keyPair.publicKey)
  const gas = walletFromKey(identity.keyPair).address
  out(`peer id:     ${identity.peerId.toString()}`)
  out(`network:     ${network} (${config.chain.endpoint})`)
  out(`owner:       ${shown(owner, network, 'wallet')}`)
  out(`provider:    ${shown(provider, network, 'contract')}`)
  let unreachable: string | undefined
  try {
    await chain.getMasterchainInfo()
  } catch (err) {
    unreachable = oneLine(err)
  }
  if (unreachable !== undefined) {
    out(`chain:       CANNOT REACH ${config.chain.endpoint} (${unreachable}): stake and gas balance unknown`)
  } else {
    const state = await chain.getContractState(provider)
    if (state.state !== 'active') {
      out('stake:       not registered (no Provider on chain): silk node register')
    } else {
      const d = await chain.open(Provider.createFromAddress(provider)).getProviderData()
      out(`stake:       ${ton(d.stake)} TON (${['active', 'unbonding', 'slashed'][d.state] ?? `state ${d.state}`}; minimum ${ton(d.minStake)})`)
    }
    const g = await chain.getContractState(gas)
    const gasShown = shown(gas, network, 'wallet')
    out(`gas wallet:  ${gasShown} holds ${ton(g.balance)} TON${g.state === 'active' ? '' : ' (not deployed yet)'}`)
  }
  const store = new VoucherStore(config.dataDir)
  await store.start()
  const t = store.totals()
  const payouts = await store.payouts() as SettledPayout[]
  const received = payouts.reduce((s, p) => s + BigInt(p.received ?? '0'), 0n)
  out(`models:      ${await modelNames(config.modelsDir)}`)
  out(`earned:      ${ton(t.earned)} TON in vouchers over ${t.channels} channel${t.channels === 1 ? '' : 's'}`)
  out(`claimed:     ${ton(t.claimed)} TON; the owner received ${ton(received)} TON over ${payouts.length} payout${payouts.length === 1 ? '' : 's'} (silk payouts)`)
  if (unreachable !== undefined) throw new CliError('CHAIN_UNREACHABLE', `cannot reach the chain at ${config.chain.endpoint}: stake and gas balance unknown`)
}

async function modelNames (dir: string): Promise<string> {
  const { readdir, readFile } = await import('node:fs/promises')
  const folders = await readdir(dir, { withFileTypes: true }).catch(() => undefined)
  if (folders === undefined) return `${dir} cannot be read`
  const names: string[] = []
  for (const f of folders.filter((e) => e.isDirectory())) {
    try { names.push(String((JSON.parse(await readFile(join(dir, f.name, 'manifest.json'), 'utf8')) as { name?: unknown }).name)) } catch {}
  }
  return names.length === 0 ? `none in ${dir}` : `${names.join(', ')} (${dir})`
}

export async function claim (o: { config: string }): Promise<void> {
  const { config } = await loaded(o.config)
  if (config.admin === undefined) throw new CliError('BAD_ARGUMENT', 'the config has no admin endpoint (admin.port)')
  const token = adminToken(config)
  if (token === undefined) throw new CliError('BAD_ARGUMENT', `POST /claim needs the admin token: set admin.token in the config or ${ADMIN_TOKEN_ENV}`)
  const host = config.admin.host.includes(':') ? `[${config.admin.host}]` : config.admin.host
  const url = `http://${host}:${config.admin.port}/claim`
  let res: Response
  try {
    res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
  } catch (err) {
    throw new CliError('NODE_UNREACHABLE', `cannot reach the node at ${url} (${oneLine((err as { cause?: unknown }).cause ?? err)}): is \`silk node start\` running?`)
  }
  if (res.status === 401) throw new CliError('CLAIM_FAILED', 'the node refused the admin token')
  const body = await res.json().catch(() => undefined) as { ok?: boolean, error?: string, payouts?: SettledPayout[] } | undefined
  if (!res.ok || body?.ok !== true) throw new CliError('CLAIM_FAILED', `claim failed: ${body?.error !== undefined ? oneLine(new Error(body.error)) : `HTTP ${res.status}`}`)
  const payouts = body.payouts ?? []
  if (payouts.length === 0) out('nothing to claim now (no channel owes enough to be worth its fees)')
  const link = explorerFor(config.chain.network, config.chain.endpoint)
  for (const p of payouts) for (const line of payoutLines(p, link, config.chain.network)) out(line)
}

export async function payouts (o: { config: string }): Promise<void> {
  const { config } = await loaded(o.config)
  const link = explorerFor(config.chain.network, config.chain.endpoint)
  const list = await new VoucherStore(config.dataDir).payouts() as SettledPayout[]
  if (list.length === 0) out('no payouts yet')
  let received = 0n
  for (const p of list) {
    for (const line of payoutLines(p, link, config.chain.network)) out(line)
    received += BigInt(p.received ?? '0')
  }
  if (list.length > 0) out(`total received by the owner: ${fromNano(received)} TON`)
}

/** One payout as an owner reads it: what reached the wallet first, then where it came from. */
function payoutLines (p: SettledPayout, link: (hash: string) => string, network: NetworkName): string[] {
  const when = new Date((p.ownerTime ?? p.time) * 1000).toISOString()
  const head = p.received !== undefined
    ? `${when}  owner received ${fromNano(BigInt(p.received))} TON`
    : `${when}  owner receipt unknown (claim of ${fromNano(BigInt(p.amount))} TON; its payout transaction was not seen)`
  const lines = [head]
  const parts = [`claimed ${fromNano(BigInt(p.amount))} TON`]
  if (p.protocolFee !== undefined) parts.push(`protocol fee ${fromNano(BigInt(p.protocolFee))}`)
  if (p.payout !== undefined && p.received !== undefined) parts.push(`owner's receiving fee ${fromNano(BigInt(p.payout) - BigInt(p.received))}`)
  if (p.claimFees !== undefined) parts.push(`node gas ${fromNano(BigInt(p.claimFees))}`)
  lines.push(`    ${parts.join(', ')}  channel ${shown(Address.parse(p.channel), network, 'contract')}`)
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
