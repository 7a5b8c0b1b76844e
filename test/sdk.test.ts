import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNano } from '@ton/core'
import { float32Tensor, ProviderPool } from '../client/index.ts'
import { Channel } from '../contracts/index.ts'
import { CLAIM_EVERYTHING, startLocalNet, type LocalNet } from './localnet.ts'

const x = (v: number) => float32Tensor('x', [1, 64], new Array(64).fill(v))
const PRICE = 50_000n // mlp-64-10, per row

describe('the SDK handles providers and channels for the user', () => {
  let net: LocalNet
  beforeAll(async () => { net = await startLocalNet() })
  afterAll(async () => { await net?.close() })

  it('fails over to another provider when the one in use is killed, without the caller noticing', async () => {
    const a = await net.addNodeProcess()
    const b = await net.addNodeProcess()
    const { client } = await net.addClient()
    const pool = new ProviderPool(client, {
      candidates: async () => [{ address: a.address }, { address: b.address }],
      deposit: toNano('0.1'),
      retry: { minDelayMs: 10 }
    })
    const first = await pool.run('mlp-64-10', [x(1)])
    const used = first.address
    const victim = used === a.address ? a : b
    await pool.run('mlp-64-10', [x(2)])
    victim.child.kill('SIGKILL')
    const after = await pool.run('mlp-64-10', [x(3)])
    expect(after.address).not.toBe(used)
    expect(after.receipt.units).toBe(1)
    await pool.close()
  })

  it('tops the channel up when it runs low, so jobs keep going past the first deposit', async () => {
    const { node } = await net.addNode()
    const { client } = await net.addClient()
    const deposit = 4n * PRICE
    const pool = new ProviderPool(client, {
      candidates: async () => [{ address: node.addresses[0]!.toString() }],
      deposit,
      topUpBelow: 2n * PRICE,
      retry: { minDelayMs: 50, retries: 5 }
    })
    let last
    for (let i = 0; i < 8; i++) last = await pool.run('mlp-64-10', [x(i)])
    expect(last!.seqno).toBe(8)
    const provider = await client.connect(node.addresses[0]!)
    const data = (await client.channel(provider))?.data
    expect(data!.deposit).toBeGreaterThan(deposit)
    await provider.session.close()
    await pool.close()
  })

  it('closing a channel: the node claims before the delay ends, and the rest of the deposit comes back', async () => {
    // a node that claims however small the amount: this test counts nanotons, not fee economics
    const { node } = await net.addNode({ config: { watchIntervalMs: 200, claimThreshold: toNano('10').toString() }, claimPolicy: CLAIM_EVERYTHING })
    const { client, wallet } = await net.addClient()
    const provider = await client.connect(node.addresses[0]!)
    const channel = await client.openChannel(provider, toNano('1'))
    for (let i = 0; i < 3; i++) await provider.session.run('mlp-64-10', [x(i)])
    await provider.session.close()
    await client.closeChannel(channel)
    // the node notices the close and claims what its vouchers are worth
    const start = Date.now()
    let data = await net.chain.open(Channel.createFromAddress(channel)).getChannelData()
    while (data.paid < 3n * PRICE && Date.now() - start < 30_000) {
      await new Promise((resolve) => setTimeout(resolve, 200))
      data = await net.chain.open(Channel.createFromAddress(channel)).getChannelData()
    }
    expect(data.paid).toBe(3n * PRICE)
    net.devnet.chain.advanceTime(3601)
    const before = await net.chain.getBalance(wallet.address)
    await client.finishClose(channel)
    // the channel's account is gone: nothing stays stranded there
    expect((await net.chain.getContractState(channel)).state).not.toBe('active')
    const refunded = (await net.chain.getBalance(wallet.address)) - before
    expect(refunded).toBeGreaterThan(toNano('1') - 3n * PRICE - toNano('0.05'))
  })
})
