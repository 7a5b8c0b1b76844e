import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNano } from '@ton/core'
import { mnemonicNew } from '@ton/crypto'
import { faucet } from '../chain/client.ts'
import { commandsOf, DocBlocks, fencedBlocks, ROOT, fill, runShell, writeBlock, type Values } from './docs.ts'
import { startLocalNet, type LocalNet } from './localnet.ts'

// Docs that run: every code block of README.md, gateway/README.md and examples/**/README.md runs
// here as written, against a local Silk network; only `<placeholders>` (and the fixed example
// ports) are filled in. `npx silk` is this checkout's command; `@silk-ai/silk/...` imports resolve to
// this checkout's sources (the installed package itself is tested in test/package.test.ts).

const PACKAGE = '@silk-ai/silk'
/** commands that run until stopped: started in the background and awaited until they listen */
const SERVERS = /silk (node start|gateway|devnet)\b|bot\.ts/

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('the doc runner refuses what it cannot run', () => {
  it('a placeholder no test fills is an error, so docs cannot grow values nobody checks', async () => {
    await expect(fill('silk node init --owner <owner address> --registry <registry>', { '<registry>': 'EQ…' })).rejects.toThrow(/<owner address>/)
    expect(await fill('--port 8080 --registry <registry>', { '<registry>': 'R', 8080: '1234' })).toBe('--port 1234 --registry R')
  })

  it('a block no test takes fails the doc', () => {
    const md = ['# t', '```sh', 'echo a', '```', 'text', '````json', '{}', '````'].join('\n')
    expect(fencedBlocks(md, 't.md').map((b) => [b.lang, b.code, b.line])).toEqual([['sh', 'echo a', 2], ['json', '{}', 6]])
    const doc = DocBlocks.of(md, 't.md')
    expect(() => doc.take(1, 'sh')).toThrow(/expected a `sh` block, found `json`/)
    doc.take(0, 'sh')
    expect(() => { doc.done() }).toThrow(/blocks no test runs: line 6 \(json\)/)
    doc.take(1, 'json')
    doc.done()
  })

  it('a failing command fails the block; comments and continuations are the shell\'s', async () => {
    expect(commandsOf('# only a comment\nnpx silk node init --dir x \\\n  --network local   # why\n\necho done')).toEqual(['npx silk node init --dir x    --network local   # why', 'echo done'])
    await expect(runShell('true\nfalse\necho never', { cwd: ROOT, env: process.env })).rejects.toThrow(/`false` exited with 1/)
    const ok = await runShell('export A=1\necho $A', { cwd: ROOT, env: process.env })
    expect(ok.outputs).toEqual(['', '1\n'])
  })
})

describe('the docs run as written', () => {
  let net: LocalNet
  let work: string
  let env: NodeJS.ProcessEnv
  let provider: string
  let common: Values

  beforeAll(async () => {
    net = await startLocalNet()
    const { node } = await net.addNode()
    provider = node.addresses[0]!.toString()
    // inside the checkout, so that `npx silk` is this package's command and never the registry's `silk`
    await mkdir(join(ROOT, '.silk'), { recursive: true })
    work = await mkdtemp(join(ROOT, '.silk', 'docs-'))
    const tsconfig = join(work, 'tsconfig.json')
    await writeFile(tsconfig, JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', allowImportingTsExtensions: true, paths: { [`${PACKAGE}/*`]: [join(ROOT, '*/index.ts')] } } }))
    env = {
      ...process.env,
      HOME: work, // ~/.silk lands in the temp folder, and npx's cache of this checkout starts fresh
      npm_config_offline: 'true', // npx never fetches a package
      npm_config_update_notifier: 'false',
      TSX_TSCONFIG_PATH: tsconfig
    }
    common = {
      '<network>': 'local',
      '<endpoint>': net.devnet.endpoint,
      '<registry>': net.registry.toString(),
      '<provider multiaddr>': provider
    }
  }, 120_000)
  afterAll(async () => {
    await net?.close()
    if (work !== undefined) await rm(work, { recursive: true, force: true })
  })

  /** what a user does after `silk wallet new` prints an address: send it TON (here from the faucet) */
  const fundPrintedWallet = (amount: string) => async (command: string, stdout: string): Promise<void> => {
    if (!/silk wallet new/.test(command)) return
    const address = /address:\s+(\S+)/.exec(stdout)?.[1]
    expect(address, `\`${command}\` printed no address:\n${stdout}`).toBeDefined()
    await faucet(net.devnet.baseUrl, address!, toNano(amount))
  }

  async function runScript (dir: string, name: string, code: string, extra: NodeJS.ProcessEnv = {}): Promise<string> {
    const file = await writeBlock(dir, name, code)
    const result = await runShell(`node --import tsx ${file}`, { cwd: dir, env: { ...env, ...extra }, timeoutMs: 90_000 })
    return result.outputs[0]!
  }

  describe('README.md', () => {
    let doc: DocBlocks
    beforeAll(async () => { doc = await DocBlocks.read('README.md') })

    it('the first screen: `npm ci && npm run demo` runs the demo to its end (`npm ci` ran before the suite; `npm test` is this suite)', async () => {
      const block = doc.take(0, 'sh')
      const commands = block.code.split('\n').map((l) => l.replace(/#.*/, '').trim())
      expect(commands).toEqual(['npm ci && npm run demo', 'npm ci && npm test'])
      const demo = await runShell('npm run demo', { cwd: ROOT, env: process.env, timeoutMs: 150_000 })
      expect(demo.outputs[0]).toMatch(/Done: 20 verified jobs/)
    }, 180_000)

    it('installing: `npm install @silk-ai/silk` (run from the packed tarball by test/package.test.ts)', () => {
      expect(doc.take(1, 'sh').code).toMatch(new RegExp(`^npm install ${PACKAGE}\\s`))
    })

    it('running a provider node: wallet, init, register, start, status, payouts', async () => {
      const block = doc.take(2, 'sh')
      const [p2p, admin] = [String(await freePort()), String(await freePort())]
      const dir = join(work, 'operator')
      await mkdir(dir)
      let ownerAddress = ''
            const shell = await runShell(block.code, {
        cwd: dir,
        env,
        values: { ...common, '<owner address>': () => ownerAddress, '4001': p2p, '4002': admin },
        background: SERVERS,
        ready: /"listening"/,
        after: async (command, stdout) => {
          await fundPrintedWallet('20')(command, stdout)
          if (/silk wallet new/.test(command)) ownerAddress = /address:\s+(\S+)/.exec(stdout)![1]!
        }
      })
      try {
        const [, init, register, start, status, payouts] = shell.outputs
        expect(init).toMatch(/gas wallet:/)
        expect(register).toMatch(/registered: .* with 10 TON staked/)
        expect(start).toContain(`/tcp/${p2p}/`)
        expect(status).toMatch(/stake:\s+10 TON \(active/)
        expect(payouts).toBeDefined()
      } finally {
        await shell.stop()
      }
    }, 240_000)

    it('the client SDK snippet gets a verified, paid answer and exits', async () => {
      const block = doc.take(3, 'js')
      const words = await mnemonicNew()
      const { mnemonicToPrivateKey } = await import('@ton/crypto')
      const { walletFromKey } = await import('../chain/client.ts')
      await faucet(net.devnet.baseUrl, walletFromKey(await mnemonicToPrivateKey(words)).address, toNano('5'))
      const stdout = await runScript(work, 'hello.mjs', block.code, {
        SILK_NETWORK: 'local',
        SILK_ENDPOINT: net.devnet.endpoint,
        SILK_REGISTRY: net.registry.toString(),
        SILK_MNEMONIC: words.join(' '),
        SILK_BOOTSTRAP: provider
      })
      // answer.text, answer.tier, answer.receipt
      expect(stdout).toMatch(/\b(none|dev|tdx)\b/)
      expect(stdout).toMatch(/jobId/)
    }, 120_000)

    it('has no other code blocks', () => { doc.done() })
  })

  describe('gateway/README.md', () => {
    let doc: DocBlocks
    beforeAll(async () => { doc = await DocBlocks.read('gateway/README.md') })

    it('wallet, gateway.json, `silk gateway`, then the OpenAI client gets a paid answer with its cost', async () => {
      const shellBlock = doc.take(0, 'sh')
      const configBlock = doc.take(1, 'json')
      const clientBlock = doc.take(2, 'js')
      const port = String(await freePort())
      const dir = join(work, 'gateway')
      await mkdir(dir)
      const values = { ...common, 8080: port }
      await writeBlock(dir, 'gateway.json', await fill(configBlock.code, values))
      const shell = await runShell(shellBlock.code, { cwd: dir, env, values, background: SERVERS, ready: /"listening"/, after: fundPrintedWallet('5') })
      try {
        expect(shell.outputs[1]).toContain(`:${port}`)
        const stdout = await runScript(dir, 'ask.mjs', await fill(clientBlock.code, values))
        // the answer, then its cost in nanoton
        expect(stdout.trim()).toMatch(/ \d+$/)
        expect(BigInt(/ (\d+)$/.exec(stdout.trim())![1]!)).toBeGreaterThan(0n)
      } finally {
        await shell.stop()
      }
    }, 180_000)

    it('has no other code blocks', () => { doc.done() })
  })

  describe('examples/telegram-bot/README.md', () => {
    let doc: DocBlocks
    beforeAll(async () => { doc = await DocBlocks.read('examples/telegram-bot/README.md') })

    it('the bot runs as the README says, finds a provider from the bootstrap peer and answers /ask', async () => {
      const block = doc.take(0, 'sh')
      // Telegram is out of reach here: a Bot API server on loopback (TELEGRAM_API_ROOT) hands the bot
      // one private /ask and records what it sends back
      const api = await fakeBotApi('/ask Hi')
      const words = await mnemonicNew()
      const { mnemonicToPrivateKey } = await import('@ton/crypto')
      const { walletFromKey } = await import('../chain/client.ts')
      await faucet(net.devnet.baseUrl, walletFromKey(await mnemonicToPrivateKey(words)).address, toNano('5'))
      const { TSX_TSCONFIG_PATH: _, ...plain } = env
      const shell = await runShell(block.code, {
        cwd: ROOT,
        env: { ...plain, TELEGRAM_API_ROOT: api.url },
        values: { ...common, '<bot token>': BOT_TOKEN, '<24 words>': words.join(' '), '<peer multiaddr>': provider },
        background: SERVERS,
        ready: /polling/
      })
      try {
        const answer = await api.reply
        expect(answer.chat_id).toBe(CHAT_ID)
        expect(typeof answer.text).toBe('string')
        expect((answer.text as string).length).toBeGreaterThan(0)
      } finally {
        await shell.stop()
        await api.close()
      }
    }, 120_000)

    it('has no other code blocks', () => { doc.done() })
  })

  it('every README under examples/ has a test here', async () => {
    const examples = await readdir(join(ROOT, 'examples'))
    expect(examples.sort()).toEqual(EXAMPLES_RUN.sort())
  })
})

/** the examples whose READMEs the tests above run */
const EXAMPLES_RUN = ['telegram-bot']

const BOT_TOKEN = '7000000002:docs-test-token'
const CHAT_ID = 4242

/**
 * The few Bot API methods long polling uses, on loopback: getMe, one update carrying `text` from a
 * private chat, then empty polls; the first sendMessage resolves `reply`.
 */
async function fakeBotApi (text: string): Promise<{ url: string, reply: Promise<Record<string, unknown>>, close(): Promise<void> }> {
  const { createServer: createHttpServer } = await import('node:http')
  let delivered = false
  let sent!: (body: Record<string, unknown>) => void
  const reply = new Promise<Record<string, unknown>>((resolve) => { sent = resolve })
  const user = { id: CHAT_ID, is_bot: false, first_name: 'Docs' }
  const server = createHttpServer((req, res) => {
    let raw = ''
    req.on('data', (d: Buffer) => { raw += d.toString() })
    req.on('end', () => {
      const method = (req.url ?? '').split('/').at(-1)!
      const body = raw === '' ? {} : JSON.parse(raw) as Record<string, unknown>
      const ok = (result: unknown): void => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ ok: true, result })) }
      const now = Math.floor(Date.now() / 1000)
      if (method === 'getMe') return ok({ id: 1, is_bot: true, first_name: 'Silk', username: 'silk_docs_bot', can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false })
      if (method === 'getUpdates') {
        if (!delivered) {
          delivered = true
          const command = text.split(' ')[0]!
          return ok([{ update_id: 1, message: { message_id: 1, date: now, chat: { id: CHAT_ID, type: 'private', first_name: 'Docs' }, from: user, text, entities: [{ type: 'bot_command', offset: 0, length: command.length }] } }])
        }
        setTimeout(() => { ok([]) }, 200)
        return
      }
      if (method === 'sendMessage') {
        sent(body)
        return ok({ message_id: 2, date: now, chat: { id: CHAT_ID, type: 'private', first_name: 'Docs' }, text: body.text })
      }
      ok(true)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    reply,
    close: async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) }
  }
}
