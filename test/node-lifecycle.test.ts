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
import { identityFromSeed } from '../protocol/keys.ts'
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
const rows = (v: number) => float32Tensor('x', [64, 64], new Array(64 * 64).fill(v))

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

  it('`silk node start` refuses an admin endpoint off loopback without a token, naming the field', async () => {
    const nodeDir = join(dir, 'cli-admin')
    const init = await silk('node', 'init', '--dir', nodeDir, '--owner', '0:' + 'ab'.repeat(32), '--registry', '0:' + 'cd'.repeat(32), '--endpoint', 'http://127.0.0.1:1/jsonRPC', '--network', 'local')
    expect(init.code).toBe(0)
    const config = JSON.parse(await readFile(join(nodeDir, 'config.json'), 'utf8'))
    expect(config.admin).toEqual({ host: '127.0.0.1', port: 4002 })
    await writeFile(join(nodeDir, 'config.json'), JSON.stringify({ ...config, admin: { host: '0.0.0.0', port: 0 } }))
    const start = await silk('node', 'start', '--config', join(nodeDir, 'config.json'))
    expect(start.code).toBe(1)
    expect(start.stderr).toContain('ConfigError')
    expect(start.stderr).toContain('admin.host')
    // a token that is too short is refused as well
    await writeFile(join(nodeDir, 'config.json'), JSON.stringify({ ...config, admin: { host: '127.0.0.1', port: 0, token: 'short' } }))
    const short = await silk('node', 'start', '--config', join(nodeDir, 'config.json'))
    expect(short.code).toBe(1)
    expect(short.stderr).toContain('admin.token')
  })

  it('`silk node init` creates a 0600 key and a config; `silk node start` with a broken config exits with the field named', async () => {
    const nodeDir = join(dir, 'cli-node')
    const init = await silk('node', 'init', '--dir', nodeDir, '--owner', '0:' + 'ab'.repeat(32), '--registry', '0:' + 'cd'.repeat(32), '--endpoint', 'http://127.0.0.1:1/jsonRPC', '--network', 'local')
    expect(init.code).toBe(0)
    // a contract on the local chain: bounceable, in the testOnly form the explorer shows
    expect(init.stdout).toMatch(/provider: +kQ/)
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

describe('admin endpoint: loopback by default, a bearer token for anything that changes state', () => {
  const TOKEN = 'a-long-admin-token-0123456789'
  let dir: string
  let node: ProviderNode
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'silk-admin-'))
    // not started: the admin routes and the claim path need no network here (no vouchers held)
    const config = parseNodeConfig({
      keyFile: 'unused', providerOwner: '0:' + 'ab'.repeat(32), modelsDir: MODELS_DIR, dataDir: 'data',
      chain: { network: 'local', endpoint: 'http://127.0.0.1:1/jsonRPC', registry: '0:' + 'cd'.repeat(32) }
    }, dir)
    node = new ProviderNode({ config, identity: await identityFromSeed(Buffer.alloc(32, 9)), logger: pino({ level: 'silent' }) })
  })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  const logger = pino({ level: 'silent' })
  const claim = async (url: string, authorization?: string): Promise<Response> =>
    await fetch(`${url}/claim`, { method: 'POST', ...(authorization !== undefined ? { headers: { authorization } } : {}) })

  it('POST /claim needs the exact token; read-only routes stay open on loopback', async () => {
    const admin = new AdminServer(node, { host: '127.0.0.1', port: 0, token: TOKEN }, logger)
    await admin.start()
    try {
      expect(admin.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect((await claim(admin.url!)).status).toBe(401)
      expect((await claim(admin.url!, `Bearer ${TOKEN}x`)).status).toBe(401)
      expect((await claim(admin.url!, `Bearer ${TOKEN.slice(0, -1)}`)).status).toBe(401)
      expect((await claim(admin.url!, TOKEN)).status).toBe(401)
      expect((await claim(admin.url!, 'Bearer ')).status).toBe(401)
      const ok = await claim(admin.url!, `Bearer ${TOKEN}`)
      expect(ok.status).toBe(200)
      expect(await ok.json()).toEqual({ ok: true, payouts: [] })
      // this node is not started: not ready (no models loaded, not listening)
      expect((await fetch(`${admin.url}/health`)).status).toBe(503)
      expect((await fetch(`${admin.url}/status`)).status).toBe(200)
      expect((await fetch(`${admin.url}/claim`)).status).toBe(404)
    } finally {
      await admin.stop()
    }
  })

  it('without a token, POST /claim is refused on loopback too', async () => {
    const admin = new AdminServer(node, { host: '127.0.0.1', port: 0 }, logger)
    await admin.start()
    try {
      expect((await claim(admin.url!)).status).toBe(401)
      expect((await claim(admin.url!, 'Bearer anything-at-all-here')).status).toBe(401)
      expect((await fetch(`${admin.url}/health`)).status).toBe(503)
    } finally {
      await admin.stop()
    }
  })

  it('refuses to serve off loopback without a token, or with a short one', async () => {
    expect(() => new AdminServer(node, { host: '0.0.0.0', port: 0 }, logger)).toThrow(ConfigError)
    expect(() => new AdminServer(node, { host: '192.168.1.10', port: 0 }, logger)).toThrow(/admin\.host/)
    expect(() => new AdminServer(node, { host: '::', port: 0 }, logger)).toThrow(ConfigError)
    expect(() => new AdminServer(node, { host: '127.0.0.1', port: 0, token: 'too-short' }, logger)).toThrow(/admin\.token/)
    expect(() => new AdminServer(node, { host: '0.0.0.0', port: 0, token: TOKEN }, logger)).not.toThrow()
    // 'localhost' is loopback: served, with the same rules
    const admin = new AdminServer(node, { host: 'localhost', port: 0 }, logger)
    await admin.start()
    try {
      expect((await fetch(`${admin.url}/health`)).status).toBe(503)
      expect((await claim(admin.url!)).status).toBe(401)
    } finally {
      await admin.stop()
    }
  })
})

describe('a node restart loses no voucher', () => {
  let net: LocalNet
  beforeAll(async () => { net = await startLocalNet() })
  afterAll(async () => { await net?.close() })

  // 64 rows at 50,000 nanoton: 3.2 million a job. At a fee share of 100 % a claim is economic from
  // 10.2 million (the measured fees), so four jobs make a claim and one does not.
  const ECONOMIC = { claimMaxFeeBps: 10_000 }

  it('the node claims at shutdown; restarted, it knows every voucher, the client resumes, and the next claim settles the rest', async () => {
    const { node, identity } = await net.addNode({ config: ECONOMIC })
    const { client } = await net.addClient()
    let provider = await client.connect(node.addresses[0]!)
    const channel = await client.openChannel(provider, toNano('1'))
    for (let i = 0; i < 4; i++) await provider.session.run('mlp-64-10', [rows(i)])
    const before = provider.session.paid
    await provider.session.close()
    await node.stop()
    // graceful shutdown claimed what the four vouchers owe
    expect((await node.vouchers.payouts()).map((p) => BigInt(p.amount))).toEqual([before.amount])

    // same key and data folder, new process state
    const again = new ProviderNode({ config: node.config, identity, chain: net.chain, logger: pino({ level: 'silent' }) })
    await again.start()
    try {
      expect(again.vouchers.get(channel).seqno).toBe(4)
      provider = await client.connect(again.addresses[0]!)
      await provider.session.bind(channel)
      expect(provider.session.paid).toEqual(before)
      // one job is not worth a claim: the node waits
      await provider.session.run('mlp-64-10', [rows(9)])
      expect(await again.settlement.claimAll()).toEqual([])
      for (let i = 10; i < 13; i++) await provider.session.run('mlp-64-10', [rows(i)])
      expect(provider.session.paid.seqno).toBe(8)
      const [payout] = await again.settlement.claimAll()
      expect(BigInt(payout!.amount)).toBe(provider.session.paid.amount - before.amount)
      const onChain = await net.chain.open(Channel.createFromAddress(channel)).getChannelData()
      expect(onChain.seqno).toBe(8)
      expect(onChain.receiptsRoot.equals(provider.session.paid.root)).toBe(true)
      await provider.session.close()
    } finally {
      await again.stop()
    }
  })

  it('at shutdown a channel owed less than a claim costs is left for later, its vouchers kept', async () => {
    const { node, identity } = await net.addNode({ config: ECONOMIC })
    const { client } = await net.addClient()
    const provider = await client.connect(node.addresses[0]!)
    const channel = await client.openChannel(provider, toNano('1'))
    await provider.session.run('mlp-64-10', [rows(1)])
    const owed = provider.session.paid
    await provider.session.close()
    await node.stop()
    expect(await node.vouchers.payouts()).toEqual([])
    expect((await net.chain.open(Channel.createFromAddress(channel)).getChannelData()).paid).toBe(0n)
    const again = new ProviderNode({ config: node.config, identity, chain: net.chain, logger: pino({ level: 'silent' }) })
    await again.start()
    try {
      expect(again.vouchers.get(channel).amount).toBe(owed.amount)
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
      const health = await fetch(`${admin.url}/health`)
      expect(health.status).toBe(200)
      expect(await health.json()).toMatchObject({ ok: true, ready: true, chain: { ok: true }, models: { ok: true }, listening: { ok: true, addresses: node.addresses.map(String) } })
      const { client } = await net.addClient()
      const provider = await client.connect(node.addresses[0]!)
      await client.openChannel(provider, toNano('1'))
      await provider.session.run('mlp-64-10', [x(1)])
      await provider.session.run('mlp-64-10', [x(2)])
      const metrics = await (await fetch(`${admin.url}/metrics`)).text()
      expect(metrics).toMatch(/silk_jobs_total\{model="mlp-64-10"\} 2/)
      expect(metrics).toMatch(/silk_earned_nanoton 100000/)
      // the stake gate's refusals are counted by reason
      expect(metrics).toMatch(/silk_adverts_dropped\{reason="unregistered"\} 0/)
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
    const { node, identity } = await net.addNode({ config: { claimMaxFeeBps: 10_000 } })
    await node.stop()
    const lines: string[] = []
    const logger = pino({ level: 'debug' }, { write: (line: string) => { lines.push(line) } })
    const again = new ProviderNode({ config: node.config, identity, chain: net.chain, logger })
    await again.start()
    try {
      const { client } = await net.addClient()
      const provider = await client.connect(again.addresses[0]!)
      await client.openChannel(provider, toNano('1'))
      for (let i = 0; i < 4; i++) await provider.session.run('mlp-64-10', [rows(i)])
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
