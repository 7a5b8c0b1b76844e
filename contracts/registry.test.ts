import { describe, it, expect, beforeAll, beforeEach } from 'vitest'
import { Address, beginCell, Dictionary, toNano, type Cell, type Sender, type Transaction } from '@ton/core'
import { internal, type BlockchainSnapshot, type SandboxContract, type SendMessageResult } from '@ton/sandbox'
import { findTransactionRequired, flattenTransaction } from '@ton/test-utils'
import { keyPairFromSeed } from '@ton/crypto'
import { GLOBAL_IDS } from '../protocol/cells.ts'
import { Bounds, Errors, Fees, Op } from './constants.ts'
import { Registry } from './Registry.ts'
import { configWithGlobalId, globalIdOfConfig } from './network.ts'
import { Provider, ProviderState, providerAddress } from './Provider.ts'
import { Channel, channelAddress } from './Channel.ts'
import { publicKeyToInt } from './keys.ts'
import { forwardFees } from './test-fixture.ts'
import {
  deployRegistry, register, registrationSig, sandbox, GLOBAL_ID, NONCE, cascadeFees, ledgerFor, storageFees, computeOutcome, expectFeeAccepted,
  CLOSE_DELAY, DEPOSIT, FEE_BPS, FLAT_GAS_LIMIT, FLAT_GAS_PRICE, MIN_STAKE, PROTOCOL_FEE_GAS, SLASH_SHARE_BPS, STAKE, UNBONDING_DELAY, type Fixture
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
      owner: f.owner.address, feeBps: FEE_BPS, minStake: MIN_STAKE, closeDelay: CLOSE_DELAY,
      unbondingDelay: UNBONDING_DELAY, slashShareBps: SLASH_SHARE_BPS, version: 0, modelCount: 0, measurementCount: 0,
      globalId: GLOBAL_ID, registrations: 0
    })
    expect(await f.registry.getVersion()).toBe(0)
    expect(await f.registry.getTreasuryAvailable()).toBe(await f.registry.getBalance() - Fees.registryStorageReserve)
  })

  it('computes child addresses exactly as the off-chain functions do', async () => {
    for (const seed of [3, 4, 5]) {
      const key = Buffer.alloc(32, seed)
      expect((await f.registry.getProviderAddress(f.providerOwner.address, key)).equals(
        providerAddress(f.registry.address, f.providerOwner.address, key))).toBe(true)
      for (const nonce of [0n, 1n, 2n ** 64n - 1n]) {
        expect((await f.registry.getChannelAddress(f.client.address, f.clientKeys.publicKey, f.providerOwner.address, key, nonce)).equals(
          channelAddress(f.registry.address, f.client.address, f.clientKeys.publicKey, f.providerOwner.address, key, nonce))).toBe(true)
      }
    }
    // a new nonce is a new channel
    expect(channelAddress(f.registry.address, f.client.address, f.clientKeys.publicKey, f.providerOwner.address, f.nodeKeys.publicKey, 1n).equals(
      channelAddress(f.registry.address, f.client.address, f.clientKeys.publicKey, f.providerOwner.address, f.nodeKeys.publicKey, 2n))).toBe(false)
  })

  it('registers a provider: the sender becomes its owner and the stake is recorded', async () => {
    const expected = providerAddress(f.registry.address, f.providerOwner.address, f.nodeKeys.publicKey)
    const ledger = ledgerFor(f, expected)
    await ledger.snap()
    const result = await register(f)
    await ledger.expectExact(result.transactions)
    // the registry keeps nothing of the value: it all goes on to the provider
    expect(await ledger.delta(f.registry.address)).toBe(-storageFees(findTransactionRequired(result.transactions, { to: f.registry.address, op: Op.registerProvider })))
    expect(result.transactions).toHaveTransaction({ from: f.providerOwner.address, to: f.registry.address, op: Op.registerProvider, success: true })
    expect(result.transactions).toHaveTransaction({ from: f.registry.address, to: expected, op: Op.providerInit, deploy: true, success: true })

    const provider = f.blockchain.openContract(Provider.createFromAddress(expected))
    expect(await provider.getProviderData()).toEqual({
      owner: f.providerOwner.address, nodeKey: publicKeyToInt(f.nodeKeys.publicKey), stake: STAKE, state: ProviderState.active, unlockTime: 0,
      minStake: MIN_STAKE, unbondingDelay: UNBONDING_DELAY, slashShareBps: SLASH_SHARE_BPS, epoch: 1
    })
    expect(await f.registry.getRegistryData()).toMatchObject({ registrations: 1 })
    expect(await provider.getBalance()).toBeGreaterThanOrEqual(STAKE)
    // the gas reserve covers the whole cascade with a margin
    expect(cascadeFees(result.transactions)).toBeLessThan(Fees.providerDeployGas / 2n)
  })

  it('rejects a stake below the minimum and deploys nothing', async () => {
    const stake = MIN_STAKE - 1n
    const result = await register(f, { stake })
    expect(result.transactions).toHaveTransaction({ from: f.providerOwner.address, to: f.registry.address, success: false, exitCode: Errors.stakeTooLow })
    expect(result.transactions).not.toHaveTransaction({ from: f.registry.address, op: Op.providerInit })
    expect(result.transactions).toHaveTransaction({ from: f.registry.address, to: f.providerOwner.address, inMessageBounced: true })
  })

  it('rejects a register_provider whose value does not cover stake + gas', async () => {
    const result = await register(f, { value: STAKE + Fees.providerDeployGas - 1n })
    expect(result.transactions).toHaveTransaction({ from: f.providerOwner.address, to: f.registry.address, success: false, exitCode: Errors.notEnoughValue })
    expect(result.transactions).not.toHaveTransaction({ from: f.registry.address, op: Op.providerInit })
  })

  it('opens a channel with the deposit, the registry fee and the close delay', async () => {
    const expected = channelAddress(f.registry.address, f.client.address, f.clientKeys.publicKey, f.providerOwner.address, f.nodeKeys.publicKey, NONCE)
    const ledger = ledgerFor(f, expected)
    await ledger.snap()
    const result = await f.registry.sendOpenChannel(f.client.getSender(), {
      clientKey: f.clientKeys.publicKey, providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey, deposit: DEPOSIT, nonce: NONCE
    })
    await ledger.expectExact(result.transactions)
    expect(await ledger.delta(f.registry.address)).toBe(-storageFees(findTransactionRequired(result.transactions, { to: f.registry.address, op: Op.openChannel })))
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
      closed: false,
      nonce: NONCE,
      expiresAt: f.blockchain.now! + Bounds.channelLifetime
    })
    // the value above the deposit less the deployment's fees stays as the channel's storage reserve
    const init = findTransactionRequired(result.transactions, { from: f.registry.address, to: expected, op: Op.channelInit })
    expect(await channel.getBalance()).toBe(flattenTransaction(init).value! - init.totalFees.coins)
    expect(await channel.getBalance() - DEPOSIT).toBeGreaterThan(toNano('0.085'))
    expect(cascadeFees(result.transactions)).toBeLessThan(Fees.channelDeployGas / 5n)
  })

  it('rejects an open_channel whose value does not cover deposit + gas', async () => {
    const result = await f.registry.sendOpenChannel(f.client.getSender(), {
      clientKey: f.clientKeys.publicKey, providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey,
      deposit: DEPOSIT, nonce: NONCE, value: DEPOSIT + Fees.channelDeployGas - 1n
    })
    expect(result.transactions).toHaveTransaction({ from: f.client.address, to: f.registry.address, success: false, exitCode: Errors.notEnoughValue })
    expect(result.transactions).not.toHaveTransaction({ from: f.registry.address, op: Op.channelInit })
  })

  describe('protocol fees', () => {
    /** Sends `value` with `body` as a Channel sends a fee (non-bounceable); checks every balance to the nanoton. */
    async function deliver (value: bigint, body: Cell = Registry.protocolFeeMessage(7n)): Promise<{ result: SendMessageResult, tx: Transaction, kept: bigint }> {
      const ledger = ledgerFor(f)
      await ledger.snap()
      const available = await f.registry.getTreasuryAvailable()
      const result = await f.stranger.send({ to: f.registry.address, value, bounce: false, body })
      await ledger.expectExact(result.transactions)
      const tx = findTransactionRequired(result.transactions, { from: f.stranger.address, to: f.registry.address })
      const kept = await ledger.delta(f.registry.address)
      expect(kept).toBe(value - tx.totalFees.coins)
      expect(await f.registry.getTreasuryAvailable()).toBe(available + kept)
      return { result, tx, kept }
    }

    // A Channel sends exactly the fee (forward fee paid separately), so the fee's own value is all the
    // gas the Registry gets: 312,500 nanoton buys 781 gas. The code root accepts it in 93 gas, inside
    // the 100 gas that every message of at least 40,000 nanoton buys flat.
    it.each([
      ['40,000 nanoton, the least that runs any code', FLAT_GAS_PRICE],
      ['312,500 nanoton, 2.5 % of a 0.0125 TON claim', 312_500n],
      ['0.5 TON', toNano('0.5')]
    ])('accepts a fee of %s with exit code 0 on the flat minimum of gas', async (_name, value) => {
      const { result, tx, kept } = await deliver(value)
      expect(result.transactions).toHaveTransaction({ from: f.stranger.address, to: f.registry.address, op: Op.protocolFee, success: true, exitCode: 0 })
      expectFeeAccepted(tx, value)
      expect(PROTOCOL_FEE_GAS).toBeLessThanOrEqual(FLAT_GAS_LIMIT)
      expect(kept).toBe(value - FLAT_GAS_PRICE - storageFees(tx))
    })

    it('accepts the bare opcode too, and a fee with any tail (only the opcode is read)', async () => {
      for (const body of [beginCell().storeUint(Op.protocolFee, 32).endCell(), beginCell().storeUint(Op.protocolFee, 32).storeUint(1, 64).storeRef(beginCell().endCell()).endCell()]) {
        const { tx } = await deliver(312_500n, body)
        expectFeeAccepted(tx, 312_500n)
      }
    })

    it('a fee below 40,000 nanoton buys no gas: the network skips the compute phase and credits the value whole', async () => {
      // Config param 21: less than flat_gas_price buys 0 gas, whatever the code. No contract can run on
      // 1,000 nanoton; the transaction is marked aborted, but nothing is charged and nothing is lost.
      const { tx, kept } = await deliver(1_000n)
      expect(computeOutcome(tx)).toEqual({ skipped: true, reason: 'no-gas' })
      expectFeeAccepted(tx, 1_000n)
      expect(kept).toBe(1_000n - storageFees(tx))
    })

    it('accepts plain top-ups; rejects unknown ops and a body shorter than the fee opcode', async () => {
      const topUp = await f.registry.sendTopUp(f.stranger.getSender(), toNano('1'))
      expect(topUp.transactions).toHaveTransaction({ from: f.stranger.address, to: f.registry.address, success: true })

      const unknown = await f.stranger.send({ to: f.registry.address, value: toNano('0.1'), body: beginCell().storeUint(0x1234, 32).endCell() })
      expect(unknown.transactions).toHaveTransaction({ from: f.stranger.address, to: f.registry.address, success: false, exitCode: Errors.unknownOp })
      expect(unknown.transactions).toHaveTransaction({ from: f.registry.address, to: f.stranger.address, inMessageBounced: true })
      // the first 16 bits of the fee opcode are not the fee
      const short = await f.stranger.send({ to: f.registry.address, value: toNano('0.1'), body: beginCell().storeUint(Op.protocolFee >>> 16, 16).endCell() })
      expect(short.transactions).toHaveTransaction({ from: f.stranger.address, to: f.registry.address, success: false, exitCode: Errors.unknownOp })
    })
  })
})

describe('Provider', () => {
  let f: Fixture
  let provider: SandboxContract<Provider>
  let registered: BlockchainSnapshot
  beforeAll(async () => {
    f = await deployRegistry()
    await register(f)
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

  it('a repeated registration changes nothing and its value goes straight back to the owner', async () => {
    const ledger = ledgerFor(f, provider.address)
    await ledger.snap()
    const before = await provider.getProviderData()
    const result = await register(f)
    await ledger.expectExact(result.transactions)
    const init = findTransactionRequired(result.transactions, { from: f.registry.address, to: provider.address, op: Op.providerInit, success: true })
    const back = findTransactionRequired(result.transactions, { from: provider.address, to: f.providerOwner.address, op: Op.excesses })
    // the provider keeps nothing of it (only its own fees), the owner gets the rest back
    expect(await ledger.delta(provider.address)).toBe(-storageFees(init))
    expect(flattenTransaction(back).value).toBe(flattenTransaction(init).value! - (init.totalFees.coins - storageFees(init)) - forwardFees(init))
    expect(await provider.getProviderData()).toEqual(before)
    // the counter moved on (epochs are unique), this provider keeps its epoch
    expect(await f.registry.getRegistryData()).toMatchObject({ registrations: 2 })
    expect(before.epoch).toBe(1)
  })

  it('numbers registrations: each new Provider gets the next epoch', async () => {
    const other = keyPairFromSeed(Buffer.alloc(32, 9))
    await register(f, { owner: f.stranger, nodeKeys: other })
    const second = f.blockchain.openContract(Provider.createFromAddress(providerAddress(f.registry.address, f.stranger.address, other.publicKey)))
    expect((await second.getProviderData()).epoch).toBe(2)
    expect((await provider.getProviderData()).epoch).toBe(1)
  })

  it('adds a top-up from the owner to the stake', async () => {
    const ledger = ledgerFor(f, provider.address)
    await ledger.snap()
    const result = await provider.sendTopUp(f.providerOwner.getSender(), { amount: toNano('3') })
    expect(result.transactions).toHaveTransaction({ from: f.providerOwner.address, to: provider.address, op: Op.stakeTopUp, success: true })
    expect((await provider.getProviderData()).stake).toBe(STAKE + toNano('3'))
    await ledger.expectExact(result.transactions)
    // the whole value stays with the provider (the part above the amount as reserve), less its own fees
    const tx = findTransactionRequired(result.transactions, { to: provider.address, op: Op.stakeTopUp })
    expect(await ledger.delta(provider.address)).toBe(toNano('3') + Fees.topUpGas - tx.totalFees.coins)
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

describe('Registry governance', () => {
  let f: Fixture
  let deployed: BlockchainSnapshot
  const model = Buffer.alloc(32, 0xa1)
  const measurement = Buffer.alloc(32, 0xb2)
  beforeAll(async () => {
    f = await deployRegistry()
    deployed = f.blockchain.snapshot()
  })
  beforeEach(async () => { await f.blockchain.loadFrom(deployed) })

  /** A governance change from the owner: accepted, the unused value back as excesses, version + 1, balances exact. */
  async function expectChange (send: () => Promise<SendMessageResult>, op: number): Promise<SendMessageResult> {
    const version = await f.registry.getVersion()
    const ledger = ledgerFor(f)
    await ledger.snap()
    const result = await send()
    expect(result.transactions).toHaveTransaction({ from: f.owner.address, to: f.registry.address, op, success: true, outMessagesCount: 1 })
    expect(result.transactions).toHaveTransaction({ from: f.registry.address, to: f.owner.address, op: Op.excesses, success: true })
    expect(await f.registry.getVersion()).toBe(version + 1)
    await ledger.expectExact(result.transactions)
    // the registry keeps nothing of the owner's value
    const registryTx = findTransactionRequired(result.transactions, { to: f.registry.address, op })
    expect(await ledger.delta(f.registry.address)).toBe(-storageFees(registryTx))
    return result
  }

  async function expectRejected (send: () => Promise<SendMessageResult>, exitCode: number): Promise<void> {
    const version = await f.registry.getVersion()
    const data = await f.registry.getRegistryData()
    const result = await send()
    expect(result.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode })
    expect(result.transactions).not.toHaveTransaction({ from: f.registry.address, op: Op.excesses })
    expect(await f.registry.getVersion()).toBe(version)
    expect(await f.registry.getRegistryData()).toEqual(data)
  }

  it('changes the owner: the new owner governs, the old one no longer does', async () => {
    const result = await expectChange(async () => await f.registry.sendChangeOwner(f.owner.getSender(), { newOwner: f.stranger.address, queryId: 9n }), Op.changeOwner)
    const excesses = findTransactionRequired(result.transactions, { from: f.registry.address, to: f.owner.address, op: Op.excesses })
    expect(Channel.parseExcesses(excesses.inMessage!.body).queryId).toBe(9n)
    expect((await f.registry.getRegistryData()).owner).toEqual(f.stranger.address)
    await expectRejected(async () => await f.registry.sendAddModel(f.owner.getSender(), { modelHash: model }), Errors.unauthorized)
    const byNewOwner = await f.registry.sendAddModel(f.stranger.getSender(), { modelHash: model })
    expect(byNewOwner.transactions).toHaveTransaction({ from: f.stranger.address, to: f.registry.address, op: Op.addModel, success: true })
    expect(await f.registry.getVersion()).toBe(2)
  })

  it('sets every parameter at once; new children get them, existing ones keep theirs', async () => {
    await register(f)
    await f.registry.sendOpenChannel(f.client.getSender(), {
      clientKey: f.clientKeys.publicKey, providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey, deposit: DEPOSIT, nonce: NONCE
    })
    const params = { feeBps: Bounds.maxFeeBps, minStake: toNano('1'), unbondingDelay: Bounds.minUnbondingDelay, closeDelay: Bounds.maxCloseDelay, slashShareBps: Bounds.maxSlashShareBps }
    await expectChange(async () => await f.registry.sendSetParams(f.owner.getSender(), params), Op.setParams)
    expect(await f.registry.getRegistryData()).toEqual({
      owner: f.owner.address, ...params, version: 1, modelCount: 0, measurementCount: 0, globalId: GLOBAL_ID, registrations: 1
    })

    // the provider and channel deployed before keep the parameters they were deployed with
    const oldProvider = f.blockchain.openContract(Provider.createFromAddress(providerAddress(f.registry.address, f.providerOwner.address, f.nodeKeys.publicKey)))
    expect(await oldProvider.getProviderData()).toMatchObject({ minStake: MIN_STAKE, unbondingDelay: UNBONDING_DELAY, slashShareBps: SLASH_SHARE_BPS })
    const oldChannel = f.blockchain.openContract(Channel.createFromAddress(
      channelAddress(f.registry.address, f.client.address, f.clientKeys.publicKey, f.providerOwner.address, f.nodeKeys.publicKey, NONCE)))
    expect(await oldChannel.getChannelData()).toMatchObject({ feeBps: FEE_BPS, closeDelay: CLOSE_DELAY })

    // new ones get the new values (a stake of 1 TON is now enough)
    const key = keyPairFromSeed(Buffer.alloc(32, 3))
    const result = await register(f, { owner: f.stranger, nodeKeys: key, stake: toNano('1') })
    const init = findTransactionRequired(result.transactions, { from: f.registry.address, op: Op.providerInit, success: true })
    const expectedProvider = { stake: toNano('1'), minStake: toNano('1'), unbondingDelay: Bounds.minUnbondingDelay, slashShareBps: Bounds.maxSlashShareBps, epoch: 2 }
    expect(Provider.parseProviderInit(init.inMessage!.body)).toMatchObject(expectedProvider)
    const newProvider = f.blockchain.openContract(Provider.createFromAddress(providerAddress(f.registry.address, f.stranger.address, key.publicKey)))
    expect(await newProvider.getProviderData()).toMatchObject(expectedProvider)
    await f.registry.sendOpenChannel(f.client.getSender(), { clientKey: f.clientKeys.publicKey, providerOwner: f.stranger.address, nodeKey: key.publicKey, deposit: DEPOSIT, nonce: NONCE })
    const newChannel = f.blockchain.openContract(Channel.createFromAddress(
      channelAddress(f.registry.address, f.client.address, f.clientKeys.publicKey, f.stranger.address, key.publicKey, NONCE)))
    expect(await newChannel.getChannelData()).toMatchObject({ feeBps: Bounds.maxFeeBps, closeDelay: Bounds.maxCloseDelay })
  })

  describe('bounds: each parameter outside its range is refused with its own exit code', () => {
    const valid = { feeBps: FEE_BPS, minStake: MIN_STAKE, unbondingDelay: UNBONDING_DELAY, closeDelay: CLOSE_DELAY, slashShareBps: SLASH_SHARE_BPS }
    it.each([
      ['a fee above 10 %', { feeBps: Bounds.maxFeeBps + 1 }, Errors.feeTooHigh],
      ['a fee of 100 %', { feeBps: 10_000 }, Errors.feeTooHigh],
      ['a slash share above 50 % (self-reporting would pay)', { slashShareBps: Bounds.maxSlashShareBps + 1 }, Errors.slashShareTooHigh],
      ['a close delay of 0', { closeDelay: 0 }, Errors.closeDelayOutOfRange],
      ['a close delay below the minimum', { closeDelay: Bounds.minCloseDelay - 1 }, Errors.closeDelayOutOfRange],
      ['a close delay of 0xFFFFFFFF (would overflow now + delay)', { closeDelay: 0xffffffff }, Errors.closeDelayOutOfRange],
      ['a close delay above the maximum', { closeDelay: Bounds.maxCloseDelay + 1 }, Errors.closeDelayOutOfRange],
      ['an unbonding delay of 0', { unbondingDelay: 0 }, Errors.unbondingDelayOutOfRange],
      ['an unbonding delay below the minimum', { unbondingDelay: Bounds.minUnbondingDelay - 1 }, Errors.unbondingDelayOutOfRange],
      ['an unbonding delay of 0xFFFFFFFF', { unbondingDelay: 0xffffffff }, Errors.unbondingDelayOutOfRange],
      ['an unbonding delay above the maximum', { unbondingDelay: Bounds.maxUnbondingDelay + 1 }, Errors.unbondingDelayOutOfRange]
    ])('%s', async (_name, change, exitCode) => {
      const params = { ...valid, ...change }
      // the wrapper refuses to build it, so the test sends the unchecked cell
      expect(() => Registry.setParamsMessage(params)).toThrow(RangeError)
      const body = Registry.setParamsMessageUnchecked(params)
      await expectRejected(async () => await f.owner.send({ to: f.registry.address, value: toNano('0.05'), body }), exitCode)
    })

    it('accepts both ends of every range', async () => {
      for (const change of [
        { feeBps: 0, slashShareBps: 0, closeDelay: Bounds.minCloseDelay, unbondingDelay: Bounds.minUnbondingDelay },
        { feeBps: Bounds.maxFeeBps, slashShareBps: Bounds.maxSlashShareBps, closeDelay: Bounds.maxCloseDelay, unbondingDelay: Bounds.maxUnbondingDelay }
      ]) {
        await expectChange(async () => await f.registry.sendSetParams(f.owner.getSender(), { ...valid, ...change }), Op.setParams)
        expect(await f.registry.getRegistryData()).toMatchObject(change)
      }
    })

    it('a Registry cannot be created off-chain with parameters out of range', () => {
      expect(() => Registry.createFromConfig({ owner: f.owner.address, globalId: GLOBAL_ID, feeBps: FEE_BPS, minStake: MIN_STAKE, closeDelay: 0 })).toThrow(RangeError)
    })
  })

  it('adds and removes allowed model hashes, with counts', async () => {
    expect(await f.registry.isModelAllowed(model)).toBe(false)
    await expectChange(async () => await f.registry.sendAddModel(f.owner.getSender(), { modelHash: model }), Op.addModel)
    await expectChange(async () => await f.registry.sendAddModel(f.owner.getSender(), { modelHash: Buffer.alloc(32, 0xa2) }), Op.addModel)
    expect(await f.registry.isModelAllowed(model)).toBe(true)
    expect(await f.registry.isModelAllowed(publicKeyToInt(model))).toBe(true)
    expect(await f.registry.isModelAllowed(Buffer.alloc(32, 0xa3))).toBe(false)
    expect(await f.registry.getModelCount()).toBe(2)
    // the model list is independent of the measurement list
    expect(await f.registry.isMeasurementAllowed(model)).toBe(false)

    await expectChange(async () => await f.registry.sendRemoveModel(f.owner.getSender(), { modelHash: model }), Op.removeModel)
    expect(await f.registry.isModelAllowed(model)).toBe(false)
    expect(await f.registry.getModelCount()).toBe(1)
    expect(await f.registry.getRegistryData()).toMatchObject({ version: 3, modelCount: 1, measurementCount: 0 })
  })

  it('rejects adding a model twice and removing one that is not allowed', async () => {
    await f.registry.sendAddModel(f.owner.getSender(), { modelHash: model })
    await expectRejected(async () => await f.registry.sendAddModel(f.owner.getSender(), { modelHash: model }), Errors.modelAlreadyAllowed)
    await expectRejected(async () => await f.registry.sendRemoveModel(f.owner.getSender(), { modelHash: Buffer.alloc(32, 0xa3) }), Errors.modelNotAllowed)
    expect(await f.registry.getModelCount()).toBe(1)
  })

  it('adds and removes allowed TEE measurements, with counts', async () => {
    await expectChange(async () => await f.registry.sendAddMeasurement(f.owner.getSender(), { measurement }), Op.addMeasurement)
    expect(await f.registry.isMeasurementAllowed(measurement)).toBe(true)
    expect(await f.registry.isModelAllowed(measurement)).toBe(false)
    expect(await f.registry.getMeasurementCount()).toBe(1)
    await expectChange(async () => await f.registry.sendRemoveMeasurement(f.owner.getSender(), { measurement }), Op.removeMeasurement)
    expect(await f.registry.isMeasurementAllowed(measurement)).toBe(false)
    expect(await f.registry.getRegistryData()).toMatchObject({ version: 2, measurementCount: 0 })
  })

  it('rejects adding a measurement twice and removing one that is not allowed', async () => {
    await f.registry.sendAddMeasurement(f.owner.getSender(), { measurement })
    await expectRejected(async () => await f.registry.sendAddMeasurement(f.owner.getSender(), { measurement }), Errors.measurementAlreadyAllowed)
    await expectRejected(async () => await f.registry.sendRemoveMeasurement(f.owner.getSender(), { measurement: model }), Errors.measurementNotAllowed)
    expect(await f.registry.getMeasurementCount()).toBe(1)
  })

  it.each([
    ['change_owner', (r: SandboxContract<Registry>, s: Sender) => r.sendChangeOwner(s, { newOwner: s.address! })],
    ['set_params', (r: SandboxContract<Registry>, s: Sender) => r.sendSetParams(s, { feeBps: 0, minStake: 0n, unbondingDelay: Bounds.minUnbondingDelay, closeDelay: Bounds.minCloseDelay, slashShareBps: 0 })],
    ['add_model', (r: SandboxContract<Registry>, s: Sender) => r.sendAddModel(s, { modelHash: model })],
    ['remove_model', (r: SandboxContract<Registry>, s: Sender) => r.sendRemoveModel(s, { modelHash: model })],
    ['add_measurement', (r: SandboxContract<Registry>, s: Sender) => r.sendAddMeasurement(s, { measurement })],
    ['remove_measurement', (r: SandboxContract<Registry>, s: Sender) => r.sendRemoveMeasurement(s, { measurement })],
    ['withdraw_treasury', (r: SandboxContract<Registry>, s: Sender) => r.sendWithdrawTreasury(s, { amount: 0n, destination: s.address! })]
  ])('rejects %s from anyone but the owner', async (_name, send) => {
    await f.registry.sendAddModel(f.owner.getSender(), { modelHash: model })
    await f.registry.sendAddMeasurement(f.owner.getSender(), { measurement })
    await f.registry.sendTopUp(f.stranger.getSender(), toNano('3'))
    const treasury = await f.registry.getTreasuryAvailable()
    await expectRejected(async () => await send(f.registry, f.stranger.getSender()), Errors.unauthorized)
    expect(await f.registry.getTreasuryAvailable()).toBe(treasury)
    expect([await f.registry.isModelAllowed(model), await f.registry.isMeasurementAllowed(measurement)]).toEqual([true, true])
  })

  describe('treasury', () => {
    beforeEach(async () => {
      // protocol fees and a plain top-up arrive
      await f.stranger.send({ to: f.registry.address, value: toNano('2'), bounce: false, body: Registry.protocolFeeMessage() })
      await f.registry.sendTopUp(f.stranger.getSender(), toNano('1'))
    })

    it('withdraws an exact amount to the address the owner names; the owner\'s value pays the fees', async () => {
      const ledger = ledgerFor(f)
      await ledger.snap()
      const available = await f.registry.getTreasuryAvailable()
      expect(available).toBeGreaterThan(toNano('3'))
      const amount = toNano('1.5')
      const result = await f.registry.sendWithdrawTreasury(f.owner.getSender(), { amount, destination: f.client.address, queryId: 4n })
      expect(result.transactions).toHaveTransaction({ from: f.owner.address, to: f.registry.address, op: Op.withdrawTreasury, success: true, outMessagesCount: 2 })
      const paid = findTransactionRequired(result.transactions, { from: f.registry.address, to: f.client.address, op: Op.treasuryWithdrawal, value: amount, success: true })
      expect(Registry.parseTreasuryWithdrawal(paid.inMessage!.body).queryId).toBe(4n)
      expect(result.transactions).toHaveTransaction({ from: f.registry.address, to: f.owner.address, op: Op.excesses, success: true })
      await ledger.expectExact(result.transactions)
      const registryTx = findTransactionRequired(result.transactions, { to: f.registry.address, op: Op.withdrawTreasury })
      expect(await ledger.delta(f.registry.address)).toBe(-amount - storageFees(registryTx))
      expect(await ledger.delta(f.client.address)).toBe(amount - paid.totalFees.coins)
      expect(await f.registry.getTreasuryAvailable()).toBe(available - amount - storageFees(registryTx))
      expect(await f.registry.getVersion()).toBe(1)
    })

    it('withdraws everything above the storage reserve with amount 0', async () => {
      const ledger = ledgerFor(f)
      await ledger.snap()
      const available = await f.registry.getTreasuryAvailable()
      const result = await f.registry.sendWithdrawTreasury(f.owner.getSender(), { amount: 0n, destination: f.stranger.address })
      const paid = findTransactionRequired(result.transactions, { from: f.registry.address, to: f.stranger.address, op: Op.treasuryWithdrawal, success: true })
      const registryTx = findTransactionRequired(result.transactions, { to: f.registry.address, op: Op.withdrawTreasury })
      expect(flattenTransaction(paid).value).toBe(available - storageFees(registryTx))
      expect(await f.registry.getBalance()).toBe(Fees.registryStorageReserve)
      expect(await f.registry.getTreasuryAvailable()).toBe(0n)
      await ledger.expectExact(result.transactions)
    })

    it('rejects a withdrawal that would take the balance below the storage reserve', async () => {
      const available = await f.registry.getTreasuryAvailable()
      const balance = await f.registry.getBalance()
      await expectRejected(async () => await f.registry.sendWithdrawTreasury(f.owner.getSender(), { amount: available + 1n, destination: f.owner.address }), Errors.treasuryTooLow)
      expect(await f.registry.getBalance()).toBeGreaterThanOrEqual(balance - toNano('0.001'))
      await f.registry.sendWithdrawTreasury(f.owner.getSender(), { amount: 0n, destination: f.owner.address })
      // nothing left above the reserve: even "everything" is refused
      await expectRejected(async () => await f.registry.sendWithdrawTreasury(f.owner.getSender(), { amount: 0n, destination: f.owner.address }), Errors.treasuryTooLow)
      await expectRejected(async () => await f.registry.sendWithdrawTreasury(f.owner.getSender(), { amount: 1n, destination: f.owner.address }), Errors.treasuryTooLow)
      expect(await f.registry.getBalance()).toBe(Fees.registryStorageReserve)
    })

    it('accepts slashed stake only from a Provider of this registry', async () => {
      // a forged slashed_stake names a real owner and key but does not come from their Provider
      const ledger = ledgerFor(f)
      await ledger.snap()
      const body = Registry.slashedStakeMessage({ owner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey })
      const result = await f.stranger.send({ to: f.registry.address, value: toNano('1'), body })
      const tx = findTransactionRequired(result.transactions, { from: f.stranger.address, to: f.registry.address, op: Op.slashedStake, success: false, exitCode: Errors.unauthorized })
      expect(result.transactions).toHaveTransaction({ from: f.registry.address, to: f.stranger.address, inMessageBounced: true })
      // the registry keeps nothing of it
      await ledger.expectExact(result.transactions)
      expect(await ledger.delta(f.registry.address)).toBe(-storageFees(tx))
    })
  })
})

describe('Registry v2: one network, proven registrations, basechain payouts, no freezing', () => {
  let f: Fixture
  let deployed: BlockchainSnapshot
  beforeAll(async () => {
    f = await deployRegistry()
    deployed = f.blockchain.snapshot()
  })
  beforeEach(async () => { await f.blockchain.loadFrom(deployed) })

  /** A message from an address in workchain 5 (no wallet exists there; the sandbox delivers it anyway). */
  async function fromWorkchain5 (to: Address, body: Cell, value = toNano('30')): Promise<SendMessageResult> {
    // non-bounceable: the emulator cannot bounce to workchain 5 either
    return await f.blockchain.sendMessage(internal({ from: new Address(5, Buffer.alloc(32, 0x55)), to, value, body, bounce: false }))
  }

  it('the sandbox states its network in config param 19; configWithGlobalId changes only that', async () => {
    expect(globalIdOfConfig(f.blockchain.config)).toBe(GLOBAL_IDS.local)
    const testnet = configWithGlobalId(f.blockchain.config, GLOBAL_IDS.testnet)
    expect(globalIdOfConfig(testnet)).toBe(GLOBAL_IDS.testnet)
    const params = (c: Cell): Dictionary<number, Cell> => Dictionary.loadDirect(Dictionary.Keys.Int(32), Dictionary.Values.Cell(), c)
    const before = params(f.blockchain.config)
    const after = params(testnet)
    expect(after.keys().sort()).toEqual(before.keys().sort())
    for (const key of before.keys()) if (key !== 19) expect(after.get(key)!.equals(before.get(key)!)).toBe(true)
    expect(() => configWithGlobalId(f.blockchain.config, 2 ** 31)).toThrow(RangeError)
  })

  it('has a different address on every network, and refuses to deploy on another one', async () => {
    const config = { owner: f.owner.address, feeBps: FEE_BPS, minStake: MIN_STAKE, closeDelay: CLOSE_DELAY }
    const local = Registry.createFromConfig({ ...config, globalId: GLOBAL_IDS.local })
    const testnet = Registry.createFromConfig({ ...config, globalId: GLOBAL_IDS.testnet })
    const mainnet = Registry.createFromConfig({ ...config, globalId: GLOBAL_IDS.mainnet })
    expect(new Set([local, testnet, mainnet].map((r) => r.address.toRawString())).size).toBe(3)

    // the testnet Registry's deployment on this (local) chain fails and its value bounces back
    const onWrongChain = f.blockchain.openContract(testnet)
    const result = await onWrongChain.sendDeploy(f.owner.getSender(), toNano('3'))
    expect(result.transactions).toHaveTransaction({ from: f.owner.address, to: testnet.address, success: false, exitCode: Errors.wrongNetwork })
    const bounced = findTransactionRequired(result.transactions, { from: testnet.address, to: f.owner.address, inMessageBounced: true })
    expect(flattenTransaction(bounced).value).toBeGreaterThan(toNano('2.99'))
    // and it refuses every operation there
    const registration = await f.blockchain.openContract(testnet).sendRegisterProvider(f.providerOwner.getSender(), {
      nodeKey: f.nodeKeys.publicKey, stake: STAKE,
      signature: Registry.signRegistration({ globalId: GLOBAL_IDS.testnet, registry: testnet.address, owner: f.providerOwner.address, nodeSecretKey: f.nodeKeys.secretKey })
    })
    expect(registration.transactions).toHaveTransaction({ to: testnet.address, success: false, exitCode: Errors.wrongNetwork })
    expect(registration.transactions).not.toHaveTransaction({ from: testnet.address, op: Op.providerInit })
  })

  it('a Registry deployed for this network stops working on a chain whose global_id changed', async () => {
    // the same account on a chain that says it is testnet: every operation is refused
    f.blockchain.setConfig((await sandbox(GLOBAL_IDS.testnet)).config)
    const result = await register(f)
    expect(result.transactions).toHaveTransaction({ from: f.providerOwner.address, to: f.registry.address, success: false, exitCode: Errors.wrongNetwork })
    expect(result.transactions).not.toHaveTransaction({ from: f.registry.address, op: Op.providerInit })
  })

  it('registers only with the node key\'s signature over this network, registry and owner', async () => {
    const other = keyPairFromSeed(Buffer.alloc(32, 7))
    const base = { nodeKey: f.nodeKeys.publicKey, stake: STAKE }
    for (const [name, signature] of [
      ['signed by another key', registrationSig(f, f.providerOwner.address, other)],
      ['for another owner (someone else\'s consent)', registrationSig(f, f.stranger.address, f.nodeKeys)],
      ['for another network', registrationSig(f, f.providerOwner.address, f.nodeKeys, GLOBAL_IDS.mainnet)],
      ['for another registry', Registry.signRegistration({ globalId: GLOBAL_ID, registry: f.stranger.address, owner: f.providerOwner.address, nodeSecretKey: f.nodeKeys.secretKey })]
    ] as const) {
      const result = await f.registry.sendRegisterProvider(f.providerOwner.getSender(), { ...base, signature })
      expect(result.transactions, name).toHaveTransaction({ from: f.providerOwner.address, to: f.registry.address, success: false, exitCode: Errors.badRegistrationSignature })
      expect(result.transactions, name).toHaveTransaction({ from: f.registry.address, to: f.providerOwner.address, inMessageBounced: true })
      expect(result.transactions, name).not.toHaveTransaction({ from: f.registry.address, op: Op.providerInit })
    }
    expect(await f.registry.getRegistryData()).toMatchObject({ registrations: 0 })
    // the proper one goes through
    const ok = await register(f)
    expect(ok.transactions).toHaveTransaction({ from: f.registry.address, op: Op.providerInit, success: true })
  })

  it('refuses an owner outside the basechain (its payouts could never arrive)', async () => {
    const owner = new Address(5, Buffer.alloc(32, 0x55))
    const signature = Registry.signRegistration({ globalId: GLOBAL_ID, registry: f.registry.address, owner, nodeSecretKey: f.nodeKeys.secretKey })
    const result = await fromWorkchain5(f.registry.address, Registry.registerProviderMessage({ nodeKey: f.nodeKeys.publicKey, stake: STAKE, signature }))
    expect(result.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: Errors.notBasechain })
    expect(result.transactions).not.toHaveTransaction({ from: f.registry.address, op: Op.providerInit })
  })

  it('refuses a channel whose client or provider owner is outside the basechain', async () => {
    const foreign = new Address(5, Buffer.alloc(32, 0x66))
    const byForeignOwner = await f.registry.sendOpenChannel(f.client.getSender(), {
      clientKey: f.clientKeys.publicKey, providerOwner: foreign, nodeKey: f.nodeKeys.publicKey, deposit: DEPOSIT, nonce: NONCE
    })
    expect(byForeignOwner.transactions).toHaveTransaction({ from: f.client.address, to: f.registry.address, success: false, exitCode: Errors.notBasechain })
    expect(byForeignOwner.transactions).not.toHaveTransaction({ from: f.registry.address, op: Op.channelInit })
    const byForeignClient = await fromWorkchain5(f.registry.address, Registry.openChannelMessage({
      clientKey: f.clientKeys.publicKey, providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey, deposit: DEPOSIT, nonce: NONCE
    }))
    expect(byForeignClient.transactions).toHaveTransaction({ to: f.registry.address, success: false, exitCode: Errors.notBasechain })
    expect(byForeignClient.transactions).not.toHaveTransaction({ from: f.registry.address, op: Op.channelInit })
  })

  it('refuses a treasury withdrawal to an address outside the basechain', async () => {
    await f.registry.sendTopUp(f.stranger.getSender(), toNano('1'))
    const result = await f.registry.sendWithdrawTreasury(f.owner.getSender(), { amount: 0n, destination: new Address(5, Buffer.alloc(32, 1)) })
    expect(result.transactions).toHaveTransaction({ from: f.owner.address, to: f.registry.address, success: false, exitCode: Errors.notBasechain })
    expect(result.transactions).not.toHaveTransaction({ from: f.registry.address, op: Op.treasuryWithdrawal })
  })

  it('never freezes: with the whole treasury withdrawn and 20 idle years, an open_channel still deploys its channel', async () => {
    await f.registry.sendTopUp(f.stranger.getSender(), toNano('5'))
    await f.registry.sendWithdrawTreasury(f.owner.getSender(), { amount: 0n, destination: f.owner.address })
    expect(await f.registry.getBalance()).toBe(Fees.registryStorageReserve)
    await register(f)
    f.blockchain.now = f.blockchain.now! + 20 * 365 * 86_400
    const result = await f.registry.sendOpenChannel(f.client.getSender(), {
      clientKey: f.clientKeys.publicKey, providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey, deposit: DEPOSIT, nonce: NONCE
    })
    expect(result.transactions).toHaveTransaction({ from: f.client.address, to: f.registry.address, success: true })
    expect(result.transactions).toHaveTransaction({ from: f.registry.address, op: Op.channelInit, deploy: true, success: true })
    expect((await f.blockchain.getContract(f.registry.address)).accountState?.type).toBe('active')
    expect(await f.registry.getBalance()).toBeGreaterThan(Fees.registryMinBalance)
  })

  it('fails closed when low on storage money: register and open bounce whole instead of feeding a Registry that could freeze', async () => {
    // 30 idle years after the treasury was emptied: below the minimum balance
    await f.registry.sendWithdrawTreasury(f.owner.getSender(), { amount: 0n, destination: f.owner.address })
    f.blockchain.now = f.blockchain.now! + 30 * 365 * 86_400
    const ledger = ledgerFor(f)
    await ledger.snap()
    const open = await f.registry.sendOpenChannel(f.client.getSender(), {
      clientKey: f.clientKeys.publicKey, providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey, deposit: DEPOSIT, nonce: NONCE
    })
    const refused = findTransactionRequired(open.transactions, { from: f.client.address, to: f.registry.address, success: false, exitCode: Errors.registryUnderfunded })
    const bounced = findTransactionRequired(open.transactions, { from: f.registry.address, to: f.client.address, inMessageBounced: true })
    expect(open.transactions).not.toHaveTransaction({ from: f.registry.address, op: Op.channelInit })
    await ledger.expectExact(open.transactions)
    // the Registry keeps nothing of the client's value (only its own storage was due)
    expect(await ledger.delta(f.registry.address)).toBe(-storageFees(refused))
    expect(flattenTransaction(bounced).value).toBeGreaterThan(DEPOSIT)
    const registration = await register(f)
    expect(registration.transactions).toHaveTransaction({ from: f.providerOwner.address, to: f.registry.address, success: false, exitCode: Errors.registryUnderfunded })
    // a top-up brings it back
    await f.registry.sendTopUp(f.stranger.getSender(), toNano('2'))
    const again = await register(f)
    expect(again.transactions).toHaveTransaction({ from: f.registry.address, op: Op.providerInit, success: true })
  })
})
