import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { toNano, type Address } from '@ton/core'
import type { TonClient } from '@ton/ton'
import { pino } from 'pino'
import { deployRegistry, registerProvider } from '../chain/operations.ts'
import { chainClient, faucet, walletFromKey, walletSender, type KeyWallet } from '../chain/client.ts'
import { startDevnet, type Devnet } from '../devnet/server.ts'
import { SilkClient, type SilkClientOptions } from '../client/index.ts'
import { parseNodeConfig, type NodeConfig } from '../node/config.ts'
import { createKeyFile } from '../node/keyfile.ts'
import { Batcher } from '../node/batcher.ts'
import { ChainChannels } from '../node/chain.ts'
import { createHost } from '../node/host.ts'
import { JobService, type Inference } from '../node/job-service.ts'
import { ModelStore } from '../node/models.ts'
import { VoucherStore } from '../node/vouchers.ts'
import { providerAddress } from '../contracts/index.ts'
import { ProviderNode } from '../node/provider-node.ts'
import { identityFromSeed, type Identity } from '../protocol/keys.ts'

export const MODELS_DIR = new URL('../models', import.meta.url).pathname
export const FEE_BPS = 250
export const MIN_STAKE = toNano('10')

/** A whole local Silk network in one process: devnet, registry, and helpers to add nodes and clients. */
export interface LocalNet {
  devnet: Devnet
  chain: TonClient
  registry: Address
  /** the Registry's owner (governance) */
  governor: KeyWallet
  dir: string
  addNode(opts?: { stake?: bigint, register?: boolean, config?: Partial<Record<keyof NodeConfig, unknown>> }): Promise<{ node: ProviderNode, owner: KeyWallet, identity: Identity }>
  addClient(funds?: bigint, options?: Partial<SilkClientOptions>): Promise<{ client: SilkClient, wallet: KeyWallet }>
  /**
   * A registered node that misbehaves: its inference is wrapped by `inference`, and its receipts
   * may be signed with another key (`signer`). Used to prove clients catch such nodes.
   */
  addRogueNode(opts: { inference?: (honest: Inference) => Inference, signer?: Identity }): Promise<{ address: string, provider: Address }>
  /** a registered node as its own `silk node start` process, for tests that kill it */
  addNodeProcess(config?: Record<string, unknown>): Promise<NodeProcess>
  close(): Promise<void>
}

export interface NodeProcess {
  child: ChildProcess
  address: string
  admin: string
  owner: KeyWallet
  configFile: string
  /** starts the same node again (same key, same data) after it was killed */
  restart(): Promise<NodeProcess>
}

const CLI = new URL('../cli/bin.js', import.meta.url).pathname

/** Starts `silk node start` as a real process; resolves once it listens. */
async function spawnNode (configFile: string): Promise<{ child: ChildProcess, address: string, admin: string }> {
  const child = spawn(process.execPath, [CLI, 'node', 'start', '--config', configFile], { stdio: ['ignore', 'pipe', 'ignore'] })
  const lines = createInterface({ input: child.stdout! })
  return await new Promise((resolve, reject) => {
    child.once('exit', (code) => { reject(new Error(`node exited with ${String(code)}`)) })
    lines.on('line', (line) => {
      if (!line.includes('"listening"')) return
      const info = JSON.parse(line) as { addresses: string[], admin: string }
      resolve({ child, address: info.addresses[0]!, admin: info.admin })
    })
  })
}

export async function wallet (devnet: Devnet, amount: bigint): Promise<KeyWallet> {
  const w = walletFromKey(randomBytes(32))
  await faucet(devnet.baseUrl, w.address, amount)
  return w
}

export async function startLocalNet (): Promise<LocalNet> {
  const devnet = await startDevnet()
  const chain = chainClient(devnet.endpoint)
  const dir = await mkdtemp(join(tmpdir(), 'silk-test-'))
  const governor = await wallet(devnet, toNano('10'))
  const registry = await deployRegistry(chain, governor, { feeBps: FEE_BPS, minStake: MIN_STAKE, closeDelay: 3600 })
  const nodes: ProviderNode[] = []
  const clients: SilkClient[] = []
  const processes: ChildProcess[] = []
  const rogues: Array<() => Promise<void>> = []
  const logger = pino({ level: 'silent' })
  let n = 0
  return {
    devnet,
    chain,
    registry: registry.address,
    governor,
    dir,
    async addNode (opts = {}) {
      const identity = await identityFromSeed(randomBytes(32))
      const owner = await wallet(devnet, toNano('100'))
      if (opts.register !== false) await registerProvider(chain, registry.address, owner, identity.keyPair.publicKey, opts.stake ?? MIN_STAKE)
      await faucet(devnet.baseUrl, walletFromKey(identity.keyPair).address, toNano('5'))
      const config = parseNodeConfig({
        keyFile: 'unused',
        providerOwner: owner.address.toString(),
        chain: { network: 'local', endpoint: devnet.endpoint, registry: registry.address.toString() },
        modelsDir: MODELS_DIR,
        dataDir: join(dir, `node-${n++}`),
        ...opts.config
      }, dir)
      const node = new ProviderNode({ config, identity, chain, logger })
      await node.start()
      nodes.push(node)
      return { node, owner, identity }
    },
    async addRogueNode (opts) {
      const identity = await identityFromSeed(randomBytes(32))
      const owner = await wallet(devnet, toNano('50'))
      await registerProvider(chain, registry.address, owner, identity.keyPair.publicKey, MIN_STAKE)
      const host = await createHost(identity, ['/ip4/127.0.0.1/tcp/0'])
      const models = new ModelStore({ dir: MODELS_DIR })
      await models.start()
      const vouchers = new VoucherStore(join(dir, `rogue-${n++}`))
      await vouchers.start()
      const honest = new Batcher(models, { enabled: false })
      const provider = providerAddress(registry.address, owner.address, identity.keyPair.publicKey)
      const jobs = new JobService({
        libp2p: host,
        identity: opts.signer ?? identity,
        models: opts.inference?.(honest) ?? honest,
        vouchers,
        chain: new ChainChannels(chain, { registry: registry.address, providerOwner: owner.address, nodeKey: identity.keyPair.publicKey }),
        logger
      }, { providerOwner: owner.address, provider })
      await jobs.start()
      rogues.push(async () => { await jobs.stop(); await host.stop(); await models.stop() })
      return { address: host.getMultiaddrs()[0]!.toString(), provider }
    },
    async addNodeProcess (extra = {}) {
      const nodeDir = join(dir, `node-${n++}`)
      const identity = await createKeyFile(join(nodeDir, 'node.key'))
      const owner = await wallet(devnet, toNano('50'))
      await registerProvider(chain, registry.address, owner, identity.keyPair.publicKey, MIN_STAKE)
      await faucet(devnet.baseUrl, walletFromKey(identity.keyPair).address, toNano('5'))
      const configFile = join(nodeDir, 'config.json')
      await writeFile(configFile, JSON.stringify({
        keyFile: 'node.key',
        providerOwner: owner.address.toString(),
        chain: { network: 'local', endpoint: devnet.endpoint, registry: registry.address.toString() },
        modelsDir: MODELS_DIR,
        dataDir: 'data',
        listen: ['/ip4/127.0.0.1/tcp/0'],
        admin: { port: 0 },
        logLevel: 'warn',
        ...extra
      }))
      const start = async (): Promise<NodeProcess> => {
        const p = await spawnNode(configFile)
        processes.push(p.child)
        return { ...p, owner, configFile, restart: start }
      }
      return await start()
    },
    async addClient (funds = toNano('50'), options = {}) {
      const w = await wallet(devnet, funds)
      const client = new SilkClient({
        chain,
        registry: registry.address,
        wallet: { address: w.address, sender: walletSender(chain, w) },
        clientKey: w.keyPair,
        ...options
      })
      await client.start()
      clients.push(client)
      return { client, wallet: w }
    },
    async close () {
      await Promise.all(clients.map(async (c) => { await c.stop() }))
      await Promise.all(nodes.map(async (nd) => { await nd.stop() }))
      for (const p of processes) p.kill('SIGKILL')
      for (const stop of rogues) await stop()
      await devnet.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}
