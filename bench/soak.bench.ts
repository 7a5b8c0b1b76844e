// Soak: 50 clients send 1,000 jobs at once to one node, three rounds; prints what came back and
// the node process's memory (RSS) before and after each round.
//   npx tsx bench/soak.bench.ts   (part of npm run bench)
import '../protocol/polyfill.ts'
import { toNano } from '@ton/core'
import { createLibp2p } from 'libp2p'
import { float32Tensor, FrameStream, JOB_PROTOCOL, jobRequest, signCell, toWireTensor } from '../protocol/index.ts'
import { helloProof } from '../protocol/wire/hello.ts'
import { transportOptions } from '../protocol/transport.ts'
import { GLOBAL_ID, startLocalNet } from '../test/localnet.ts'

const CLIENTS = 50
const JOBS = 20
const ROUNDS = 3
const mb = (): string => (process.memoryUsage().rss / 2 ** 20).toFixed(1)

console.log(`Silk soak: ${CLIENTS} clients x ${JOBS} jobs at once (${CLIENTS * JOBS} in flight), ${ROUNDS} rounds, node in this process`)
const net = await startLocalNet()
const { node } = await net.addNode({ config: { credit: toNano('1').toString() } })
const addr = node.addresses[0]!
const channels = await Promise.all(Array.from({ length: CLIENTS }, async () => {
  const { client, wallet } = await net.addClient(toNano('20'))
  const provider = await client.connect(addr)
  const channel = await client.openChannel(provider, toNano('10'))
  await provider.session.close()
  return { channel, key: wallet.keyPair }
}))
const hash = node.models.get('mlp-64-10')!.hash
const x = toWireTensor(float32Tensor('x', [1, 64], new Array(64).fill(0.25)))
let jobId = 0n
for (let round = 1; round <= ROUNDS; round++) {
  const before = mb()
  const t0 = performance.now()
  const hosts = await Promise.all(channels.map(async () => await createLibp2p(transportOptions(undefined))))
  const counts = new Map<string, number>()
  await Promise.all(channels.map(async ({ channel, key }, i) => {
    const frames = new FrameStream(await hosts[i]!.dialProtocol(addr, JOB_PROTOCOL))
    // bind with the channel client key's proof over the node's fresh nonce
    await frames.write({ hello: { channel: '', signature: new Uint8Array(0) } })
    const { nonce } = (await frames.read()).welcome!
    const proof = helloProof({ globalId: GLOBAL_ID, channel, nodeKey: node.identity.keyPair.publicKey, nonce })
    await frames.write({ hello: { channel: channel.toRawString(), signature: signCell(proof, key.secretKey) } })
    await frames.read()
    await Promise.all(Array.from({ length: JOBS }, async () => { await frames.write({ job: jobRequest({ jobId: ++jobId, modelHash: hash, inputs: [x] }) }) }))
    for (let seen = 0; seen < JOBS;) {
      const f = await frames.read({ signal: AbortSignal.timeout(60_000) })
      const key = f.kind === 'result' ? 'result' : f.kind === 'error' ? f.error!.code : undefined
      if (key === undefined) continue
      counts.set(key, (counts.get(key) ?? 0) + 1)
      seen++
    }
    await frames.stream.close()
  }))
  await Promise.all(hosts.map(async (h) => { await h.stop() }))
  const outcome = [...counts.entries()].map(([k, v]) => `${v} ${k}`).join(', ')
  console.log(`round ${round}: ${outcome} in ${(performance.now() - t0).toFixed(0)} ms; RSS ${before} MB -> ${mb()} MB`)
}
await net.close()
process.exit(0)
