import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNano } from '@ton/core'
import { float32Tensor, ProviderPool } from '../client/index.ts'
import { startLocalNet, type LocalNet } from './localnet.ts'

const x = float32Tensor('x', [1, 64], new Array(64).fill(0.1))
const MODEL = 'mlp-64-10'

describe('providers are ranked by the tier they prove, not the one their advert claims (development attestation on the local chain)', () => {
  let net: LocalNet
  let liar: string
  let liarKeys: { providerOwner: import('@ton/core').Address, nodeKey: Buffer }
  let attested: string[]
  beforeAll(async () => {
    net = await startLocalNet()
    // runs outside any TEE, yet its advert will say 'tdx'
    const plain = await net.addNode()
    liar = plain.node.addresses[0]!.toString()
    liarKeys = { providerOwner: plain.owner.address, nodeKey: plain.identity.keyPair.publicKey }
    attested = []
    for (let i = 0; i < 2; i++) attested.push((await net.addNode({ config: { tee: { kind: 'dev' } } })).node.addresses[0]!.toString())
  })
  afterAll(async () => { await net?.close() })

  it("under 'preferred', a node advertising a tier it cannot prove gets none of the jobs; the attested ones get them all", async () => {
    const { client } = await net.addClient(toNano('3'), { tee: 'preferred' })
    // the liar comes first and claims the best tier: ranked by adverts, it would win every job
    const candidates = async () => [{ address: liar, tee: 'tdx' }, ...attested.map((address) => ({ address, tee: 'dev' }))]
    const pool = new ProviderPool(client, { candidates, deposit: toNano('0.2'), tee: 'preferred' })
    try {
      const served: string[] = []
      for (let i = 0; i < 3; i++) {
        const res = await pool.run(MODEL, [x])
        expect(res.tier).toBe('dev')
        served.push(res.address)
      }
      expect(served.filter((a) => a === liar)).toEqual([])
      expect(served.every((a) => attested.includes(a))).toBe(true)
      // remembered: the claim no longer counts, the liar ranks by what it proved
      const ranked = await pool.ranked(MODEL)
      expect(ranked.at(-1)).toMatchObject({ address: liar, tier: 'none' })
      expect(ranked.slice(0, 2).map((e) => e.tier)).toEqual(['dev', 'dev'])
      // and no deposit was locked in a channel to it
      expect(await client.channel(liarKeys)).toBeUndefined()
    } finally {
      await pool.close()
    }
  })

  it("under 'preferred', a demoted node is still a fallback when no one proves better, and its results say 'none'", async () => {
    const { client } = await net.addClient(toNano('2'), { tee: 'preferred' })
    const pool = new ProviderPool(client, { candidates: async () => [{ address: liar, tee: 'tdx' }], deposit: toNano('0.2'), tee: 'preferred' })
    try {
      const res = await pool.run(MODEL, [x])
      expect(res.address).toBe(liar)
      expect(res.tier).toBe('none')
      expect(await pool.ranked(MODEL)).toMatchObject([{ address: liar, tier: 'none' }])
    } finally {
      await pool.close()
    }
  })

  it("under 'required', a node that claims a tier it cannot prove is refused once and then skipped", async () => {
    const { client } = await net.addClient(toNano('2'), { tee: 'required' })
    const candidates = async () => [{ address: liar, tee: 'dev' }, { address: attested[0]!, tee: 'dev' }]
    const pool = new ProviderPool(client, { candidates, deposit: toNano('0.2'), tee: 'required' })
    try {
      expect((await pool.ranked(MODEL)).map((e) => e.address)).toEqual([liar, attested[0]])
      const res = await pool.run(MODEL, [x])
      expect(res.address).toBe(attested[0])
      expect(res.tier).toBe('dev')
      expect((await pool.ranked(MODEL)).map((e) => e.address)).toEqual([attested[0]])
    } finally {
      await pool.close()
    }
  })

  it('a demotion is remembered only for a while: afterwards the claim is checked again', async () => {
    const { client } = await net.addClient(toNano('2'), { tee: 'required' })
    const candidates = async () => [{ address: liar, tee: 'dev' }, { address: attested[1]!, tee: 'dev' }]
    let now = Date.now()
    const pool = new ProviderPool(client, { candidates, deposit: toNano('0.2'), tee: 'required', demoteMs: 60_000, now: () => now })
    try {
      expect((await pool.run(MODEL, [x])).address).toBe(attested[1])
      now += 59_000
      expect((await pool.ranked(MODEL)).map((e) => e.address)).toEqual([attested[1]])
      now += 2000
      expect((await pool.ranked(MODEL)).map((e) => e.address)).toContain(liar)
    } finally {
      await pool.close()
    }
  })
})
