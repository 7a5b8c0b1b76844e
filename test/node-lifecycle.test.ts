import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Address, toNano } from '@ton/core'
import { mnemonicNew } from '@ton/crypto'
import { pino } from 'pino'
import { Channel, Registry } from '../contracts/index.ts'
import { float32Tensor } from '../client/index.ts'
import { ConfigError, parseNodeConfig } from '../node/config.ts'
import { createKeyFile, KeyFileError, readKeyFile } from '../node/keyfile.ts'
import { ProviderNode } from '../node/provider-node.ts'
import { AdminServer } from '../node/admin.ts'
import { ModelStore } from '../node/models.ts'
import { MODELS_DIR, startLocalNet, type LocalNet } from './localnet.ts'

const CLI_BIN = new URL('../cli/bin.js', import.meta.url).pathname

const run = promisify(execFile)
const silk = async (...args: string[]): Promise<{ stdout: string, stderr: string, code: number }> => {
  try {
    const { stdout, stderr } = await run(process.execPath, [new URL('../cli/bin.js', import.meta.url).pathname, ...args])
    return { stdout, stderr, code: 0 }
  } catch (err) {
    const e = err as { stdout: string, stderr: string, code: number }
    return { stdout: e.stdout, stderr: e.stderr, code: e.code }
  }
}
const x = (v: number) => float32Tensor('x', [1, 64], new Array(64).fill(v))

describe('node keys and config', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'silk-keys-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('writes key files with mode 0600, refuses to overwrite them, and refuses ones others can read', async () => {
    const file = join(dir, 'node.key')
    const identity = await createKeyFile(file)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect((await readKeyFile(file)).peerId.equals(identity.peerId)).toBe(true)
    await expect(createKeyFile(file)).rejects.toMatchObject({ code: 'KEY_FILE_EXISTS' })
    await chmod(file, 0o644)
    const err = await readKeyFile(file).catch((e: unknown) => e) as KeyFileError
    expect(err.code).toBe('KEY_FILE_EXPOSED')
    const seed = JSON.parse(await readFile(file, 'utf8')).seed as string
    expect(err.message).not.toContain(seed)
  })

  it('rejects a config with a clear error naming each bad field', () => {
    const bad = { keyFile: 'k', providerOwner: 'nope', chain: { network: 'moon', endpoint: 'x', registry: 'EQ' }, modelsDir: 'm', dataDir: 'd', credit: -1 }
    const err = (() => { try { parseNodeConfig(bad, dir); return undefined } catch (e) { return e } })() as ConfigError
    expect(err).toBeInstanceOf(ConfigError)
    for (const field of ['providerOwner', 'chain.network', 'chain.endpoint', 'chain.registry', 'credit']) expect(err.message).toContain(field)
    expect(() => parseNodeConfig({ ...bad, surprise: 1 }, dir)).toThrow(/surprise|Unrecognized/)
  })

  it('`silk node init` creates a 0600 key and a config; `silk node start` with a broken config exits with the field named', async () => {
    const nodeDir = join(dir, 'cli-node')
    const init = await silk('node', 'init', '--dir', nodeDir, '--owner', '0:' + 'ab'.repeat(32), '--registry', '0:' + 'cd'.repeat(32), '--endpoint', 'http://127.0.0.1:1/jsonRPC')
    expect(init.code).toBe(0)
    expect(init.stdout).toMatch(/provider: +EQ/)
    expect((await stat(join(nodeDir, 'node.key'))).mode & 0o777).toBe(0o600)
    const seed = JSON.parse(await readFile(join(nodeDir, 'node.key'), 'utf8')).seed as string
    expect(init.stdout + init.stderr).not.toContain(seed)
    const config = JSON.parse(await readFile(join(nodeDir, 'config.json'), 'utf8'))
    await writeFile(join(nodeDir, 'config.json'), JSON.stringify({ ...config, claimThreshold: 'lots' }))
    const start = await silk('node', 'start', '--config', join(nodeDir, 'config.json'))
    expect(start.code).toBe(1)
    expect(start.stderr).toContain('claimThreshold')
  })
})

describe('a node restart loses no voucher', () => {
  let net: LocalNet
  beforeAll(async () => { net = await startLocalNet() })
  afterAll(async () => { await net?.close() })

  it('the node claims at shutdown; restarted, it knows every voucher, the client resumes, and the next claim settles the rest', async () => {
    const { node, identity } = await net.addNode()
    const { client } = await net.addClient()
    let provider = await client.connect(node.addresses[0]!)
    const channel = await client.openChannel(provider, toNano('1'))
    for (let i = 0; i < 3; i++) await provider.session.run('mlp-64-10', [x(i)])
    const before = provider.session.paid
    await provider.session.close()
    await node.stop()
    // graceful shutdown claimed what the three vouchers owe
    expect((await node.vouchers.payouts()).map((p) => BigInt(p.amount))).toEqual([before.amount])

    // same key and data folder, new process state
    const again = new ProviderNode({ config: node.config, identity, chain: net.chain, logger: pino({ level: 'silent' }) })
    await again.start()
    try {
      expect(again.vouchers.get(channel).seqno).toBe(3)
      provider = await client.connect(again.addresses[0]!)
      await provider.session.bind(channel)
      expect(provider.session.paid).toEqual(before)
      await provider.session.run('mlp-64-10', [x(9)])
      expect(provider.session.paid.seqno).toBe(4)
      const [payout] = await again.settlement.claimAll()
      expect(BigInt(payout!.amount)).toBe(provider.session.paid.amount - before.amount)
      const onChain = await net.chain.open(Channel.createFromAddress(channel)).getChannelData()
      expect(onChain.seqno).toBe(4)
      expect(onChain.receiptsRoot.equals(provider.session.paid.root)).toBe(true)
      await provider.session.close()
    } finally {
      await again.stop()
    }
  })
})

describe('operator view: metrics, health, status, load progress, registry deploy from the CLI', () => {
  let net: LocalNet
  beforeAll(async () => { net = await startLocalNet() })
  afterAll(async () => { await net?.close() })

  it('the admin endpoint reports health, status and Prometheus metrics that count jobs and earnings', async () => {
    const { node } = await net.addNode()
    const admin = new AdminServer(node, { host: '127.0.0.1', port: 0 }, pino({ level: 'silent' }))
    await admin.start()
    try {
      expect(await (await fetch(`${admin.url}/health`)).json()).toEqual({ ok: true })
      const { client } = await net.addClient()
      const provider = await client.connect(node.addresses[0]!)
      await client.openChannel(provider, toNano('1'))
      await provider.session.run('mlp-64-10', [x(1)])
      await provider.session.run('mlp-64-10', [x(2)])
      const metrics = await (await fetch(`${admin.url}/metrics`)).text()
      expect(metrics).toMatch(/silk_jobs_total\{model="mlp-64-10"\} 2/)
      expect(metrics).toMatch(/silk_earned_nanoton 100000/)
      const status = await (await fetch(`${admin.url}/status`)).json() as { earned: string, peerId: string }
      expect(status.earned).toBe('100000')
      expect(JSON.stringify(status)).not.toContain(Buffer.from(node.identity.keyPair.secretKey).toString('hex').slice(0, 64))
      await provider.session.close()
    } finally {
      await admin.stop()
    }
  })

  it('reports model loading progress from first folder to done', async () => {
    const seen: Array<{ loaded: number, total: number, folder?: string }> = []
    const store = new ModelStore({ dir: MODELS_DIR, onProgress: (p) => seen.push(p) })
    await store.start()
    await store.stop()
    expect(seen[0]).toMatchObject({ loaded: 0 })
    expect(seen.at(-1)).toEqual({ loaded: seen[0]!.total, total: seen[0]!.total })
  })

  it('`silk deploy` deploys a Registry from a mnemonic in the environment', async () => {
    const words = await mnemonicNew()
    const res = await new Promise<{ code: number | null, out: string }>((resolve) => {
      execFile(process.execPath, [CLI_BIN, 'deploy', '--endpoint', net.devnet.endpoint, '--network', 'local', '--faucet', '--min-stake', '5'],
        { env: { ...process.env, SILK_MNEMONIC: words.join(' ') } }, (err, stdout, stderr) => { resolve({ code: err === null ? 0 : (err as { code: number }).code, out: stdout + stderr }) })
    })
    expect(res.code).toBe(0)
    for (const w of words) expect(res.out.split(/\W+/)).not.toContain(w)
    const address = Address.parse(/registry: (\S+)/.exec(res.out)![1]!)
    const data = await net.chain.open(Registry.createFromAddress(address)).getRegistryData()
    expect(data.minStake).toBe(toNano('5'))
  })

  it('no key material reaches the logs, even at debug level and through errors and claims', async () => {
    const { node, identity } = await net.addNode()
    await node.stop()
    const lines: string[] = []
    const logger = pino({ level: 'debug' }, { write: (line: string) => { lines.push(line) } })
    const again = new ProviderNode({ config: node.config, identity, chain: net.chain, logger })
    await again.start()
    try {
      const { client } = await net.addClient()
      const provider = await client.connect(again.addresses[0]!)
      await client.openChannel(provider, toNano('1'))
      await provider.session.run('mlp-64-10', [x(3)])
      await provider.session.run('mlp-64-10', [float32Tensor('x', [1, 3], [1, 2, 3])]).catch(() => {})
      await provider.session.close()
      await again.settlement.claimAll()
    } finally {
      await again.stop()
    }
    const text = lines.join('')
    expect(text).toContain('claimed')
    const secret = Buffer.from(identity.keyPair.secretKey)
    for (const form of [secret.subarray(0, 32).toString('hex'), secret.toString('hex'), secret.toString('base64'), secret.subarray(0, 32).toString('base64')]) {
      expect(text).not.toContain(form)
    }
  })
})
