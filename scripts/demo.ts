// `npm run demo`: a whole Silk network on this machine, in plain words.
// Starts a local TON chain (process 1), deploys the contracts, sets up and starts a provider node
// (process 2) with the bundled model, then acts as a client: finds the node by address, checks it
// on chain, opens a channel, runs 20 verified, paid jobs of 64 rows, and watches the node claim its
// earnings once they are worth a claim (the node never spends more than 1 % of a claim on fees).
// Then it accounts for every nanoton of that claim from the chain's own transactions.
// Ctrl-C (SIGINT) or SIGTERM at any point stops both processes and deletes the working folder,
// which holds the node's key.
import '../protocol/polyfill.ts'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fromNano, toNano, type Address, type Transaction } from '@ton/core'
import { mnemonicNew, mnemonicToPrivateKey } from '@ton/crypto'
import { chainClient, devnetBaseUrl, deployRegistry, faucet, registerProvider, txHashHex, waitForTransaction, walletFromKey, walletSender } from '../chain/index.ts'
import { shown } from '../cli/common.ts'
import { float32Tensor, float32Values, SilkClient } from '../client/index.ts'
import { Channel, Op } from '../contracts/index.ts'
import { GLOBAL_IDS } from '../protocol/cells.ts'
import { readKeyFile } from '../node/keyfile.ts'
import { minEconomicClaim, type SettledPayout } from '../node/settlement.ts'
import { claimLedger, opOf } from './claim-ledger.ts'

const JOBS = 20
const ROWS = 64
const FEE_BPS = 250
const GAS_FUNDING = toNano('1')
/**
 * The smallest claim whose fees (node gas, forward fees, the owner's receiving fee: 0.0102 TON)
 * are at most 1 % of it. The demo prices its model so that its 20 jobs add up to just that: the
 * node claims once, after the last job; the owner keeps what is left after the Registry's 2.5 %
 * protocol fee and its wallet's receiving fee (~97.5 %), and the node's gas wallet pays the rest.
 */
const ECONOMIC = minEconomicClaim()
const PRICE_PER_ROW = (ECONOMIC + BigInt(JOBS * ROWS) - 1n) / BigInt(JOBS * ROWS)
const root = new URL('..', import.meta.url).pathname
const keep = process.argv.includes('--keep')
const children: ChildProcess[] = []
const say = (line = ''): void => { process.stdout.write(line + '\n') }
/** Addresses as the explorer shows them: wallets non-bounceable, contracts bounceable, testOnly (a local chain). */
const wallet = (a: Address): string => shown(a, 'local', 'wallet')
const contract = (a: Address): string => shown(a, 'local', 'contract')

type DemoState = { phase: 'running' } | { phase: 'stopping', signal: NodeJS.Signals | null }
let state: DemoState = { phase: 'running' }
let workDir: string | undefined
let cleanup: Promise<void> | undefined

/** Stops the processes newest first (the node before the chain it settles on), each fully. */
async function stopAll (): Promise<void> {
  for (const child of [...children].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 20_000)
    await exited
    clearTimeout(timer)
  }
}

/** Stops every child and deletes the working folder (the node's key is in it); once, however often called. */
async function cleanUp (): Promise<void> {
  cleanup ??= (async () => {
    await stopAll()
    if (workDir !== undefined) await rm(workDir, { recursive: true, force: true })
  })()
  await cleanup
}

function onSignal (signal: NodeJS.Signals): void {
  if (state.phase === 'stopping') return
  state = { phase: 'stopping', signal }
  process.stderr.write(`\n${signal}: stopping the node and the chain, deleting ${workDir ?? 'the working folder'}\n`)
  void cleanUp().then(() => process.exit(signal === 'SIGINT' ? 130 : 143))
}
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)

function track (child: ChildProcess): ChildProcess {
  children.push(child)
  // a child started while the demo stops (the signal came during spawn) is stopped at once
  if (state.phase === 'stopping') child.kill('SIGTERM')
  return child
}

/** Runs `silk …` as its own process; resolves with the first stdout line that `match` accepts. */
async function silk (args: string[], match: (line: string) => boolean): Promise<{ child: ChildProcess, line: string }> {
  const child = track(spawn(process.execPath, [join(root, 'cli/bin.js'), ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } }))
  const lines = createInterface({ input: child.stdout! })
  return await new Promise((resolve, reject) => {
    child.once('exit', (code) => { reject(new Error(`silk ${args.join(' ')} exited with code ${String(code)}`)) })
    lines.on('line', (line) => { if (match(line)) resolve({ child, line }) })
  })
}

/** Runs `silk …` to its end; resolves with its stdout. */
async function silkOutput (args: string[]): Promise<string> {
  const child = track(spawn(process.execPath, [join(root, 'cli/bin.js'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] }))
  let text = ''
  child.stdout!.on('data', (chunk: Buffer) => { text += chunk.toString() })
  return await new Promise((resolve, reject) => {
    child.once('exit', (code) => { code === 0 ? resolve(text) : reject(new Error(`silk ${args.join(' ')} exited with ${String(code)}`)) })
  })
}

const from = (a: Address) => (tx: Transaction): boolean => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.src.equals(a)

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'silk-demo-'))
  workDir = dir
  say(`0. Working folder ${dir} (the node's key and config; deleted when the demo ends or on Ctrl-C)`)
  say('1. Local TON chain')
  const { child: devnetChild, line } = await silk(['devnet', '--port', '0'], (l) => l.startsWith('DEVNET_ENDPOINT='))
  const endpoint = line.slice('DEVNET_ENDPOINT='.length)
  const base = devnetBaseUrl(endpoint)
  const chain = chainClient(endpoint)
  const link = (tx: Transaction): string => `${base}/tx/${txHashHex(tx)}`
  say(`   chain process ${devnetChild.pid} serving the TON HTTP API at ${endpoint} (explorer: ${base}/)`)

  say('2. Contracts')
  const governor = walletFromKey(randomBytes(32))
  await faucet(base, governor.address, toNano('5'))
  const registry = await deployRegistry(chain, governor, { globalId: GLOBAL_IDS.local, feeBps: FEE_BPS, minStake: toNano('10'), closeDelay: 3600 })
  say(`   Registry deployed at ${contract(registry.address)} (protocol fee ${FEE_BPS / 100} %, minimum stake 10 TON)`)

  say('3. Provider node')
  const owner = walletFromKey(randomBytes(32))
  await faucet(base, owner.address, toNano('50'))
  const nodeDir = join(dir, 'node')
  // the bundled model at a demo price (the price is not part of the model's identity)
  const models = join(dir, 'models')
  await cp(join(root, 'models', 'mlp'), join(models, 'mlp'), { recursive: true })
  const manifestFile = join(models, 'mlp', 'manifest.json')
  await writeFile(manifestFile, JSON.stringify({ ...JSON.parse(await readFile(manifestFile, 'utf8')), pricePerUnit: PRICE_PER_ROW.toString() }, null, 2))
  // with --keep the node also serves the bundled chat model, so the gateway printed at the end has something to serve
  if (keep) await cp(join(root, 'models', 'tiny-chat'), join(models, 'tiny-chat'), { recursive: true })
  await silk(['node', 'init', '--dir', nodeDir, '--owner', wallet(owner.address), '--registry', contract(registry.address),
    '--endpoint', endpoint, '--network', 'local', '--models', models, '--listen', '/ip4/127.0.0.1/tcp/0',
    '--claim-threshold', fromNano(ECONOMIC)], (l) => l.startsWith('provider:'))
  say(`   claim threshold ${fromNano(ECONOMIC)} TON: the least a claim must move for its fees to stay within 1 %`)
  const identity = await readKeyFile(join(nodeDir, 'node.key'))
  // no admin port in the demo (a fixed port could be taken); quiet logs unless DEMO_LOG says otherwise
  const configFile = join(nodeDir, 'config.json')
  await writeFile(configFile, JSON.stringify({ ...JSON.parse(await readFile(configFile, 'utf8')), admin: undefined, logLevel: process.env.DEMO_LOG ?? 'warn' }, null, 2))
  const provider = await registerProvider(chain, registry.address, owner, identity.keyPair, toNano('10'), GLOBAL_IDS.local)
  const gasWallet = walletFromKey(identity.keyPair).address
  await faucet(base, gasWallet, GAS_FUNDING)
  say(`   node ${identity.peerId.toString()} staked 10 TON from its owner ${wallet(owner.address)}`)
  say(`   its Provider contract ${contract(provider.address)}; its gas wallet ${wallet(gasWallet)} got ${fromNano(GAS_FUNDING)} TON for claim fees`)
  const started = await silk(['node', 'start', '--config', configFile], (l) => l.includes('"listening"'))
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
  const peer = await client.connect(nodeAddr)
  say(`   client wallet ${wallet(clientWallet.address)}`)
  say(`   checked on chain: Provider ${contract(peer.provider)} holds this peer's key and ${fromNano(peer.stake)} TON of stake`)
  const channel = await client.openChannel(peer, toNano('2'))
  say(`   opened payment channel ${contract(channel)} with 2 TON`)
  const balanceBefore = await chain.getBalance(owner.address)

  say(`5. ${JOBS} paid jobs on mlp-64-10, ${ROWS} rows each at ${fromNano(PRICE_PER_ROW)} TON a row`)
  let costs = 0n
  for (let i = 1; i <= JOBS; i++) {
    const x = float32Tensor('x', [ROWS, 64], Array.from({ length: ROWS * 64 }, (_, k) => Math.sin(i * 31 + k)))
    const res = await peer.session.run('mlp-64-10', [x])
    costs += res.cost
    // the class of the first row (each row gets its own 10 scores)
    const y = Array.from(float32Values(res.outputs[0]!)).slice(0, 10)
    const best = y.indexOf(Math.max(...y))
    say(`   job ${String(i).padStart(2)}: row 1 is class ${best}  receipt ${res.receiptCell.hash().toString('hex').slice(0, 16)}… verified (node signature, model, input and output hashes)  paid ${fromNano(res.cost)} TON, voucher #${res.seqno}`)
  }
  const total = peer.session.paid.amount

  say('6. Settlement on chain: where every nanoton of the claim went (read from the transactions)')
  const claimTx = await waitForTransaction(chain, channel, (tx) => opOf(tx) === Op.claim && from(gasWallet)(tx), { timeoutMs: 60_000 })
  const payoutTx = await waitForTransaction(chain, owner.address, (tx) => from(channel)(tx) && opOf(tx) === Op.payout)
  const feeTx = await waitForTransaction(chain, registry.address, (tx) => from(channel)(tx) && opOf(tx) === Op.protocolFee)
  const excessTx = await waitForTransaction(chain, gasWallet, (tx) => from(channel)(tx) && opOf(tx) === Op.excesses)
  const claimLt = claimTx.inMessage?.info.type === 'internal' ? claimTx.inMessage.info.createdLt : -1n
  const sendTx = await waitForTransaction(chain, gasWallet, (tx) => tx.inMessage?.info.type === 'external-in' &&
    [...tx.outMessages.values()].some((m) => m.info.type === 'internal' && m.info.createdLt === claimLt))
  const ledger = claimLedger({ send: sendTx, claim: claimTx, payout: payoutTx, protocolFee: feeTx, excesses: excessTx })
  const onChain = await chain.open(Channel.createFromAddress(channel)).getChannelData()
  const balanceAfter = await chain.getBalance(owner.address)
  const gasBalance = await chain.getBalance(gasWallet)
  const priced = BigInt(JOBS * ROWS) * PRICE_PER_ROW
  say(`   the node's gas wallet claimed voucher #${onChain.seqno}: ${fromNano(onChain.paid)} TON of ${fromNano(total)} TON owed`)
  say(`   claim transaction:  ${link(claimTx)}`)
  say(`   payout transaction: ${link(payoutTx)}`)
  const row = (sign: string, n: bigint, what: string): void => { say(`   ${sign} ${n.toString().padStart(11)} nanoton  ${what}`) }
  row(' ', ledger.claimed, `claimed: ${JOBS} jobs × ${ROWS} rows × ${PRICE_PER_ROW} nanoton a row, paid by the client from channel ${contract(channel)}`)
  row('−', ledger.protocolFee, `protocol fee ${FEE_BPS / 100} % to the Registry ${contract(registry.address)}`)
  row('=', ledger.payout, `payout sent to the owner ${wallet(owner.address)}`)
  row('−', ledger.receivingFee, 'the owner\'s receiving fee: its wallet\'s own transaction taking the payout in')
  row('=', ledger.ownerGain, `what the owner's balance rose by: ${fromNano(balanceBefore)} → ${fromNano(balanceAfter)} TON`)
  say(`   The node's gas wallet ${wallet(gasWallet)} paid for the claim from its own ${fromNano(GAS_FUNDING)} TON, not from the payout:`)
  row(' ', ledger.gas.sendFees, `its transaction sending the claim (this first one also deployed the wallet): ${link(sendTx)}`)
  row('+', ledger.gas.forwardFee, 'the claim message\'s forward fee')
  row('+', ledger.gas.claimValue - ledger.gas.excesses, `claim gas the channel used (${fromNano(ledger.gas.claimValue)} TON sent with the claim, ${fromNano(ledger.gas.excesses)} TON came back as excesses)`)
  row('+', ledger.gas.excessesFees, `its transaction taking the excesses in: ${link(excessTx)}`)
  row('=', ledger.gas.total, `what the gas wallet's balance fell by: ${fromNano(GAS_FUNDING)} → ${fromNano(gasBalance)} TON`)
  say(`   The Registry kept ${fromNano(ledger.registryGain)} TON of the protocol fee after its own receiving fee of ${fromNano(ledger.protocolFee - ledger.registryGain)} TON: ${link(feeTx)}`)
  // the numbers above come from the transactions; they must agree with the balances and the vouchers
  const checks: Array<[string, boolean]> = [
    ['price × jobs = what the client paid', priced === total && costs === total],
    ['what the client paid = what the channel paid out', onChain.paid === total && ledger.claimed === total],
    ['the owner\'s balance rose by payout − receiving fee', balanceAfter - balanceBefore === ledger.ownerGain && ledger.ownerGain === ledger.payout - ledger.receivingFee],
    ['the gas wallet\'s balance fell by its fees', GAS_FUNDING - gasBalance === ledger.gas.total]
  ]
  for (const [what, ok] of checks) if (!ok) throw new Error(`the claim does not add up: ${what}`)
  say(`   checked to the nanoton: ${checks.map(([what]) => what).join('; ')}`)
  // what `silk payouts` shows: what the owner's wallet kept, net of every fee
  const shownPayouts = await silkOutput(['payouts', '--config', configFile])
  say('   silk payouts:')
  for (const l of shownPayouts.trimEnd().split('\n')) say(`     ${l}`)
  const records = JSON.parse(`[${(await readFile(join(nodeDir, 'data', 'payouts.jsonl'), 'utf8')).trim().split('\n').join(',')}]`) as SettledPayout[]
  const received = records.reduce((sum, r) => sum + BigInt(r.received ?? '0'), 0n)
  const recordedGas = records.reduce((sum, r) => sum + BigInt(r.claimFees ?? '0'), 0n)
  if (recordedGas !== ledger.gas.total) throw new Error(`silk payouts records ${recordedGas} nanoton of claim fees; the gas wallet spent ${ledger.gas.total}`)
  say(`   the owner kept ${fromNano(received)} TON of the ${fromNano(total)} TON the client paid (${(Number(received * 10_000n / total) / 100).toFixed(2)} %)`)

  await peer.session.close()
  await client.stop()
  if (keep) {
    const gatewayConfig = await gatewayFiles(dir, base, endpoint, registry.address, nodeAddr)
    say(`\nThe chain and the node keep running (--keep). Explorer: ${base}/`)
    say(`   node config: ${configFile}`)
    say('   try, in another terminal:')
    say(`     npx silk node status --config ${configFile}`)
    say(`     npx silk payouts --config ${configFile}`)
    say(`     npx silk gateway --config ${gatewayConfig.config} --mnemonic-file ${gatewayConfig.words} --wallet v4 --port 0   # an OpenAI API for tiny-chat, paying this node from a funded client wallet`)
    say(`     npx silk devnet faucet <address> 20 --endpoint ${endpoint}`)
    say(`   Ctrl-C stops the node and the chain and deletes ${dir} (it holds node.key).`)
    await new Promise(() => {})
  }
  say(`\nDone: ${JOBS} verified jobs, paid with vouchers, settled in one economic claim on chain.`)
}

/** A funded client wallet (its words, mode 0600) and a gateway config pointing at this node, for `--keep`. */
async function gatewayFiles (dir: string, base: string, endpoint: string, registry: Address, nodeAddr: string): Promise<{ config: string, words: string }> {
  const mnemonic = await mnemonicNew()
  const w = walletFromKey(await mnemonicToPrivateKey(mnemonic))
  await faucet(base, w.address, toNano('5'))
  const words = join(dir, 'client.words')
  await writeFile(words, mnemonic.join(' ') + '\n', { mode: 0o600 })
  await chmod(words, 0o600)
  const config = join(dir, 'gateway.json')
  await writeFile(config, JSON.stringify({ chain: { network: 'local', endpoint, registry: contract(registry) }, providers: [nodeAddr], deposit: '500000000' }, null, 2))
  return { config, words }
}

main().then(async () => {
  await cleanUp()
  if (state.phase === 'running') process.exit(0)
}, async (err: Error) => {
  // a child that went down with the Ctrl-C (it reaches the whole process group) is no failure
  if (state.phase === 'running') process.stderr.write(`demo failed: ${err.stack ?? err.message}\n`)
  await cleanUp()
  if (state.phase === 'running') process.exit(1)
})
