import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNano } from '@ton/core'
import { ConnectionError, float32Tensor } from '../client/index.ts'
import { Channel } from '../contracts/index.ts'
import { startLocalNet, type LocalNet } from './localnet.ts'

const x = (v: number) => float32Tensor('x', [64, 64], new Array(64 * 64).fill(v))
// POST /claim needs the admin token; a fee share of 100 % makes these small claims (≥ 0.0128 TON) economic
const ADMIN_TOKEN = 'crash-test-admin-token-0123'
const NODE = { claimThreshold: toNano('100').toString(), claimMaxFeeBps: 10_000, admin: { port: 0, token: ADMIN_TOKEN } }
const claimNow = { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }

describe('a node killed with SIGKILL mid-job', () => {
  let net: LocalNet
  beforeAll(async () => { net = await startLocalNet() })
  afterAll(async () => { await net?.close() })

  it('restarts with every acknowledged voucher, resumes the client, and claims exactly what it is owed', async () => {
    let node = await net.addNodeProcess(NODE)
    const { client } = await net.addClient()
    let provider = await client.connect(node.address)
    const channel = await client.openChannel(provider, toNano('1'))
    for (let i = 0; i < 5; i++) await provider.session.run('mlp-64-10', [x(i)])
    const paid = provider.session.paid

    const inFlight = provider.session.run('mlp-64-10', [x(99)])
    node.child.kill('SIGKILL')
    await expect(inFlight).rejects.toBeInstanceOf(ConnectionError)

    node = await node.restart()
    provider = await client.connect(node.address)
    await provider.session.bind(channel)
    expect(provider.session.paid).toEqual(paid) // the node remembered all five vouchers
    await provider.session.run('mlp-64-10', [x(6)])
    const total = provider.session.paid.amount

    const res = await fetch(`${node.admin}/claim`, claimNow)
    const body = await res.json() as { payouts: Array<{ amount: string }> }
    expect(body.payouts.map((p) => BigInt(p.amount))).toEqual([total])
    const onChain = await net.chain.open(Channel.createFromAddress(channel)).getChannelData()
    expect(onChain.paid).toBe(total)
    expect(onChain.seqno).toBe(6)
    await provider.session.close()
  })

  it('killed while claiming, then restarted: no voucher lost and no double claim', async () => {
    let node = await net.addNodeProcess({ ...NODE, claimOnShutdown: false })
    const { client } = await net.addClient()
    const provider = await client.connect(node.address)
    const channel = await client.openChannel(provider, toNano('1'))
    for (let i = 0; i < 4; i++) await provider.session.run('mlp-64-10', [x(i)])
    const total = provider.session.paid.amount
    await provider.session.close()

    void fetch(`${node.admin}/claim`, claimNow).catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, 150)) // the claim is on its way to the chain
    node.child.kill('SIGKILL')

    node = await node.restart()
    const res = await fetch(`${node.admin}/claim`, claimNow)
    const body = await res.json() as { payouts: Array<{ amount: string }> }
    // either the first claim landed (the restarted node sees it on chain and claims nothing) or it did not (claimed now)
    expect(body.payouts.map((p) => BigInt(p.amount)).filter((a) => a !== total)).toEqual([])
    const onChain = await net.chain.open(Channel.createFromAddress(channel)).getChannelData()
    expect(onChain.paid).toBe(total)
    const status = await (await fetch(`${node.admin}/status`)).json() as { claimed: string, earned: string }
    expect(status).toMatchObject({ claimed: total.toString(), earned: total.toString() })
    // the owner was paid once
    const txs = await net.chain.getTransactions(node.owner.address, { limit: 20 })
    const payouts = txs.filter((t) => t.inMessage?.info.src?.toString() === channel.toString())
    expect(payouts).toHaveLength(1)
  })
})
