// LocalChain on its own (no HTTP): delivery modes, settle, bounces, index, time; stack conversions.
import { afterEach, describe, expect, it } from 'vitest'
import { Address, beginCell, Cell, external, internal, SendMode, storeMessage, toNano, type MessageRelaxed } from '@ton/core'
import { LocalChain, parseHash } from './LocalChain.ts'
import { DevnetError } from './errors.ts'
import { describeTransaction } from './explorer.ts'
import { networkWalletFromKey, signTransfer, walletFromKey, type KeyWallet } from '../chain/client.ts'
import { parseStackArgs, stackResultJson } from './tonapi.ts'
import { Registry } from '../contracts/Registry.ts'
import { Errors, Fees } from '../contracts/constants.ts'
import { GLOBAL_IDS } from '../protocol/cells.ts'

const chains: LocalChain[] = []
afterEach(async () => { for (const c of chains.splice(0)) await c.close() })

async function chain (opts: Parameters<typeof LocalChain.create>[0] = {}): Promise<LocalChain> {
  const c = await LocalChain.create(opts)
  chains.push(c)
  return c
}

function transfer (w: KeyWallet, seqno: number, messages: MessageRelaxed[], validUntil: number, deploy: boolean): Cell {
  const body = w.wallet.createTransfer({ seqno, secretKey: w.keyPair.secretKey, messages, sendMode: SendMode.PAY_GAS_SEPARATELY | SendMode.IGNORE_ERRORS, timeout: validUntil })
  return beginCell().store(storeMessage(external({ to: w.address, body, init: deploy ? w.wallet.init : null }))).endCell()
}

const A = walletFromKey(Buffer.alloc(32, 11))
const B = walletFromKey(Buffer.alloc(32, 12))
const C = Address.parse('0:' + 'cc'.repeat(32))

describe('LocalChain', () => {
  it('is its own network (config param 19 = GLOBAL_IDS.local): a Registry for it works, one for testnet is refused', async () => {
    const c = await chain({ delivery: 'instant' })
    await c.fund(A.address, Fees.registryStorageReserve * 3n)
    const config = { owner: A.address, feeBps: 250, minStake: toNano('1'), closeDelay: 3600 }
    const local = Registry.createFromConfig({ ...config, globalId: GLOBAL_IDS.local })
    const testnet = Registry.createFromConfig({ ...config, globalId: GLOBAL_IDS.testnet })
    await c.sendBoc(transfer(A, 0, [
      internal({ to: local.address, value: Fees.registryStorageReserve + toNano('0.1'), bounce: false, init: local.init }),
      internal({ to: testnet.address, value: toNano('1'), bounce: true, init: testnet.init })
    ], c.now() + 60, true))
    await c.settle()
    const data = await c.runGetMethod(local.address, 'get_registry_data')
    expect(data.exitCode).toBe(0)
    expect(data.stack[9]).toEqual({ type: 'int', value: BigInt(GLOBAL_IDS.local) })
    const refused = c.getTransactions(testnet.address).find((r) => r.tx.inMessage?.info.type === 'internal')!
    const d = refused.tx.description
    expect(d.type === 'generic' && d.computePhase.type === 'vm' ? d.computePhase.exitCode : null).toBe(Errors.wrongNetwork)
  })

  it('a V5R1 wallet bound to the local network works here; its address differs on every network', async () => {
    const c = await chain({ delivery: 'instant' })
    const key = Buffer.alloc(32, 21)
    const local = networkWalletFromKey(key, GLOBAL_IDS.local)
    const others = [GLOBAL_IDS.testnet, GLOBAL_IDS.mainnet].map((id) => networkWalletFromKey(key, id).address.toRawString())
    expect(new Set([local.address.toRawString(), ...others, walletFromKey(key).address.toRawString()]).size).toBe(4)
    await c.fund(local.address, toNano('2'))
    const body = signTransfer(local, { seqno: 0, messages: [internal({ to: B.address, value: toNano('1'), bounce: false })], sendMode: SendMode.PAY_GAS_SEPARATELY | SendMode.IGNORE_ERRORS, validUntil: c.now() + 60 })
    await c.sendBoc(beginCell().store(storeMessage(external({ to: local.address, body, init: local.wallet.init }))).endCell())
    await c.settle()
    expect((await c.getAccount(B.address)).balance).toBe(toNano('1'))
    const seqno = await c.runGetMethod(local.address, 'seqno')
    expect(seqno.stack[0]).toEqual({ type: 'int', value: 1n })
  })

  it('realistic mode: the cascade waits for its hops; settle() flushes it; bounces come back', async () => {
    const c = await chain({ hopDelayMs: 60_000 })
    await c.fund(A.address, toNano('5'))
    const sent = await c.sendBoc(transfer(A, 0, [
      internal({ to: B.address, value: toNano('1'), bounce: false }),
      internal({ to: C, value: toNano('1'), bounce: true }) // uninitialized + bounceable: comes back
    ], c.now() + 60, true))
    expect(sent.tx.account.equals(A.address)).toBe(true)
    expect(c.pendingCount).toBe(2)
    expect(c.getTransactions(B.address)).toEqual([])
    expect(await c.settle()).toBe(3) // B, C, bounce back to A
    expect(c.pendingCount).toBe(0)
    expect((await c.getAccount(B.address)).balance).toBe(toNano('1'))
    const cTx = c.getTransactions(C)[0]!
    expect(describeTransaction(c, cTx).success).toBe(false)
    const back = c.getTransactions(A.address)[0]!
    expect(back.tx.inMessage?.info.type === 'internal' && back.tx.inMessage.info.bounced).toBe(true)
    expect(c.findSourceTx(C, A.address, (back.tx.inMessage!.info as { createdLt: bigint }).createdLt)?.hashHex).toBe(cTx.hashHex)
    expect(c.getTransaction(sent.tx.hashHex)).toBe(sent.tx)
    expect(c.getTransaction(sent.tx.hash.toString('base64'))).toBe(sent.tx)
  })

  it('realistic mode delivers on its own after the hop delay', async () => {
    const c = await chain({ hopDelayMs: 20 })
    await c.fund(A.address, toNano('5'))
    await c.sendBoc(transfer(A, 0, [internal({ to: B.address, value: toNano('1'), bounce: false })], c.now() + 60, true))
    expect(c.getTransactions(B.address)).toHaveLength(0)
    const t0 = Date.now()
    while (c.getTransactions(B.address).length === 0 && Date.now() - t0 < 3000) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(c.getTransactions(B.address)).toHaveLength(1)
  })

  it('instant mode runs the whole cascade before sendBoc returns', async () => {
    const c = await chain({ delivery: 'instant' })
    await c.fund(A.address, toNano('5'))
    await c.sendBoc(transfer(A, 0, [internal({ to: B.address, value: toNano('2'), bounce: false })], c.now() + 60, true))
    expect(c.pendingCount).toBe(0)
    expect((await c.getAccount(B.address)).balance).toBe(toNano('2'))
  })

  it('rejects bad and stale external messages with no state change', async () => {
    const c = await chain()
    await c.fund(A.address, toNano('5'))
    const msg = transfer(A, 0, [internal({ to: B.address, value: toNano('1'), bounce: false })], c.now() + 60, true)
    await c.sendBoc(msg)
    const before = await c.getAccount(A.address)
    await expect(c.sendBoc(msg)).rejects.toMatchObject({ name: 'DevnetError', code: 'REJECTED' }) // replay: stale seqno
    await expect(c.sendBoc(Buffer.from('garbage'))).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    const internalMsg = beginCell().store(storeMessage({ info: { type: 'internal', ihrDisabled: true, bounce: false, bounced: false, src: B.address, dest: A.address, value: { coins: 1n }, ihrFee: 0n, forwardFee: 0n, createdLt: 0n, createdAt: 0 }, body: Cell.EMPTY })).endCell()
    await expect(c.sendBoc(internalMsg)).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    const after = await c.getAccount(A.address)
    expect(after.balance).toBe(before.balance)
    expect(after.lastTxLt).toBe(before.lastTxLt)
    await expect(c.fund(A.address, 0n)).rejects.toBeInstanceOf(DevnetError)
    await expect(c.fund('nope', 1n)).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    expect(() => c.getTransactions(A.address, { hash: Buffer.alloc(32, 1) })).toThrow(/cannot locate/)
  })

  it('chain time follows the clock, moves forward with advanceTime, and expires wallet messages', async () => {
    const c = await chain({ delivery: 'instant' })
    const t = c.now()
    expect(Math.abs(t - Date.now() / 1000)).toBeLessThan(2)
    await c.fund(A.address, toNano('5'))
    await c.sendBoc(transfer(A, 0, [], c.now() + 60, true))
    expect(c.advanceTime(7200)).toBeGreaterThanOrEqual(t + 7200)
    // valid_until from the local clock is in the chain's past now
    await expect(c.sendBoc(transfer(A, 1, [], Math.floor(Date.now() / 1000) + 60, false))).rejects.toMatchObject({ code: 'REJECTED' })
    const ok = await c.sendBoc(transfer(A, 1, [], c.now() + 60, false))
    expect(ok.tx.utime).toBeGreaterThanOrEqual(t + 7200)
    const seqno = await c.runGetMethod(A.address, 'seqno')
    expect(seqno.stack[0]).toEqual({ type: 'int', value: 2n })
  })

  it('close() stops the chain', async () => {
    const c = await LocalChain.create()
    await c.close()
    await expect(c.fund(A.address, 1n)).rejects.toMatchObject({ code: 'CLOSED' })
  })
})

describe('stack conversions', () => {
  it('parses API stack arguments', () => {
    const cell = beginCell().storeUint(5, 8).endCell()
    const b64 = cell.toBoc().toString('base64')
    const items = parseStackArgs([['num', '123'], ['num', '-0x10'], ['num', '0xff'], ['num', '-7'], ['tvm.Cell', b64], ['tvm.Slice', b64], ['null']])
    expect(items.slice(0, 4)).toEqual([{ type: 'int', value: 123n }, { type: 'int', value: -16n }, { type: 'int', value: 255n }, { type: 'int', value: -7n }])
    expect(items[4]!.type === 'cell' && items[4]!.cell.equals(cell)).toBe(true)
    expect(items[5]!.type).toBe('slice')
    expect(items[6]).toEqual({ type: 'null' })
    expect(() => parseStackArgs([['num', 'x1']])).toThrow(DevnetError)
    expect(() => parseStackArgs([['tvm.Cell', 'AAAA']])).toThrow(DevnetError)
    expect(() => parseStackArgs('nope')).toThrow(DevnetError)
  })

  it('prints results as the public API does', () => {
    const cell = beginCell().storeUint(5, 8).endCell()
    const out = stackResultJson([
      { type: 'int', value: 255n }, { type: 'int', value: -255n }, { type: 'null' },
      { type: 'cell', cell }, { type: 'slice', cell }
    ])
    expect(out).toEqual([['num', '0xff'], ['num', '-0xff'], ['null'], ['cell', { bytes: cell.toBoc().toString('base64') }], ['slice', { bytes: cell.toBoc().toString('base64') }]])
  })

  it('parses hashes in hex and base64', () => {
    const h = Buffer.alloc(32, 0xab)
    expect(parseHash(h.toString('hex')).equals(h)).toBe(true)
    expect(parseHash(h.toString('base64')).equals(h)).toBe(true)
    expect(parseHash(h.toString('base64url')).equals(h)).toBe(true)
    expect(() => parseHash('abc')).toThrow(DevnetError)
  })
})
