import { spawn, type ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNano } from '@ton/core'
import { faucet, registerProvider, walletFromKey } from '../chain/index.ts'
import { ConnectionError, float32Tensor } from '../client/index.ts'
import { Channel } from '../contracts/index.ts'
import { createKeyFile } from '../node/keyfile.ts'
import { MIN_STAKE, MODELS_DIR, startLocalNet, wallet, type LocalNet } from './localnet.ts'

const x = (v: number) => float32Tensor('x', [64, 64], new Array(64 * 64).fill(v))
const CLI = new URL('../cli/bin.js', import.meta.url).pathname

/** Starts `silk node start` as a real process; resolves with its addresses once it listens. */
async function startNodeProcess (config: string): Promise<{ child: ChildProcess, address: string, admin: string }> {
  const child = spawn(process.execPath, [CLI, 'node', 'start', '--config', config], { stdio: ['ignore', 'pipe', 'ignore'] })
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

describe('a node killed with SIGKILL mid-job', () => {
  let net: LocalNet
  const children: ChildProcess[] = []
  beforeAll(async () => { net = await startLocalNet() })
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL')
    await net?.close()
  })

  it('restarts with every acknowledged voucher, resumes the client, and claims exactly what it is owed', async () => {
    const dir = join(net.dir, 'crash-node')
    const identity = await createKeyFile(join(dir, 'node.key'))
    const owner = await wallet(net.devnet, toNano('50'))
    await registerProvider(net.chain, net.registry, owner, identity.keyPair.publicKey, MIN_STAKE)
    await faucet(net.devnet.baseUrl, walletFromKey(identity.keyPair).address, toNano('5'))
    const config = join(dir, 'config.json')
    await writeFile(config, JSON.stringify({
      keyFile: 'node.key',
      providerOwner: owner.address.toString(),
      chain: { network: 'local', endpoint: net.devnet.endpoint, registry: net.registry.toString() },
      modelsDir: MODELS_DIR,
      dataDir: 'data',
      listen: ['/ip4/127.0.0.1/tcp/0'],
      claimThreshold: toNano('100').toString(),
      admin: { port: 0 },
      logLevel: 'warn'
    }))

    let node = await startNodeProcess(config)
    children.push(node.child)
    const { client } = await net.addClient()
    let provider = await client.connect(node.address)
    const channel = await client.openChannel(provider, toNano('1'))
    for (let i = 0; i < 5; i++) await provider.session.run('mlp-64-10', [x(i)])
    const paid = provider.session.paid

    const inFlight = provider.session.run('mlp-64-10', [x(99)])
    node.child.kill('SIGKILL')
    await expect(inFlight).rejects.toBeInstanceOf(ConnectionError)

    node = await startNodeProcess(config)
    children.push(node.child)
    provider = await client.connect(node.address)
    await provider.session.bind(channel)
    expect(provider.session.paid).toEqual(paid) // the node remembered all five vouchers
    await provider.session.run('mlp-64-10', [x(6)])
    const total = provider.session.paid.amount

    const res = await fetch(`${node.admin}/claim`, { method: 'POST' })
    const body = await res.json() as { payouts: Array<{ amount: string }> }
    expect(body.payouts.map((p) => BigInt(p.amount))).toEqual([total])
    const onChain = await net.chain.open(Channel.createFromAddress(channel)).getChannelData()
    expect(onChain.paid).toBe(total)
    expect(onChain.seqno).toBe(6)
    await provider.session.close()
  })
})
