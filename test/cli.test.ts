import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createServer, type Server } from 'node:net'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Address, toNano } from '@ton/core'
import { mnemonicToPrivateKey } from '@ton/crypto'
import { pino } from 'pino'
import type { Command } from 'commander'
import { networkWalletFromKey, walletFromKey, faucet } from '../chain/client.ts'
import { deployRegistry } from '../chain/operations.ts'
import { float32Tensor } from '../client/index.ts'
import { createProgram } from '../cli/silk.ts'
import { logDestination, prettyLine } from '../cli/pretty-log.ts'
import { AdminServer } from '../node/admin.ts'
import { parseNodeConfig } from '../node/config.ts'
import { readKeyFile } from '../node/keyfile.ts'
import { ProviderNode } from '../node/provider-node.ts'
import { GLOBAL_IDS } from '../protocol/cells.ts'
import { identityFromSeed } from '../protocol/keys.ts'
import { FEE_BPS, MIN_STAKE, MODELS_DIR, startLocalNet, wallet, type LocalNet } from './localnet.ts'

// The CLI as a user types it: every case spawns `node cli/bin.js …`.

const CLI = new URL('../cli/bin.js', import.meta.url).pathname
const PKG = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

interface Result { code: number, stdout: string, stderr: string }
const silk = async (args: string[], env: Record<string, string> = {}): Promise<Result> => await new Promise((resolve) => {
  execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
    resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout, stderr })
  })
})

/** `silk node start` as a process: resolves once it listens, or with its exit and output if it stops first. */
async function startNode (configFile: string): Promise<{ child: ChildProcess, listening?: { admin: string }, code?: number, stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'node', 'start', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  return await new Promise((resolve) => {
    child.once('exit', (code) => { resolve({ child, code: code ?? 1, stderr }) })
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"listening"')) resolve({ child, listening: JSON.parse(line) as { admin: string }, stderr })
    })
  })
}

const RAW_OWNER = '0:' + 'ab'.repeat(32)
const RAW_REGISTRY = '0:' + 'cd'.repeat(32)

let dir: string
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'silk-cli-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('help and version', () => {
  it('`silk --version` prints the package version', async () => {
    const r = await silk(['--version'])
    expect(r).toMatchObject({ code: 0 })
    expect(r.stdout.trim()).toBe(PKG.version)
  })

  it('every command answers --help with its usage and exits 0 (bigint defaults included)', async () => {
    const paths: string[][] = []
    const walk = (cmd: Command, path: string[]): void => {
      paths.push(path)
      for (const sub of cmd.commands) walk(sub, [...path, sub.name()])
    }
    walk(createProgram(), [])
    expect(paths.map((p) => p.join(' '))).toEqual(expect.arrayContaining(['node init', 'deploy', 'node doctor', 'wallet new', 'wallet show', 'wallet balance', 'devnet faucet']))
    const failures: string[] = []
    for (let i = 0; i < paths.length; i += 4) {
      await Promise.all(paths.slice(i, i + 4).map(async (p) => {
        const r = await silk([...p, '--help'])
        if (r.code !== 0 || !r.stdout.includes(`Usage: silk${p.length > 0 ? ' ' + p.join(' ') : ''}`) || r.stderr !== '') failures.push(`${p.join(' ')}: exit ${r.code} ${r.stderr.slice(0, 200)}`)
      }))
    }
    expect(failures).toEqual([])
  })

  it('createProgram() throws instead of exiting (exitOverride), so it can be embedded', async () => {
    const program = createProgram()
    let written = ''
    program.configureOutput({ writeOut: (s) => { written += s }, writeErr: (s) => { written += s } })
    const err = await program.parseAsync(['node', 'silk', '--version']).catch((e: unknown) => e) as { code: string, exitCode: number }
    expect(err).toMatchObject({ code: 'commander.version', exitCode: 0 })
    expect(written.trim()).toBe(PKG.version)
  })

  it('a mistyped argument is a usage error naming the option, exit 1', async () => {
    const r = await silk(['deploy', '--endpoint', 'http://127.0.0.1:1/jsonRPC', '--network', 'testnett'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('--network')
    expect(r.stderr).toContain('testnett')
  })
})

describe('`silk node init` checks every argument before it writes anything', () => {
  const base = (nodeDir: string): string[] => ['node', 'init', '--dir', nodeDir, '--owner', RAW_OWNER, '--registry', RAW_REGISTRY, '--endpoint', 'http://127.0.0.1:1/jsonRPC', '--network', 'testnet']

  it('refuses a bad endpoint, network, listen address, owner checksum or models folder; a corrected retry succeeds', async () => {
    const nodeDir = join(dir, 'init-retry')
    const bad: Array<[string[], string]> = [
      [['--endpoint', 'not-a-url'], '--endpoint'],
      [['--network', 'testnett'], '--network'],
      [['--listen', 'garbage'], '--listen'],
      [['--listen', '/garbage/1'], '--listen'],
      [['--owner', 'EQ' + 'A'.repeat(46)], '--owner'],
      [['--registry', RAW_REGISTRY.slice(0, -1)], '--registry'],
      [['--models', join(dir, 'no-such-folder')], '--models'],
      [['--bootstrap', '/ip4/1.2.3.4/tcp/1'], '--bootstrap']
    ]
    for (const [override, option] of bad) {
      const args = base(nodeDir)
      const at = args.indexOf(override[0]!)
      if (at >= 0) args.splice(at, 2, ...override); else args.push(...override)
      const r = await silk(args)
      expect(r.code, override.join(' ')).toBe(1)
      expect(r.stderr, override.join(' ')).toContain(option)
      expect(existsSync(nodeDir), override.join(' ')).toBe(false)
    }
    const ok = await silk(base(nodeDir))
    expect(ok.stderr).toBe('')
    expect(ok.code).toBe(0)
    // a second init into the same folder is refused before it creates anything
    const again = await silk(base(nodeDir))
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('already exists')
  })

  it('defaults to the bundled models, and prints the undeployed gas wallet non-bounceable in the testnet form', async () => {
    const nodeDir = join(dir, 'init-forms')
    const r = await silk(base(nodeDir))
    expect(r.code).toBe(0)
    const config = JSON.parse(await readFile(join(nodeDir, 'config.json'), 'utf8')) as { modelsDir: string }
    expect(config.modelsDir).toBe(MODELS_DIR.replace(/\/$/, ''))
    const identity = await readKeyFile(join(nodeDir, 'node.key'))
    const gas = walletFromKey(identity.keyPair).address
    const printed = /gas wallet: +(\S+)/.exec(r.stdout)![1]!
    expect(printed).toBe(gas.toString({ bounceable: false, testOnly: true }))
    expect(Address.parseFriendly(printed)).toMatchObject({ isBounceable: false, isTestOnly: true })
    const provider = /provider: +(\S+)/.exec(r.stdout)![1]!
    expect(Address.parseFriendly(provider)).toMatchObject({ isBounceable: true, isTestOnly: true })
  })
})

describe('`silk wallet`', () => {
  it('`wallet new` writes the words to a 0600 file only, prints the address and where they are; `show` derives the same address', async () => {
    for (const kind of ['w5', 'v4'] as const) {
      // into a folder that does not exist yet (as ~/.silk on a new machine): created private
      const file = join(dir, `new-${kind}`, `owner-${kind}.words`)
      const r = await silk(['wallet', 'new', '--file', file, '--network', 'testnet', '--wallet', kind])
      expect(r.code).toBe(0)
      expect((await stat(file)).mode & 0o777).toBe(0o600)
      expect((await stat(join(dir, `new-${kind}`))).mode & 0o777).toBe(0o700)
      const words = (await readFile(file, 'utf8')).trim().split(/\s+/)
      expect(words).toHaveLength(24)
      // the phrase is nowhere, not even in part (a single common word like "first" may occur in prose)
      const printed = (r.stdout + r.stderr).split(/\W+/)
      expect(words.filter((w) => printed.includes(w)).length).toBeLessThan(3)
      for (let i = 0; i + 1 < words.length; i++) expect(r.stdout + r.stderr).not.toContain(`${words[i]!} ${words[i + 1]!}`)
      expect(r.stdout).toContain(file)
      const kp = await mnemonicToPrivateKey(words)
      const expected = kind === 'w5' ? networkWalletFromKey(kp, GLOBAL_IDS.testnet).address : walletFromKey(kp).address
      expect(r.stdout).toContain(expected.toString({ bounceable: false, testOnly: true }))
      const show = await silk(['wallet', 'show', '--file', file, '--network', 'testnet', '--wallet', kind])
      expect(show.stdout).toContain(expected.toString({ bounceable: false, testOnly: true }))
      // never overwritten
      const again = await silk(['wallet', 'new', '--file', file, '--network', 'testnet'])
      expect(again.code).toBe(1)
      expect((await readFile(file, 'utf8')).trim().split(/\s+/)).toEqual(words)
    }
  })
})

describe('against the local chain', () => {
  let net: LocalNet
  let endpoint: string
  beforeAll(async () => {
    net = await startLocalNet()
    endpoint = net.devnet.endpoint
  })
  afterAll(async () => { await net?.close() })

  const initNode = async (name: string, owner: Address, extra: string[] = []): Promise<string> => {
    const nodeDir = join(dir, name)
    const r = await silk(['node', 'init', '--dir', nodeDir, '--owner', owner.toString(), '--registry', net.registry.toString(), '--endpoint', endpoint, '--network', 'local', '--listen', '/ip4/127.0.0.1/tcp/0', '--admin-port', '0', ...extra])
    expect(r.stderr).toBe('')
    return join(nodeDir, 'config.json')
  }
  const newWallet = async (name: string, kind: 'v4' | 'w5'): Promise<{ file: string, address: Address }> => {
    const file = join(dir, name)
    const r = await silk(['wallet', 'new', '--file', file, '--network', 'local', '--wallet', kind])
    expect(r.code).toBe(0)
    return { file, address: Address.parse(/address: +(\S+)/.exec(r.stdout)![1]!) }
  }

  it('`devnet faucet` funds an address; `wallet balance` reads it', async () => {
    const w = await newWallet('faucet.words', 'w5')
    const r = await silk(['devnet', 'faucet', w.address.toString(), '2.5', '--endpoint', net.devnet.baseUrl])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const b = await silk(['wallet', 'balance', '--file', w.file, '--network', 'local', '--endpoint', endpoint])
    expect(b.stdout).toContain('2.5 TON (not deployed yet)')
    const none = await silk(['devnet', 'faucet', w.address.toString(), '1', '--endpoint', 'http://127.0.0.1:9'])
    expect(none.code).toBe(1)
    expect(none.stderr).toMatch(/^silk: no devnet at http:\/\/127\.0\.0\.1:9 .*start one with `silk devnet`\n$/)
  })

  it('a W5 owner registers; below the minimum stake or above the balance it is refused at once, nothing sent', async () => {
    const owner = await newWallet('registering-owner.words', 'w5')
    await faucet(net.devnet.baseUrl, owner.address, toNano('12'))
    const config = await initNode('w5-node', owner.address)
    const low = await silk(['node', 'register', '--config', config, '--stake', '5', '--mnemonic-file', owner.file])
    expect(low.code).toBe(1)
    expect(low.stderr).toContain("below the Registry's minimum of 10 TON")
    const rich = await silk(['node', 'register', '--config', config, '--stake', '50', '--mnemonic-file', owner.file])
    expect(rich.code).toBe(1)
    expect(rich.stderr).toContain('holds 12 TON')
    expect((await net.chain.getContractState(owner.address)).state).not.toBe('active')
    // someone else's words are refused by address
    const other = await newWallet('other.words', 'w5')
    const wrong = await silk(['node', 'register', '--config', config, '--stake', '10', '--mnemonic-file', other.file])
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toContain('is not the wallet')
    const ok = await silk(['node', 'register', '--config', config, '--stake', '10', '--mnemonic-file', owner.file])
    expect(ok.stderr).toBe('')
    expect(ok.code).toBe(0)
    const status = await silk(['node', 'status', '--config', config])
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/stake: +10 TON \(active/)
    expect(status.stdout).toMatch(/gas wallet: +\S+ holds 0 TON \(not deployed yet\)/)
    expect(status.stdout).toContain('mlp-64-10')
    expect(status.stdout).toMatch(/claimed: +0 TON; the owner received 0 TON/)

    // start: checks pass except the unfunded gas wallet, which it warns about and starts anyway
    const started = await startNode(config)
    try {
      expect(started.listening).toBeDefined()
      expect(started.stderr).toMatch(/WARN gas wallet: \S+ holds 0 TON/)
      const health = await fetch(`${started.listening!.admin}/health`)
      expect(health.status).toBe(200)
      expect(await health.json()).toMatchObject({ ok: true, chain: { ok: true }, models: { ok: true }, listening: { ok: true } })
    } finally {
      started.child.kill('SIGKILL')
    }
    const identity = await readKeyFile(join(dir, 'w5-node', 'node.key'))
    await faucet(net.devnet.baseUrl, walletFromKey(identity.keyPair).address, toNano('1'))
    const doctor = await silk(['node', 'doctor', '--config', config])
    expect(doctor.code).toBe(0)
    for (const check of ['chain', 'registry', 'stake', 'gas wallet', 'models', 'ports']) expect(doctor.stdout).toMatch(new RegExp(`^ok +${check}: `, 'm'))
  })

  it('`doctor` and `start` name a wrong registry, a missing stake, a busy port; `start` refuses', async () => {
    const owner = await wallet(net.devnet, toNano('1'))
    const config = await initNode('unregistered', owner.address)
    const raw = JSON.parse(await readFile(config, 'utf8')) as Record<string, unknown> & { chain: Record<string, string>, admin: Record<string, unknown> }

    const notRegistered = await silk(['node', 'doctor', '--config', config])
    expect(notRegistered.code).toBe(1)
    expect(notRegistered.stdout).toMatch(/^FAIL stake: no Provider at \S+: stake with `silk node register`$/m)
    expect(notRegistered.stdout).toMatch(/^ok +registry: /m)
    const start = await startNode(config)
    expect(start.code).toBe(1)
    expect(start.stderr).toMatch(/FAIL stake: no Provider/)
    expect(start.stderr).toContain('refusing to start: stake failed')

    // a plain wallet as the registry; a Registry of another network
    await writeFile(config, JSON.stringify({ ...raw, chain: { ...raw.chain, registry: owner.address.toString() } }))
    expect((await silk(['node', 'doctor', '--config', config])).stdout).toMatch(/^FAIL registry: no contract at \S+ \(chain.registry is wrong, or on another network\)$/m)
    await writeFile(config, JSON.stringify({ ...raw, chain: { ...raw.chain, registry: net.governor.address.toString() } }))
    expect((await silk(['node', 'doctor', '--config', config])).stdout).toMatch(/^FAIL registry: \S+ is not a Silk Registry/m)
    const testnetRegistry = await deployRegistry(net.chain, net.governor, { globalId: GLOBAL_IDS.testnet, feeBps: FEE_BPS, minStake: MIN_STAKE, closeDelay: 3600 })
    await writeFile(config, JSON.stringify({ ...raw, chain: { ...raw.chain, registry: testnetRegistry.address.toString() } }))
    expect((await silk(['node', 'doctor', '--config', config])).stdout).toMatch(/^FAIL registry: \S+ is a Registry of testnet, but chain.network is local$/m)

    // a port another process holds
    const busy: Server = createServer()
    await new Promise<void>((resolve) => { busy.listen(0, '127.0.0.1', () => { resolve() }) })
    const port = (busy.address() as { port: number }).port
    try {
      await writeFile(config, JSON.stringify({ ...raw, admin: { ...raw.admin, port } }))
      expect((await silk(['node', 'doctor', '--config', config])).stdout).toMatch(new RegExp(`^FAIL ports: admin: 127\\.0\\.0\\.1:${port} is in use`, 'm'))
    } finally {
      busy.close()
    }
  })

  it('`status` says the chain cannot be reached, never "not registered", and exits 1', async () => {
    const owner = await wallet(net.devnet, toNano('1'))
    const config = await initNode('unreachable', owner.address)
    const raw = JSON.parse(await readFile(config, 'utf8')) as { chain: Record<string, string> }
    const reachable = await silk(['node', 'status', '--config', config])
    expect(reachable.stdout).toMatch(/stake: +not registered/)
    await writeFile(config, JSON.stringify({ ...raw, chain: { ...raw.chain, endpoint: 'http://127.0.0.1:1/jsonRPC' } }))
    const r = await silk(['node', 'status', '--config', config])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('CANNOT REACH http://127.0.0.1:1/jsonRPC')
    expect(r.stdout).not.toContain('not registered')
    expect(r.stdout).toMatch(/earned: +0 TON/)
    const doctor = await silk(['node', 'doctor', '--config', config])
    expect(doctor.stdout).toMatch(/^FAIL chain: cannot reach http:\/\/127\.0\.0\.1:1\/jsonRPC/m)
    expect(doctor.stdout).toMatch(/^skip stake: the chain cannot be reached/m)
  })
})

describe('a claim that fails, and /health when the chain goes away', () => {
  const TOKEN = 'a-long-admin-token-0123456789'
  const rows = (v: number) => float32Tensor('x', [64, 64], new Array(64 * 64).fill(v))
  let net: LocalNet
  beforeAll(async () => { net = await startLocalNet() })
  afterAll(async () => { await net?.close() })

  it('`node claim` exits 1 with the cause; /health turns 503 naming the chain', async () => {
    const { node: first, identity } = await net.addNode({ config: { claimMaxFeeBps: 10_000 } })
    await first.stop()
    const node = new ProviderNode({ config: first.config, identity, chain: net.chain, logger: pino({ level: 'silent' }), chainFreshMs: 0 })
    await node.start()
    const admin = new AdminServer(node, { host: '127.0.0.1', port: 0, token: TOKEN }, pino({ level: 'silent' }))
    await admin.start()
    try {
      const health = await fetch(`${admin.url}/health`)
      expect(health.status).toBe(200)
      const { client } = await net.addClient()
      const provider = await client.connect(node.addresses[0]!)
      await client.openChannel(provider, toNano('1'))
      for (let i = 0; i < 4; i++) await provider.session.run('mlp-64-10', [rows(i)])
      await provider.session.close()
      const configFile = join(dir, 'claim-config.json')
      await writeFile(configFile, JSON.stringify({
        keyFile: 'unused', providerOwner: node.providerOwner.toString(), modelsDir: MODELS_DIR, dataDir: node.config.dataDir,
        chain: { network: 'local', endpoint: net.devnet.endpoint, registry: net.registry.toString() },
        admin: { host: '127.0.0.1', port: Number(new URL(admin.url!).port) }
      }))
      const wrongToken = await silk(['node', 'claim', '--config', configFile], { SILK_ADMIN_TOKEN: TOKEN + 'x' })
      expect(wrongToken.code).toBe(1)
      expect(wrongToken.stderr).toContain('refused the admin token')

      await net.devnet.close() // the chain goes away with vouchers unclaimed
      const r = await silk(['node', 'claim', '--config', configFile], { SILK_ADMIN_TOKEN: TOKEN })
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/^silk: claim failed: \S/)
      const down = await fetch(`${admin.url}/health`)
      expect(down.status).toBe(503)
      expect(await down.json()).toMatchObject({ ok: false, chain: { ok: false }, models: { ok: true }, listening: { ok: true } })
    } finally {
      await admin.stop()
      await node.stop().catch(() => {})
    }
    await admin.stop()
    const stopped = await silk(['node', 'claim', '--config', join(dir, 'claim-config.json')], { SILK_ADMIN_TOKEN: TOKEN })
    expect(stopped.code).toBe(1)
    expect(stopped.stderr).toContain('is `silk node start` running?')
  })

  it('/health is 503 for a node that is not started (no models, not listening)', async () => {
    const config = parseNodeConfig({
      keyFile: 'unused', providerOwner: RAW_OWNER, modelsDir: MODELS_DIR, dataDir: join(dir, 'idle'),
      chain: { network: 'local', endpoint: 'http://127.0.0.1:1/jsonRPC', registry: RAW_REGISTRY }
    }, dir)
    const idle = new ProviderNode({ config, identity: await identityFromSeed(Buffer.alloc(32, 3)), logger: pino({ level: 'silent' }) })
    const admin = new AdminServer(idle, { host: '127.0.0.1', port: 0 }, pino({ level: 'silent' }))
    await admin.start()
    try {
      const r = await fetch(`${admin.url}/health`)
      expect(r.status).toBe(503)
      expect(await r.json()).toMatchObject({ ok: false, models: { ok: false, loaded: 0 }, listening: { ok: false } })
    } finally {
      await admin.stop()
    }
  })
})

describe('logs', () => {
  it('a terminal gets one readable line per record; anything else gets pino JSON', () => {
    const line = JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 1, 12, 34, 56), pid: 1, hostname: 'h', msg: 'no staked Provider', provider: 'kQabc', n: 3 })
    expect(prettyLine(line)).toBe('12:34:56 WARN  no staked Provider  provider=kQabc n=3\n')
    const written: string[] = []
    const tty = { isTTY: true, write: (s: string) => { written.push(s); return true } } as unknown as NodeJS.WriteStream
    const logger = pino({ level: 'info' }, logDestination(2, tty, false))
    logger.info({ peer: 'p1' }, 'node started')
    expect(written).toHaveLength(1)
    expect(written[0]).toMatch(/^\d\d:\d\d:\d\d INFO  node started  peer=p1\n$/)
    // not a terminal: pino's own JSON destination, untouched
    const pipe = { isTTY: false, write: () => true } as unknown as NodeJS.WriteStream
    expect(logDestination(2, pipe).constructor.name).toBe('SonicBoom')
  })
})
