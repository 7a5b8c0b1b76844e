import { Blockchain, type SendMessageResult } from '@ton/sandbox'
import { Address, fromNano, toNano, type Transaction } from '@ton/core'
import { keyPairFromSeed } from '@ton/crypto'
import { buildCloseRequest, buildReceipt, buildVoucher, GLOBAL_IDS, signCell, ZERO_ROOT, type Receipt } from '../protocol/cells.ts'
import { configWithGlobalId } from './network.ts'
import { Registry } from './Registry.ts'
import { Provider, providerAddress } from './Provider.ts'
import { Channel, channelAddress } from './Channel.ts'
import { Fees, Op } from './constants.ts'

// Gas and fees of every Silk operation, measured in @ton/sandbox (real TVM, real fee config).
// Run: npx tsx contracts/gas.bench.ts   (npm run bench:gas)
//
// gas        compute gas used by the Silk contracts' transactions in the cascade
// contract   total fees of those transactions plus the forward fees of what they sent (TON)
// all-in     every fee of the cascade: the sending wallet's transaction and forward fee, the
//            contracts', and the receiving wallets' transactions (TON)

const CLAIM_BUDGET = toNano('0.01')

interface Row { op: string, gas: bigint, contract: bigint, allIn: bigint, note?: string }

function gasOf (tx: Transaction): bigint {
  return tx.description.type === 'generic' && tx.description.computePhase.type === 'vm' ? tx.description.computePhase.gasUsed : 0n
}

function forwardFees (tx: Transaction): bigint {
  let total = 0n
  for (const m of tx.outMessages.values()) if (m.info.type === 'internal') total += m.info.forwardFee
  return total
}

function destination (tx: Transaction): Address | undefined {
  const info = tx.inMessage?.info
  return info?.type === 'internal' || info?.type === 'external-in' ? info.dest : undefined
}

function assertSuccess (op: string, result: SendMessageResult): void {
  for (const tx of result.transactions) {
    if (tx.description.type !== 'generic') continue
    const cp = tx.description.computePhase
    if (cp.type === 'vm' && !cp.success) throw new Error(`${op}: a transaction failed with exit code ${cp.exitCode}`)
    if (tx.description.aborted) throw new Error(`${op}: a transaction was aborted`)
  }
}

async function main (): Promise<void> {
  const blockchain = await Blockchain.create()
  const globalId = GLOBAL_IDS.local
  blockchain.setConfig(configWithGlobalId(blockchain.config, globalId))
  const START = 1_750_000_000
  blockchain.now = START
  const owner = await blockchain.treasury('owner')
  const providerOwner = await blockchain.treasury('provider-owner')
  const client = await blockchain.treasury('client')
  const nodeWallet = await blockchain.treasury('node-wallet')
  const reporter = await blockchain.treasury('reporter')
  const clientKeys = keyPairFromSeed(Buffer.alloc(32, 1))
  const nodeKeys = keyPairFromSeed(Buffer.alloc(32, 2))
  const closeDelay = 3600
  const unbondingDelay = 7 * 86_400

  const registry = blockchain.openContract(Registry.createFromConfig({
    owner: owner.address, globalId, feeBps: 250, minStake: toNano('10'), closeDelay, unbondingDelay, slashShareBps: 3000
  }))
  const silk = (): Set<string> => new Set([registry.address, ...children].map((a) => a.toRawString()))
  const children: Address[] = []
  const rows: Row[] = []

  async function measure (op: string, send: () => Promise<SendMessageResult>, note?: string): Promise<SendMessageResult> {
    const result = await send()
    assertSuccess(op, result)
    const contracts = silk()
    let gas = 0n
    let contract = 0n
    let allIn = 0n
    for (const tx of result.transactions) {
      allIn += tx.totalFees.coins + forwardFees(tx)
      const dest = destination(tx)
      if (dest !== undefined && contracts.has(dest.toRawString())) {
        gas += gasOf(tx)
        contract += tx.totalFees.coins + forwardFees(tx)
      }
    }
    rows.push({ op, gas, contract, allIn, note })
    return result
  }

  await measure('deploy registry', async () => await registry.sendDeploy(owner.getSender(), Fees.registryStorageReserve + toNano('1')))

  // ---------- provider ----------
  const registration = (): Buffer => Registry.signRegistration({ globalId, registry: registry.address, owner: providerOwner.address, nodeSecretKey: nodeKeys.secretKey })
  const provider = blockchain.openContract(Provider.createFromAddress(providerAddress(registry.address, providerOwner.address, nodeKeys.publicKey)))
  children.push(provider.address)
  await measure('register provider (registry + provider deploy)', async () =>
    await registry.sendRegisterProvider(providerOwner.getSender(), { nodeKey: nodeKeys.publicKey, stake: toNano('20'), signature: registration() }))
  await measure('stake top-up', async () => await provider.sendTopUp(providerOwner.getSender(), { amount: toNano('1') }))

  // ---------- channel ----------
  const channel = blockchain.openContract(Channel.createFromAddress(
    channelAddress(registry.address, client.address, clientKeys.publicKey, providerOwner.address, nodeKeys.publicKey, 1n)))
  children.push(channel.address)
  await measure('open channel (registry + channel deploy)', async () => await registry.sendOpenChannel(client.getSender(), {
    clientKey: clientKeys.publicKey, providerOwner: providerOwner.address, nodeKey: nodeKeys.publicKey, deposit: toNano('5'), nonce: 1n
  }))
  await measure('channel top-up', async () => await channel.sendTopUp(client.getSender(), { amount: toNano('1') }))

  const voucher = (seqno: number, amount: bigint): { voucher: ReturnType<typeof buildVoucher>, clientSig: Buffer, nodeSig: Buffer } => {
    const v = buildVoucher({ globalId, channel: channel.address, seqno, amount, receiptsRoot: Buffer.alloc(32, seqno) })
    return { voucher: v, clientSig: signCell(v, clientKeys.secretKey), nodeSig: signCell(v, nodeKeys.secretKey) }
  }
  const first = await measure('claim (payout + protocol fee + excesses)', async () => await channel.sendClaim(nodeWallet.getSender(), voucher(1, toNano('1'))))
  const claimRow = rows[rows.length - 1]!
  await measure('claim, second voucher', async () => await channel.sendClaim(nodeWallet.getSender(), voucher(2, toNano('2'))))
  // A realistic claim: 0.0125 TON, so the fee is 312,500 nanoton (2.5 %) and that is all the gas the
  // Registry's transaction gets (the channel pays the forward fee separately): 781 gas at most.
  const small = await measure('claim of 0.0125 TON (fee 312,500 nanoton)', async () => await channel.sendClaim(nodeWallet.getSender(), voucher(3, toNano('2.0125'))))
  const feeTx = small.transactions.find((tx) => destination(tx)?.equals(registry.address) === true && tx.inMessage?.body.beginParse().preloadUint(32) === Op.protocolFee)
  if (feeTx === undefined || feeTx.description.type !== 'generic' || feeTx.description.computePhase.type !== 'vm') throw new Error('no protocol fee delivery ran')
  const feeCompute = feeTx.description.computePhase
  if (!feeCompute.success || feeCompute.exitCode !== 0 || feeTx.description.aborted) throw new Error(`protocol fee delivery failed with exit code ${feeCompute.exitCode}`)
  rows.push({ op: 'protocol fee delivery (registry tx, 312,500 nanoton)', gas: gasOf(feeTx), contract: feeTx.totalFees.coins, allIn: feeTx.totalFees.coins })
  const claimSent = first.transactions.find((tx) => destination(tx)?.equals(channel.address) === true)!
  let excesses = 0n
  for (const tx of first.transactions) {
    const info = tx.inMessage?.info
    if (info?.type === 'internal' && info.src.equals(channel.address) && info.dest.equals(nodeWallet.address)) excesses = info.value.coins
  }
  const claimerNet = (claimSent.inMessage!.info.type === 'internal' ? claimSent.inMessage!.info.value.coins : 0n) - excesses

  await measure('start close', async () => await channel.sendStartClose(client.getSender()))
  blockchain.now = START + closeDelay
  await measure('finish close (refund)', async () => await channel.sendFinishClose(client.getSender()))

  // a second channel (another client key) for the cooperative close
  const clientKeys2 = keyPairFromSeed(Buffer.alloc(32, 3))
  const channel2 = blockchain.openContract(Channel.createFromAddress(
    channelAddress(registry.address, client.address, clientKeys2.publicKey, providerOwner.address, nodeKeys.publicKey, 1n)))
  children.push(channel2.address)
  await registry.sendOpenChannel(client.getSender(), { clientKey: clientKeys2.publicKey, providerOwner: providerOwner.address, nodeKey: nodeKeys.publicKey, deposit: toNano('5'), nonce: 1n })
  const request = buildCloseRequest({ globalId, channel: channel2.address, seqno: 1, amount: toNano('2'), receiptsRoot: ZERO_ROOT })
  await measure('cooperative close (payout + fee + refund)', async () => await channel2.sendCooperativeClose(client.getSender(), {
    request, clientSig: signCell(request, clientKeys2.secretKey), nodeSig: signCell(request, nodeKeys.secretKey)
  }))

  // ---------- governance ----------
  const model = Buffer.alloc(32, 0xa1)
  await measure('gov: add model', async () => await registry.sendAddModel(owner.getSender(), { modelHash: model }))
  await measure('gov: remove model', async () => await registry.sendRemoveModel(owner.getSender(), { modelHash: model }))
  await measure('gov: add measurement', async () => await registry.sendAddMeasurement(owner.getSender(), { measurement: model }))
  await measure('gov: remove measurement', async () => await registry.sendRemoveMeasurement(owner.getSender(), { measurement: model }))
  await measure('gov: set params', async () => await registry.sendSetParams(owner.getSender(), {
    feeBps: 250, minStake: toNano('10'), unbondingDelay, closeDelay, slashShareBps: 3000
  }))
  await measure('gov: withdraw treasury', async () => await registry.sendWithdrawTreasury(owner.getSender(), { amount: 0n, destination: owner.address }))
  await measure('gov: change owner', async () => await registry.sendChangeOwner(owner.getSender(), { newOwner: owner.address }))

  // ---------- unbond, withdraw, slash ----------
  await measure('unbond', async () => await provider.sendUnbond(providerOwner.getSender()))
  blockchain.now = START + closeDelay + unbondingDelay
  await measure('withdraw stake (destroys the provider)', async () => await provider.sendWithdraw(providerOwner.getSender()))

  await registry.sendRegisterProvider(providerOwner.getSender(), { nodeKey: nodeKeys.publicKey, stake: toNano('20'), signature: registration() })
  const receipt: Receipt = {
    globalId, channel: channel.address, epoch: 2, jobId: 1n, units: 1, price: 1n, deterministic: true, complete: true, time: START,
    modelHash: Buffer.alloc(32, 1), specHash: Buffer.alloc(32, 2), outputHash: Buffer.alloc(32, 3)
  }
  const a = buildReceipt(receipt)
  const b = buildReceipt({ ...receipt, jobId: 2n, outputHash: Buffer.alloc(32, 4) })
  await measure('report equivocation (reward + slashed stake)', async () => await provider.sendReportEquivocation(reporter.getSender(), {
    receiptA: a, sigA: signCell(a, nodeKeys.secretKey), receiptB: b, sigB: signCell(b, nodeKeys.secretKey)
  }))

  // ---------- table ----------
  const ton = (n: bigint): string => fromNano(n).padEnd(11, '0').slice(0, 11)
  const width = Math.max(...rows.map((r) => r.op.length))
  console.log(`| ${'operation'.padEnd(width)} | contract gas | contract fees TON | all-in fees TON |`)
  console.log(`|${'-'.repeat(width + 2)}|-------------:|------------------:|----------------:|`)
  for (const r of rows) {
    console.log(`| ${r.op.padEnd(width)} | ${String(r.gas).padStart(12)} | ${ton(r.contract).padStart(17)} | ${ton(r.allIn).padStart(15)} |`)
  }
  const meets = claimRow.allIn <= CLAIM_BUDGET
  console.log()
  console.log(`claim all-in: ${fromNano(claimRow.allIn)} TON (goal <= ${fromNano(CLAIM_BUDGET)} TON): ${meets ? 'MEETS the goal' : 'DOES NOT meet the goal'}`)
  console.log(`claim, net cost to the claimer (sends ${fromNano(Fees.claimGas)} TON, gets the excesses back): ${fromNano(claimerNet)} TON plus its own wallet transaction`)
  console.log(`protocol fee delivery: exit code ${feeCompute.exitCode} (success) on ${gasOf(feeTx)} gas, within the flat 100 gas that 0.00004 TON buys: every fee of at least 40,000 nanoton succeeds`)
  if (!meets) process.exitCode = 1
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
