import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNano } from '@ton/core'
import { ConnectionError, float32Tensor } from '../client/index.ts'
import { Channel } from '../contracts/index.ts'
import { startLocalNet, type LocalNet } from './localnet.ts'

const x = (v: number) => float32Tensor('x', [64, 64], new Array(64 * 64).fill(v))

describe('a node killed with SIGKILL mid-job', () => {
  let net: LocalNet
  beforeAll(async () => { net = await startLocalNet() })
  afterAll(async () => { await net?.close() })

  it('restarts with every acknowledged voucher, resumes the client, and claims exactly what it is owed', async () => {
    let node = await net.addNodeProcess({ claimThreshold: toNano('100').toString() })
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

    const res = await fetch(`${node.admin}/claim`, { method: 'POST' })
    const body = await res.json() as { payouts: Array<{ amount: string }> }
    expect(body.payouts.map((p) => BigInt(p.amount))).toEqual([total])
    const onChain = await net.chain.open(Channel.createFromAddress(channel)).getChannelData()
    expect(onChain.paid).toBe(total)
    expect(onChain.seqno).toBe(6)
    await provider.session.close()
  })
})
