import { describe, it, expect, beforeAll, beforeEach } from 'vitest'
import { beginCell, toNano } from '@ton/core'
import type { BlockchainSnapshot, SandboxContract } from '@ton/sandbox'
import { Errors, Fees, Op } from './constants.ts'
import { Registry } from './Registry.ts'
import { Provider, ProviderState, providerAddress } from './Provider.ts'
import { Channel, channelAddress } from './Channel.ts'
import { publicKeyToInt } from './keys.ts'
import {
  deployRegistry, cascadeFees, CLOSE_DELAY, DEPOSIT, FEE_BPS, MIN_STAKE, STAKE, type Fixture
} from './test-fixture.ts'

describe('Registry', () => {
  let f: Fixture
  let deployed: BlockchainSnapshot
  beforeAll(async () => {
    f = await deployRegistry()
    deployed = f.blockchain.snapshot()
  })
  beforeEach(async () => { await f.blockchain.loadFrom(deployed) })

  it('is deployed with its parameters', async () => {
    expect(await f.registry.getRegistryData()).toEqual({
      owner: f.owner.address, feeBps: FEE_BPS, minStake: MIN_STAKE, closeDelay: CLOSE_DELAY
    })
    expect(await f.registry.getFeesCollected()).toBe(0n)
  })

  it('computes child addresses exactly as the off-chain functions do', async () => {
    for (const seed of [3, 4, 5]) {
      const key = Buffer.alloc(32, seed)
      expect((await f.registry.getProviderAddress(f.providerOwner.address, key)).equals(
        providerAddress(f.registry.address, f.providerOwner.address, key))).toBe(true)
      expect((await f.registry.getChannelAddress(f.client.address, f.clientKeys.publicKey, f.providerOwner.address, key)).equals(
        channelAddress(f.registry.address, f.client.address, f.clientKeys.publicKey, f.providerOwner.address, key))).toBe(true)
    }
  })

  it('registers a provider: the sender becomes its owner and the stake is recorded', async () => {
    const expected = providerAddress(f.registry.address, f.providerOwner.address, f.nodeKeys.publicKey)
    const result = await f.registry.sendRegisterProvider(f.providerOwner.getSender(), { nodeKey: f.nodeKeys.publicKey, stake: STAKE })
    expect(result.transactions).toHaveTransaction({ from: f.providerOwner.address, to: f.registry.address, op: Op.registerProvider, success: true })
    expect(result.transactions).toHaveTransaction({ from: f.registry.address, to: expected, op: Op.providerInit, deploy: true, success: true })

    const provider = f.blockchain.openContract(Provider.createFromAddress(expected))
    expect(await provider.getProviderData()).toEqual({
      owner: f.providerOwner.address, nodeKey: publicKeyToInt(f.nodeKeys.publicKey), stake: STAKE, state: ProviderState.active, unlockTime: 0
    })
    expect(await provider.getBalance()).toBeGreaterThanOrEqual(STAKE)
    // the gas reserve covers the whole cascade with a margin
    expect(cascadeFees(result.transactions)).toBeLessThan(Fees.providerDeployGas / 2n)
  })

  it('rejects a stake below the minimum and deploys nothing', async () => {
    const stake = MIN_STAKE - 1n
    const result = await f.registry.sendRegisterProvider(f.providerOwner.getSender(), { nodeKey: f.nodeKeys.publicKey, stake })
    expect(result.transactions).toHaveTransaction({ from: f.providerOwner.address, to: f.registry.address, success: false, exitCode: Errors.stakeTooLow })
    expect(result.transactions).not.toHaveTransaction({ from: f.registry.address, op: Op.providerInit })
    expect(result.transactions).toHaveTransaction({ from: f.registry.address, to: f.providerOwner.address, inMessageBounced: true })
  })

  it('rejects a register_provider whose value does not cover stake + gas', async () => {
    const result = await f.registry.sendRegisterProvider(f.providerOwner.getSender(), {
      nodeKey: f.nodeKeys.publicKey, stake: STAKE, value: STAKE + Fees.providerDeployGas - 1n
    })
    expect(result.transactions).toHaveTransaction({ from: f.providerOwner.address, to: f.registry.address, success: false, exitCode: Errors.notEnoughValue })
    expect(result.transactions).not.toHaveTransaction({ from: f.registry.address, op: Op.providerInit })
  })

  it('opens a channel with the deposit, the registry fee and the close delay', async () => {
    const expected = channelAddress(f.registry.address, f.client.address, f.clientKeys.publicKey, f.providerOwner.address, f.nodeKeys.publicKey)
    const result = await f.registry.sendOpenChannel(f.client.getSender(), {
      clientKey: f.clientKeys.publicKey, providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey, deposit: DEPOSIT
    })
    expect(result.transactions).toHaveTransaction({ from: f.client.address, to: f.registry.address, op: Op.openChannel, success: true })
    expect(result.transactions).toHaveTransaction({ from: f.registry.address, to: expected, op: Op.channelInit, deploy: true, success: true })

    const channel = f.blockchain.openContract(Channel.createFromAddress(expected))
    expect(await channel.getChannelData()).toEqual({
      registry: f.registry.address,
      client: f.client.address,
      clientKey: publicKeyToInt(f.clientKeys.publicKey),
      providerOwner: f.providerOwner.address,
      nodeKey: publicKeyToInt(f.nodeKeys.publicKey),
      initialized: true,
      deposit: DEPOSIT,
      paid: 0n,
      seqno: 0,
      receiptsRoot: Buffer.alloc(32),
      feeBps: FEE_BPS,
      closeDelay: CLOSE_DELAY,
      closeAt: 0,
      closed: false
    })
    expect(await channel.getBalance()).toBeGreaterThanOrEqual(DEPOSIT)
    expect(cascadeFees(result.transactions)).toBeLessThan(Fees.channelDeployGas / 2n)
  })

  it('rejects an open_channel whose value does not cover deposit + gas', async () => {
    const result = await f.registry.sendOpenChannel(f.client.getSender(), {
      clientKey: f.clientKeys.publicKey, providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey,
      deposit: DEPOSIT, value: DEPOSIT + Fees.channelDeployGas - 1n
    })
    expect(result.transactions).toHaveTransaction({ from: f.client.address, to: f.registry.address, success: false, exitCode: Errors.notEnoughValue })
    expect(result.transactions).not.toHaveTransaction({ from: f.registry.address, op: Op.channelInit })
  })

  it('counts protocol fees, accepts plain top-ups and rejects unknown ops', async () => {
    const fee = await f.stranger.send({ to: f.registry.address, value: toNano('0.5'), body: Registry.protocolFeeMessage(7n) })
    expect(fee.transactions).toHaveTransaction({ from: f.stranger.address, to: f.registry.address, op: Op.protocolFee, success: true })
    expect(await f.registry.getFeesCollected()).toBe(toNano('0.5'))

    const topUp = await f.registry.sendTopUp(f.stranger.getSender(), toNano('1'))
    expect(topUp.transactions).toHaveTransaction({ from: f.stranger.address, to: f.registry.address, success: true })
    expect(await f.registry.getFeesCollected()).toBe(toNano('0.5'))

    const unknown = await f.stranger.send({ to: f.registry.address, value: toNano('0.1'), body: beginCell().storeUint(0x1234, 32).endCell() })
    expect(unknown.transactions).toHaveTransaction({ from: f.stranger.address, to: f.registry.address, success: false, exitCode: Errors.unknownOp })
  })
})

describe('Provider', () => {
  let f: Fixture
  let provider: SandboxContract<Provider>
  let registered: BlockchainSnapshot
  beforeAll(async () => {
    f = await deployRegistry()
    await f.registry.sendRegisterProvider(f.providerOwner.getSender(), { nodeKey: f.nodeKeys.publicKey, stake: STAKE })
    provider = f.blockchain.openContract(Provider.createFromAddress(providerAddress(f.registry.address, f.providerOwner.address, f.nodeKeys.publicKey)))
    registered = f.blockchain.snapshot()
  })
  beforeEach(async () => { await f.blockchain.loadFrom(registered) })

  it('rejects provider_init from anyone but the registry', async () => {
    const result = await f.stranger.send({
      to: provider.address, value: toNano('1'), body: Provider.providerInitMessage({ stake: toNano('1000'), minStake: 0n })
    })
    expect(result.transactions).toHaveTransaction({ from: f.stranger.address, to: provider.address, op: Op.providerInit, success: false, exitCode: Errors.unauthorized })
    expect((await provider.getProviderData()).stake).toBe(STAKE)
  })

  it('accepts provider_init only once', async () => {
    const result = await f.registry.sendRegisterProvider(f.providerOwner.getSender(), { nodeKey: f.nodeKeys.publicKey, stake: STAKE })
    expect(result.transactions).toHaveTransaction({ from: f.registry.address, to: provider.address, op: Op.providerInit, success: false, exitCode: Errors.alreadyInitialized })
    expect((await provider.getProviderData()).stake).toBe(STAKE)
  })

  it('adds a top-up from the owner to the stake', async () => {
    const result = await provider.sendTopUp(f.providerOwner.getSender(), { amount: toNano('3') })
    expect(result.transactions).toHaveTransaction({ from: f.providerOwner.address, to: provider.address, op: Op.stakeTopUp, success: true })
    expect((await provider.getProviderData()).stake).toBe(STAKE + toNano('3'))
  })

  it('rejects a stake top-up from a stranger', async () => {
    const result = await provider.sendTopUp(f.stranger.getSender(), { amount: toNano('3') })
    expect(result.transactions).toHaveTransaction({ from: f.stranger.address, to: provider.address, op: Op.stakeTopUp, success: false, exitCode: Errors.unauthorized })
    expect((await provider.getProviderData()).stake).toBe(STAKE)
  })

  it('rejects a stake top-up whose value does not cover amount + gas', async () => {
    const result = await provider.sendTopUp(f.providerOwner.getSender(), { amount: toNano('3'), value: toNano('3') })
    expect(result.transactions).toHaveTransaction({ from: f.providerOwner.address, to: provider.address, success: false, exitCode: Errors.notEnoughValue })
    expect((await provider.getProviderData()).stake).toBe(STAKE)
  })
})
