import { afterEach, describe, expect, it, vi } from 'vitest'
import { AttestationError, CollateralUnavailableError, NoAttestationError, type Verdict } from '../protocol/attestation.ts'
import { ProviderRejectedError } from './errors.ts'
import { SessionTier, type SessionTierOptions } from './session-tier.ts'

// The state machine alone, with the node's answers scripted; test/tier-freshness.test.ts runs it
// against real nodes, the real dev verifier and the Registry's allow-list.

const T0 = 1_800_000_000

function verdictAt (now: number, life = 600): Verdict {
  return { kind: 'dev', measurement: '00'.repeat(32), tcbStatus: 'Development', attestedAt: now, expiresAt: now + life }
}

/** The node's next answers, in order: a verdict, or an error. */
function scripted (clock: { now: number }, answers: Array<'ok' | Error>): { attest: SessionTierOptions['attest'], asked: () => number } {
  let asked = 0
  return {
    attest: async () => {
      const answer = answers[asked++] ?? new Error('no more answers scripted')
      if (answer === 'ok') return verdictAt(clock.now)
      throw answer
    },
    asked: () => asked
  }
}

function keeper (policy: 'required' | 'preferred', clock: { now: number }, attest: SessionTierOptions['attest'], extra: Partial<SessionTierOptions> = {}): { tier: SessionTier, lost: Error[] } {
  const lost: Error[] = []
  const tier = new SessionTier({ policy, attest, now: () => clock.now, verdict: verdictAt(clock.now), onLost: (e) => { lost.push(e) }, ...extra })
  return { tier, lost }
}

describe('SessionTier: a session\'s tier follows its node\'s attestation', () => {
  afterEach(() => { vi.useRealTimers() })

  it("renews in the background before the verdict is due, with no job: an idle 'required' session whose node stopped attesting is lost", async () => {
    vi.useFakeTimers()
    const clock = { now: T0 }
    const node = scripted(clock, ['ok', new NoAttestationError('outside a TEE')])
    const { tier, lost } = keeper('required', clock, node.attest)
    try {
      // the first renewal: 60 s before the 600 s verdict ends
      clock.now = T0 + 540
      await vi.advanceTimersByTimeAsync(540_000)
      expect(node.asked()).toBe(1)
      expect(tier.verdictAt()!.attestedAt).toBe(T0 + 540)
      expect(lost).toEqual([])
      // the next one, 540 s later, finds the node no longer attesting
      clock.now = T0 + 1080
      await vi.advanceTimersByTimeAsync(540_000)
      expect(node.asked()).toBe(2)
      expect(lost).toHaveLength(1)
      expect(tier.tierAt()).toBe('none')
    } finally { tier.stop() }
  })

  it('stops renewing once stopped (the session closed)', async () => {
    vi.useFakeTimers()
    const clock = { now: T0 }
    const node = scripted(clock, ['ok'])
    const { tier } = keeper('required', clock, node.attest)
    tier.stop()
    clock.now = T0 + 540
    await vi.advanceTimersByTimeAsync(600_000)
    expect(node.asked()).toBe(0)
  })

  it('renews nothing before the window, and renews in the last fifth of a short verdict\'s life (at most 60 s)', async () => {
    const clock = { now: T0 }
    const node = scripted(clock, ['ok', 'ok'])
    const { tier } = keeper('required', clock, node.attest)
    try {
      clock.now = T0 + 539
      await tier.ensure()
      expect(node.asked()).toBe(0)
      clock.now = T0 + 540
      await tier.ensure()
      expect(node.asked()).toBe(1)
      expect(tier.verdictAt()!.attestedAt).toBe(T0 + 540)
    } finally { tier.stop() }
  })

  it('a node that cannot be reached keeps its still-valid verdict; once it lapses, `required` loses the session', async () => {
    const clock = { now: T0 }
    const node = scripted(clock, [new Error('dial failed'), new Error('dial failed')])
    const { tier, lost } = keeper('required', clock, node.attest)
    try {
      clock.now = T0 + 590
      await tier.ensure()
      expect(tier.tierForResult()).toBe('dev')
      expect(lost).toEqual([])
      clock.now = T0 + 600
      expect((await tier.ensure().catch((e: unknown) => e) as ProviderRejectedError).reason).toBe('TEE_REQUIRED')
      expect(lost).toHaveLength(1)
      expect(tier.tierAt()).toBe('none')
    } finally { tier.stop() }
  })

  it('collateral the client could not fetch says nothing about the node: the verdict stands until it expires', async () => {
    const clock = { now: T0 }
    const node = scripted(clock, [new CollateralUnavailableError('PCS down')])
    const { tier, lost } = keeper('required', clock, node.attest)
    try {
      clock.now = T0 + 590
      await tier.ensure()
      expect(tier.tierAt()).toBe('dev')
      expect(lost).toEqual([])
    } finally { tier.stop() }
  })

  it('a node that answers without a tier loses the old verdict at once, even before it expires', async () => {
    const clock = { now: T0 }
    const node = scripted(clock, [new NoAttestationError('outside a TEE')])
    const { tier } = keeper('preferred', clock, node.attest)
    try {
      clock.now = T0 + 590
      await tier.ensure()
      expect(tier.tierAt()).toBe('none')
      expect(tier.tierForResult()).toBe('none')
      expect(tier.standing).toMatchObject({ state: 'unattested', error: { code: 'NO_ATTESTATION' } })
    } finally { tier.stop() }
  })

  it("under 'preferred', a node without a tier is asked again after recheckSeconds and regains it", async () => {
    const clock = { now: T0 }
    const node = scripted(clock, ['ok'])
    const tier = new SessionTier({ policy: 'preferred', attest: node.attest, now: () => clock.now, error: new NoAttestationError('busy'), onLost: () => {}, recheckSeconds: 120 })
    try {
      clock.now = T0 + 119
      await tier.ensure()
      expect(node.asked()).toBe(0)
      clock.now = T0 + 120
      await tier.ensure()
      await tier.renew() // the recheck runs in the background; wait for it
      expect(tier.tierAt()).toBe('dev')
    } finally { tier.stop() }
  })

  it("a verdict that lapses while a job runs gives its result tier none, and under 'required' refuses the result", async () => {
    const clock = { now: T0 }
    const preferred = keeper('preferred', clock, scripted(clock, []).attest)
    const required = keeper('required', clock, scripted(clock, []).attest)
    try {
      await preferred.tier.ensure()
      await required.tier.ensure()
      // the job started under a valid verdict; its result arrives after the verdict's end
      clock.now = T0 + 600
      expect(preferred.tier.tierForResult()).toBe('none')
      expect(() => required.tier.tierForResult()).toThrow(ProviderRejectedError)
      expect(required.lost).toHaveLength(1)
      expect((required.lost[0] as AttestationError).code).toBe('ATTESTATION_EXPIRED')
    } finally {
      preferred.tier.stop()
      required.tier.stop()
    }
  })
})
