import { describe, it, expect, beforeAll, beforeEach } from 'vitest'
import { Address, beginCell, toNano, type Cell } from '@ton/core'
import { keyPairFromSeed, type KeyPair } from '@ton/crypto'
import { findTransactionRequired, flattenTransaction } from '@ton/test-utils'
import type { BlockchainSnapshot, SandboxContract, SendMessageResult, TreasuryContract } from '@ton/sandbox'
import {
  buildCloseRequest, buildReceipt, buildVoucher, nextReceiptsRoot, parseCloseRequest, parseReceipt, receiptCost, signCell, ZERO_ROOT
} from '../protocol/cells.ts'
import { ProtocolError } from '../protocol/errors.ts'
import { Errors, Fees, Op } from './constants.ts'
import { Channel, type ChannelData } from './Channel.ts'
import {
  openChannel, signedVoucher, signedCloseRequest, valueOf, computeGas, cascadeFees, storageFees, forwardFees, ledgerFor, feesOf, expectFeeAccepted,
  CLOSE_DELAY, DEPOSIT, FEE_BPS, FLAT_GAS_PRICE, START, type ChannelFixture, type Ledger
} from './test-fixture.ts'

const feeOf = (delta: bigint): bigint => delta * BigInt(FEE_BPS) / 10000n

describe('Channel', () => {
  let f: ChannelFixture
  let opened: BlockchainSnapshot
  beforeAll(async () => {
    f = await openChannel()
    opened = f.blockchain.snapshot()
  })
  beforeEach(async () => {
    await f.blockchain.loadFrom(opened)
    f.blockchain.now = START
  })

  let registryKept = 0n

  /**
   * Sends a claim from the node's wallet; every party's balance is then checked to the nanoton, and
   * what the Registry kept of the cascade is left in `registryKept`.
   */
  async function claim (seqno: number, amount: bigint, opts: { receiptsRoot?: Buffer, channel?: Address } = {}): Promise<SendMessageResult> {
    const signed = signedVoucher(f, { channel: opts.channel ?? f.channel.address, seqno, amount, ...opts })
    const ledger = ledgerFor(f, f.channel.address)
    await ledger.snap()
    const result = await f.channel.sendClaim(f.nodeWallet.getSender(), signed)
    await ledger.expectExact(result.transactions)
    registryKept = await ledger.delta(f.registry.address)
    return result
  }

  /**
   * Asserts a claim was settled: every hop, the exact payout and fee, the excesses back to the
   * claimer, and the Registry's fee transaction: exit code 0 on the flat minimum of gas, the fee
   * kept less only that transaction's fees.
   */
  async function expectSettled (result: SendMessageResult, delta: bigint): Promise<void> {
    const fee = feeOf(delta)
    const claimer = f.nodeWallet.address
    expect(result.transactions).toHaveTransaction({ from: claimer, to: f.channel.address, op: Op.claim, success: true, outMessagesCount: 3 })
    expect(result.transactions).toHaveTransaction({ from: f.channel.address, to: f.providerOwner.address, op: Op.payout, value: delta - fee, success: true })
    const feeTx = findTransactionRequired(result.transactions, { from: f.channel.address, to: f.registry.address, op: Op.protocolFee, value: fee, success: true, exitCode: 0 })
    expectFeeAccepted(feeTx, fee)
    expect(registryKept).toBe(fee - feeTx.totalFees.coins)
    expect(result.transactions).toHaveTransaction({ from: f.channel.address, to: claimer, op: Op.excesses, success: true })
  }

  it('settles a voucher: the provider owner gets delta - fee, the registry the fee, the deposit pays nothing else', async () => {
    const amount = toNano('1.5')
    const root = nextReceiptsRoot(ZERO_ROOT, beginCell().storeUint(1, 8).endCell())
    const channelBefore = await f.channel.getBalance()
    const payeeBefore = (await f.blockchain.getContract(f.providerOwner.address)).balance

    const result = await claim(1, amount, { receiptsRoot: root })
    await expectSettled(result, amount)

    const fee = feeOf(amount)
    // to the nanoton: the payee's balance grows by delta - fee, less only its own receiving transaction's fees
    const payoutTx = findTransactionRequired(result.transactions, { from: f.channel.address, to: f.providerOwner.address, op: Op.payout })
    expect((await f.blockchain.getContract(f.providerOwner.address)).balance - payeeBefore).toBe(amount - fee - payoutTx.totalFees.coins)

    // the channel pays out exactly delta; every fee of the claim came from the claimer's value
    expect(await f.channel.getBalance()).toBe(channelBefore - amount)
    const data = await f.channel.getChannelData()
    expect([data.paid, data.seqno, data.receiptsRoot]).toEqual([amount, 1, root])

    const channelTx = findTransactionRequired(result.transactions, { to: f.channel.address, op: Op.claim })
    const claimSent = valueOf(result.transactions, { to: f.channel.address, op: Op.claim })
    const excesses = valueOf(result.transactions, { from: f.channel.address, to: f.nodeWallet.address, op: Op.excesses })
    const claimCost = claimSent - excesses
    console.log(
      `claim: channel compute gas ${computeGas(channelTx)}, channel tx fees ${channelTx.totalFees.coins} nanoton, ` +
      `cascade fees ${cascadeFees(result.transactions)} nanoton, claimer net cost ${claimCost} nanoton ` +
      `(sent ${claimSent}, excesses back ${excesses})`)
    expect(claimCost).toBeLessThan(Fees.claimGas / 2n)
  })

  it('pays only the difference on a later voucher with a higher seqno', async () => {
    await expectSettled(await claim(1, toNano('1')), toNano('1'))
    const second = await claim(5, toNano('2.5'))
    await expectSettled(second, toNano('1.5'))
    const data = await f.channel.getChannelData()
    expect([data.paid, data.seqno]).toEqual([toNano('2.5'), 5])
  })

  // Real claims are small: a 0.0125 TON claim pays a 312,500 nanoton fee, which buys 781 gas.
  it('delivers the fee of a small claim (0.0125 TON → 312,500 nanoton) with a successful registry transaction', async () => {
    const result = await claim(1, toNano('0.0125'))
    expect(feeOf(toNano('0.0125'))).toBe(312_500n)
    await expectSettled(result, toNano('0.0125'))
    // every hop of the cascade succeeded: nothing for an explorer to show as failed
    for (const tx of result.transactions) {
      expect(tx.description.type === 'generic' && !tx.description.aborted, flattenTransaction(tx).op?.toString(16)).toBe(true)
    }
  })

  it('a fee below 40,000 nanoton (claim of 0.0015 TON) reaches the registry whole; the network runs no code for it', async () => {
    const delta = toNano('0.0015')
    const fee = feeOf(delta)
    expect(fee).toBeLessThan(FLAT_GAS_PRICE)
    const result = await claim(1, delta)
    expect(result.transactions).toHaveTransaction({ from: f.channel.address, to: f.providerOwner.address, op: Op.payout, value: delta - fee, success: true })
    const feeTx = findTransactionRequired(result.transactions, { from: f.channel.address, to: f.registry.address, op: Op.protocolFee, value: fee })
    expectFeeAccepted(feeTx, fee)
    expect(registryKept).toBe(fee - storageFees(feeTx))
  })

  it('records a voucher that adds no amount (only seqno and receipts root) without paying anything', async () => {
    await expectSettled(await claim(1, toNano('1')), toNano('1'))
    const root = Buffer.alloc(32, 7)
    const result = await claim(2, toNano('1'), { receiptsRoot: root })
    expect(result.transactions).toHaveTransaction({ from: f.nodeWallet.address, to: f.channel.address, op: Op.claim, success: true, outMessagesCount: 1 })
    expect(result.transactions).toHaveTransaction({ from: f.channel.address, to: f.nodeWallet.address, op: Op.excesses })
    const data = await f.channel.getChannelData()
    expect([data.paid, data.seqno, data.receiptsRoot]).toEqual([toNano('1'), 2, root])
  })

  it('accepts a top-up from the client into the deposit', async () => {
    const ledger = ledgerFor(f, f.channel.address)
    await ledger.snap()
    const result = await f.channel.sendTopUp(f.client.getSender(), { amount: toNano('2') })
    expect(result.transactions).toHaveTransaction({ from: f.client.address, to: f.channel.address, op: Op.channelTopUp, success: true })
    await ledger.expectExact(result.transactions)
    expect(await ledger.delta(f.channel.address)).toBe(toNano('2') + Fees.topUpGas - feesOf(result.transactions, { to: f.channel.address }))
    expect((await f.channel.getChannelData()).deposit).toBe(DEPOSIT + toNano('2'))
    await expectSettled(await claim(1, DEPOSIT + toNano('1')), DEPOSIT + toNano('1'))
  })

  it('closes: claims still settle during the delay, finish before the delay fails, after it refunds the client', async () => {
    await expectSettled(await claim(1, toNano('1')), toNano('1'))

    const start = await f.channel.sendStartClose(f.client.getSender())
    expect(start.transactions).toHaveTransaction({ from: f.client.address, to: f.channel.address, op: Op.startClose, success: true })
    expect((await f.channel.getChannelData()).closeAt).toBe(START + CLOSE_DELAY)

    f.blockchain.now = START + CLOSE_DELAY - 1
    await expectSettled(await claim(2, toNano('2')), toNano('1'))

    const early = await f.channel.sendFinishClose(f.stranger.getSender())
    expect(early.transactions).toHaveTransaction({ from: f.stranger.address, to: f.channel.address, op: Op.finishClose, success: false, exitCode: Errors.closeNotReady })
    expect(early.transactions).not.toHaveTransaction({ from: f.channel.address, op: Op.refund })

    f.blockchain.now = START + CLOSE_DELAY
    const balance = await f.channel.getBalance()
    const clientBefore = (await f.blockchain.getContract(f.client.address)).balance
    const ledger = ledgerFor(f, f.channel.address)
    await ledger.snap()
    const finish = await f.channel.sendFinishClose(f.stranger.getSender())
    expect(finish.transactions).toHaveTransaction({ from: f.stranger.address, to: f.channel.address, op: Op.finishClose, success: true })
    await ledger.expectExact(finish.transactions)
    const refundTx = findTransactionRequired(finish.transactions, { from: f.channel.address, to: f.client.address, op: Op.refund, success: true })
    const refund = flattenTransaction(refundTx).value ?? 0n
    // everything the channel held (deposit - paid and the storage reserve) plus the finisher's unspent value
    expect(refund).toBeGreaterThan(balance)
    expect(balance).toBeGreaterThan(DEPOSIT - toNano('2'))
    expect((await f.blockchain.getContract(f.client.address)).balance - clientBefore).toBe(refund - refundTx.totalFees.coins)
    expect(await f.channel.getBalance()).toBe(0n)
    const data = await f.channel.getChannelData()
    expect([data.closed, data.paid]).toEqual([true, toNano('2')])
  })

  it('rejects start_close from anyone but the client, and a second start_close', async () => {
    const stranger = await f.channel.sendStartClose(f.stranger.getSender())
    expect(stranger.transactions).toHaveTransaction({ from: f.stranger.address, to: f.channel.address, success: false, exitCode: Errors.unauthorized })
    await f.channel.sendStartClose(f.client.getSender())
    const again = await f.channel.sendStartClose(f.client.getSender())
    expect(again.transactions).toHaveTransaction({ from: f.client.address, to: f.channel.address, success: false, exitCode: Errors.alreadyClosing })
    expect((await f.channel.getChannelData()).closeAt).toBe(START + CLOSE_DELAY)
  })

  it('rejects finish_close before start_close', async () => {
    const result = await f.channel.sendFinishClose(f.client.getSender())
    expect(result.transactions).toHaveTransaction({ from: f.client.address, to: f.channel.address, success: false, exitCode: Errors.closeNotReady })
    expect((await f.channel.getChannelData()).closed).toBe(false)
  })

  it('rejects channel_init from anyone but the registry, and a second channel_init', async () => {
    const forged = await f.stranger.send({
      to: f.channel.address, value: toNano('1'), body: Channel.channelInitMessage({ deposit: toNano('100'), feeBps: 0, closeDelay: 0 })
    })
    expect(forged.transactions).toHaveTransaction({ from: f.stranger.address, to: f.channel.address, op: Op.channelInit, success: false, exitCode: Errors.unauthorized })
    const reopened = await f.registry.sendOpenChannel(f.client.getSender(), {
      clientKey: f.clientKeys.publicKey, providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey, deposit: toNano('100')
    })
    expect(reopened.transactions).toHaveTransaction({ from: f.registry.address, to: f.channel.address, op: Op.channelInit, success: false, exitCode: Errors.alreadyInitialized })
    expect((await f.channel.getChannelData()).deposit).toBe(DEPOSIT)
  })

  it('rejects a top-up from a stranger', async () => {
    const result = await f.channel.sendTopUp(f.stranger.getSender(), { amount: toNano('2') })
    expect(result.transactions).toHaveTransaction({ from: f.stranger.address, to: f.channel.address, op: Op.channelTopUp, success: false, exitCode: Errors.unauthorized })
    expect((await f.channel.getChannelData()).deposit).toBe(DEPOSIT)
  })

  it('rejects a claim on a channel that the registry did not initialize', async () => {
    // anyone can deploy the code at a channel address; without channel_init it holds nothing to pay
    const other = f.blockchain.openContract(Channel.createFromConfig({
      registry: f.registry.address, client: f.stranger.address, clientKey: f.clientKeys.publicKey,
      providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey
    }))
    const result = await other.sendClaim(f.providerOwner.getSender(), signedVoucher(f, { channel: other.address, seqno: 1, amount: 1n }))
    expect(result.transactions).toHaveTransaction({ from: f.providerOwner.address, to: other.address, deploy: true, success: false, exitCode: Errors.notInitialized })
    expect(result.transactions).not.toHaveTransaction({ from: other.address, op: Op.payout })
  })

  it('the tests\' native signer gives the very bytes protocol/cells.ts signCell gives', () => {
    const signed = signedVoucher(f, { channel: f.channel.address, seqno: 1, amount: 1n })
    expect(signed.clientSig).toEqual(signCell(signed.voucher, f.clientKeys.secretKey))
    expect(signed.nodeSig).toEqual(signCell(signed.voucher, f.nodeKeys.secretKey))
  })

  it('stores a receipts root that commits to exactly the receipts paid: recomputed from the receipt cells it matches', async () => {
    // the node signs a receipt per job; the client chains them into the root of each voucher
    const receipts = [1n, 2n, 3n].map((jobId) => buildReceipt({
      channel: f.channel.address, jobId, units: 100, price: 1_000_000n, deterministic: true, time: START + Number(jobId),
      modelHash: Buffer.alloc(32, 0x11), inputHash: Buffer.alloc(32, Number(jobId)), outputHash: Buffer.alloc(32, 0x40 + Number(jobId))
    }))
    let root: Buffer = ZERO_ROOT
    let amount = 0n
    for (const [i, r] of receipts.entries()) {
      root = nextReceiptsRoot(root, r)
      const parsed = parseReceipt(r)
      amount += receiptCost(parsed)
      await expectSettled(await claim(i + 1, amount, { receiptsRoot: root }), receiptCost(parsed))
    }
    const data = await f.channel.getChannelData()
    expect(data.paid).toBe(amount)
    // anyone holding the receipt cells recomputes the chain and finds it on chain
    const recomputed = receipts.reduce<Buffer>((acc, r) => nextReceiptsRoot(acc, r), ZERO_ROOT)
    expect(data.receiptsRoot).toEqual(recomputed)
    // and every receipt was part of it: leaving one out, reordering or altering one gives another root
    expect(receipts.slice(1).reduce<Buffer>((acc, r) => nextReceiptsRoot(acc, r), ZERO_ROOT)).not.toEqual(data.receiptsRoot)
    expect([receipts[1]!, receipts[0]!, receipts[2]!].reduce<Buffer>((acc, r) => nextReceiptsRoot(acc, r), ZERO_ROOT)).not.toEqual(data.receiptsRoot)
    const altered = buildReceipt({ ...parseReceipt(receipts[1]!), outputHash: Buffer.alloc(32, 0x99) })
    expect([receipts[0]!, altered, receipts[2]!].reduce<Buffer>((acc, r) => nextReceiptsRoot(acc, r), ZERO_ROOT)).not.toEqual(data.receiptsRoot)
  })

  describe('cooperative close', () => {
    async function coopClose (
      via: SandboxContract<TreasuryContract>, opts: { seqno: number, amount: bigint, receiptsRoot?: Buffer, channel?: Address, value?: bigint }
    ): Promise<{ result: SendMessageResult, ledger: Ledger }> {
      const signed = signedCloseRequest(f, { channel: opts.channel ?? f.channel.address, ...opts })
      const ledger = ledgerFor(f, f.channel.address)
      await ledger.snap()
      const result = await f.channel.sendCooperativeClose(via.getSender(), { ...signed, value: opts.value, queryId: 11n })
      await ledger.expectExact(result.transactions)
      return { result, ledger }
    }

    async function expectFinal (amount: bigint, seqno: number, root: Buffer): Promise<void> {
      const data = await f.channel.getChannelData()
      expect([data.closed, data.paid, data.seqno, data.receiptsRoot]).toEqual([true, amount, seqno, root])
      expect(await f.channel.getBalance()).toBe(0n)
      // nothing can be claimed, topped up or closed again
      const late = await f.channel.sendClaim(f.nodeWallet.getSender(), signedVoucher(f, { channel: f.channel.address, seqno: seqno + 1, amount: DEPOSIT }))
      expect(late.transactions).toHaveTransaction({ to: f.channel.address, op: Op.claim, success: false, exitCode: Errors.channelClosed })
      expect(late.transactions).not.toHaveTransaction({ from: f.channel.address, op: Op.payout })
      const topUp = await f.channel.sendTopUp(f.client.getSender(), { amount: toNano('1') })
      expect(topUp.transactions).toHaveTransaction({ to: f.channel.address, op: Op.channelTopUp, success: false, exitCode: Errors.channelClosed })
      const start = await f.channel.sendStartClose(f.client.getSender())
      expect(start.transactions).toHaveTransaction({ to: f.channel.address, op: Op.startClose, success: false, exitCode: Errors.channelClosed })
      const finish = await f.channel.sendFinishClose(f.client.getSender())
      expect(finish.transactions).toHaveTransaction({ to: f.channel.address, op: Op.finishClose, success: false, exitCode: Errors.channelClosed })
      const again = await f.channel.sendCooperativeClose(f.client.getSender(), signedCloseRequest(f, { channel: f.channel.address, seqno: seqno + 1, amount }))
      expect(again.transactions).toHaveTransaction({ to: f.channel.address, op: Op.cooperativeClose, success: false, exitCode: Errors.channelClosed })
      expect((await f.channel.getChannelData()).paid).toBe(amount)
    }

    it('sent by the client: pays the provider the difference less the fee, refunds the rest at once, closes', async () => {
      await expectSettled(await claim(1, toNano('1')), toNano('1'))
      const balance = await f.channel.getBalance()
      const root = Buffer.alloc(32, 0x5e)
      const { result, ledger } = await coopClose(f.client, { seqno: 2, amount: toNano('3'), receiptsRoot: root })

      const delta = toNano('2')
      const fee = feeOf(delta)
      expect(result.transactions).toHaveTransaction({ from: f.client.address, to: f.channel.address, op: Op.cooperativeClose, success: true, outMessagesCount: 3 })
      expect(result.transactions).toHaveTransaction({ from: f.channel.address, to: f.providerOwner.address, op: Op.payout, value: delta - fee, success: true })
      expect(result.transactions).toHaveTransaction({ from: f.channel.address, to: f.registry.address, op: Op.protocolFee, value: fee, success: true })
      const refundTx = findTransactionRequired(result.transactions, { from: f.channel.address, to: f.client.address, op: Op.refund, success: true })
      expect(Channel.parseRefund(refundTx.inMessage!.body).queryId).toBe(11n)
      // the client gets everything the channel held beyond delta, plus its own unspent value
      const channelTx = findTransactionRequired(result.transactions, { to: f.channel.address, op: Op.cooperativeClose })
      const sent = valueOf(result.transactions, { to: f.channel.address, op: Op.cooperativeClose })
      expect(flattenTransaction(refundTx).value).toBe(balance + sent - delta - channelTx.totalFees.coins - forwardFees(channelTx))
      expect(balance - delta).toBeGreaterThan(DEPOSIT - toNano('3'))
      expect(await ledger.delta(f.providerOwner.address)).toBe(delta - fee - feesOf(result.transactions, { to: f.providerOwner.address, op: Op.payout }))
      const feeTx = findTransactionRequired(result.transactions, { from: f.channel.address, to: f.registry.address, op: Op.protocolFee })
      expectFeeAccepted(feeTx, fee)
      expect(await ledger.delta(f.registry.address)).toBe(fee - feeTx.totalFees.coins)
      console.log(`cooperative_close: channel compute gas ${computeGas(channelTx)}, cascade fees ${cascadeFees(result.transactions)} nanoton`)
      await expectFinal(toNano('3'), 2, root)
    })

    it('sent by the node: the client gets exactly what the channel held beyond the payout, the sender its unused value', async () => {
      const balance = await f.channel.getBalance()
      const { result, ledger } = await coopClose(f.nodeWallet, { seqno: 1, amount: toNano('2') })
      expect(result.transactions).toHaveTransaction({ from: f.nodeWallet.address, to: f.channel.address, op: Op.cooperativeClose, success: true, outMessagesCount: 4 })
      const channelTx = findTransactionRequired(result.transactions, { to: f.channel.address, op: Op.cooperativeClose })
      expect(result.transactions).toHaveTransaction({
        from: f.channel.address, to: f.client.address, op: Op.refund, value: balance - storageFees(channelTx) - toNano('2'), success: true
      })
      expect(result.transactions).toHaveTransaction({ from: f.channel.address, to: f.nodeWallet.address, op: Op.excesses, success: true })
      // the client paid nothing for the close beyond receiving its refund
      expect(await ledger.delta(f.client.address)).toBe(balance - storageFees(channelTx) - toNano('2') - feesOf(result.transactions, { to: f.client.address, op: Op.refund }))
      await expectFinal(toNano('2'), 1, ZERO_ROOT)
    })

    it('at the amount already paid and the same seqno: no payout, everything refunded', async () => {
      await expectSettled(await claim(4, toNano('1')), toNano('1'))
      const { result } = await coopClose(f.client, { seqno: 4, amount: toNano('1') })
      expect(result.transactions).toHaveTransaction({ to: f.channel.address, op: Op.cooperativeClose, success: true, outMessagesCount: 1 })
      expect(result.transactions).not.toHaveTransaction({ from: f.channel.address, op: Op.payout })
      expect(result.transactions).toHaveTransaction({ from: f.channel.address, to: f.client.address, op: Op.refund, success: true })
      await expectFinal(toNano('1'), 4, ZERO_ROOT)
    })

    it('during the close delay, before close_at', async () => {
      await f.channel.sendStartClose(f.client.getSender())
      f.blockchain.now = START + CLOSE_DELAY - 1
      const { result } = await coopClose(f.client, { seqno: 1, amount: DEPOSIT })
      expect(result.transactions).toHaveTransaction({ to: f.channel.address, op: Op.cooperativeClose, success: true })
      expect(result.transactions).toHaveTransaction({ from: f.channel.address, to: f.providerOwner.address, op: Op.payout, value: DEPOSIT - feeOf(DEPOSIT) })
      await expectFinal(DEPOSIT, 1, ZERO_ROOT)
    })

    it('a repeated open_channel to a closed channel is refunded at once', async () => {
      await coopClose(f.client, { seqno: 1, amount: toNano('1') })
      // a month later: the closed, empty channel owes storage fees, paid from the incoming value
      f.blockchain.now = START + 30 * 86_400
      const ledger = ledgerFor(f, f.channel.address)
      await ledger.snap()
      const reopened = await f.registry.sendOpenChannel(f.client.getSender(), {
        clientKey: f.clientKeys.publicKey, providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey, deposit: DEPOSIT
      })
      expect(reopened.transactions).toHaveTransaction({ from: f.registry.address, to: f.channel.address, op: Op.channelInit, success: true, outMessagesCount: 1 })
      expect(reopened.transactions).toHaveTransaction({ from: f.channel.address, to: f.client.address, op: Op.refund, success: true })
      await ledger.expectExact(reopened.transactions)
      // the client lost only the fees of the cascade (less the registry's own storage fee); the closed channel keeps nothing
      const registryStorage = storageFees(findTransactionRequired(reopened.transactions, { to: f.registry.address, op: Op.openChannel }))
      expect(await ledger.delta(f.client.address)).toBe(-(cascadeFees(reopened.transactions) - registryStorage))
      expect(await f.channel.getBalance()).toBe(0n)
      expect(await f.channel.getChannelData()).toMatchObject({ closed: true, deposit: DEPOSIT, paid: toNano('1') })
    })

    describe('rejects a cooperative close and moves no funds', () => {
      let before: ChannelData
      let balanceBefore: bigint
      beforeEach(async () => {
        await expectSettled(await claim(3, toNano('1')), toNano('1'))
        before = await f.channel.getChannelData()
        balanceBefore = await f.channel.getBalance()
      })

      async function expectRejected (signed: { request: Cell, clientSig: Buffer, nodeSig: Buffer }, exitCode: number, value?: bigint): Promise<void> {
        const ledger = ledgerFor(f, f.channel.address)
        await ledger.snap()
        const result = await f.channel.sendCooperativeClose(f.client.getSender(), { ...signed, value })
        const tx = findTransactionRequired(result.transactions, { to: f.channel.address, op: Op.cooperativeClose, success: false, exitCode })
        expect(result.transactions).not.toHaveTransaction({ from: f.channel.address, op: Op.payout })
        expect(result.transactions).not.toHaveTransaction({ from: f.channel.address, op: Op.refund })
        expect(result.transactions).toHaveTransaction({ from: f.channel.address, to: f.client.address, inMessageBounced: true })
        expect(await f.channel.getChannelData()).toEqual(before)
        expect(await f.channel.getBalance()).toBe(balanceBefore - storageFees(tx))
        await ledger.expectExact(result.transactions)
      }

      const request = (over: { seqno?: number, amount?: bigint, channel?: Address, clientKey?: KeyPair, nodeKey?: KeyPair } = {}): ReturnType<typeof signedCloseRequest> =>
        signedCloseRequest(f, { channel: f.channel.address, seqno: 3, amount: toNano('2'), ...over })

      it('forged client signature', async () => {
        await expectRejected(request({ clientKey: keyPairFromSeed(Buffer.alloc(32, 9)) }), Errors.badClientSignature)
      })

      it('forged node signature', async () => {
        await expectRejected(request({ nodeKey: keyPairFromSeed(Buffer.alloc(32, 9)) }), Errors.badNodeSignature)
      })

      it('a signed voucher instead of a close request', async () => {
        const signed = signedVoucher(f, { channel: f.channel.address, seqno: 4, amount: toNano('2') })
        await expectRejected({ request: signed.voucher, clientSig: signed.clientSig, nodeSig: signed.nodeSig }, Errors.malformedCloseRequest)
      })

      it('close request for another channel', async () => {
        await expectRejected(request({ channel: f.registry.address }), Errors.wrongChannel)
      })

      it('seqno below the last claimed voucher', async () => {
        await expectRejected(request({ seqno: 2 }), Errors.seqnoNotIncreasing)
      })

      it('amount below what was already paid', async () => {
        await expectRejected(request({ amount: toNano('1') - 1n }), Errors.amountBelowPaid)
      })

      it('amount above the deposit', async () => {
        await expectRejected(request({ amount: DEPOSIT + 1n }), Errors.amountAboveDeposit)
      })

      it('value below the cooperative close gas', async () => {
        await expectRejected(request(), Errors.notEnoughValue, Fees.cooperativeCloseGas - 1n)
      })

      it('after the close delay ran out', async () => {
        await f.channel.sendStartClose(f.client.getSender())
        f.blockchain.now = START + CLOSE_DELAY
        before = await f.channel.getChannelData()
        balanceBefore = await f.channel.getBalance()
        await expectRejected(request(), Errors.channelClosed)
      })

      it('on a channel the registry did not initialize', async () => {
        const other = f.blockchain.openContract(Channel.createFromConfig({
          registry: f.registry.address, client: f.stranger.address, clientKey: f.clientKeys.publicKey,
          providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey
        }))
        const result = await other.sendCooperativeClose(f.stranger.getSender(), signedCloseRequest(f, { channel: other.address, seqno: 1, amount: 1n }))
        expect(result.transactions).toHaveTransaction({ to: other.address, success: false, exitCode: Errors.notInitialized })
      })
    })
  })

  describe('rejects a claim and moves no funds', () => {
    let before: ChannelData
    let balanceBefore: bigint
    beforeEach(async () => {
      await expectSettled(await claim(3, toNano('1')), toNano('1'))
      before = await f.channel.getChannelData()
      balanceBefore = await f.channel.getBalance()
    })

    async function expectRejected (result: SendMessageResult, exitCode: number): Promise<void> {
      const tx = findTransactionRequired(result.transactions, { to: f.channel.address, op: Op.claim, success: false, exitCode })
      expect(result.transactions).not.toHaveTransaction({ from: f.channel.address, op: Op.payout })
      expect(result.transactions).not.toHaveTransaction({ from: f.channel.address, op: Op.protocolFee })
      // the claim's value bounces back to the claimer
      expect(result.transactions).toHaveTransaction({ from: f.channel.address, inMessageBounced: true })
      expect(await f.channel.getChannelData()).toEqual(before)
      // only the storage fee for the time that passed is taken from the channel
      expect(await f.channel.getBalance()).toBe(balanceBefore - storageFees(tx))
    }

    it('forged client signature', async () => {
      const signed = signedVoucher(f, { channel: f.channel.address, seqno: 4, amount: toNano('2'), clientKey: keyPairFromSeed(Buffer.alloc(32, 9)) })
      await expectRejected(await f.channel.sendClaim(f.nodeWallet.getSender(), signed), Errors.badClientSignature)
    })

    it('forged node signature', async () => {
      const signed = signedVoucher(f, { channel: f.channel.address, seqno: 4, amount: toNano('2'), nodeKey: keyPairFromSeed(Buffer.alloc(32, 9)) })
      await expectRejected(await f.channel.sendClaim(f.nodeWallet.getSender(), signed), Errors.badNodeSignature)
    })

    it('signatures swapped between client and node', async () => {
      const signed = signedVoucher(f, { channel: f.channel.address, seqno: 4, amount: toNano('2') })
      await expectRejected(await f.channel.sendClaim(f.nodeWallet.getSender(), { ...signed, clientSig: signed.nodeSig, nodeSig: signed.clientSig }), Errors.badClientSignature)
    })

    it('replayed voucher (same seqno)', async () => {
      await expectRejected(await claim(3, toNano('1')), Errors.seqnoNotIncreasing)
    })

    it('lower seqno', async () => {
      await expectRejected(await claim(2, toNano('2')), Errors.seqnoNotIncreasing)
    })

    it('amount below what was already paid', async () => {
      await expectRejected(await claim(4, toNano('0.5')), Errors.amountBelowPaid)
    })

    it('amount above the deposit', async () => {
      await expectRejected(await claim(4, DEPOSIT + 1n), Errors.amountAboveDeposit)
    })

    it('voucher for another channel', async () => {
      await expectRejected(await claim(4, toNano('2'), { channel: f.registry.address }), Errors.wrongChannel)
    })

    it('a cell that is not a voucher', async () => {
      const notVoucher = beginCell().storeUint(0x52435054, 32).storeAddress(f.channel.address).storeUint(4, 32).storeCoins(toNano('2')).storeBuffer(ZERO_ROOT).endCell()
      const signed = { voucher: notVoucher, clientSig: signCell(notVoucher, f.clientKeys.secretKey), nodeSig: signCell(notVoucher, f.nodeKeys.secretKey) }
      await expectRejected(await f.channel.sendClaim(f.nodeWallet.getSender(), signed), Errors.malformedVoucher)
    })

    it('value below the claim gas', async () => {
      const signed = signedVoucher(f, { channel: f.channel.address, seqno: 4, amount: toNano('2') })
      await expectRejected(await f.channel.sendClaim(f.nodeWallet.getSender(), { ...signed, value: Fees.claimGas - 1n }), Errors.notEnoughValue)
    })

    it('claim after the close delay', async () => {
      await f.channel.sendStartClose(f.client.getSender())
      f.blockchain.now = START + CLOSE_DELAY
      before = await f.channel.getChannelData()
      balanceBefore = await f.channel.getBalance()
      await expectRejected(await claim(4, toNano('2')), Errors.channelClosed)
    })

    it('claim after finish_close', async () => {
      await f.channel.sendStartClose(f.client.getSender())
      f.blockchain.now = START + CLOSE_DELAY
      await f.channel.sendFinishClose(f.client.getSender())
      before = await f.channel.getChannelData()
      balanceBefore = await f.channel.getBalance()
      await expectRejected(await claim(4, toNano('2')), Errors.channelClosed)
    })

    it('unknown op', async () => {
      const result = await f.stranger.send({ to: f.channel.address, value: toNano('0.1'), body: beginCell().storeUint(0x1234, 32).endCell() })
      expect(result.transactions).toHaveTransaction({ from: f.stranger.address, to: f.channel.address, success: false, exitCode: Errors.unknownOp })
      expect(await f.channel.getChannelData()).toEqual(before)
    })
  })
})

describe('close_request cell', () => {
  it('round-trips through buildCloseRequest / parseCloseRequest and refuses other cells', () => {
    const channel = channelAddressForTest()
    const request = { channel, seqno: 7, amount: 123_456_789n, receiptsRoot: Buffer.alloc(32, 0xcd) }
    const parsed = parseCloseRequest(buildCloseRequest(request))
    expect(parsed).toEqual(request)
    const voucher = buildVoucher({ channel, seqno: 7, amount: 1n, receiptsRoot: ZERO_ROOT })
    expect(() => parseCloseRequest(voucher)).toThrow(ProtocolError)
    const longer = beginCell().storeSlice(buildCloseRequest(request).beginParse()).storeUint(1, 1).endCell()
    expect(() => parseCloseRequest(longer)).toThrow(ProtocolError)
    expect(() => buildCloseRequest({ ...request, receiptsRoot: Buffer.alloc(31) })).toThrow(ProtocolError)
  })
})

function channelAddressForTest (): Address {
  return Channel.createFromConfig({
    registry: new Address(0, Buffer.alloc(32, 1)), client: new Address(0, Buffer.alloc(32, 2)), clientKey: 1n,
    providerOwner: new Address(0, Buffer.alloc(32, 3)), nodeKey: 2n
  }).address
}
