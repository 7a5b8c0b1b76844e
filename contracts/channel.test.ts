import { describe, it, expect, beforeAll, beforeEach } from 'vitest'
import { Address, beginCell, toNano, type Cell } from '@ton/core'
import { keyPairFromSeed, type KeyPair } from '@ton/crypto'
import { findTransactionRequired, flattenTransaction } from '@ton/test-utils'
import type { BlockchainSnapshot, SandboxContract, SendMessageResult, TreasuryContract } from '@ton/sandbox'
import {
  buildCloseRequest, buildReceipt, buildVoucher, GLOBAL_IDS, nextReceiptsRoot, parseCloseRequest, parseReceipt, receiptCost, signCell, ZERO_ROOT
} from '../protocol/cells.ts'
import { ProtocolError } from '../protocol/errors.ts'
import { Bounds, Errors, Fees, Op } from './constants.ts'
import { Channel, channelAddress, type ChannelData } from './Channel.ts'
import {
  openChannel, signedVoucher, signedCloseRequest, valueOf, computeGas, cascadeFees, storageFees, forwardFees, ledgerFor, feesOf, expectFeeAccepted,
  CLOSE_DELAY, DEPOSIT, FEE_BPS, FLAT_GAS_PRICE, GLOBAL_ID, NONCE, START, type ChannelFixture, type Ledger
} from './test-fixture.ts'

const YEAR = 365 * 86_400

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
   * A fully closed channel is destroyed: it holds nothing, can never freeze, and a later top-up
   * (bounceable, as wallets send it) comes straight back: it never funds a closed channel.
   */
  async function expectDestroyed (): Promise<void> {
    expect((await f.blockchain.getContract(f.channel.address)).accountState).toBeUndefined()
    expect(await f.channel.getBalance()).toBe(0n)
    const topUp = await f.channel.sendTopUp(f.client.getSender(), { amount: toNano('1') })
    expect(topUp.transactions).toHaveTransaction({ from: f.channel.address, to: f.client.address, inMessageBounced: true })
    expect((await f.blockchain.getContract(f.channel.address)).balance).toBe(0n)
  }

  /**
   * Sends a claim from the node's wallet; every party's balance is then checked to the nanoton, and
   * what the Registry kept of the cascade is left in `registryKept`.
   */
  async function claim (seqno: number, amount: bigint, opts: { receiptsRoot?: Buffer, channel?: Address, globalId?: number } = {}): Promise<SendMessageResult> {
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
    const ledger = ledgerFor(f, f.channel.address)
    await ledger.snap()
    const finish = await f.channel.sendFinishClose(f.client.getSender())
    expect(finish.transactions).toHaveTransaction({ from: f.client.address, to: f.channel.address, op: Op.finishClose, success: true, outMessagesCount: 1 })
    await ledger.expectExact(finish.transactions)
    const refundTx = findTransactionRequired(finish.transactions, { from: f.channel.address, to: f.client.address, op: Op.refund, success: true })
    const refund = flattenTransaction(refundTx).value ?? 0n
    // everything the channel held (deposit - paid and the storage reserve) plus the finisher's unspent value
    expect(refund).toBeGreaterThan(balance)
    expect(balance).toBeGreaterThan(DEPOSIT - toNano('2'))
    await expectDestroyed()
  })

  it('finish_close from a stranger: the client gets exactly what the channel held, the stranger its own value back', async () => {
    await expectSettled(await claim(1, toNano('1')), toNano('1'))
    await f.channel.sendStartClose(f.client.getSender())
    f.blockchain.now = START + CLOSE_DELAY
    const balance = await f.channel.getBalance()
    const ledger = ledgerFor(f, f.channel.address)
    await ledger.snap()
    const finish = await f.channel.sendFinishClose(f.stranger.getSender(), { value: toNano('3') })
    await ledger.expectExact(finish.transactions)
    const channelTx = findTransactionRequired(finish.transactions, { from: f.stranger.address, to: f.channel.address, op: Op.finishClose, success: true, outMessagesCount: 2 })
    // to the nanoton: the channel's own funds (less the storage due for the delay) to the client ...
    findTransactionRequired(finish.transactions, { from: f.channel.address, to: f.client.address, op: Op.refund, value: balance - storageFees(channelTx), success: true })
    // ... and the stranger's 3 TON back to the stranger, less only the fees its message caused
    const back = findTransactionRequired(finish.transactions, { from: f.channel.address, to: f.stranger.address, op: Op.excesses, success: true })
    expect(flattenTransaction(back).value).toBe(toNano('3') - (channelTx.totalFees.coins - storageFees(channelTx)) - forwardFees(channelTx))
    expect(await ledger.delta(f.stranger.address)).toBeGreaterThan(-toNano('0.01'))
    expect(await ledger.delta(f.channel.address)).toBe(-balance)
    expect((await f.blockchain.getContract(f.channel.address)).accountState).toBeUndefined()
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
      clientKey: f.clientKeys.publicKey, providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey, deposit: toNano('100'), nonce: NONCE
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
      providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey, nonce: NONCE
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
      globalId: GLOBAL_ID, channel: f.channel.address, epoch: 1, jobId, units: 100, price: 1_000_000n, deterministic: true, complete: true, time: START + Number(jobId),
      modelHash: Buffer.alloc(32, 0x11), specHash: Buffer.alloc(32, Number(jobId)), outputHash: Buffer.alloc(32, 0x40 + Number(jobId))
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

    async function expectFinal (result: SendMessageResult, amount: bigint, seqno: number, root: Buffer): Promise<void> {
      // the final state is in the close transaction's record; the account itself is destroyed
      const close = findTransactionRequired(result.transactions, { to: f.channel.address, op: Op.cooperativeClose, success: true })
      const request = parseCloseRequest(Channel.parseCooperativeClose(close.inMessage!.body).request)
      expect([request.amount, request.seqno, request.receiptsRoot]).toEqual([amount, seqno, root])
      await expectDestroyed()
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
      await expectFinal(result, toNano('3'), 2, root)
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
      await expectFinal(result, toNano('2'), 1, ZERO_ROOT)
    })

    it('at the amount already paid and the same seqno: no payout, everything refunded', async () => {
      await expectSettled(await claim(4, toNano('1')), toNano('1'))
      const { result } = await coopClose(f.client, { seqno: 4, amount: toNano('1') })
      expect(result.transactions).toHaveTransaction({ to: f.channel.address, op: Op.cooperativeClose, success: true, outMessagesCount: 1 })
      expect(result.transactions).not.toHaveTransaction({ from: f.channel.address, op: Op.payout })
      expect(result.transactions).toHaveTransaction({ from: f.channel.address, to: f.client.address, op: Op.refund, success: true })
      await expectFinal(result, toNano('1'), 4, ZERO_ROOT)
    })

    it('during the close delay, before close_at', async () => {
      await f.channel.sendStartClose(f.client.getSender())
      f.blockchain.now = START + CLOSE_DELAY - 1
      const { result } = await coopClose(f.client, { seqno: 1, amount: DEPOSIT })
      expect(result.transactions).toHaveTransaction({ to: f.channel.address, op: Op.cooperativeClose, success: true })
      expect(result.transactions).toHaveTransaction({ from: f.channel.address, to: f.providerOwner.address, op: Op.payout, value: DEPOSIT - feeOf(DEPOSIT) })
      await expectFinal(result, DEPOSIT, 1, ZERO_ROOT)
    })

    it('a reopen takes a new nonce: a new address, where no voucher of the old channel is worth anything', async () => {
      const old = signedVoucher(f, { channel: f.channel.address, seqno: 9, amount: toNano('1') })
      await coopClose(f.client, { seqno: 1, amount: toNano('1') })
      // years later the old address is still empty: nothing froze there, nothing can be stuck there
      f.blockchain.now = START + 10 * YEAR
      expect((await f.blockchain.getContract(f.channel.address)).accountState).toBeUndefined()
      const nonce = NONCE + 1n
      const reopened = await f.registry.sendOpenChannel(f.client.getSender(), {
        clientKey: f.clientKeys.publicKey, providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey, deposit: DEPOSIT, nonce
      })
      const address = channelAddress(f.registry.address, f.client.address, f.clientKeys.publicKey, f.providerOwner.address, f.nodeKeys.publicKey, nonce)
      expect(address.equals(f.channel.address)).toBe(false)
      expect(reopened.transactions).toHaveTransaction({ from: f.registry.address, to: address, op: Op.channelInit, deploy: true, success: true })
      const fresh = f.blockchain.openContract(Channel.createFromAddress(address))
      expect(await fresh.getChannelData()).toMatchObject({ nonce, deposit: DEPOSIT, paid: 0n, seqno: 0 })
      // the old channel's voucher names the old address
      const replay = await fresh.sendClaim(f.nodeWallet.getSender(), old)
      expect(replay.transactions).toHaveTransaction({ to: address, op: Op.claim, success: false, exitCode: Errors.wrongChannel })
      expect(replay.transactions).not.toHaveTransaction({ from: address, op: Op.payout })
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

      it('close request of another network', async () => {
        for (const globalId of [GLOBAL_IDS.mainnet, GLOBAL_IDS.testnet]) {
          await expectRejected(signedCloseRequest(f, { channel: f.channel.address, seqno: 3, amount: toNano('2'), globalId }), Errors.wrongNetwork)
        }
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
          providerOwner: f.providerOwner.address, nodeKey: f.nodeKeys.publicKey, nonce: NONCE
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

    it('voucher of another network (a testnet or mainnet signature replayed here)', async () => {
      await expectRejected(await claim(4, toNano('2'), { globalId: GLOBAL_IDS.mainnet }), Errors.wrongNetwork)
      await expectRejected(await claim(4, toNano('2'), { globalId: GLOBAL_IDS.testnet }), Errors.wrongNetwork)
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

    it('claim after finish_close: the channel is gone, the claim bounces', async () => {
      await f.channel.sendStartClose(f.client.getSender())
      f.blockchain.now = START + CLOSE_DELAY
      await f.channel.sendFinishClose(f.client.getSender())
      const signed = signedVoucher(f, { channel: f.channel.address, seqno: 4, amount: toNano('2') })
      const result = await f.channel.sendClaim(f.nodeWallet.getSender(), signed)
      expect(result.transactions).toHaveTransaction({ from: f.channel.address, to: f.nodeWallet.address, inMessageBounced: true })
      expect(result.transactions).not.toHaveTransaction({ from: f.channel.address, op: Op.payout })
      await expectDestroyed()
    })

    it('unknown op', async () => {
      const result = await f.stranger.send({ to: f.channel.address, value: toNano('0.1'), body: beginCell().storeUint(0x1234, 32).endCell() })
      expect(result.transactions).toHaveTransaction({ from: f.stranger.address, to: f.channel.address, success: false, exitCode: Errors.unknownOp })
      expect(await f.channel.getChannelData()).toEqual(before)
    })
  })
})

describe('Channel storage over the years (the client-funded reserve pays it; deposit - paid stays whole)', () => {
  let f: ChannelFixture
  let opened: BlockchainSnapshot
  beforeAll(async () => {
    f = await openChannel()
    opened = f.blockchain.snapshot()
  })
  beforeEach(async () => { await f.blockchain.loadFrom(opened) })

  it('a voucher for the full deposit still pays in full on the last day of the channel\'s lifetime', async () => {
    const data = await f.channel.getChannelData()
    expect(data.expiresAt).toBe(START + Bounds.channelLifetime)
    f.blockchain.now = data.expiresAt - 1
    const ledger = ledgerFor(f, f.channel.address)
    await ledger.snap()
    const balance = await f.channel.getBalance()
    const result = await f.channel.sendClaim(f.nodeWallet.getSender(), signedVoucher(f, { channel: f.channel.address, seqno: 1, amount: DEPOSIT }))
    await ledger.expectExact(result.transactions)
    const fee = feeOf(DEPOSIT)
    const channelTx = findTransactionRequired(result.transactions, { to: f.channel.address, op: Op.claim, success: true })
    expect(result.transactions).toHaveTransaction({ from: f.channel.address, to: f.providerOwner.address, op: Op.payout, value: DEPOSIT - fee, success: true })
    expect(result.transactions).toHaveTransaction({ from: f.channel.address, to: f.registry.address, op: Op.protocolFee, value: fee })
    // four years of storage came out of the reserve, none of it out of the deposit
    expect(storageFees(channelTx)).toBeGreaterThan(toNano('0.04'))
    expect(await f.channel.getBalance()).toBe(balance - storageFees(channelTx) - DEPOSIT)
    expect(await f.channel.getBalance()).toBeGreaterThan(0n)
  })

  it('after its lifetime no claim is accepted and anyone may finish_close it; the client gets deposit - paid in full years later', async () => {
    await f.channel.sendClaim(f.nodeWallet.getSender(), signedVoucher(f, { channel: f.channel.address, seqno: 1, amount: toNano('1') }))
    const { expiresAt } = await f.channel.getChannelData()
    f.blockchain.now = expiresAt
    const late = await f.channel.sendClaim(f.nodeWallet.getSender(), signedVoucher(f, { channel: f.channel.address, seqno: 2, amount: toNano('2') }))
    expect(late.transactions).toHaveTransaction({ to: f.channel.address, op: Op.claim, success: false, exitCode: Errors.channelClosed })
    const topUp = await f.channel.sendTopUp(f.client.getSender(), { amount: toNano('1') })
    expect(topUp.transactions).toHaveTransaction({ to: f.channel.address, op: Op.channelTopUp, success: false, exitCode: Errors.channelClosed })

    // nobody bothers for two more years; then a stranger finishes it without start_close
    f.blockchain.now = expiresAt + 2 * YEAR
    const ledger = ledgerFor(f, f.channel.address)
    await ledger.snap()
    const finish = await f.channel.sendFinishClose(f.stranger.getSender())
    await ledger.expectExact(finish.transactions)
    const refundTx = findTransactionRequired(finish.transactions, { from: f.channel.address, to: f.client.address, op: Op.refund, success: true })
    expect(flattenTransaction(refundTx).value).toBeGreaterThan(DEPOSIT - toNano('1'))
    expect((await f.blockchain.getContract(f.channel.address)).accountState).toBeUndefined()
  })

  it('finish_close before the lifetime ends still needs start_close and its delay', async () => {
    const { expiresAt } = await f.channel.getChannelData()
    f.blockchain.now = expiresAt - 1
    const early = await f.channel.sendFinishClose(f.stranger.getSender())
    expect(early.transactions).toHaveTransaction({ to: f.channel.address, op: Op.finishClose, success: false, exitCode: Errors.closeNotReady })
  })
})

describe('close_request cell', () => {
  it('round-trips through buildCloseRequest / parseCloseRequest and refuses other cells', () => {
    const channel = channelAddressForTest()
    const request = { globalId: GLOBAL_ID, channel, seqno: 7, amount: 123_456_789n, receiptsRoot: Buffer.alloc(32, 0xcd) }
    const parsed = parseCloseRequest(buildCloseRequest(request))
    expect(parsed).toEqual(request)
    const voucher = buildVoucher({ globalId: GLOBAL_ID, channel, seqno: 7, amount: 1n, receiptsRoot: ZERO_ROOT })
    expect(() => parseCloseRequest(voucher)).toThrow(ProtocolError)
    const longer = beginCell().storeSlice(buildCloseRequest(request).beginParse()).storeUint(1, 1).endCell()
    expect(() => parseCloseRequest(longer)).toThrow(ProtocolError)
    expect(() => buildCloseRequest({ ...request, receiptsRoot: Buffer.alloc(31) })).toThrow(ProtocolError)
  })
})

function channelAddressForTest (): Address {
  return Channel.createFromConfig({
    registry: new Address(0, Buffer.alloc(32, 1)), client: new Address(0, Buffer.alloc(32, 2)), clientKey: 1n,
    providerOwner: new Address(0, Buffer.alloc(32, 3)), nodeKey: 2n, nonce: 0n
  }).address
}
