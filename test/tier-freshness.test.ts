import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNano } from '@ton/core'
import { walletSender } from '../chain/client.ts'
import { waitUntil } from '../chain/operations.ts'
import { ConnectionError, float32Tensor, ProviderPool, ProviderRejectedError } from '../client/index.ts'
import { DEFAULT_ACCEPTED_TCB_STATUSES, registryAllowList, staticCollateral, TdxVerifier, judgeTdxReport } from '../client/attestation.ts'
import { SessionTier } from '../client/session-tier.ts'
import { Registry } from '../contracts/index.ts'
import type { ProviderNode } from '../node/provider-node.ts'
import { newChallenge, reportData, type AttestationError } from '../protocol/attestation.ts'
import { identityFromSeed } from '../protocol/keys.ts'
import { startLocalNet, type LocalNet } from './localnet.ts'
import { runTdxTests, tdxSample } from './tdx-samples.ts'

const x = float32Tensor('x', [1, 64], new Array(64).fill(0.1))
const MODEL = 'mlp-64-10'

/** A client clock the test moves; it starts at the real time, as the nodes' clocks do. */
function testClock (): { now: () => number, advance: (seconds: number) => void } {
  let offset = 0
  return { now: () => Math.floor(Date.now() / 1000) + offset, advance: (s) => { offset += s } }
}

/** The node stops answering attest requests (as a node restarted outside its TEE would). */
async function stopAttesting (node: ProviderNode): Promise<void> {
  await node['attestation']!.stop()
}

describe('the tier of a long-lived session stays true (development attestation on the local chain)', () => {
  let net: LocalNet
  let steady: string
  beforeAll(async () => {
    net = await startLocalNet()
    steady = (await net.addNode({ config: { tee: { kind: 'dev' } } })).node.addresses[0]!.toString()
  })
  afterAll(async () => { await net?.close() })

  it("a required session is re-attested before its verdict expires and keeps serving at tier dev past the first verdict's end", async () => {
    const clock = testClock()
    const { client } = await net.addClient(toNano('2'), { tee: 'required', attestation: { now: clock.now, maxEvidenceAgeSeconds: 120 } })
    const provider = await client.connect(steady)
    const first = provider.tee.verdict!
    expect(first.expiresAt - first.attestedAt).toBe(120)
    await client.openChannel(provider, toNano('0.5'))
    expect((await provider.session.run(MODEL, [x])).tier).toBe('dev')
    // inside the renewal window (the last fifth of the verdict's life): the next job renews it first
    clock.advance(110)
    expect((await provider.session.run(MODEL, [x])).tier).toBe('dev')
    // past the first verdict's expiry: only the renewed verdict can make this result 'dev'
    clock.advance(90)
    expect(clock.now()).toBeGreaterThan(first.expiresAt)
    const later = await provider.session.run(MODEL, [x])
    expect(later.tier).toBe('dev')
    expect(provider.session.isClosed).toBe(false)
    await provider.session.close()
  })

  it("under 'required', a session whose evidence expired is closed, and no result after the expiry says 'dev'", async () => {
    const { node } = await net.addNode({ config: { tee: { kind: 'dev', lifetimeSeconds: 60 } } })
    const clock = testClock()
    const { client } = await net.addClient(toNano('2'), { tee: 'required', attestation: { now: clock.now } })
    const provider = await client.connect(node.addresses[0]!)
    // the verdict lasts no longer than the node's 60 s evidence
    expect(provider.tee.verdict!.expiresAt).toBeLessThanOrEqual(clock.now() + 60)
    await client.openChannel(provider, toNano('0.5'))
    expect((await provider.session.run(MODEL, [x])).tier).toBe('dev')
    const paid = provider.session.paid.amount
    // well past the evidence's lifetime (the issue saw a warm session serve 'dev' 65 s past 60)
    clock.advance(1000)
    const err = await provider.session.run(MODEL, [x]).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ProviderRejectedError)
    expect((err as ProviderRejectedError).reason).toBe('TEE_REQUIRED')
    expect(provider.session.isClosed).toBe(true)
    expect(provider.session.tier).toBe('none')
    // nothing ran and nothing more was paid
    expect(provider.session.paid.amount).toBe(paid)
    expect(await provider.session.run(MODEL, [x]).catch((e: unknown) => e)).toBeInstanceOf(ConnectionError)
  })

  it("under 'preferred', the same expiry drops the session to tier none and its results say so", async () => {
    const { node } = await net.addNode({ config: { tee: { kind: 'dev', lifetimeSeconds: 60 } } })
    const clock = testClock()
    const { client } = await net.addClient(toNano('2'), { tee: 'preferred', attestation: { now: clock.now } })
    const provider = await client.connect(node.addresses[0]!)
    await client.openChannel(provider, toNano('0.5'))
    expect((await provider.session.run(MODEL, [x])).tier).toBe('dev')
    clock.advance(1000)
    const after = await provider.session.run(MODEL, [x])
    expect(after.tier).toBe('none')
    expect(after.seqno).toBe(2)
    expect(provider.session.tier).toBe('none')
    expect(provider.session.isClosed).toBe(false)
    await provider.session.close()
  })

  it("under 'preferred', a node that stops attesting falls to tier none at the next renewal", async () => {
    const { node } = await net.addNode({ config: { tee: { kind: 'dev' } } })
    const clock = testClock()
    const { client } = await net.addClient(toNano('2'), { tee: 'preferred', attestation: { now: clock.now } })
    const provider = await client.connect(node.addresses[0]!)
    await client.openChannel(provider, toNano('0.5'))
    expect((await provider.session.run(MODEL, [x])).tier).toBe('dev')
    await stopAttesting(node)
    // the renewal window of a 600 s verdict: the old verdict is still valid, but the node now refuses to attest
    clock.advance(590)
    const res = await provider.session.run(MODEL, [x])
    expect(res.tier).toBe('none')
    expect(provider.session.tier).toBe('none')
    await provider.session.close()
  })

  it("under 'required', a pool whose provider stops attesting closes that session and moves on to an attested one", async () => {
    const { node: quitter } = await net.addNode({ config: { tee: { kind: 'dev' } } })
    const quitterAddr = quitter.addresses[0]!.toString()
    const clock = testClock()
    const { client } = await net.addClient(toNano('3'), { tee: 'required', attestation: { now: clock.now } })
    const pool = new ProviderPool(client, { candidates: async () => [{ address: quitterAddr, tee: 'dev' }, { address: steady, tee: 'dev' }], deposit: toNano('0.2'), tee: 'required' })
    try {
      await pool.ranked(MODEL)
      // both warm, equal in every way: the pool keeps its candidates' order, the quitter first
      for (const address of [quitterAddr, steady]) expect((await pool.useAt(address, async (p) => await p.session.run(MODEL, [x]))).tier).toBe('dev')
      expect((await pool.ranked(MODEL)).map((e) => e.address)).toEqual([quitterAddr, steady])
      await stopAttesting(quitter)
      clock.advance(590)
      const res = await pool.run(MODEL, [x])
      expect(res.address).toBe(steady)
      expect(res.tier).toBe('dev')
      // the quitter is skipped: it proves no tier
      expect((await pool.ranked(MODEL)).map((e) => e.address)).toEqual([steady])
    } finally {
      await pool.close()
    }
  })
})

describe.skipIf(!runTdxTests)('governance removes a measurement from the allow-list while a session is open (real Intel sample, local Registry)', () => {
  let net: LocalNet
  beforeAll(async () => { net = await startLocalNet() })
  afterAll(async () => { await net?.close() })

  it("the next renewal refuses the measurement: 'required' loses the session, 'preferred' falls to tier none", async () => {
    const sample = tdxSample('tdx_quote')
    let now = sample.asOf
    const allowList = registryAllowList(net.chain, net.registry)
    // Intel's chain, the quote's signature and its TCB level, verified for real
    const report = await new TdxVerifier({ collateral: staticCollateral(sample.collateral), allowList }).appraise(sample.quote, now)
    const measurement = report.measurement
    const peer = await identityFromSeed(Buffer.alloc(32, 7))
    // what a TD holding the peer's key would answer to each fresh challenge (no public quote binds a key of ours)
    const attest = async () => {
      const challenge = newChallenge(now)
      const expiresAt = now + 3600
      const bound = { ...report, reportData: reportData(peer.keyPair.publicKey, expiresAt, challenge.nonce) }
      return await judgeTdxReport(bound, { expiresAt, peerKey: peer.keyPair.publicKey, challenge }, { allowList, acceptedTcbStatuses: DEFAULT_ACCEPTED_TCB_STATUSES })
    }
    const registry = net.chain.open(Registry.createFromAddress(net.registry))
    const governance = walletSender(net.chain, net.governor)
    await registry.sendAddMeasurement(governance, { measurement })
    await waitUntil(async () => await registry.isMeasurementAllowed(measurement), (ok) => ok, 'the measurement to be allowed')

    const lost: Error[] = []
    const required = new SessionTier({ policy: 'required', attest, now: () => now, verdict: await attest(), onLost: (e) => { lost.push(e) } })
    let preferred: SessionTier | undefined
    try {
      expect(required.tierAt()).toBe('tdx')
      now += 590
      await required.ensure()
      // renewed while still allowed: valid past the first verdict's 600 s
      expect(required.tierAt(now + 300)).toBe('tdx')
      preferred = new SessionTier({ policy: 'preferred', attest, now: () => now, verdict: await attest(), onLost: () => {} })

      await registry.sendRemoveMeasurement(governance, { measurement })
      await waitUntil(async () => await registry.isMeasurementAllowed(measurement), (ok) => !ok, 'the measurement to be removed')
      // both verdicts still valid, in their renewal window
      now += 590
      expect(required.tierAt()).toBe('tdx')
      const err = await required.ensure().catch((e: unknown) => e)
      expect((err as ProviderRejectedError).reason).toBe('TEE_REQUIRED')
      expect(lost).toHaveLength(1)
      expect((lost[0] as AttestationError).code).toBe('MEASUREMENT_NOT_ALLOWED')
      expect(required.tierAt()).toBe('none')
      expect(() => required.tierForResult()).toThrow(ProviderRejectedError)

      await preferred.ensure()
      expect(preferred.tierAt()).toBe('none')
      expect(preferred.tierForResult()).toBe('none')
      expect(preferred.standing).toMatchObject({ state: 'unattested', error: { code: 'MEASUREMENT_NOT_ALLOWED' } })
    } finally {
      required.stop()
      preferred?.stop()
    }
  })
})
