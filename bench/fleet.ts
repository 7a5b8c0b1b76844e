// The client side of the concurrent throughput phases of bench/jobs.bench.ts, in a process of its
// own, so that the node's process does only the node's work (and the devnet's): `clients`
// SilkClients, each with its own wallet, libp2p host, channel to every node and session on it,
// driven by the parent over IPC (child_process.fork with tsx). Not meant to be run by hand.
import '../protocol/polyfill.ts'
import { randomBytes } from 'node:crypto'
import { Address, toNano } from '@ton/core'
import { chainClient, faucet, walletFromKey, walletSender } from '../chain/client.ts'
import { ConnectionError, float32Tensor, SilkClient, type ProviderSession, type Tensor, type VerifiedProvider } from '../client/index.ts'
import { burst, type Burst } from './burst.ts'

export type FleetRequest =
  | { type: 'setup', endpoint: string, baseUrl: string, registry: string, nodes: string[], clients: number, deposit: string }
  | { type: 'warm', node: number, rounds: number, model: string }
  | { type: 'run', node: number, seconds: number, model: string }
  | { type: 'stop' }

export type FleetReply =
  | { type: 'ready', setupMs: number, retries: number, rss: number }
  | { type: 'warmed' }
  | { type: 'result', burst: Burst }
  | { type: 'stopped' }
  | { type: 'error', message: string }

/** Row k of the fleet: client k sends it on every job (different rows, so merged batches mix clients). */
export function fleetInput (k: number): Tensor {
  return float32Tensor('x', [1, 64], Array.from({ length: 64 }, (_, i) => Math.sin(i + 0.37 * k)))
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

if (process.send !== undefined && process.argv[2] === 'fleet') {
  const reply = (r: FleetReply): void => { process.send!(r) }
  let clients: SilkClient[] = []
  let sessions: ProviderSession[][] = []
  let inputs: Tensor[] = []
  const handle = async (req: FleetRequest): Promise<FleetReply> => {
    switch (req.type) {
      case 'setup': {
        const t0 = performance.now()
        const chain = chainClient(req.endpoint)
        const registry = Address.parse(req.registry)
        inputs = Array.from({ length: req.clients }, (_, k) => fleetInput(k))
        clients = await Promise.all(Array.from({ length: req.clients }, async () => {
          const w = walletFromKey(randomBytes(32))
          await faucet(req.baseUrl, w.address, toNano('50'))
          const client = new SilkClient({ network: 'local', chain, registry, wallet: { address: w.address, sender: walletSender(chain, w) }, clientKey: w.keyPair })
          await client.start()
          return client
        }))
        // A node's libp2p (default connection manager) refuses more than 5 new inbound connections
        // per second from one IP (inboundConnectionThreshold), and here every client is 127.0.0.1:
        // the clients dial 4 a second, and a refused dial is retried after a second. Each client
        // opens its channels one after the other (one wallet, one seqno at a time).
        let retries = 0
        const connect = async (client: SilkClient, addr: string): Promise<VerifiedProvider> => {
          for (let attempt = 1; ; attempt++) {
            try {
              return await client.connect(addr)
            } catch (err) {
              if (!(err instanceof ConnectionError) || attempt >= 5) throw err
              retries++
              await sleep(1100)
            }
          }
        }
        sessions = await Promise.all(clients.map(async (client, k) => {
          await sleep(k * 250)
          const providers = await Promise.all(req.nodes.map(async (addr) => await connect(client, addr)))
          for (const p of providers) await client.openChannel(p, BigInt(req.deposit))
          return providers.map((p) => p.session)
        }))
        return { type: 'ready', setupMs: performance.now() - t0, retries, rss: process.memoryUsage().rss }
      }
      case 'warm':
        for (let i = 0; i < req.rounds; i++) await Promise.all(sessions.map(async (s, k) => await s[req.node]!.run(req.model, [inputs[k]!])))
        return { type: 'warmed' }
      case 'run':
        return { type: 'result', burst: await burst(sessions.length, req.seconds, async (k) => await sessions[k]![req.node]!.run(req.model, [inputs[k]!])) }
      case 'stop':
        await Promise.all(sessions.flat().map(async (s) => { await s.close() }))
        await Promise.all(clients.map(async (c) => { await c.stop() }))
        return { type: 'stopped' }
    }
  }
  process.on('message', (req: FleetRequest) => {
    handle(req).then(reply, (err: Error) => { reply({ type: 'error', message: err.stack ?? err.message }) }).finally(() => {
      if (req.type === 'stop') process.disconnect()
    })
  })
}
