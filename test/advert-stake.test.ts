import { createHash, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Address, toNano } from '@ton/core'
import type { TonClient } from '@ton/ton'
import { createLibp2p } from 'libp2p'
import { deployRegistry, registerProvider } from '../chain/operations.ts'
import { chainClient, faucet, walletFromKey, walletSender, type KeyWallet } from '../chain/client.ts'
import { ProviderFinder } from '../client/discovery.ts'
import { Provider, providerAddress } from '../contracts/index.ts'
import { startDevnet, type Devnet } from '../devnet/server.ts'
import { AdvertPublisher } from '../node/discovery.ts'
import { signAdvert, type Advert, type AdvertModel } from '../protocol/advert.ts'
import { AdvertBook } from '../protocol/advert-book.ts'
import { GLOBAL_IDS } from '../protocol/cells.ts'
import { ADVERT_TOPIC } from '../protocol/discovery-constants.ts'
import { identityFromSeed, type Identity } from '../protocol/keys.ts'
import { StakeGate, type ProviderStanding, type StakeOf } from '../protocol/stake-gate.ts'
import { chainStakeOf } from '../protocol/stake-reader.ts'
import { transportOptions, type SilkLibp2p } from '../protocol/transport.ts'

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest()
const MODEL: AdvertModel = { hash: sha256('model-a'), name: 'model-a', task: 'tensor', pricePerUnit: 1000n, deterministic: true, execution: 'cpu;intra=1;inter=1;batch=off' }
const unixNow = (): number => Math.floor(Date.now() / 1000)
const tonAddress = (): string => new Address(0, randomBytes(32)).toString()

async function advertOf (key: Ed25519PrivateKey, provider: string, providerOwner: string, seq = 1n): Promise<Advert> {
  return await signAdvert({
    peerId: peerIdFromPrivateKey(key), provider, providerOwner, models: [MODEL], capacity: 1, tee: 'none',
    expires: unixNow() + 60, seq, addrs: [], teeEvidence: new Uint8Array(0)
  }, key)
}

describe('StakeGate: verdicts, caching and bounds (clock and chain reads under the test\'s control)', () => {
  async function fixture (over: Partial<ProviderStanding> = {}): Promise<{ key: Ed25519PrivateKey, provider: string, owner: string, standing: ProviderStanding }> {
    const key = await generateKeyPair('Ed25519')
    const owner = tonAddress()
    return { key, provider: tonAddress(), owner, standing: { owner, nodeKey: key.publicKey.raw, stake: toNano('10'), active: true, minStake: toNano('10'), ...over } }
  }

  it('admits only an active Provider with enough stake that holds the advert\'s key and owner', async () => {
    const staked = await fixture()
    const low = await fixture({ stake: toNano('9') })
    const unbonding = await fixture({ active: false })
    const other = await generateKeyPair('Ed25519')
    const chain = new Map([[staked.provider, staked.standing], [low.provider, low.standing], [unbonding.provider, unbonding.standing]])
    const gate = new StakeGate({ stakeOf: async (p) => chain.get(p) })
    expect(await gate.check(await advertOf(staked.key, staked.provider, staked.owner), 's')).toBe('staked')
    expect(await gate.check(await advertOf(low.key, low.provider, low.owner), 's')).toBe('unstaked')
    expect(await gate.check(await advertOf(unbonding.key, unbonding.provider, unbonding.owner), 's')).toBe('unstaked')
    expect(await gate.check(await advertOf(other, tonAddress(), staked.owner), 's')).toBe('unregistered')
    // another key claiming the staked Provider, or the right key naming another owner
    expect(await gate.check(await advertOf(other, staked.provider, staked.owner), 's')).toBe('wrong-key')
    expect(await gate.check(await advertOf(staked.key, staked.provider, tonAddress()), 's')).toBe('wrong-key')
    // the gate's own floor applies above a lower on-chain minimum
    const strict = new StakeGate({ stakeOf: async (p) => chain.get(p), minStake: toNano('11') })
    expect(await strict.check(await advertOf(staked.key, staked.provider, staked.owner), 's')).toBe('unstaked')
    // a chain that cannot be read admits nobody
    const down = new StakeGate({ stakeOf: async () => { throw new Error('ECONNREFUSED') } })
    expect(await down.check(await advertOf(staked.key, staked.provider, staked.owner), 's')).toBe('unreadable')
  })

  it('caches both verdicts until their TTL, then reads the chain again', async () => {
    const a = await fixture()
    let now = 1000
    let reads = 0
    let standing: ProviderStanding | undefined = a.standing
    const gate = new StakeGate({ stakeOf: async () => { reads++; return standing }, stakedTtlSeconds: 100, unstakedTtlSeconds: 10, now: () => now })
    const advert = await advertOf(a.key, a.provider, a.owner)
    expect(await gate.check(advert, 's')).toBe('staked')
    expect(await gate.check(advert, 's')).toBe('staked')
    expect(reads).toBe(1)
    expect(gate.fresh(advert)).toBe(true)
    // slashed on chain: the cached verdict holds until it expires, then the new one applies
    standing = { ...a.standing, active: false, stake: 0n }
    now += 99
    expect(await gate.check(advert, 's')).toBe('staked')
    now += 1
    expect(gate.fresh(advert)).toBe(false)
    expect(await gate.check(advert, 's')).toBe('unstaked')
    expect(reads).toBe(2)
    // the unstaked verdict has its own, shorter TTL
    standing = a.standing
    now += 9
    expect(await gate.check(advert, 's')).toBe('unstaked')
    now += 1
    expect(await gate.check(advert, 's')).toBe('staked')
    expect(reads).toBe(3)
  })

  it('one chain read per Provider however many adverts name it at once', async () => {
    const a = await fixture()
    let release!: () => void
    const gate = new StakeGate({ stakeOf: async () => { await new Promise<void>((resolve) => { release = resolve }); return a.standing } })
    const advert = await advertOf(a.key, a.provider, a.owner)
    const all = Array.from({ length: 20 }, async () => await gate.check(advert, 'relay'))
    await new Promise((resolve) => setImmediate(resolve))
    release()
    expect(await Promise.all(all)).toEqual(new Array(20).fill('staked'))
    expect(gate.lookups).toBe(1)
  })

  it('bounds reads in flight per source and overall: a flood is ignored, not queued', async () => {
    const waiting: Array<() => void> = []
    const stakeOf: StakeOf = async () => { await new Promise<void>((resolve) => waiting.push(resolve)); return undefined }
    const gate = new StakeGate({ stakeOf, maxLookups: 5, maxLookupsPerSource: 2, maxWaiting: 0 })
    const key = await generateKeyPair('Ed25519')
    const fromFlooder = await Promise.all(Array.from({ length: 4 }, async () => await advertOf(key, tonAddress(), tonAddress())))
    const pending = fromFlooder.map(async (a) => await gate.check(a, 'flooder'))
    await new Promise((resolve) => setImmediate(resolve))
    // the third and fourth throwaway adverts of one source are not even looked up
    expect(gate.sizes.pending).toBe(2)
    const others = await Promise.all(Array.from({ length: 4 }, async (_, i) => await advertOf(key, tonAddress(), tonAddress(), BigInt(i + 1))))
    const fromOthers = others.map(async (a, i) => await gate.check(a, `peer-${i}`))
    await new Promise((resolve) => setImmediate(resolve))
    expect(gate.sizes.pending).toBe(5)
    waiting.forEach((release) => { release() })
    expect(await Promise.all(pending)).toEqual(['unregistered', 'unregistered', 'busy', 'busy'])
    expect(await Promise.all(fromOthers)).toEqual(['unregistered', 'unregistered', 'unregistered', 'busy'])
    expect(gate.sizes.pending).toBe(0)
    expect(gate.lookups).toBe(5)
  })

  it('a burst from one relay waits for read slots, within a bound; beyond it, adverts are ignored', async () => {
    const waiting: Array<() => void> = []
    const gate = new StakeGate({
      stakeOf: async () => { await new Promise<void>((resolve) => waiting.push(resolve)); return undefined },
      maxLookups: 10, maxLookupsPerSource: 2, maxWaiting: 100, maxWaitingPerSource: 5
    })
    const key = await generateKeyPair('Ed25519')
    const burst = await Promise.all(Array.from({ length: 9 }, async (_, i) => await advertOf(key, tonAddress(), tonAddress(), BigInt(i + 1))))
    const verdicts = burst.map(async (a) => await gate.check(a, 'relay'))
    await new Promise((resolve) => setImmediate(resolve))
    expect(gate.sizes).toMatchObject({ pending: 2, waiting: 5 })
    // release reads as they start, until every admitted advert has its verdict
    while (waiting.length > 0 || gate.sizes.pending > 0) {
      waiting.splice(0).forEach((release) => { release() })
      await new Promise((resolve) => setImmediate(resolve))
    }
    const results = await Promise.all(verdicts)
    expect(results.filter((v) => v === 'unregistered')).toHaveLength(7)
    expect(results.filter((v) => v === 'busy')).toHaveLength(2)
    expect(gate.lookups).toBe(7)
    expect(gate.sizes).toMatchObject({ pending: 0, waiting: 0 })
  })

  it('unstaked verdicts are bounded and evict only each other: a flood cannot push out a staked Provider', async () => {
    const real = await fixture()
    const gate = new StakeGate({ stakeOf: async (p) => p === real.provider ? real.standing : undefined, maxUnstaked: 10, maxStaked: 10 })
    const realAdvert = await advertOf(real.key, real.provider, real.owner)
    expect(await gate.check(realAdvert, 'r')).toBe('staked')
    const key = await generateKeyPair('Ed25519')
    for (let i = 0; i < 100; i++) expect(await gate.check(await advertOf(key, tonAddress(), tonAddress()), `flood-${i}`)).toBe('unregistered')
    expect(gate.sizes).toEqual({ staked: 1, unstaked: 10, pending: 0, waiting: 0 })
    const reads = gate.lookups
    expect(await gate.check(realAdvert, 'r')).toBe('staked')
    expect(gate.lookups).toBe(reads)
  })
})

describe('an advert book nobody wired to the chain', () => {
  it('fails closed: it keeps no advert unless told to skip the stake check', async () => {
    const libp2p = await createLibp2p(transportOptions(undefined, [], { role: 'client', autonat: false, dcutr: false }))
    try {
      const key = await generateKeyPair('Ed25519')
      const advert = await advertOf(key, tonAddress(), tonAddress())
      const closed = new AdvertBook({ libp2p })
      expect(closed.gate).toBeUndefined()
      expect(await closed.admit(advert, 'x')).toBe('ungated')
      expect(await closed.accept(advert.bytes, 'x')).toBe('ungated')
      expect(closed.dropped.ungated).toBe(2)
      expect(closed.table.size).toBe(0)
      const open = new AdvertBook({ libp2p }, { stake: 'unchecked' })
      expect(await open.admit(advert, 'x')).toBe('new')
      // a gated book consults the chain (here: nothing there) and refuses
      const gated = new AdvertBook({ libp2p }, { stake: { stakeOf: async () => undefined } })
      expect(await gated.admit(advert, 'x')).toBe('unregistered')
      expect(gated.table.size).toBe(0)
    } finally {
      await libp2p.stop()
    }
  })
})

describe('stake-gated adverts over real gossip on 127.0.0.1, stake read from a local chain', () => {
  let devnet: Devnet
  let chain: TonClient
  let registry: Address
  const hosts: SilkLibp2p[] = []
  const publishers: AdvertPublisher[] = []
  const finders: ProviderFinder[] = []
  let staked: Array<{ identity: Identity, owner: KeyWallet, publisher: AdvertPublisher, libp2p: SilkLibp2p }>

  async function host (key: Ed25519PrivateKey | undefined, role: 'node' | 'client', bootstrap: string[] = []): Promise<SilkLibp2p> {
    const libp2p = await createLibp2p(transportOptions(key, role === 'node' ? ['/ip4/127.0.0.1/tcp/0'] : [], { role, bootstrap, privateAddresses: true, autonat: false, dcutr: false }))
    hosts.push(libp2p)
    return libp2p
  }

  async function stakedNode (bootstrap: string[]): Promise<{ identity: Identity, owner: KeyWallet, publisher: AdvertPublisher, libp2p: SilkLibp2p }> {
    const identity = await identityFromSeed(randomBytes(32))
    const owner = walletFromKey(randomBytes(32))
    await faucet(devnet.baseUrl, owner.address, toNano('30'))
    await registerProvider(chain, registry, owner, identity.keyPair, toNano('10'), GLOBAL_IDS.local)
    const libp2p = await host(identity.privateKey, 'node', bootstrap)
    const publisher = new AdvertPublisher({ libp2p, privateKey: identity.privateKey }, {
      provider: providerAddress(registry, owner.address, identity.keyPair.publicKey).toString(),
      providerOwner: owner.address.toString(),
      models: () => [MODEL],
      capacity: 1,
      ttlSeconds: 60,
      refreshSeconds: 2,
      provide: false,
      book: { stake: { stakeOf: chainStakeOf(chain, registry), stakedTtlSeconds: 2, maxUnstaked: 32 } }
    })
    await publisher.start()
    publishers.push(publisher)
    return { identity, owner, publisher, libp2p }
  }

  beforeAll(async () => {
    devnet = await startDevnet()
    chain = chainClient(devnet.endpoint)
    const governor = walletFromKey(randomBytes(32))
    await faucet(devnet.baseUrl, governor.address, toNano('10'))
    registry = (await deployRegistry(chain, governor, { globalId: GLOBAL_IDS.local, feeBps: 250, minStake: toNano('10'), closeDelay: 3600 })).address
    const first = await stakedNode([])
    const second = await stakedNode([first.libp2p.getMultiaddrs()[0]!.toString()])
    staked = [first, second]
  }, 120_000)

  afterAll(async () => {
    finders.forEach((f) => { f.stop() })
    for (const p of publishers) await p.stop()
    await Promise.all(hosts.map(async (h) => { await h.stop() }))
    await devnet?.close()
  })

  it('a client keeps the staked nodes\' adverts and none of a flood of throwaway keys; the node relays none of them', async () => {
    const client = await host(undefined, 'client', [staked[0]!.libp2p.getMultiaddrs()[0]!.toString()])
    const finder = new ProviderFinder({ libp2p: client }, { catchUpPeers: 0, stake: { stakeOf: chainStakeOf(chain, registry), maxUnstaked: 64 } })
    finder.start()
    finders.push(finder)
    const found = await finder.find(MODEL.hash, { dht: false, min: 2, signal: AbortSignal.timeout(30_000) })
    expect(found.map((a) => a.peerId.toString()).sort()).toEqual(staked.map((s) => s.identity.peerId.toString()).sort())

    // a rogue peer joins through the first node and floods adverts from throwaway keys
    const rogue = await host(await generateKeyPair('Ed25519'), 'node', [staked[0]!.libp2p.getMultiaddrs()[0]!.toString()])
    rogue.services.pubsub!.subscribe(ADVERT_TOPIC)
    await expect.poll(() => rogue.services.pubsub!.getSubscribers(ADVERT_TOPIC).map(String).includes(staked[0]!.libp2p.peerId.toString()), { timeout: 20_000 }).toBe(true)
    const flood = 150
    for (let i = 0; i < flood; i++) {
      const key = await generateKeyPair('Ed25519')
      await rogue.services.pubsub!.publish(ADVERT_TOPIC, (await advertOf(key, tonAddress(), tonAddress())).bytes)
    }
    const nodeBook = staked[0]!.publisher.book
    // every throwaway advert reached the first node and was refused there: unregistered (after a chain read) or ignored while busy
    await expect.poll(() => nodeBook.dropped.unregistered + nodeBook.dropped.busy, { timeout: 60_000 }).toBeGreaterThanOrEqual(flood)
    // then one that names a staked Provider it does not hold the key of (sent once the flood is
    // through, so the gate is not busy and reads it)
    const thief = await generateKeyPair('Ed25519')
    const victim = staked[1]!
    await rogue.services.pubsub!.publish(ADVERT_TOPIC, (await advertOf(thief, victim.publisher.current!.provider, victim.owner.address.toString())).bytes)
    await expect.poll(() => nodeBook.dropped['wrong-key'], { timeout: 20_000 }).toBe(1)
    expect(nodeBook.table.size).toBe(1)
    expect(nodeBook.table.get(thief.publicKey.toString())).toBeUndefined()
    // memory stays bounded whatever the flood: 150 throwaway Providers, 32 cached verdicts at most;
    // staked verdicts only for the two real Providers
    const sizes = nodeBook.gate!.sizes
    expect(sizes.unstaked).toBeLessThanOrEqual(32)
    expect(sizes.staked).toBeLessThanOrEqual(2)
    expect(nodeBook.gate!.lookups).toBeLessThan(flood + 10)
    // the node relayed none of them, so the client never even looked them up
    expect(finder.book.dropped.unregistered + finder.book.dropped.busy + finder.book.dropped['wrong-key']).toBe(0)
    expect(finder.book.table.size).toBe(2)
    expect(finder.book.gate!.sizes.unstaked).toBe(0)
  }, 120_000)

  it('a Provider that unbonds leaves every table once its cached stake expires', async () => {
    const finder = finders[0]!
    const leaving = staked[1]!
    const other = staked[0]!
    expect(other.publisher.book.table.get(leaving.identity.peerId)).toBeDefined()
    const provider = chain.open(Provider.createFromAddress(providerAddress(registry, leaving.owner.address, leaving.identity.keyPair.publicKey)))
    await provider.sendUnbond(walletSender(chain, leaving.owner))
    await expect.poll(async () => (await provider.getProviderData()).state, { timeout: 20_000 }).not.toBe(0)
    // the other node re-reads the stake (TTL 2 s) and drops the advert, though the leaving node keeps publishing
    await expect.poll(() => other.publisher.book.table.get(leaving.identity.peerId), { timeout: 30_000 }).toBeUndefined()
    expect(other.publisher.book.dropped.unstaked).toBeGreaterThanOrEqual(1)
    expect(leaving.publisher.current!.expires).toBeGreaterThan(unixNow())
    // the still-staked node stays in the client's table
    expect(finder.book.table.get(other.identity.peerId)).toBeDefined()
  }, 60_000)
})
