import { createHash, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Address, toNano } from '@ton/core'
import { createLibp2p } from 'libp2p'
import { float32Tensor, float32Values, ProviderFinder, SilkClient } from '../client/index.ts'
import { AdvertPublisher } from '../node/discovery.ts'
import { decodeAdvert, encodeAdvertBody, modelCid, signAdvert, type Advert, type AdvertBody, type AdvertModel } from '../protocol/advert.ts'
import { AdvertTable } from '../protocol/advert-book.ts'
import { ADVERT_SIGNING_DOMAIN, ADVERT_TOPIC } from '../protocol/discovery-constants.ts'
import { ProtocolError } from '../protocol/errors.ts'
import { transportOptions, type DiscoveryTransportOptions, type SilkLibp2p } from '../protocol/transport.ts'
import { SignedAdvert } from '../protocol/wire/advert.ts'
import { startLocalNet, wallet, type LocalNet } from './localnet.ts'

const LISTEN = ['/ip4/127.0.0.1/tcp/0']
const PROVIDERS = 20
/** the node that stops lives on a short advert; the others on a longer one, so a loaded CI box does not flap them */
const SHORT_TTL = 3
const TTL = 20
const GONE = 7

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest()
const MODEL_A: AdvertModel = { hash: sha256('model-a'), name: 'model-a', task: 'tensor', pricePerUnit: 1000n, deterministic: true, execution: 'cpu;intra=1;inter=1;batch=off' }
const MODEL_B: AdvertModel = { hash: sha256('model-b'), name: 'model-b', task: 'tensor', pricePerUnit: 5000n, deterministic: false, execution: 'cuda;intra=1;inter=1;batch=on' }
// these nodes name made-up Provider contracts: stake is checked in test/advert-stake.test.ts
const UNCHECKED = { stake: 'unchecked' } as const
const tonAddress = (): string => new Address(0, randomBytes(32)).toString()
const unixNow = (): number => Math.floor(Date.now() / 1000)

async function host (key: Ed25519PrivateKey | undefined, discovery: DiscoveryTransportOptions, listen = LISTEN): Promise<SilkLibp2p> {
  return await createLibp2p(transportOptions(key, listen, { privateAddresses: true, autonat: false, dcutr: false, ...discovery }))
}

async function body (key: Ed25519PrivateKey, over: Partial<AdvertBody> = {}): Promise<AdvertBody> {
  return {
    peerId: peerIdFromPrivateKey(key),
    provider: tonAddress(),
    providerOwner: tonAddress(),
    models: [MODEL_A],
    capacity: 4,
    tee: 'none',
    expires: unixNow() + 60,
    seq: 1n,
    addrs: [],
    teeEvidence: new Uint8Array(0),
    ...over
  } as AdvertBody
}

/** A SignedAdvert whose body names one peer and whose signature is by another key. */
async function forged (b: AdvertBody, signer: Ed25519PrivateKey): Promise<Uint8Array> {
  const encoded = encodeAdvertBody(b)
  const signature = await signer.sign(Buffer.concat([Buffer.from(ADVERT_SIGNING_DOMAIN), encoded]))
  return SignedAdvert.encode({ body: encoded, signature })
}

async function codeOf (p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'accepted'
  } catch (err) {
    return err instanceof ProtocolError ? err.code : `${(err as Error).name}: ${(err as Error).message}`
  }
}

async function until (condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

const peers = (adverts: Advert[]): string[] => adverts.map((a) => a.peerId.toString()).sort()

describe('adverts: codec and table', () => {
  it('verifies a signed advert and refuses forged, expired, malformed and replayed ones', async () => {
    const key = await generateKeyPair('Ed25519')
    const other = await generateKeyPair('Ed25519')
    const advert = await signAdvert(await body(key, { models: [MODEL_A, MODEL_B] }), key)
    const back = await decodeAdvert(advert.bytes)
    expect(back.peerId.equals(advert.peerId)).toBe(true)
    expect(back.models.map((m) => m.name)).toEqual(['model-a', 'model-b'])
    expect(back.models[1]!.pricePerUnit).toBe(5000n)
    // each model states whether it is deterministic and its pinned execution path
    expect(back.models.map((m) => [m.deterministic, m.execution])).toEqual([[true, MODEL_A.execution], [false, MODEL_B.execution]])
    expect(await codeOf(signAdvert(await body(key, { models: [{ ...MODEL_A, execution: '' }] }), key))).toBe('MALFORMED_ADVERT')
    expect(await codeOf(signAdvert(await body(key, { models: [{ ...MODEL_A, execution: 'x'.repeat(129) }] }), key))).toBe('MALFORMED_ADVERT')
    // the execution path is signed: changing it breaks the signature
    const moved = encodeAdvertBody({ ...advert, models: [{ ...MODEL_A, execution: 'cpu;intra=4;inter=1;batch=on' }, MODEL_B] })
    expect(await codeOf(decodeAdvert(SignedAdvert.encode({ body: moved, signature: SignedAdvert.decode(advert.bytes).signature })))).toBe('BAD_ADVERT_SIGNATURE')

    // a peer cannot advertise for another: the key must be the one of the named PeerId
    await expect(signAdvert(await body(key), other)).rejects.toThrow(RangeError)
    expect(await codeOf(decodeAdvert(await forged(await body(key), other)))).toBe('BAD_ADVERT_SIGNATURE')
    const tampered = SignedAdvert.decode(advert.bytes)
    const changed = encodeAdvertBody({ ...advert, capacity: 99 })
    expect(await codeOf(decodeAdvert(SignedAdvert.encode({ body: changed, signature: tampered.signature })))).toBe('BAD_ADVERT_SIGNATURE')

    const old = await signAdvert(await body(key, { expires: unixNow() - 1 }), key)
    expect(await codeOf(decodeAdvert(old.bytes))).toBe('ADVERT_EXPIRED')
    const forever = await signAdvert(await body(key, { expires: unixNow() + 10 * 24 * 3600 }), key)
    expect(await codeOf(decodeAdvert(forever.bytes))).toBe('MALFORMED_ADVERT')
    expect(await codeOf(decodeAdvert(advert.bytes.subarray(0, advert.bytes.length - 5)))).toBe('MALFORMED_ADVERT')
    expect(await codeOf(decodeAdvert(new Uint8Array(20_000)))).toBe('MALFORMED_ADVERT')
    // bounds hold on both ends: a node cannot sign what receivers would refuse
    expect(await codeOf(signAdvert(await body(key, { models: Array.from({ length: 65 }, (_, i) => ({ ...MODEL_A, hash: sha256(`m${i}`) })) }), key))).toBe('MALFORMED_ADVERT')
    expect(await codeOf(signAdvert(await body(key, { models: [{ ...MODEL_A, name: 'x'.repeat(200) }] }), key))).toBe('MALFORMED_ADVERT')
    // an unknown field appended to the body breaks canonical encoding, even when signed
    const extra = Buffer.concat([encodeAdvertBody(await body(key)), Buffer.from([0x58, 0x01])])
    const sig = await key.sign(Buffer.concat([Buffer.from(ADVERT_SIGNING_DOMAIN), extra]))
    expect(await codeOf(decodeAdvert(SignedAdvert.encode({ body: extra, signature: sig })))).toBe('MALFORMED_ADVERT')

    const table = new AdvertTable()
    const v1 = await signAdvert(await body(key, { seq: 5n }), key)
    const v2 = await signAdvert(await body(key, { seq: 6n, models: [MODEL_B] }), key)
    expect(table.offer(v1)).toBe('new')
    expect(table.offer(v1)).toBe('duplicate')
    expect(table.offer(v2)).toBe('updated')
    expect(table.offer(v1)).toBe('stale')
    expect(table.offer(await signAdvert(await body(key, { seq: 6n }), key))).toBe('conflict')
    expect(table.find('model-b')).toHaveLength(1)
    expect(table.find(MODEL_A.hash)).toHaveLength(0)
    expect(modelCid(MODEL_A.hash).toString()).toMatch(/^bafkrei/)
  })
})

describe(`discovery among ${PROVIDERS} nodes on loopback`, () => {
  const nodes: Array<{ libp2p: SilkLibp2p, publisher: AdvertPublisher, key: Ed25519PrivateKey }> = []
  const clients: SilkLibp2p[] = []
  const finders: ProviderFinder[] = []
  const timings: Record<string, number> = {}

  async function client (init: ConstructorParameters<typeof ProviderFinder>[1], bootstrap = 3): Promise<{ finder: ProviderFinder, libp2p: SilkLibp2p }> {
    const list = nodes.slice(0, bootstrap).map((n) => n.libp2p.getMultiaddrs()[0]!.toString())
    const libp2p = await host(undefined, { role: 'client', bootstrap: list }, [])
    clients.push(libp2p)
    const finder = new ProviderFinder({ libp2p }, { ...UNCHECKED, ...init })
    finder.start()
    finders.push(finder)
    return { finder, libp2p }
  }

  beforeAll(async () => {
    for (let i = 0; i < PROVIDERS; i++) {
      const key = await generateKeyPair('Ed25519')
      // each node's bootstrap list: the first node and up to three random earlier ones
      const earlier = [...new Set([0, ...Array.from({ length: 3 }, () => Math.floor(Math.random() * i))])]
        .filter((j) => j < i).map((j) => nodes[j]!.libp2p.getMultiaddrs()[0]!.toString())
      const libp2p = await host(key, { role: 'node', bootstrap: earlier })
      const publisher = new AdvertPublisher({ libp2p, privateKey: key }, {
        provider: tonAddress(),
        providerOwner: tonAddress(),
        models: () => i % 2 === 0 ? [MODEL_A, MODEL_B] : [MODEL_A],
        capacity: 4,
        ttlSeconds: i === GONE ? SHORT_TTL : TTL,
        refreshSeconds: i === GONE ? 1 : 5,
        book: UNCHECKED
      })
      await publisher.start()
      nodes.push({ libp2p, publisher, key })
    }
    // a running network: every node has put its provider records in the DHT and heard every other
    // node's advert, so the clients below measure joining it, not its start-up
    const t0 = performance.now()
    await until(() => nodes.every((n) => n.publisher.provided.length === n.publisher.current!.models.length && n.publisher.book.table.size === PROVIDERS - 1), 80_000)
    timings.networkSettled = Math.round(performance.now() - t0)
  }, 90_000)
  afterAll(async () => {
    finders.forEach((f) => { f.stop() })
    await Promise.all(clients.map(async (c) => { await c.stop() }))
    await Promise.all(nodes.map(async (n) => { await n.publisher.stop(); await n.libp2p.stop() }))
    console.log('discovery timings (ms):', timings)
  })

  it('a client finds every provider of a model through gossip', async () => {
    const t0 = performance.now()
    const { finder } = await client({ catchUpPeers: 0 })
    const found = await finder.find(MODEL_A.hash, { dht: false, min: PROVIDERS, signal: AbortSignal.timeout(30_000) })
    timings.gossipAll = Math.round(performance.now() - t0)
    expect(peers(found)).toEqual(peers(nodes.map((n) => n.publisher.current!)))
    expect(found.every((a) => a.tee === 'none' && a.capacity === 4 && a.addrs.length > 0)).toBe(true)
    // by name too; the cheaper price of model-b comes first only where it is served
    expect(finder.known('model-b')).toHaveLength(PROVIDERS / 2)
  })

  it('a client finds every provider of a model hash through the DHT alone, reading each advert from the node', async () => {
    const t0 = performance.now()
    const { finder } = await client({ subscribe: false, catchUpPeers: 0 })
    // find() waits for the client's first DHT peer, looks up the hash and reads each provider's advert
    const found = await finder.find(MODEL_A.hash, { min: PROVIDERS, signal: AbortSignal.timeout(45_000) })
    timings.dhtAll = Math.round(performance.now() - t0)
    expect(finder.book.table.size).toBe(PROVIDERS)
    expect(peers(found)).toEqual(peers(nodes.map((n) => n.publisher.current!)))
    expect(finder.book.subscribed).toBe(false)
    const t2 = performance.now()
    const again = await finder.lookup(MODEL_B.hash, { signal: AbortSignal.timeout(30_000) })
    timings.dhtLookupModelB = Math.round(performance.now() - t2)
    expect(again).toHaveLength(PROVIDERS / 2)
  })

  it('a joining client catches up from the first peers it meets', async () => {
    const t0 = performance.now()
    const { finder } = await client({})
    await finder.find('model-a', { dht: false, min: PROVIDERS, signal: AbortSignal.timeout(30_000) })
    timings.catchUpAll = Math.round(performance.now() - t0)
  })

  it('a node that stops publishing disappears once its advert expires', async () => {
    const finder = finders[0]!
    const gone = nodes[GONE]!
    const id = gone.libp2p.peerId.toString()
    await expect.poll(() => finder.book.table.get(id), { timeout: 10_000 }).toBeDefined()
    const t0 = performance.now()
    const expired = new Promise<{ advert: Advert, at: number }>((resolve) => {
      finder.book.addEventListener('expired', (evt) => {
        const advert = (evt as CustomEvent<Advert>).detail
        if (advert.peerId.toString() === id) resolve({ advert, at: Date.now() })
      })
    })
    await gone.publisher.stop()
    await gone.libp2p.stop()
    const dropped = await expired
    timings.goneAfterStop = Math.round(performance.now() - t0)
    // it went because the last advert the client held expired, not before
    expect(dropped.at).toBeGreaterThanOrEqual(dropped.advert.expires * 1000)
    timings.goneAfterExpiry = dropped.at - dropped.advert.expires * 1000
    expect(dropped.advert.expires * 1000).toBeLessThanOrEqual(Date.now())
    expect(finder.known(MODEL_A.hash).some((a) => a.peerId.toString() === id)).toBe(false)
    // the others keep refreshing
    expect(finder.known(MODEL_A.hash)).toHaveLength(PROVIDERS - 1)
  }, (SHORT_TTL + 10) * 1000)

  it('gossip drops forged, expired and replayed adverts and penalises no honest node', async () => {
    const finder = finders[0]!
    const rogueKey = await generateKeyPair('Ed25519')
    const rogue = await host(rogueKey, { role: 'node', bootstrap: [nodes[0]!.libp2p.getMultiaddrs()[0]!.toString()] })
    clients.push(rogue)
    const viaClient = clients[0]!
    expect(finders[0]!.book.subscribed).toBe(true)
    await viaClient.dial(rogue.getMultiaddrs()[0]!)
    rogue.services.pubsub!.subscribe(ADVERT_TOPIC)
    const subscribers = (): string[] => rogue.services.pubsub!.getSubscribers(ADVERT_TOPIC).map(String)
    await expect.poll(() => [viaClient.peerId, nodes[0]!.libp2p.peerId].every((p) => subscribers().includes(p.toString())), { timeout: 20_000 }).toBe(true)

    const victim = nodes[3]!
    const victimSeq = finder.book.table.get(victim.libp2p.peerId)!.seq
    const stranger = await generateKeyPair('Ed25519')
    const publish = async (bytes: Uint8Array): Promise<void> => { await rogue.services.pubsub!.publish(ADVERT_TOPIC, bytes) }
    const before = { ...finder.book.dropped }
    // advertising for another node (its PeerId, the rogue's signature) and for a made-up peer
    await publish(await forged(await body(victim.key, { seq: 2n ** 62n, models: [] }), rogueKey))
    await publish(await forged(await body(stranger), rogueKey))
    // correctly signed but expired
    await publish((await signAdvert(await body(rogueKey, { expires: unixNow() - 5, seq: 50n }), rogueKey)).bytes)
    // the rogue's own advert, then a replay of an older one
    await publish((await signAdvert(await body(rogueKey, { seq: 200n }), rogueKey)).bytes)
    await publish((await signAdvert(await body(rogueKey, { seq: 100n }), rogueKey)).bytes)

    await expect.poll(() => finder.book.dropped.stale - before.stale, { timeout: 20_000 }).toBeGreaterThanOrEqual(1)
    expect(finder.book.dropped.BAD_ADVERT_SIGNATURE - before.BAD_ADVERT_SIGNATURE).toBeGreaterThanOrEqual(2)
    expect(finder.book.dropped.ADVERT_EXPIRED - before.ADVERT_EXPIRED).toBeGreaterThanOrEqual(1)
    expect(finder.book.table.get(rogue.peerId)?.seq).toBe(200n)
    expect(finder.book.table.get(peerIdFromPrivateKey(stranger))).toBeUndefined()
    const held = finder.book.table.get(victim.libp2p.peerId)!
    expect(held.seq).toBeGreaterThanOrEqual(victimSeq)
    expect(held.seq).toBeLessThan(2n ** 62n)
    expect(held.models).toHaveLength(victim.publisher.current!.models.length)
    // the node the rogue is connected to refused the forgeries too, so it relayed none of them
    await expect.poll(() => nodes[0]!.publisher.book.dropped.BAD_ADVERT_SIGNATURE, { timeout: 10_000 }).toBeGreaterThanOrEqual(2)
    expect(nodes[0]!.publisher.book.table.get(peerIdFromPrivateKey(stranger))).toBeUndefined()
  })
})

describe('NAT traversal services', () => {
  it('a relay server, AutoNAT and DCUtR start; a node reserves a relay slot and is reached through it', async () => {
    const relayKey = await generateKeyPair('Ed25519')
    const relay = await host(relayKey, { role: 'node', relayServer: true, autonat: true, dcutr: true })
    const hiddenKey = await generateKeyPair('Ed25519')
    const hidden = await host(hiddenKey, { role: 'node', relayReserve: true, autonat: true, dcutr: true, bootstrap: [relay.getMultiaddrs()[0]!.toString()] })
    const publisher = new AdvertPublisher({ libp2p: hidden, privateKey: hiddenKey }, {
      provider: tonAddress(), providerOwner: tonAddress(), models: () => [MODEL_A], capacity: 1, ttlSeconds: 30, book: UNCHECKED
    })
    const outsider = await host(undefined, { role: 'client', dcutr: true }, [])
    try {
      expect(relay.services.relay).toBeDefined()
      expect(relay.services.autoNAT).toBeDefined()
      expect(relay.services.dcutr).toBeDefined()
      expect(hidden.services.relay).toBeUndefined()
      await publisher.start()
      // the reservation shows up as a /p2p-circuit address, and the advert is republished with it
      await expect.poll(() => publisher.current?.addrs.some((a) => a.toString().includes('/p2p-circuit')), { timeout: 15_000 }).toBe(true)
      const circuit = publisher.current!.addrs.find((a) => a.toString().includes('/p2p-circuit'))!
      const finder = new ProviderFinder({ libp2p: outsider }, { ...UNCHECKED, subscribe: false, catchUpPeers: 0 })
      const [advert] = await finder.book.fetch(circuit)
      expect(advert?.peerId.equals(hidden.peerId)).toBe(true)
    } finally {
      await publisher.stop()
      await Promise.all([outsider.stop(), hidden.stop(), relay.stop()])
    }
  })
})

describe('a real provider node is found by model name and paid for a job (devnet)', () => {
  let net: LocalNet
  beforeAll(async () => { net = await startLocalNet() })
  afterAll(async () => { await net?.close() })

  it('publishes its advert; a SilkClient bootstrapped to it finds it by name, connects and runs a paid job', async () => {
    const { node } = await net.addNode({ config: { discovery: { advertTtl: 60 } } })
    const w = await wallet(net.devnet, toNano('50'))
    const client = new SilkClient({
      network: 'local',
      chain: net.chain,
      registry: net.registry,
      wallet: { address: w.address, sender: net.chain.open(w.wallet).sender(w.keyPair.secretKey) },
      clientKey: w.keyPair,
      discovery: { bootstrap: [node.addresses[0]!.toString()], privateAddresses: true }
    })
    try {
      const [advert, ...rest] = await client.findProviders('mlp-64-10', { signal: AbortSignal.timeout(15_000) })
      expect(rest).toHaveLength(0)
      expect(advert!.peerId.equals(node.identity.peerId)).toBe(true)
      expect(Address.parse(advert!.provider).equals(node.provider)).toBe(true)
      const model = advert!.models.find((m) => m.name === 'mlp-64-10')!
      expect(Buffer.from(model.hash).toString('hex')).toBe(node.models.list().find((m) => m.name === 'mlp-64-10')!.hashHex)
      // the advert states the execution path and determinism the node's sessions state
      const served = node.batcher.list().find((m) => m.name === 'mlp-64-10')!
      expect([model.execution, model.deterministic]).toEqual([served.execution, served.deterministic])
      expect(model.execution).toMatch(/^cpu;/)
      // the client's table is gated by stake: it read this node's Provider on chain
      expect(client.discovery!.book.gate!.lookups).toBeGreaterThanOrEqual(1)
      // the same node through the DHT, by hash
      expect(peers(await client.discovery!.lookup(model.hash))).toEqual([node.identity.peerId.toString()])

      const provider = await client.connect(advert!)
      await client.openChannel(provider, toNano('1'))
      const res = await provider.session.run('mlp-64-10', [float32Tensor('x', [1, 64], Array.from({ length: 64 }, (_, i) => i / 64))])
      expect(float32Values(res.outputs[0]!)).toHaveLength(10)
      expect(res.cost).toBe(model.pricePerUnit)
      await provider.session.close()
    } finally {
      await client.stop()
    }
  })
})
