import { describe, expect, it } from 'vitest'
import { checkOffer } from './client.ts'
import { ProviderRejectedError } from './errors.ts'
import type { ModelInfo } from '../protocol/wire/frames.ts'

// Price bait: what a node's Welcome offers must be what its advert (or the caller's source) said.

const EXECUTION = 'cpu;ort=1.30.0;intra=1;inter=1;batch=off'
const welcome: ModelInfo[] = [
  { name: 'mlp-64-10', hash: Buffer.alloc(32, 1), task: 'tensor', pricePerUnit: 50_000n, deterministic: true, execution: EXECUTION },
  { name: 'tiny-chat', hash: Buffer.alloc(32, 2), task: 'text-generation', pricePerUnit: 1_000n, deterministic: true, execution: EXECUTION }
]

function rejection (offered: Parameters<typeof checkOffer>[1]): string | undefined {
  try {
    checkOffer(welcome, offered)
  } catch (err) {
    if (err instanceof ProviderRejectedError) return err.reason
    throw err
  }
  return undefined
}

describe('checkOffer', () => {
  it('accepts the advertised offer, by hash or by name, and ignores models the node does not serve', () => {
    expect(rejection([{ name: 'mlp-64-10', hash: Buffer.alloc(32, 1), pricePerUnit: 50_000n, deterministic: true, execution: EXECUTION }])).toBeUndefined()
    expect(rejection([{ name: 'tiny-chat', pricePerUnit: 1_000n }])).toBeUndefined()
    expect(rejection([{ name: 'other', pricePerUnit: 1n }])).toBeUndefined()
  })

  it('PRICE_MISMATCH: the Welcome asks another price than advertised, higher or lower', () => {
    expect(rejection([{ name: 'mlp-64-10', hash: Buffer.alloc(32, 1), pricePerUnit: 10n }])).toBe('PRICE_MISMATCH')
    expect(rejection([{ name: 'tiny-chat', pricePerUnit: 1_001n }])).toBe('PRICE_MISMATCH')
  })

  it('a hash names the model even when the name is another one', () => {
    expect(rejection([{ name: 'tiny-chat', hash: Buffer.alloc(32, 1), pricePerUnit: 1_000n }])).toBe('PRICE_MISMATCH')
  })

  it('OFFER_MISMATCH: another execution path or determinism than advertised', () => {
    expect(rejection([{ name: 'tiny-chat', pricePerUnit: 1_000n, execution: 'cuda;ort=1.30.0;intra=1;inter=1;batch=off' }])).toBe('OFFER_MISMATCH')
    expect(rejection([{ name: 'tiny-chat', pricePerUnit: 1_000n, deterministic: false }])).toBe('OFFER_MISMATCH')
  })
})
