import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNano } from '@ton/core'
import { walletSender } from '../chain/client.ts'
import { waitUntil } from '../chain/operations.ts'
import { float32Tensor, UnknownModelError } from '../client/index.ts'
import { Registry } from '../contracts/index.ts'
import { startLocalNet, type LocalNet } from './localnet.ts'

describe("the Registry's model allow-list is enforced by clients", () => {
  let net: LocalNet
  beforeAll(async () => { net = await startLocalNet() })
  afterAll(async () => { await net?.close() })

  it('a client uses only allowed models of a node, and says why it refuses the others', async () => {
    const { node } = await net.addNode()
    const mlp = node.models.get('mlp-64-10')!.hash
    const registry = net.chain.open(Registry.createFromAddress(net.registry))
    await registry.sendAddModel(walletSender(net.chain, net.governor), { modelHash: mlp })
    await waitUntil(async () => await registry.isModelAllowed(mlp), (ok) => ok, 'the model to be allowed')

    const { client } = await net.addClient()
    const provider = await client.connect(node.addresses[0]!)
    expect(provider.session.models.map((m) => m.name)).toEqual(['mlp-64-10'])
    await client.openChannel(provider, toNano('0.5'))
    const res = await provider.session.run('mlp-64-10', [float32Tensor('x', [1, 64], new Array(64).fill(1))])
    expect(res.seqno).toBe(1)
    const err = await provider.session.classify('tiny-moderation', ['hi']).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnknownModelError)
    expect((err as Error).message).toMatch(/allow-list/)
    expect(provider.session.paid.seqno).toBe(1)
    await provider.session.close()
  })
})
