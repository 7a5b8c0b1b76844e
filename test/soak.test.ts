import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNano } from '@ton/core'
import { createLibp2p, type Libp2p } from 'libp2p'
import { FrameStream, JOB_PROTOCOL, jobRequest, toWireTensor, float32Tensor, signCell, WIRE_ERRORS } from '../protocol/index.ts'
import { helloProof } from '../protocol/wire/hello.ts'
import { transportOptions } from '../protocol/transport.ts'
import { GLOBAL_ID, startLocalNet, type LocalNet } from './localnet.ts'

const CLIENTS = 50
const JOBS_PER_CLIENT = 20 // 1,000 jobs in flight at once

describe('soak: 50 clients fire 1,000 jobs at one node at once', () => {
  let net: LocalNet
  beforeAll(async () => { net = await startLocalNet() })
  afterAll(async () => { await net?.close() })

  it('answers or refuses every job with a typed error, and keeps serving afterwards', async () => {
    const { node } = await net.addNode({ config: { credit: toNano('1').toString() } })
    const addr = node.addresses[0]!
    // channels for every client, opened through the SDK, then raw sessions that pipeline all jobs
    const sessions: Array<{ frames: FrameStream, host: Libp2p }> = []
    const ready = await Promise.all(Array.from({ length: CLIENTS }, async () => {
      const { client, wallet } = await net.addClient(toNano('2'))
      const provider = await client.connect(addr)
      const channel = await client.openChannel(provider, toNano('0.5'))
      await provider.session.close()
      return { channel, key: wallet.keyPair }
    }))
    for (const { channel, key } of ready) {
      const host = await createLibp2p(transportOptions(undefined))
      const frames = new FrameStream(await host.dialProtocol(addr, JOB_PROTOCOL))
      // bind with the channel client key's proof over the node's fresh nonce
      await frames.write({ hello: { channel: '', signature: new Uint8Array(0) } })
      const { nonce } = (await frames.read()).welcome!
      const proof = helloProof({ globalId: GLOBAL_ID, channel, nodeKey: node.identity.keyPair.publicKey, nonce })
      await frames.write({ hello: { channel: channel.toRawString(), signature: signCell(proof, key.secretKey) } })
      expect((await frames.read()).kind).toBe('welcome')
      sessions.push({ frames, host })
    }
    const hash = node.models.get('mlp-64-10')!.hash
    const x = toWireTensor(float32Tensor('x', [1, 64], new Array(64).fill(0.25)))
    const outcomes = await Promise.all(sessions.map(async ({ frames }) => {
      await Promise.all(Array.from({ length: JOBS_PER_CLIENT }, async (_, i) => {
        await frames.write({ job: jobRequest({ jobId: BigInt(i + 1), modelHash: hash, inputs: [x] }) })
      }))
      const seen = new Map<bigint, string>()
      while (seen.size < JOBS_PER_CLIENT) {
        const f = await frames.read({ signal: AbortSignal.timeout(60_000) })
        if (f.kind === 'result') seen.set(f.result!.jobId, 'result')
        else if (f.kind === 'error') seen.set(f.error!.jobId, f.error!.code)
      }
      return [...seen.values()]
    }))
    const all = outcomes.flat()
    expect(all).toHaveLength(CLIENTS * JOBS_PER_CLIENT)
    const results = all.filter((o) => o === 'result').length
    const refusals = all.filter((o) => o !== 'result')
    expect(results).toBeGreaterThan(0)
    for (const code of refusals) expect(WIRE_ERRORS).toContain(code)
    // the node is still fine: a fresh client gets a paid, verified result
    const { client } = await net.addClient(toNano('2'))
    const provider = await client.connect(addr)
    await client.openChannel(provider, toNano('0.5'))
    const res = await provider.session.run('mlp-64-10', [float32Tensor('x', [1, 64], new Array(64).fill(0.5))])
    expect(res.outputs[0]!.dims).toEqual([1, 10])
    console.log(`soak: ${results} results, ${refusals.length} typed refusals (${[...new Set(refusals)].join(', ')})`)
    await provider.session.close()
    for (const s of sessions) await s.host.stop()
  }, 240_000)
})
