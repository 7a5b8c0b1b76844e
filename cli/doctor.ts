import { createServer } from 'node:net'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { Address } from '@ton/core'
import type { TonClient } from '@ton/ton'
import { chainClient, walletFromKey } from '../chain/client.ts'
import { Provider, providerAddress, Registry } from '../contracts/index.ts'
import type { NodeConfig } from '../node/config.ts'
import { GLOBAL_IDS } from '../protocol/cells.ts'
import type { Identity } from '../protocol/keys.ts'
import { shown, ton } from './common.ts'

// `silk node doctor`, also run by `silk node start`: what the node needs, one line per check.

export type CheckName = 'chain' | 'registry' | 'stake' | 'gas wallet' | 'models' | 'ports'
export type CheckState = 'ok' | 'warn' | 'fail' | 'skipped'
export interface Check { name: CheckName, state: CheckState, detail: string }

/** Below this the gas wallet cannot pay for many claims (each costs ~0.01 TON, and 0.05 travels with it). */
export const GAS_WALLET_LOW = 200_000_000n
const STATE_NAMES = ['active', 'unbonding', 'slashed']

export interface DoctorOptions {
  /** load every model through onnxruntime (slow); otherwise only read their manifests */
  loadModels: boolean
  /** check the admin port too */
  adminPort?: { host: string, port: number } | undefined
  chain?: TonClient
}

export function checkLine (c: Check): string {
  const mark = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skipped: 'skip' }[c.state]
  return `${mark} ${c.name}: ${c.detail}`
}

/** Runs every check; chain checks that depend on an unreachable chain are skipped, not failed twice. */
export async function runDoctor (config: NodeConfig, identity: Identity, opts: DoctorOptions): Promise<Check[]> {
  const network = config.chain.network
  const chain = opts.chain ?? chainClient(config.chain.endpoint, config.chain.apiKey, { timeoutMs: 10_000 })
  const checks: Check[] = []
  const registry = Address.parse(config.chain.registry)
  const owner = Address.parse(config.providerOwner)

  let reachable = false
  try {
    const info = await chain.getMasterchainInfo()
    reachable = true
    checks.push({ name: 'chain', state: 'ok', detail: `${config.chain.endpoint} answers (block ${info.latestSeqno})` })
  } catch (err) {
    checks.push({ name: 'chain', state: 'fail', detail: `cannot reach ${config.chain.endpoint}: ${oneLine(err)}` })
  }

  if (!reachable) {
    for (const name of ['registry', 'stake', 'gas wallet'] as const) checks.push({ name, state: 'skipped', detail: 'the chain cannot be reached' })
  } else {
    checks.push(await registryCheck(chain, registry, network))
    const provider = providerAddress(registry, owner, identity.keyPair.publicKey)
    checks.push(await stakeCheck(chain, provider, network))
    const gas = walletFromKey(identity.keyPair).address
    const state = await chain.getContractState(gas)
    checks.push(state.balance >= GAS_WALLET_LOW
      ? { name: 'gas wallet', state: 'ok', detail: `${shown(gas, network, 'wallet')} holds ${ton(state.balance)} TON` }
      : { name: 'gas wallet', state: 'warn', detail: `${shown(gas, network, 'wallet')} holds ${ton(state.balance)} TON: send it ~1 TON, or claims cannot be paid` })
  }
  checks.push(opts.loadModels ? await loadedModelsCheck(config) : await manifestsCheck(config.modelsDir))
  checks.push(await portsCheck(config.listen, opts.adminPort))
  return checks
}

async function registryCheck (chain: TonClient, registry: Address, network: NodeConfig['chain']['network']): Promise<Check> {
  const where = shown(registry, network, 'contract')
  const state = await chain.getContractState(registry)
  if (state.state !== 'active') return { name: 'registry', state: 'fail', detail: `no contract at ${where} (chain.registry is wrong, or on another network)` }
  let data
  try {
    data = await chain.open(Registry.createFromAddress(registry)).getRegistryData()
  } catch {
    return { name: 'registry', state: 'fail', detail: `${where} is not a Silk Registry (its get_registry_data getter does not answer)` }
  }
  if (data.globalId !== GLOBAL_IDS[network]) {
    const actual = Object.entries(GLOBAL_IDS).find(([, id]) => id === data.globalId)?.[0] ?? `global id ${data.globalId}`
    return { name: 'registry', state: 'fail', detail: `${where} is a Registry of ${actual}, but chain.network is ${network}` }
  }
  return { name: 'registry', state: 'ok', detail: `${where} (${network}, minimum stake ${ton(data.minStake)} TON, fee ${data.feeBps / 100} %)` }
}

async function stakeCheck (chain: TonClient, provider: Address, network: NodeConfig['chain']['network']): Promise<Check> {
  const where = shown(provider, network, 'contract')
  const state = await chain.getContractState(provider)
  if (state.state !== 'active') return { name: 'stake', state: 'fail', detail: `no Provider at ${where}: stake with \`silk node register\`` }
  const d = await chain.open(Provider.createFromAddress(provider)).getProviderData()
  if (d.state !== 0) return { name: 'stake', state: 'fail', detail: `Provider ${where} is ${STATE_NAMES[d.state] ?? `in state ${d.state}`}: clients refuse it` }
  if (d.stake < d.minStake) return { name: 'stake', state: 'fail', detail: `Provider ${where} holds ${ton(d.stake)} TON, below the minimum of ${ton(d.minStake)}` }
  return { name: 'stake', state: 'ok', detail: `${ton(d.stake)} TON active at ${where}` }
}

/** What start checks cheaply (the node loads and verifies every model itself right after). */
async function manifestsCheck (dir: string): Promise<Check> {
  let folders: string[]
  try {
    folders = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name)
  } catch {
    return { name: 'models', state: 'fail', detail: `models folder ${dir} cannot be read (modelsDir)` }
  }
  const names: string[] = []
  for (const f of folders) {
    const text = await readFile(join(dir, f, 'manifest.json'), 'utf8').catch(() => undefined)
    if (text === undefined) continue
    try { names.push(String((JSON.parse(text) as { name?: unknown }).name ?? f)) } catch { return { name: 'models', state: 'fail', detail: `${join(dir, f, 'manifest.json')} is not valid JSON` } }
  }
  if (names.length === 0) return { name: 'models', state: 'fail', detail: `no models in ${dir} (each model is a folder with a manifest.json)` }
  return { name: 'models', state: 'ok', detail: `${names.length} in ${dir}: ${names.join(', ')}` }
}

async function loadedModelsCheck (config: NodeConfig): Promise<Check> {
  const cheap = await manifestsCheck(config.modelsDir)
  if (cheap.state !== 'ok') return cheap
  const { ModelStore } = await import('../node/models.ts')
  const store = new ModelStore({ dir: config.modelsDir, executionProviders: config.executionProviders })
  try {
    await store.start()
    const list = store.list()
    return { name: 'models', state: 'ok', detail: `${list.length} verified in ${config.modelsDir}: ${list.map((m) => m.name).join(', ')}` }
  } catch (err) {
    return { name: 'models', state: 'fail', detail: oneLine(err) }
  } finally {
    await store.stop()
  }
}

async function portsCheck (listen: string[], admin: { host: string, port: number } | undefined): Promise<Check> {
  const wanted: Array<{ host: string, port: number, what: string }> = []
  for (const addr of listen) {
    try {
      const parts = multiaddr(addr).getComponents()
      const host = parts.find((c) => c.name === 'ip4' || c.name === 'ip6')?.value
      const port = Number(parts.find((c) => c.name === 'tcp')?.value ?? 0)
      if (host !== undefined && port !== 0) wanted.push({ host, port, what: `listen ${addr}` })
    } catch (err) {
      return { name: 'ports', state: 'fail', detail: `listen ${addr} is not a multiaddr (${oneLine(err)})` }
    }
  }
  if (admin !== undefined && admin.port !== 0) wanted.push({ ...admin, what: 'admin' })
  for (const w of wanted) {
    const why = await portFree(w.host, w.port)
    if (why !== undefined) return { name: 'ports', state: 'fail', detail: `${w.what}: ${w.host}:${w.port} ${why}` }
  }
  return { name: 'ports', state: 'ok', detail: wanted.length === 0 ? 'nothing fixed to bind' : wanted.map((w) => `${w.host}:${w.port}`).join(', ') + ' free' }
}

async function portFree (host: string, port: number): Promise<string | undefined> {
  return await new Promise((resolve) => {
    const s = createServer()
    s.once('error', (err: NodeJS.ErrnoException) => { resolve(err.code === 'EADDRINUSE' ? 'is in use by another process' : `cannot be bound (${err.code ?? err.message})`) })
    s.listen(port, host, () => { s.close(() => { resolve(undefined) }) })
  })
}

/** An error as one short line: no stacks, no request dumps. */
export function oneLine (err: unknown): string {
  const e = err as { message?: unknown, code?: unknown }
  const msg = typeof e?.message === 'string' ? e.message : String(err)
  return (msg.split('\n')[0] ?? '').replace(/[A-Za-z0-9+/=_-]{96,}/g, '[…]').slice(0, 200) + (typeof e?.code === 'string' && !msg.includes(e.code) ? ` (${e.code})` : '')
}
