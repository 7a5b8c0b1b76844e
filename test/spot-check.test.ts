import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNano } from '@ton/core'
import { walletSender } from '../chain/client.ts'
import { float32Tensor, JobFailedError, ProviderPool, ProviderRejectedError, SpotChecker, submitEquivocation } from '../client/index.ts'
import { Provider, ProviderState } from '../contracts/index.ts'
import type { Inference } from '../node/job-service.ts'
import { startLocalNet, type LocalNet } from './localnet.ts'

const x = float32Tensor('x', [1, 64], Array.from({ length: 64 }, (_, i) => i / 64))

/** A node that answers every other deterministic job with a nudged output. */
function equivocating (honest: Inference): Inference {
  let calls = 0
  return {
    ...honest,
    list: () => honest.list(),
    classify: async (h, t) => await honest.classify(h, t),
    generate: async (h, r, t) => await honest.generate(h, r, t),
    run: async (hash, inputs) => {
      const out = await honest.run(hash, inputs)
      if (calls++ % 2 === 1) return out
      const data = Uint8Array.from(out.outputs[0]!.data)
      data[0] = data[0]! ^ 1
      return { ...out, outputs: [{ ...out.outputs[0]!, data }, ...out.outputs.slice(1)] }
    }
  }
}

describe('spot checks catch a node that equivocates, and the proof slashes it on chain', () => {
  let net: LocalNet
  beforeAll(async () => { net = await startLocalNet() })
  afterAll(async () => { await net?.close() })

  it('re-runs on a second provider, finds the cheat contradicting itself, and the report slashes its stake', async () => {
    const cheat = await net.addRogueNode({ inference: equivocating, equivocate: true })
    const { node: honest } = await net.addNode()
    const { client, wallet } = await net.addClient()
    const pool = new ProviderPool(client, {
      candidates: async () => [{ address: cheat.address }, { address: honest.addresses[0]!.toString() }],
      deposit: toNano('0.1')
    })
    const checker = new SpotChecker(pool, { share: 1 })
    const res = await checker.run('mlp-64-10', [x])
    expect(res.address).toBe(cheat.address)
    expect(res.spotCheck.checked).toBe(true)
    if (!res.spotCheck.checked || res.spotCheck.agreed) throw new Error('the spot check should disagree')
    const report = res.spotCheck.equivocation!
    expect(report.provider.equals(cheat.provider)).toBe(true)

    const before = await net.chain.getBalance(wallet.address)
    await submitEquivocation(net.chain, walletSender(net.chain, wallet), report)
    const start = Date.now()
    let data = await net.chain.open(Provider.createFromAddress(cheat.provider)).getProviderData()
    while (data.state !== ProviderState.slashed && Date.now() - start < 20_000) {
      await new Promise((resolve) => setTimeout(resolve, 200))
      data = await net.chain.open(Provider.createFromAddress(cheat.provider)).getProviderData()
    }
    expect(data.state).toBe(ProviderState.slashed)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    expect(await net.chain.getBalance(wallet.address)).toBeGreaterThan(before) // the reporter's reward
    // from now on clients refuse the slashed node (a fresh one at once; others when their short chain cache expires)
    const { client: fresh } = await net.addClient(toNano('1'))
    const err = await fresh.connect(cheat.address).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ProviderRejectedError)
    await pool.close()
  })

  it('a node whose model flips an output refuses to sign the second, different output, so it cannot be framed by its own bug', async () => {
    const flaky = await net.addRogueNode({ inference: equivocating }) // its own guard is on
    const { client } = await net.addClient()
    const p = await client.connect(flaky.address)
    await client.openChannel(p, toNano('0.1'))
    const first = await p.session.run('mlp-64-10', [x])
    const second = await p.session.run('mlp-64-10', [x]).catch((e: unknown) => e)
    expect((second as JobFailedError).code).toBe('INFERENCE_FAILED')
    expect(p.session.paid.seqno).toBe(1) // nothing billed for it
    // the output it signed before is still the one it signs
    const third = await p.session.run('mlp-64-10', [x])
    expect(third.receipt.outputHash.equals(first.receipt.outputHash)).toBe(true)
    await p.session.close()
  })

  it('honest providers agree, and nothing is reported', async () => {
    const { node: a } = await net.addNode()
    const { node: b } = await net.addNode()
    const { client } = await net.addClient()
    const pool = new ProviderPool(client, {
      candidates: async () => [{ address: a.addresses[0]!.toString() }, { address: b.addresses[0]!.toString() }],
      deposit: toNano('0.1')
    })
    const res = await new SpotChecker(pool, { share: 1 }).run('mlp-64-10', [x])
    expect(res.spotCheck).toMatchObject({ checked: true, agreed: true })
    const none = await new SpotChecker(pool, { share: 0 }).run('mlp-64-10', [x])
    expect(none.spotCheck.checked).toBe(false)
    await pool.close()
  })
})
