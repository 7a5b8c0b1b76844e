import { describe, it, expect, beforeAll, beforeEach } from 'vitest'
import { beginCell, toNano, type Cell } from '@ton/core'
import { keyPairFromSeed, type KeyPair } from '@ton/crypto'
import { findTransactionRequired, flattenTransaction } from '@ton/test-utils'
import type { BlockchainSnapshot, SandboxContract, SendMessageResult } from '@ton/sandbox'
import { buildReceipt, buildVoucher, GLOBAL_IDS, signCell, ZERO_ROOT, type Receipt } from '../protocol/cells.ts'
import { Errors, Fees, Op } from './constants.ts'
import { Registry } from './Registry.ts'
import { Provider, ProviderState, providerAddress, type EquivocationProof, type ProviderData } from './Provider.ts'
import {
  deployRegistry, register, GLOBAL_ID, ledgerFor, storageFees, computeGas, cascadeFees, forwardFees, SLASH_SHARE_BPS, STAKE, START, UNBONDING_DELAY,
  type Fixture, type Ledger
} from './test-fixture.ts'

// Provider lifecycle: unbond, withdraw after the delay, and slashing on proven equivocation.

describe('Provider stake lifecycle', () => {
  let f: Fixture
  let provider: SandboxContract<Provider>
  let registered: BlockchainSnapshot
  let ledger: Ledger
  beforeAll(async () => {
    f = await deployRegistry()
    await register(f)
    provider = f.blockchain.openContract(Provider.createFromAddress(providerAddress(f.registry.address, f.providerOwner.address, f.nodeKeys.publicKey)))
    registered = f.blockchain.snapshot()
  })
  beforeEach(async () => {
    await f.blockchain.loadFrom(registered)
    f.blockchain.now = START
    ledger = ledgerFor(f, provider.address)
    await ledger.snap()
  })

  const receipt = (over: Partial<Receipt> = {}): Receipt => ({
    globalId: GLOBAL_ID,
    channel: f.registry.address,
    epoch: 1,
    jobId: 1n,
    units: 10,
    price: 1000n,
    deterministic: true,
    complete: true,
    time: START,
    modelHash: Buffer.alloc(32, 0x11),
    specHash: Buffer.alloc(32, 0x22),
    outputHash: Buffer.alloc(32, 0x33),
    ...over
  })

  /** Two receipts signed by `signer` (the node by default). */
  function proof (a: Receipt | Cell, b: Receipt | Cell, signer: KeyPair = f.nodeKeys): EquivocationProof {
    const receiptA = 'bits' in a ? a : buildReceipt(a)
    const receiptB = 'bits' in b ? b : buildReceipt(b)
    return { receiptA, sigA: signCell(receiptA, signer.secretKey), receiptB, sigB: signCell(receiptB, signer.secretKey) }
  }

  const equivocation = (): EquivocationProof => proof(receipt(), receipt({ jobId: 2n, outputHash: Buffer.alloc(32, 0x44) }))

  describe('unbond and withdraw', () => {
    it('unbonds: state unbonding, unlock time = now + the unbonding delay given at registration', async () => {
      const result = await provider.sendUnbond(f.providerOwner.getSender())
      expect(result.transactions).toHaveTransaction({ from: f.providerOwner.address, to: provider.address, op: Op.unbond, success: true, outMessagesCount: 0 })
      expect(await provider.getProviderData()).toMatchObject({ stake: STAKE, state: ProviderState.unbonding, unlockTime: START + UNBONDING_DELAY })
      await ledger.expectExact(result.transactions)
    })

    it('withdraws after the delay: the whole balance goes to the owner and the contract is gone', async () => {
      await provider.sendUnbond(f.providerOwner.getSender())
      f.blockchain.now = START + UNBONDING_DELAY
      await ledger.snap()
      const balance = await provider.getBalance()
      expect(balance).toBeGreaterThan(STAKE)

      const result = await provider.sendWithdraw(f.providerOwner.getSender(), { queryId: 5n })
      expect(result.transactions).toHaveTransaction({ from: f.providerOwner.address, to: provider.address, op: Op.withdrawStake, success: true, outMessagesCount: 1 })
      const back = findTransactionRequired(result.transactions, { from: provider.address, to: f.providerOwner.address, op: Op.stakeWithdrawal, success: true })
      expect(Provider.parseStakeWithdrawal(back.inMessage!.body).queryId).toBe(5n)
      await ledger.expectExact(result.transactions)
      // the owner got the provider's whole balance (stake and storage reserve) back, less only the fees of the cascade
      expect(await ledger.delta(f.providerOwner.address)).toBe(balance - cascadeFees(result.transactions))
      expect(await provider.getBalance()).toBe(0n)
      expect((await f.blockchain.getContract(provider.address)).accountState).toBeUndefined()

      // the address is free: the same owner and key can register again, as a new epoch
      const again = await register(f)
      expect(again.transactions).toHaveTransaction({ from: f.registry.address, to: provider.address, op: Op.providerInit, deploy: true, success: true })
      expect(await provider.getProviderData()).toMatchObject({ stake: STAKE, state: ProviderState.active, epoch: 2 })

      // a proof of the first registration's equivocation does not slash the new one
      await ledger.snap()
      const old = await provider.sendReportEquivocation(f.stranger.getSender(), equivocation())
      expect(old.transactions).toHaveTransaction({ to: provider.address, op: Op.reportEquivocation, success: false, exitCode: Errors.wrongEpoch })
      expect(old.transactions).not.toHaveTransaction({ from: provider.address, op: Op.slashedStake })
      expect(await provider.getProviderData()).toMatchObject({ stake: STAKE, state: ProviderState.active, epoch: 2 })
    })

    it('rejects withdraw before the unlock time', async () => {
      await provider.sendUnbond(f.providerOwner.getSender())
      f.blockchain.now = START + UNBONDING_DELAY - 1
      const result = await provider.sendWithdraw(f.providerOwner.getSender())
      expect(result.transactions).toHaveTransaction({ from: f.providerOwner.address, to: provider.address, op: Op.withdrawStake, success: false, exitCode: Errors.stillLocked })
      expect(result.transactions).not.toHaveTransaction({ from: provider.address, op: Op.stakeWithdrawal })
      expect((await provider.getProviderData()).stake).toBe(STAKE)
    })

    it('rejects withdraw without unbond', async () => {
      f.blockchain.now = START + 10 * UNBONDING_DELAY
      const result = await provider.sendWithdraw(f.providerOwner.getSender())
      expect(result.transactions).toHaveTransaction({ to: provider.address, op: Op.withdrawStake, success: false, exitCode: Errors.notUnbonding })
      expect((await provider.getProviderData()).state).toBe(ProviderState.active)
    })

    it('rejects unbond and withdraw from anyone but the owner', async () => {
      const unbond = await provider.sendUnbond(f.stranger.getSender())
      expect(unbond.transactions).toHaveTransaction({ from: f.stranger.address, to: provider.address, op: Op.unbond, success: false, exitCode: Errors.unauthorized })
      await provider.sendUnbond(f.providerOwner.getSender())
      f.blockchain.now = START + UNBONDING_DELAY
      const withdraw = await provider.sendWithdraw(f.stranger.getSender())
      expect(withdraw.transactions).toHaveTransaction({ from: f.stranger.address, to: provider.address, op: Op.withdrawStake, success: false, exitCode: Errors.unauthorized })
      expect((await provider.getProviderData()).stake).toBe(STAKE)
    })

    it('rejects a second unbond and a top-up while unbonding', async () => {
      await provider.sendUnbond(f.providerOwner.getSender())
      f.blockchain.now = START + 100
      const again = await provider.sendUnbond(f.providerOwner.getSender())
      expect(again.transactions).toHaveTransaction({ to: provider.address, op: Op.unbond, success: false, exitCode: Errors.providerUnbonding })
      expect((await provider.getProviderData()).unlockTime).toBe(START + UNBONDING_DELAY)
      const topUp = await provider.sendTopUp(f.providerOwner.getSender(), { amount: toNano('1') })
      expect(topUp.transactions).toHaveTransaction({ to: provider.address, op: Op.stakeTopUp, success: false, exitCode: Errors.providerUnbonding })
      expect((await provider.getProviderData()).stake).toBe(STAKE)
    })

    it('rejects unbond and withdraw of a provider the registry never initialized', async () => {
      const bare = f.blockchain.openContract(Provider.createFromConfig({ registry: f.registry.address, owner: f.stranger.address, nodeKey: Buffer.alloc(32, 7) }))
      const result = await bare.sendUnbond(f.stranger.getSender())
      expect(result.transactions).toHaveTransaction({ to: bare.address, deploy: true, success: false, exitCode: Errors.notInitialized })
    })

    it('returns the value of a repeated registration to the owner at once; the provider holds no more than before', async () => {
      const balance = await provider.getBalance()
      const again = await register(f)
      expect(again.transactions).toHaveTransaction({ from: f.registry.address, to: provider.address, op: Op.providerInit, success: true })
      expect(again.transactions).toHaveTransaction({ from: provider.address, to: f.providerOwner.address, op: Op.excesses, success: true })
      const tx = findTransactionRequired(again.transactions, { to: provider.address, op: Op.providerInit })
      expect(await provider.getBalance()).toBe(balance - storageFees(tx))
      await ledger.expectExact(again.transactions)
    })
  })

  describe('report_equivocation', () => {
    /**
     * Everything the provider held above Fees.providerStorageReserve is forfeit: the reporter gets
     * slash_share_bps of `stake`, the treasury the rest (extra value included), to the nanoton.
     */
    async function expectSlashed (result: SendMessageResult, stake: bigint, reporter = f.stranger.address): Promise<{ forfeit: bigint, reward: bigint }> {
      const reward = stake * BigInt(SLASH_SHARE_BPS) / 10_000n
      const providerTx = findTransactionRequired(result.transactions, { to: provider.address, op: Op.reportEquivocation })
      const sent = flattenTransaction(providerTx).value!
      const held = (await ledger.balance(provider.address)) - (await ledger.delta(provider.address)) - storageFees(providerTx)
      const forfeit = held - Fees.providerStorageReserve
      expect(result.transactions).toHaveTransaction({ from: reporter, to: provider.address, op: Op.reportEquivocation, success: true, outMessagesCount: 2 })
      const toRegistry = findTransactionRequired(result.transactions, { from: provider.address, to: f.registry.address, op: Op.slashedStake, value: forfeit - reward, success: true })
      expect(Registry.parseSlashedStake(toRegistry.inMessage!.body)).toMatchObject({ owner: f.providerOwner.address, nodeKey: BigInt('0x' + f.nodeKeys.publicKey.toString('hex')) })
      const rewardTx = findTransactionRequired(result.transactions, { from: provider.address, to: reporter, op: Op.slashReward, success: true })
      await ledger.expectExact(result.transactions)

      // to the nanoton: the provider pays out everything above its reserve; the reporter's value pays every fee of the report
      expect(await ledger.delta(provider.address)).toBe(-forfeit - storageFees(providerTx))
      expect(await provider.getBalance()).toBe(Fees.providerStorageReserve)
      const reporterGot = flattenTransaction(rewardTx).value!
      const feesPaidByReporterValue = sent + reward - reporterGot
      expect(feesPaidByReporterValue).toBe(providerTx.totalFees.coins - storageFees(providerTx) + forwardFees(providerTx))
      // the registry accepted it (it came from this Provider) and keeps it, less only its own fees
      expect(await ledger.delta(f.registry.address)).toBe(forfeit - reward - toRegistry.totalFees.coins)
      expect(await provider.getProviderData()).toMatchObject({ stake: 0n, state: ProviderState.slashed })
      return { forfeit, reward }
    }

    it('slashes: the reporter gets the slash share of the stake, the registry the rest', async () => {
      const result = await provider.sendReportEquivocation(f.stranger.getSender(), equivocation())
      await expectSlashed(result, STAKE)
      const tx = findTransactionRequired(result.transactions, { to: provider.address, op: Op.reportEquivocation })
      console.log(`report_equivocation: provider compute gas ${computeGas(tx)}, tx fees ${tx.totalFees.coins} nanoton`)
    })

    it('slashes an unbonding provider (the stake is slashable until withdrawn), and then nothing can be withdrawn', async () => {
      await provider.sendTopUp(f.providerOwner.getSender(), { amount: toNano('5') })
      await provider.sendUnbond(f.providerOwner.getSender())
      f.blockchain.now = START + UNBONDING_DELAY - 1
      await ledger.snap()
      const { forfeit } = await expectSlashed(await provider.sendReportEquivocation(f.stranger.getSender(), equivocation()), STAKE + toNano('5'))
      // the top-up's and the unbond's extra value went with it: nothing but the reserve is left behind
      expect(forfeit).toBeGreaterThan(STAKE + toNano('5'))
      f.blockchain.now = START + UNBONDING_DELAY
      const withdraw = await provider.sendWithdraw(f.providerOwner.getSender())
      expect(withdraw.transactions).toHaveTransaction({ to: provider.address, op: Op.withdrawStake, success: false, exitCode: Errors.providerSlashed })
    })

    it('pays nothing for a second report', async () => {
      await provider.sendReportEquivocation(f.stranger.getSender(), equivocation())
      const second = await provider.sendReportEquivocation(f.nodeWallet.getSender(), proof(receipt({ jobId: 7n }), receipt({ jobId: 8n, outputHash: Buffer.alloc(32, 0x55) })))
      expect(second.transactions).toHaveTransaction({ from: f.nodeWallet.address, to: provider.address, op: Op.reportEquivocation, success: false, exitCode: Errors.alreadySlashed })
      expect(second.transactions).not.toHaveTransaction({ from: provider.address, op: Op.slashReward })
      expect(second.transactions).not.toHaveTransaction({ from: provider.address, op: Op.slashedStake })
    })

    it('self-reporting always loses: the owner reporting its own node gets back at most half of its stake', async () => {
      const ownerLedger = ledgerFor(f, provider.address)
      await ownerLedger.snap()
      const result = await provider.sendReportEquivocation(f.providerOwner.getSender(), equivocation())
      expect(result.transactions).toHaveTransaction({ from: f.providerOwner.address, to: provider.address, success: true })
      await ownerLedger.expectExact(result.transactions)
      // the owner's stake was in the provider: its own wallet gained only the reward, less the report's fees
      const gained = await ownerLedger.delta(f.providerOwner.address)
      expect(gained).toBeLessThanOrEqual(STAKE * 5_000n / 10_000n)
      expect(gained - STAKE).toBeLessThan(-STAKE / 2n)
    })

    it('a slashed provider refuses top-up and unbond, and returns the value of a repeated registration', async () => {
      await provider.sendReportEquivocation(f.stranger.getSender(), equivocation())
      const topUp = await provider.sendTopUp(f.providerOwner.getSender(), { amount: toNano('1') })
      expect(topUp.transactions).toHaveTransaction({ to: provider.address, op: Op.stakeTopUp, success: false, exitCode: Errors.providerSlashed })
      const unbond = await provider.sendUnbond(f.providerOwner.getSender())
      expect(unbond.transactions).toHaveTransaction({ to: provider.address, op: Op.unbond, success: false, exitCode: Errors.providerSlashed })
      // a plain transfer, bounceable or not, goes straight back: a slashed provider keeps only its reserve
      for (const bounce of [true, false]) {
        await ledger.snap()
        const plain = await f.stranger.send({ to: provider.address, value: toNano('1'), bounce })
        const tx = findTransactionRequired(plain.transactions, { from: f.stranger.address, to: provider.address, success: true })
        expect(plain.transactions).toHaveTransaction({ from: provider.address, to: f.stranger.address, op: Op.excesses })
        await ledger.expectExact(plain.transactions)
        expect(await ledger.delta(provider.address)).toBe(-storageFees(tx))
      }

      await ledger.snap()
      const again = await register(f)
      expect(again.transactions).toHaveTransaction({ from: f.registry.address, to: provider.address, op: Op.providerInit, success: true, outMessagesCount: 1 })
      expect(again.transactions).toHaveTransaction({ from: provider.address, to: f.providerOwner.address, op: Op.excesses, success: true })
      await ledger.expectExact(again.transactions)
      // the provider keeps nothing of it; the owner lost only fees
      const providerTx = findTransactionRequired(again.transactions, { to: provider.address, op: Op.providerInit })
      expect(await ledger.delta(provider.address)).toBe(-storageFees(providerTx))
      expect(await provider.getProviderData()).toMatchObject({ stake: 0n, state: ProviderState.slashed })
    })

    describe('rejects a report and moves no funds', () => {
      let before: ProviderData
      beforeEach(async () => { before = await provider.getProviderData() })

      async function expectRejected (p: EquivocationProof, exitCode: number, value?: bigint): Promise<void> {
        await ledger.snap()
        const result = await provider.sendReportEquivocation(f.stranger.getSender(), { ...p, value })
        const tx = findTransactionRequired(result.transactions, { from: f.stranger.address, to: provider.address, op: Op.reportEquivocation, success: false, exitCode })
        expect(result.transactions).toHaveTransaction({ from: provider.address, to: f.stranger.address, inMessageBounced: true })
        expect(result.transactions).not.toHaveTransaction({ from: provider.address, op: Op.slashedStake })
        expect(await provider.getProviderData()).toEqual(before)
        await ledger.expectExact(result.transactions)
        expect(await ledger.delta(provider.address)).toBe(-storageFees(tx))
      }

      it('first receipt not signed by the node key', async () => {
        const p = equivocation()
        const other = keyPairFromSeed(Buffer.alloc(32, 9))
        await expectRejected({ ...p, sigA: signCell(p.receiptA, other.secretKey) }, Errors.badReceiptSignature)
      })

      it('second receipt not signed by the node key', async () => {
        const p = equivocation()
        await expectRejected({ ...p, sigB: p.sigA }, Errors.badReceiptSignature)
      })

      it('a receipt of another network', async () => {
        await expectRejected(proof(receipt({ globalId: GLOBAL_IDS.mainnet }), receipt({ globalId: GLOBAL_IDS.mainnet, outputHash: Buffer.alloc(32, 0x44) })), Errors.wrongNetwork)
        await expectRejected(proof(receipt(), receipt({ globalId: GLOBAL_IDS.testnet, outputHash: Buffer.alloc(32, 0x44) })), Errors.wrongNetwork)
      })

      it('a receipt of another registration (epoch)', async () => {
        await expectRejected(proof(receipt({ epoch: 2 }), receipt({ epoch: 2, outputHash: Buffer.alloc(32, 0x44) })), Errors.wrongEpoch)
        await expectRejected(proof(receipt(), receipt({ epoch: 0, outputHash: Buffer.alloc(32, 0x44) })), Errors.wrongEpoch)
      })

      it('a receipt of a cancelled, truncated or partial result', async () => {
        await expectRejected(proof(receipt(), receipt({ complete: false, outputHash: Buffer.alloc(32, 0x44) })), Errors.notComplete)
        await expectRejected(proof(receipt({ complete: false }), receipt({ outputHash: Buffer.alloc(32, 0x44) })), Errors.notComplete)
      })

      it('a signed cell that is not a receipt', async () => {
        const voucher = buildVoucher({ globalId: GLOBAL_ID, channel: f.registry.address, seqno: 1, amount: 1n, receiptsRoot: ZERO_ROOT })
        await expectRejected(proof(voucher, receipt()), Errors.malformedReceipt)
      })

      it('a receipt whose hashes ref is truncated', async () => {
        const good = buildReceipt(receipt())
        const s = good.beginParse()
        const head = s.loadBits(s.remainingBits)
        const truncated = beginCell().storeBits(head).storeRef(beginCell().storeBuffer(Buffer.alloc(64, 0x11)).endCell()).endCell()
        await expectRejected(proof(receipt(), truncated), Errors.malformedReceipt)
      })

      it('a receipt not marked deterministic', async () => {
        await expectRejected(proof(receipt(), receipt({ deterministic: false, outputHash: Buffer.alloc(32, 0x44) })), Errors.notDeterministic)
      })

      it('different models', async () => {
        await expectRejected(proof(receipt(), receipt({ modelHash: Buffer.alloc(32, 0x12), outputHash: Buffer.alloc(32, 0x44) })), Errors.differentModel)
      })

      it('different job specs (input, parameters or execution path)', async () => {
        await expectRejected(proof(receipt(), receipt({ specHash: Buffer.alloc(32, 0x23), outputHash: Buffer.alloc(32, 0x44) })), Errors.differentSpec)
      })

      it('the same output (no equivocation), also for one receipt sent twice', async () => {
        await expectRejected(proof(receipt(), receipt({ jobId: 2n, time: START + 5 })), Errors.sameOutput)
        await expectRejected(proof(receipt(), receipt()), Errors.sameOutput)
      })

      it('value below the report gas', async () => {
        await expectRejected(equivocation(), Errors.notEnoughValue, Fees.reportGas - 1n)
      })

      it('against a provider the registry never initialized', async () => {
        const bare = f.blockchain.openContract(Provider.createFromConfig({ registry: f.registry.address, owner: f.stranger.address, nodeKey: f.nodeKeys.publicKey }))
        const result = await bare.sendReportEquivocation(f.stranger.getSender(), equivocation())
        expect(result.transactions).toHaveTransaction({ to: bare.address, success: false, exitCode: Errors.notInitialized })
      })
    })
  })

  it('rejects unknown ops and accepts plain transfers', async () => {
    const unknown = await f.stranger.send({ to: provider.address, value: toNano('0.1'), body: beginCell().storeUint(0x1234, 32).endCell() })
    expect(unknown.transactions).toHaveTransaction({ to: provider.address, success: false, exitCode: Errors.unknownOp })
    const plain = await f.stranger.send({ to: provider.address, value: toNano('0.1') })
    expect(plain.transactions).toHaveTransaction({ to: provider.address, success: true })
    expect((await provider.getProviderData()).stake).toBe(STAKE)
  })
})
