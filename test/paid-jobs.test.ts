import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNano } from '@ton/core'
import { Channel } from '../contracts/index.ts'
import { waitForTransaction } from '../chain/client.ts'
import { float32Tensor, float32Values, hashTensors } from '../client/index.ts'
import { ModelStore } from '../node/models.ts'
import { CLAIM_EVERYTHING, MODELS_DIR, FEE_BPS, startLocalNet, type LocalNet } from './localnet.ts'

function input (seed: number): ReturnType<typeof float32Tensor> {
  return float32Tensor('x', [1, 64], Array.from({ length: 64 }, (_, i) => Math.sin(seed * 64 + i)))
}

describe('a paid, verified job end to end (devnet, real node, real client)', () => {
  let net: LocalNet
  let direct: ModelStore

  beforeAll(async () => {
    net = await startLocalNet()
    direct = new ModelStore({ dir: MODELS_DIR })
    await direct.start()
  })
  afterAll(async () => {
    await direct.stop()
    await net?.close()
  })

  it('runs jobs over libp2p, verifies each receipt, pays with vouchers, and the node claims the exact amount on chain', async () => {
    const { node, owner } = await net.addNode({ claimPolicy: CLAIM_EVERYTHING })
    const { client } = await net.addClient()
    const provider = await client.connect(node.addresses[0]!)
    const model = provider.session.model('mlp-64-10')
    const channel = await client.openChannel(provider, toNano('1'))

    let paid = 0n
    for (let i = 0; i < 3; i++) {
      const res = await provider.session.run('mlp-64-10', [input(i)])
      const expected = await direct.run(Buffer.from(model.hash), [input(i)])
      expect(Array.from(float32Values(res.outputs[0]!))).toEqual(Array.from(float32Values(expected.outputs[0]!)))
      expect(res.receipt.outputHash.equals(hashTensors(res.outputs))).toBe(true)
      expect(res.seqno).toBe(i + 1)
      paid += res.cost
    }
    expect(paid).toBe(3n * model.pricePerUnit)

    const before = await net.chain.getBalance(owner.address)
    const [payout] = await node.settlement.claimAll()
    expect(payout?.amount).toBe(paid.toString())
    const onChain = await net.chain.open(Channel.createFromAddress(channel)).getChannelData()
    expect(onChain.paid).toBe(paid)
    expect(onChain.seqno).toBe(3)
    // the payout is a message from the channel to the owner: it lands after the claim
    const payoutTx = await waitForTransaction(net.chain, owner.address, (tx) => tx.inMessage?.info.src?.toString() === channel.toString())
    expect(payoutTx.inMessage?.info.type === 'internal' && payoutTx.inMessage.info.value.coins).toBe(paid - paid * BigInt(FEE_BPS) / 10_000n)
    const after = await net.chain.getBalance(owner.address)
    expect(after).toBeGreaterThan(before)
    await provider.session.close()
  })
})
