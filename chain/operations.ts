import { beginCell, internal, type Address } from '@ton/core'
import type { TonClient } from '@ton/ton'
import { Fees, Provider, providerAddress, Registry, type RegistryConfig } from '../contracts/index.ts'
import { sendAndWait, type AnyKeyWallet } from './client.ts'

// Operator actions, each a wallet transfer followed by a wait for its effect, through any TON HTTP
// API. Used by the CLI, the demo and the tests alike.

const POLL_MS = 250

/** Polls `read` until `done` holds or the time runs out. */
export async function waitUntil<T> (read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let value: T | undefined
    try { value = await read() } catch { value = undefined }
    if (value !== undefined && done(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

/**
 * Deploys a Registry owned by `owner`'s wallet for network params.globalId; resolves once its
 * getters answer. The default value funds the Registry's storage reserve (Fees.registryStorageReserve,
 * which withdraw_treasury never touches) with a margin.
 */
export async function deployRegistry (
  chain: TonClient, owner: AnyKeyWallet, params: Omit<RegistryConfig, 'owner'>, value = Fees.registryStorageReserve + 100_000_000n
): Promise<Registry> {
  const registry = Registry.createFromConfig({ ...params, owner: owner.address })
  const state = await chain.getContractState(registry.address)
  if (state.state !== 'active') {
    await sendAndWait(chain, owner, { messages: [internal({ to: registry.address, value, bounce: false, init: registry.init!, body: beginCell().endCell() })] })
    await waitUntil(async () => await chain.open(registry).getRegistryData(), () => true, 'the registry to deploy')
  }
  return registry
}

/** The node's key pair (a @ton/crypto KeyPair: secretKey is seed ++ public key). */
export interface NodeKeyPair {
  publicKey: Buffer
  secretKey: Buffer
}

/**
 * Stakes `stake` nanoton for the node key from the owner's wallet on network `globalId` (config
 * param 19; protocol/cells.ts GLOBAL_IDS); the node key signs the Registration (its consent to be
 * staked by this owner at this registry). Resolves once the Provider holds the stake.
 */
export async function registerProvider (
  chain: TonClient, registry: Address, owner: AnyKeyWallet, node: NodeKeyPair, stake: bigint, globalId: number
): Promise<Provider> {
  const nodeKey = node.publicKey
  const signature = Registry.signRegistration({ globalId, registry, owner: owner.address, nodeSecretKey: node.secretKey })
  const msg = Registry.registerProviderMessage({ nodeKey, stake, signature })
  await sendAndWait(chain, owner, { messages: [internal({ to: registry, value: stake + Fees.providerDeployGas, bounce: true, body: msg })] })
  const provider = Provider.createFromAddress(providerAddress(registry, owner.address, nodeKey))
  await waitUntil(async () => await chain.open(provider).getProviderData(), (d) => d.stake >= stake, 'the provider stake to arrive')
  return provider
}
