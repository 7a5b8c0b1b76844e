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
import { JobService, type Inference, type JobServiceInit, type ServedModel } from '../node/job-service.ts'
import { ModelStore } from '../node/models.ts'
import { VoucherStore } from '../node/vouchers.ts'
import { Provider, providerAddress } from '../contracts/index.ts'
import { GLOBAL_IDS } from '../protocol/cells.ts'
import { ProviderNode } from '../node/provider-node.ts'
import type { ClaimPolicy } from '../node/settlement.ts'
import { identityFromSeed, type Identity } from '../protocol/keys.ts'

export const MODELS_DIR = new URL('../models', import.meta.url).pathname
export const FEE_BPS = 250
export const MIN_STAKE = toNano('10')
/** the devnet runs as the local network (config param 19) */
export const GLOBAL_ID = GLOBAL_IDS.local
export const CLOSE_DELAY = 3600
/** a node that claims whatever it holds, however small (tests that check claimed amounts) */
export const CLAIM_EVERYTHING: ClaimPolicy = { maxFeeBps: 10_000, costs: { claim: 0n, ownerReceive: 0n } }

/** A whole local Silk network in one process: devnet, registry, and helpers to add nodes and clients. */
export interface LocalNet {
  devnet: Devnet
  chain: TonClient
  registry: Address
  /** the Registry's owner (governance) */
  governor: KeyWallet
  dir: string
  addNode(opts?: { stake?: bigint, register?: boolean, config?: Partial<Record<keyof NodeConfig, unknown>>, claimPolicy?: ClaimPolicy }): Promise<{ node: ProviderNode, owner: KeyWallet, identity: Identity }>
  addClient(funds?: bigint, options?: Partial<SilkClientOptions>): Promise<{ client: SilkClient, wallet: KeyWallet }>
  /**
   * A registered node that misbehaves: its inference is wrapped by `inference`, and its receipts
   * may be signed with another key (`signer`). Used to prove clients catch such nodes.
   */
  addRogueNode(opts: {
    inference?: (honest: Inference) => Inference
    signer?: Identity
    /** the epoch its receipts name (default: its Provider's) */
    epoch?: number
    /** its job service settings (network, credit, channel limits…) */
    init?: Partial<JobServiceInit>
    /** sign a different output for a job it signed before (the node's own guard is off) */
    equivocate?: boolean
    /** the models it offers (e.g. prices other than its adverts') */
    models?: (honest: readonly ServedModel[]) => ServedModel[]
  }): Promise<{ address: string, provider: Address, identity: Identity, owner: KeyWallet, jobs: JobService }>
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
  const registry = await deployRegistry(chain, governor, { globalId: GLOBAL_ID, feeBps: FEE_BPS, minStake: MIN_STAKE, closeDelay: CLOSE_DELAY })
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
      if (opts.register !== false) await registerProvider(chain, registry.address, owner, identity.keyPair, opts.stake ?? MIN_STAKE, GLOBAL_ID)
      await faucet(devnet.baseUrl, walletFromKey(identity.keyPair).address, toNano('5'))
      const config = parseNodeConfig({
        keyFile: 'unused',
        providerOwner: owner.address.toString(),
        chain: { network: 'local', endpoint: devnet.endpoint, registry: registry.address.toString() },
        modelsDir: MODELS_DIR,
        dataDir: join(dir, `node-${n++}`),
        ...opts.config
      }, dir)
      const node = new ProviderNode({ config, identity, chain, logger, ...(opts.claimPolicy !== undefined ? { claimPolicy: opts.claimPolicy } : {}) })
      await node.start()
      nodes.push(node)
      return { node, owner, identity }
    },
    async addRogueNode (opts) {
      const identity = await identityFromSeed(randomBytes(32))
      const owner = await wallet(devnet, toNano('50'))
      await registerProvider(chain, registry.address, owner, identity.keyPair, MIN_STAKE, GLOBAL_ID)
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
        models: withModels(opts.inference?.(honest) ?? honest, opts.models),
        // a rogue signs whatever it computes, even a second output for the same job
        ...(opts.equivocate === true ? { signedOutputs: { admit: () => true } } : {}),
        vouchers,
        chain: new ChainChannels(chain, { registry: registry.address, providerOwner: owner.address, nodeKey: identity.keyPair.publicKey }),
        logger
      }, { providerOwner: owner.address, provider, globalId: GLOBAL_ID, epoch: opts.epoch ?? (await chain.open(Provider.createFromAddress(provider)).getProviderData()).epoch, ...opts.init })
      await jobs.start()
      rogues.push(async () => { await jobs.stop(); await host.stop(); await models.stop() })
      return { address: host.getMultiaddrs()[0]!.toString(), provider, identity, owner, jobs }
    },
    async addNodeProcess (extra = {}) {
      const nodeDir = join(dir, `node-${n++}`)
      const identity = await createKeyFile(join(nodeDir, 'node.key'))
      const owner = await wallet(devnet, toNano('50'))
      await registerProvider(chain, registry.address, owner, identity.keyPair, MIN_STAKE, GLOBAL_ID)
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
        network: 'local',
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

/** The inference with another offer (prices, determinism) in front of the same models. */
function withModels (inner: Inference, models: ((honest: readonly ServedModel[]) => ServedModel[]) | undefined): Inference {
  if (models === undefined) return inner
  return {
    list: () => models(inner.list()),
    run: async (h, i) => await inner.run(h, i),
    classify: async (h, t) => await inner.classify(h, t),
    generate: async (h, r, t) => await inner.generate(h, r, t)
  }
}
