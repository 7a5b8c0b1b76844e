import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, describe, expect, it } from 'vitest'
import { Address } from '@ton/core'

// `npm run demo` as a user runs it: its own process, read line by line; interrupted as with Ctrl-C.

const ROOT = new URL('..', import.meta.url).pathname
const CLI = join(ROOT, 'cli/bin.js')

interface Demo {
  child: ChildProcess
  lines: string[]
  /** resolves with the first line (old or new) that matches */
  waitFor: (re: RegExp) => Promise<RegExpMatchArray>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

const running: ChildProcess[] = []
afterAll(() => { for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL') })

function startDemo (args: string[] = []): Demo {
  // node itself (not npm or the tsx wrapper) so the signal reaches the demo alone, as `kill -INT <pid>` would
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/demo.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  running.push(child)
  const lines: string[] = []
  const waiters: Array<{ re: RegExp, resolve: (m: RegExpMatchArray) => void }> = []
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => { child.once('exit', (code, signal) => { resolve({ code, signal }) }) })
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line)
    for (const w of [...waiters]) {
      const m = line.match(w.re)
      if (m !== null) { waiters.splice(waiters.indexOf(w), 1); w.resolve(m) }
    }
  })
  child.stderr!.on('data', () => {})
  const waitFor = async (re: RegExp): Promise<RegExpMatchArray> => {
    for (const l of lines) { const m = l.match(re); if (m !== null) return m }
    return await Promise.race([
      new Promise<RegExpMatchArray>((resolve) => { waiters.push({ re, resolve }) }),
      exited.then(({ code }) => { throw new Error(`the demo exited (${String(code)}) before printing ${re}; it printed:\n${lines.join('\n')}`) })
    ])
  }
  return { child, lines, waitFor, exited }
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const silk = async (args: string[]): Promise<{ code: number, stdout: string }> => await new Promise((resolve) => {
  execFile(process.execPath, [CLI, ...args], (err, stdout) => {
    resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout })
  })
})

/** The nanoton of a ledger row: `   − 25500000 nanoton  protocol fee …` */
function row (lines: string[], what: RegExp): bigint {
  const line = lines.find((l) => /^\s+[ −+=]\s+\d+ nanoton {2}/.test(l) && what.test(l))
  if (line === undefined) throw new Error(`no ledger row ${what}`)
  return BigInt(line.match(/(\d+) nanoton/)![1]!)
}

describe('npm run demo', () => {
  it('Ctrl-C in the middle stops the chain and the node and deletes the working folder with node.key', async () => {
    const demo = startDemo()
    const dir = (await demo.waitFor(/^0\. Working folder (\S+)/))[1]!
    const chainPid = Number((await demo.waitFor(/chain process (\d+)/))[1])
    const nodePid = Number((await demo.waitFor(/node process (\d+) listening/))[1])
    expect(existsSync(join(dir, 'node', 'node.key'))).toBe(true)
    expect(alive(chainPid) && alive(nodePid)).toBe(true)
    demo.child.kill('SIGINT')
    expect(await demo.exited).toEqual({ code: 130, signal: null })
    expect(alive(nodePid)).toBe(false)
    expect(alive(chainPid)).toBe(false)
    expect(existsSync(dir)).toBe(false)
  }, 120_000)

  describe('--keep: the whole run, then the network stays up', () => {
    let demo: Demo
    let lines: string[]

    it('accounts for every nanoton of the claim, and the parts add up', async () => {
      demo = startDemo(['--keep'])
      await demo.waitFor(/^The chain and the node keep running/)
      lines = demo.lines
      const claimed = row(lines, /claimed: 20 jobs × 64 rows × (\d+) nanoton a row/)
      const price = BigInt(lines.join('\n').match(/× (\d+) nanoton a row/)![1]!)
      expect(claimed).toBe(20n * 64n * price)
      const fee = row(lines, /protocol fee 2\.5 % to the Registry/)
      expect(fee).toBe(claimed * 250n / 10_000n)
      const payout = row(lines, /payout sent to the owner/)
      expect(payout).toBe(claimed - fee)
      const receiving = row(lines, /the owner's receiving fee/)
      expect(receiving).toBeGreaterThan(0n)
      const rose = row(lines, /what the owner's balance rose by/)
      expect(rose).toBe(payout - receiving)
      const gasParts = [/its transaction sending the claim/, /forward fee/, /claim gas the channel used/, /taking the excesses in/].map((re) => row(lines, re))
      expect(gasParts.every((g) => g > 0n)).toBe(true)
      expect(row(lines, /what the gas wallet's balance fell by/)).toBe(gasParts.reduce((a, b) => a + b, 0n))
      // the owner's balances printed before and after, in TON, differ by exactly that rise
      const [before, after] = lines.find((l) => /what the owner's balance rose by/.test(l))!.match(/([\d.]+) → ([\d.]+) TON/)!.slice(1).map((t) => BigInt(Math.round(Number(t) * 1e9)))
      expect(after! - before!).toBe(rose)
    }, 150_000)

    it('links the claim and the payout transactions on the explorer', async () => {
      const claim = (await demo.waitFor(/claim transaction: +(http:\S+)/))[1]!
      const payout = (await demo.waitFor(/payout transaction: +(http:\S+)/))[1]!
      const claimTx = (await (await fetch(`${claim}?format=json`)).json()) as { result: { outMessages: Array<{ value: string, destination: string }> } }
      const payoutTx = (await (await fetch(`${payout}?format=json`)).json()) as { result: { account: string, inMessage: { value: string } } }
      expect(BigInt(payoutTx.result.inMessage.value)).toBe(row(lines, /payout sent to the owner/))
      expect(claimTx.result.outMessages.map((m) => m.destination)).toContain(payoutTx.result.account)
    })

    it('prints addresses as the explorer shows them: wallets non-bounceable, contracts bounceable, testOnly', () => {
      const owner = lines.join('\n').match(/payout sent to the owner (\S+)/)![1]!
      const registry = lines.join('\n').match(/to the Registry (\S+)/)![1]!
      const o = Address.parseFriendly(owner)
      const r = Address.parseFriendly(registry)
      expect([o.isBounceable, o.isTestOnly]).toEqual([false, true])
      expect([r.isBounceable, r.isTestOnly]).toEqual([true, true])
    })

    it('prints the node config and next commands that work as printed', async () => {
      const config = (await demo.waitFor(/node config: (\S+)/))[1]!
      expect(JSON.parse(await readFile(config, 'utf8'))).toHaveProperty('chain')
      const commands = lines.filter((l) => /^ {5}npx silk /.test(l)).map((l) => l.trim().replace(/\s+#.*$/, ''))
      expect(commands.map((c) => c.split(' --')[0])).toEqual(['npx silk node status', 'npx silk payouts', 'npx silk gateway', 'npx silk devnet faucet <address> 20'])
      const status = await silk(commands[0]!.split(' ').slice(2))
      expect(status.code).toBe(0)
      expect(status.stdout).toMatch(/claimed/)
      const payouts = await silk(commands[1]!.split(' ').slice(2))
      expect(payouts.code).toBe(0)
      expect(payouts.stdout).toMatch(/owner received/)
      // the gateway starts with the funded client wallet and config the demo wrote
      const gw = spawn(process.execPath, [CLI, ...commands[2]!.split(' ').slice(2)], { stdio: ['ignore', 'pipe', 'pipe'] })
      running.push(gw)
      const url = await new Promise<string>((resolve, reject) => {
        gw.once('exit', (code) => { reject(new Error(`silk gateway exited with ${String(code)}`)) })
        createInterface({ input: gw.stdout! }).on('line', (l) => { if (l.includes('"listening"')) resolve((JSON.parse(l) as { url: string }).url) })
      })
      const models = await (await fetch(`${url}/v1/models`)).json() as { data: Array<{ id: string }> }
      expect(models.data.map((m) => m.id)).toEqual(['tiny-chat'])
      const chat = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny-chat', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4 }) })
      expect(chat.status).toBe(200)
      expect((await chat.json() as { silk: { receipt: string } }).silk.receipt).toMatch(/^[0-9a-f]{64}$/)
      gw.kill('SIGTERM')
    }, 60_000)

    it('SIGTERM then stops both processes and deletes the working folder', async () => {
      const dir = (await demo.waitFor(/^0\. Working folder (\S+)/))[1]!
      const pids = [/chain process (\d+)/, /node process (\d+) listening/].map((re) => Number(lines.join('\n').match(re)![1]))
      demo.child.kill('SIGTERM')
      expect(await demo.exited).toEqual({ code: 143, signal: null })
      expect(pids.map(alive)).toEqual([false, false])
      expect(existsSync(dir)).toBe(false)
    })
  })
})
