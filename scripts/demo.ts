// `npm run demo`: a whole Silk network on this machine, in plain words.
// Starts a local TON chain (process 1), deploys the contracts, sets up and starts a provider node
// (process 2) with the bundled model, then acts as a client: finds the node by address, checks it
// on chain, opens a channel, runs 20 verified, paid jobs of 64 rows, and watches the node claim its
// earnings once they are worth a claim (the node never spends more than 1 % of a claim on fees).
import '../protocol/polyfill.ts'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fromNano, toNano } from '@ton/core'
import { chainClient, devnetBaseUrl, deployRegistry, faucet, registerProvider, txHashHex, waitForTransaction, walletFromKey, walletSender } from '../chain/index.ts'
import { float32Tensor, float32Values, SilkClient } from '../client/index.ts'
import { Channel } from '../contracts/index.ts'
import { GLOBAL_IDS } from '../protocol/cells.ts'
import { readKeyFile } from '../node/keyfile.ts'
import { minEconomicClaim, type SettledPayout } from '../node/settlement.ts'

const JOBS = 20
const ROWS = 64
/**
 * The smallest claim whose fees (node gas, forward fees, the owner's receiving fee: 0.0102 TON)
 * are at most 1 % of it. The demo prices its model so that its 20 jobs add up to just that: the
 * node claims once, after the last job, and the owner keeps ~99 % of what the client paid.
 */
const ECONOMIC = minEconomicClaim()
const PRICE_PER_ROW = (ECONOMIC + BigInt(JOBS * ROWS) - 1n) / BigInt(JOBS * ROWS)
const root = new URL('..', import.meta.url).pathname
const keep = process.argv.includes('--keep')
const children: ChildProcess[] = []
const say = (line = ''): void => { process.stdout.write(line + '\n') }

/** Stops the processes newest first (the node before the chain it settles on), each fully. */
async function stopAll (): Promise<void> {
  for (const child of children.reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000))])
    child.kill('SIGKILL')
  }
}

/** Runs `silk …` as its own process; resolves with the first stdout line that `match` accepts. */
async function silk (args: string[], match: (line: string) => boolean): Promise<{ child: ChildProcess, line: string }> {
  const child = spawn(process.execPath, [join(root, 'cli/bin.js'), ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } })
  children.push(child)
  const lines = createInterface({ input: child.stdout! })
  return await new Promise((resolve, reject) => {
    child.once('exit', (code) => { reject(new Error(`silk ${args.join(' ')} exited with code ${String(code)}`)) })
    lines.on('line', (line) => { if (match(line)) resolve({ child, line }) })
  })
}

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'silk-demo-'))
  try {
    say('1. Local TON chain')
    const { line } = await silk(['devnet', '--port', '0'], (l) => l.startsWith('DEVNET_ENDPOINT='))
    const endpoint = line.slice('DEVNET_ENDPOINT='.length)
    const base = devnetBaseUrl(endpoint)
    const chain = chainClient(endpoint)
    say(`   serving the TON HTTP API at ${endpoint} (explorer: ${base}/)`)

    say('2. Contracts')
    const governor = walletFromKey(randomBytes(32))
    await faucet(base, governor.address, toNano('5'))
    const registry = await deployRegistry(chain, governor, { globalId: GLOBAL_IDS.local, feeBps: 250, minStake: toNano('10'), closeDelay: 3600 })
    say(`   Registry deployed at ${registry.address.toString()} (protocol fee 2.5 %, minimum stake 10 TON)`)

    say('3. Provider node')
    const owner = walletFromKey(randomBytes(32))
    await faucet(base, owner.address, toNano('50'))
    const nodeDir = join(dir, 'node')
    // the bundled model at a demo price (the price is not part of the model's identity)
    const models = join(dir, 'models')
    await cp(join(root, 'models', 'mlp'), join(models, 'mlp'), { recursive: true })
    const manifestFile = join(models, 'mlp', 'manifest.json')
    await writeFile(manifestFile, JSON.stringify({ ...JSON.parse(await readFile(manifestFile, 'utf8')), pricePerUnit: PRICE_PER_ROW.toString() }, null, 2))
    await silk(['node', 'init', '--dir', nodeDir, '--owner', owner.address.toString(), '--registry', registry.address.toString(),
      '--endpoint', endpoint, '--network', 'local', '--models', models, '--listen', '/ip4/127.0.0.1/tcp/0',
      '--claim-threshold', fromNano(ECONOMIC)], (l) => l.startsWith('provider:'))
    say(`   claim threshold ${fromNano(ECONOMIC)} TON: the least a claim must move for its fees to stay within 1 %`)
    const identity = await readKeyFile(join(nodeDir, 'node.key'))
    // no admin port in the demo (a fixed port could be taken); quiet logs unless DEMO_LOG says otherwise
    const configFile = join(nodeDir, 'config.json')
    await writeFile(configFile, JSON.stringify({ ...JSON.parse(await readFile(configFile, 'utf8')), admin: undefined, logLevel: process.env.DEMO_LOG ?? 'warn' }, null, 2))
    await registerProvider(chain, registry.address, owner, identity.keyPair, toNano('10'), GLOBAL_IDS.local)
    await faucet(base, walletFromKey(identity.keyPair).address, toNano('1'))
    say(`   node ${identity.peerId.toString()} staked 10 TON from its owner ${owner.address.toString()}`)
    const started = await silk(['node', 'start', '--config', join(nodeDir, 'config.json')], (l) => l.includes('"listening"'))
    const nodeAddr = (JSON.parse(started.line) as { addresses: string[] }).addresses[0]!
    say(`   node process ${started.child.pid} listening on ${nodeAddr}`)

    say('4. Client')
    const clientWallet = walletFromKey(randomBytes(32))
    await faucet(base, clientWallet.address, toNano('10'))
    const client = new SilkClient({
      network: 'local',
      chain,
      registry: registry.address,
      wallet: { address: clientWallet.address, sender: walletSender(chain, clientWallet) },
      clientKey: clientWallet.keyPair
    })
    await client.start()
    const provider = await client.connect(nodeAddr)
    say(`   checked on chain: Provider ${provider.provider.toString()} holds this peer's key and ${fromNano(provider.stake)} TON of stake`)
    const channel = await client.openChannel(provider, toNano('2'))
    say(`   opened payment channel ${channel.toString()} with 2 TON`)
    const balanceBefore = await chain.getBalance(owner.address)

    say(`5. ${JOBS} paid jobs on mlp-64-10, ${ROWS} rows each at ${fromNano(PRICE_PER_ROW)} TON a row`)
    for (let i = 1; i <= JOBS; i++) {
      const x = float32Tensor('x', [ROWS, 64], Array.from({ length: ROWS * 64 }, (_, k) => Math.sin(i * 31 + k)))
      const res = await provider.session.run('mlp-64-10', [x])
      // the class of the first row (each row gets its own 10 scores)
      const y = Array.from(float32Values(res.outputs[0]!)).slice(0, 10)
      const best = y.indexOf(Math.max(...y))
      say(`   job ${String(i).padStart(2)}: row 1 is class ${best}  receipt ${res.receiptCell.hash().toString('hex').slice(0, 16)}… verified (node signature, model, input and output hashes)  paid ${fromNano(res.cost)} TON, voucher #${res.seqno}`)
    }
    const total = provider.session.paid.amount

    say('6. Settlement on chain')
    const payout = await waitForTransaction(chain, owner.address, (tx) => tx.inMessage?.info.src?.toString() === channel.toString(), { timeoutMs: 60_000 })
    const claimTx = await waitForTransaction(chain, channel, (tx) => tx.outMessages.values().some((m) => m.info.dest?.toString() === owner.address.toString()))
    const onChain = await chain.open(Channel.createFromAddress(channel)).getChannelData()
    const balanceAfter = await chain.getBalance(owner.address)
    say(`   the node claimed voucher #${onChain.seqno}: ${fromNano(onChain.paid)} TON of ${fromNano(total)} TON owed`)
    say(`   claim transaction ${txHashHex(claimTx)}`)
    say(`   view it: ${base}/tx/${txHashHex(claimTx)}`)
    say(`   payout to the owner: ${txHashHex(payout)} (protocol fee 2.5 % to the Registry)`)
    say(`   owner balance: ${fromNano(balanceBefore)} TON before, ${fromNano(balanceAfter)} TON after`)
    if (onChain.paid !== total || balanceAfter <= balanceBefore) throw new Error('the claim did not settle what was paid')
    // what `silk payouts` shows: what the owner's wallet kept, net of every fee
    const shown = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [join(root, 'cli/bin.js'), 'payouts', '--config', configFile], { stdio: ['ignore', 'pipe', 'inherit'] })
      let text = ''
      child.stdout.on('data', (chunk: Buffer) => { text += chunk.toString() })
      child.once('exit', (code) => { code === 0 ? resolve(text) : reject(new Error(`silk payouts exited with ${String(code)}`)) })
    })
    say('   silk payouts:')
    for (const line of shown.trimEnd().split('\n')) say(`     ${line}`)
    const records = JSON.parse(`[${(await readFile(join(nodeDir, 'data', 'payouts.jsonl'), 'utf8')).trim().split('\n').join(',')}]`) as SettledPayout[]
    const received = records.reduce((sum, r) => sum + BigInt(r.received ?? '0'), 0n)
    say(`   the owner kept ${fromNano(received)} TON of the ${fromNano(total)} TON the client paid (${(Number(received * 10_000n / total) / 100).toFixed(2)} %)`)

    await provider.session.close()
    await client.stop()
    if (keep) {
      say(`\nThe chain keeps running (--keep): ${base}/   Ctrl-C to stop.`)
      await new Promise(() => {})
    }
    say(`\nDone: ${JOBS} verified jobs, paid with vouchers, settled in one economic claim on chain.`)
  } finally {
    if (!keep) {
      await stopAll()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

main().then(() => process.exit(0), (err: Error) => {
  process.stderr.write(`demo failed: ${err.stack ?? err.message}\n`)
  void stopAll().then(() => process.exit(1))
})
