// The devnet through the stock @ton/ton TonClient, with only the endpoint changed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { keyPairFromSeed } from '@ton/crypto'
import { Address, beginCell, external, internal, SendMode, storeMessage, toNano, type TonClient, type Transaction } from '@ton/ton'
import { startDevnet, type Devnet } from './server.ts'
import {
  chainClient, chainTime, exitCodeOf, faucet, isSuccess, sendAndWait, sendTransfer, txHashHex, waitForTransaction,
  walletFromKey, type KeyWallet
} from '../chain/client.ts'

const seed = (n: number): Buffer => Buffer.alloc(32, n)

async function rpc (endpoint: string, body: string): Promise<{ status: number, json: Record<string, unknown> }> {
  const res = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  return { status: res.status, json: await res.json() as Record<string, unknown> }
}

function fromA (a: Address) {
  return (t: Transaction): boolean => t.inMessage?.info.type === 'internal' && t.inMessage.info.src.equals(a)
}

describe('devnet over TonClient', () => {
  let devnet: Devnet
  let client: TonClient
  let A: KeyWallet
  let B: KeyWallet
  let transferToB: Transaction // B's transaction receiving A's first transfer
  let transferFromA: Transaction // A's transaction sending it

  beforeAll(async () => {
    devnet = await startDevnet({ hopDelayMs: 200 })
    client = chainClient(devnet.endpoint)
    A = walletFromKey(keyPairFromSeed(seed(1)))
    B = walletFromKey(seed(2))
  })

  afterAll(async () => {
    await devnet?.close()
  })

  it('funds an address from the faucet; getBalance sees it', async () => {
    expect(devnet.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/jsonRPC$/)
    const r = await faucet(devnet.endpoint, A.address, toNano('10'))
    expect(r.hash).toMatch(/^[0-9a-f]{64}$/)
    expect(await client.getBalance(A.address)).toBe(toNano('10'))
    expect((await client.getContractState(A.address)).state).toBe('uninitialized')
    const txs = await client.getTransactions(A.address, { limit: 5 })
    expect(txs.map(txHashHex)).toEqual([r.hash])
  })

  it('lets any web page read, but not mint or send: no CORS for POST, and a POST must be JSON', async () => {
    const C = walletFromKey(seed(3))
    // a cross-origin page can send text/plain without a preflight: refused before anything runs
    const plain = await fetch(`${devnet.baseUrl}/faucet`, {
      method: 'POST', headers: { 'content-type': 'text/plain', origin: 'https://evil.example' }, body: JSON.stringify({ address: C.address.toString(), amount: '1000' })
    })
    expect(plain.status).toBe(415)
    expect(plain.headers.get('access-control-allow-origin')).toBeNull()
    expect(await client.getBalance(C.address)).toBe(0n)
    // a JSON POST needs a preflight, which grants only GET
    const pre = await fetch(`${devnet.endpoint}`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } })
    expect(pre.headers.get('access-control-allow-methods')).toBe('GET')
    const posted = await rpc(devnet.endpoint, JSON.stringify({ id: 1, jsonrpc: '2.0', method: 'getMasterchainInfo', params: {} }))
    expect(posted.status).toBe(200)
    // reads stay open to explorers and wallets in the browser
    const read = await fetch(`${devnet.baseUrl}/api/v2/getAddressBalance?address=${C.address.toString()}`)
    expect(read.status).toBe(200)
    expect(read.headers.get('access-control-allow-origin')).toBe('*')
  })

  it('deploys the wallet with its first transfer; delivery to B happens after sendBoc returns', async () => {
    const sent = await sendTransfer(client, A, {
      messages: [internal({ to: B.address, value: toNano('1'), bounce: false, body: 'hello B' })]
    })
    expect(sent.seqno).toBe(0)
    // The external message is processed at once: A is deployed ...
    expect(await client.isContractDeployed(A.address)).toBe(true)
    // ... but the internal message to B is still on its way.
    expect(await client.getBalance(B.address)).toBe(0n)
    expect(await client.getTransactions(B.address, { limit: 5 })).toEqual([])

    transferToB = await waitForTransaction(client, B.address, fromA(A.address), { timeoutMs: 5000, intervalMs: 50 })
    expect(isSuccess(transferToB)).toBe(true)
    expect(await client.getBalance(B.address)).toBe(toNano('1'))
    const balA = await client.getBalance(A.address)
    expect(balA).toBeLessThan(toNano('9'))
    expect(balA).toBeGreaterThan(toNano('8.9'))

    const own = await waitForTransaction(client, A.address, (t) => t.inMessage?.info.type === 'external-in', { timeoutMs: 2000, intervalMs: 50 })
    transferFromA = own
    expect(own.inMessage?.body.hash().toString('hex')).toBe(sent.bodyHash)
    expect(exitCodeOf(own)).toBe(0)
  })

  it('runs get methods: seqno, public key, arguments, errors', async () => {
    const wallet = client.open(A.wallet)
    expect(await wallet.getSeqno()).toBe(1)
    const seqno = await client.runMethod(A.address, 'seqno')
    expect(seqno.stack.readNumber()).toBe(1)
    const pk = await client.runMethod(A.address, 'get_public_key')
    expect(pk.stack.readBigNumber()).toBe(BigInt('0x' + A.keyPair.publicKey.toString('hex')))
    // integer arguments (["num", …]) in; the plugin is not installed: false
    expect(await wallet.getIsPluginInstalled(B.address)).toBe(false)
    const unknown = await client.runMethodWithError(A.address, 'no_such_getter')
    expect(unknown.exit_code).not.toBe(0)
    await expect(client.runMethod(A.address, 'no_such_getter')).rejects.toThrow(/exit_code/)
    const uninit = await client.runMethodWithError(Address.parse('0:' + '42'.repeat(32)), 'seqno')
    expect(uninit.exit_code).toBe(-13)
  })

  it('rejects a message with a stale seqno, with no state change', async () => {
    const before = await client.getContractState(A.address)
    await expect(sendTransfer(client, A, {
      seqno: 0,
      messages: [internal({ to: B.address, value: toNano('1'), bounce: false })]
    })).rejects.toThrow(/500/)
    const after = await client.getContractState(A.address)
    expect(after.balance).toBe(before.balance)
    expect(after.lastTransaction).toEqual(before.lastTransaction)
    expect(await client.open(A.wallet).getSeqno()).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await client.getBalance(B.address)).toBe(toNano('1'))
  })

  it('pages getTransactions newest first with limit and an lt/hash cursor', async () => {
    for (const amount of ['0.1', '0.2', '0.3']) await faucet(devnet.endpoint, A.address, toNano(amount))
    const all = await client.getTransactions(A.address, { limit: 20 })
    expect(all).toHaveLength(5) // faucet, own transfer, 3 × faucet
    for (let i = 1; i < all.length; i++) expect(all[i - 1]!.lt).toBeGreaterThan(all[i]!.lt)
    expect(all[0]!.inMessage?.info.type === 'internal' && all[0]!.inMessage.info.value.coins).toBe(toNano('0.3'))

    const hashes = (l: Transaction[]): string[] => l.map(txHashHex)
    const p1 = await client.getTransactions(A.address, { limit: 2 })
    expect(hashes(p1)).toEqual(hashes(all.slice(0, 2)))
    const last = p1[1]!
    const p2 = await client.getTransactions(A.address, { limit: 2, lt: last.lt.toString(), hash: last.hash().toString('base64') })
    expect(hashes(p2)).toEqual(hashes(all.slice(2, 4)))
    const p2i = await client.getTransactions(A.address, { limit: 2, lt: last.lt.toString(), hash: last.hash().toString('base64'), inclusive: true })
    expect(hashes(p2i)).toEqual(hashes(all.slice(1, 3)))
    const p3 = await client.getTransactions(A.address, { limit: 10, lt: p2[1]!.lt.toString(), hash: p2[1]!.hash().toString('base64') })
    expect(hashes(p3)).toEqual(hashes(all.slice(4)))
    const upTo = await client.getTransactions(A.address, { limit: 20, to_lt: all[2]!.lt.toString() })
    expect(hashes(upTo)).toEqual(hashes(all.slice(0, 2)))

    const one = await client.getTransaction(A.address, all[3]!.lt.toString(), all[3]!.hash().toString('base64'))
    expect(one && txHashHex(one)).toBe(txHashHex(all[3]!))
    await expect(client.getTransactions(A.address, { limit: 2, lt: '1', hash: Buffer.alloc(32, 7).toString('base64') })).rejects.toThrow()
  })

  it('locates the result and source transactions of a message', async () => {
    const out = [...transferFromA.outMessages.values()][0]!
    expect(out.info.type).toBe('internal')
    if (out.info.type !== 'internal') return
    const res = await client.tryLocateResultTx(A.address, B.address, out.info.createdLt.toString())
    expect(txHashHex(res)).toBe(txHashHex(transferToB))
    const src = await client.tryLocateSourceTx(A.address, B.address, out.info.createdLt.toString())
    expect(txHashHex(src)).toBe(txHashHex(transferFromA))
    await expect(client.tryLocateResultTx(A.address, B.address, '1')).rejects.toThrow()
  })

  it('answers malformed requests with error bodies and keeps serving', async () => {
    const cases = [
      '{not json',
      '[1,2]',
      JSON.stringify({ id: 1, jsonrpc: '2.0', method: 'noSuchMethod', params: {} }),
      JSON.stringify({ id: 2, jsonrpc: '2.0', method: 'sendBoc', params: { boc: 'AAAA' } }),
      JSON.stringify({ id: 3, jsonrpc: '2.0', method: 'sendBoc', params: { boc: beginCell().storeUint(7, 8).endCell().toBoc().toString('base64') } }),
      JSON.stringify({ id: 4, jsonrpc: '2.0', method: 'getAddressInformation', params: { address: 'not-an-address' } }),
      JSON.stringify({ id: 5, jsonrpc: '2.0', method: 'getAddressInformation', params: {} }),
      JSON.stringify({ id: 6, jsonrpc: '2.0', method: 'runGetMethod', params: { address: A.address.toString(), method: 'seqno', stack: [['num', 'zz']] } }),
      JSON.stringify({ id: 7, jsonrpc: '2.0', method: 'getTransactions', params: { address: A.address.toString(), hash: 'xyz' } })
    ]
    const results = await Promise.all(cases.map(async (c) => await rpc(devnet.endpoint, c)))
    for (const r of results) {
      expect(r.status).toBe(500)
      expect(r.json.ok).toBe(false)
      expect(typeof r.json.error).toBe('string')
      expect(typeof r.json.code).toBe('number')
    }
    expect(results[2]!.json.error).toMatch(/unknown method/)
    expect(results[3]!.json.error).toMatch(/invalid BOC/)
    expect(results[5]!.json.error).toMatch(/invalid address/)
    const info = await client.getMasterchainInfo()
    expect(info.latestSeqno).toBeGreaterThan(0)
    const res = await fetch(`${devnet.baseUrl}/nowhere`)
    expect(res.status).toBe(404)
  })

  it('shows a transaction on the explorer page', async () => {
    const url = devnet.explorerUrl(txHashHex(transferToB))
    expect(url).toBe(`${devnet.baseUrl}/tx/${txHashHex(transferToB)}`)
    const html = await (await fetch(url)).text()
    expect(html).toContain(txHashHex(transferToB))
    expect(html).toContain('1 TON')
    expect(html).toContain('hello B')
    // a wallet, as explorers show wallets: non-bounceable, testOnly
    expect(html).toContain(A.address.toString({ urlSafe: true, bounceable: false, testOnly: true }))
    const res = await fetch(`${url}?format=json`)
    const body = await res.json() as { ok: boolean, result: Record<string, any> }
    expect(body.ok).toBe(true)
    const v = body.result
    expect(Address.parse(v.account).equals(B.address)).toBe(true)
    expect(v.lt).toBe(transferToB.lt.toString())
    expect(v.inMessage.value).toBe(toNano('1').toString())
    expect(Address.parse(v.inMessage.source).equals(A.address)).toBe(true)
    expect(v.inMessage.txHash).toBe(txHashHex(transferFromA))
    expect(v.compute.skipped).toBe(true) // B is not deployed: no code to run
    expect(v.fees.total).toBe(transferToB.totalFees.coins.toString())
    const src = await (await fetch(`${devnet.explorerUrl(txHashHex(transferFromA))}?format=json`)).json() as { result: Record<string, any> }
    expect(src.result.compute.exitCode).toBe(0)
    expect(src.result.outMessages).toHaveLength(1)
    expect(Address.parse(src.result.outMessages[0].destination).equals(B.address)).toBe(true)
    expect(src.result.outMessages[0].value).toBe(toNano('1').toString())
    expect(src.result.outMessages[0].txHash).toBe(txHashHex(transferToB))
    const addr = await (await fetch(`${devnet.baseUrl}/address/${B.address.toString()}?format=json`)).json() as { result: Record<string, any> }
    expect(addr.result.balance).toBe(toNano('1').toString())
    expect(addr.result.transactions[0].hash).toBe(txHashHex(transferToB))
    const page = await (await fetch(`${devnet.baseUrl}/address/${B.address.toString()}`)).text()
    expect(page).toContain(`/tx/${txHashHex(transferToB)}`)
    expect((await fetch(`${devnet.baseUrl}/tx/${'00'.repeat(32)}`)).status).toBe(404)
    expect((await fetch(`${devnet.baseUrl}/`)).status).toBe(200)
  })

  it('estimates fees and returns message hashes', async () => {
    const body = A.wallet.createTransfer({ seqno: 1, secretKey: A.keyPair.secretKey, sendMode: SendMode.PAY_GAS_SEPARATELY, messages: [internal({ to: B.address, value: toNano('0.01'), bounce: false })] })
    const fees = await client.estimateExternalMessageFee(A.address, { body, initCode: null, initData: null, ignoreSignature: true })
    expect(fees.source_fees.gas_fee).toBeGreaterThan(0)
    expect(fees.source_fees.in_fwd_fee).toBeGreaterThan(0)
    expect(await client.open(A.wallet).getSeqno()).toBe(1) // nothing committed
    const cell = beginCell().store(storeMessage(external({ to: A.address, body }))).endCell()
    const r = await rpc(devnet.endpoint, JSON.stringify({ id: 1, jsonrpc: '2.0', method: 'sendBocReturnHash', params: { boc: cell.toBoc().toString('base64') } }))
    expect(r.json.ok).toBe(true)
    expect((r.json.result as { hash: string }).hash).toBe(cell.hash().toString('base64'))
    const w = await rpc(devnet.endpoint, JSON.stringify({ id: 1, jsonrpc: '2.0', method: 'getWalletInformation', params: { address: A.address.toString() } }))
    expect(w.json.result).toMatchObject({ wallet: true, wallet_type: 'wallet v4 r2', seqno: 2, account_state: 'active' })
  })

  it('after advanceTime, wallet messages need valid_until from chain time', async () => {
    await devnet.chain.settle()
    devnet.chain.advanceTime(3600)
    expect(await chainTime(client)).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + 3599)
    // @ton/ton's default valid_until is the local clock + 60 s: expired on this chain.
    const wallet = client.open(A.wallet)
    const seqno = await wallet.getSeqno()
    await expect(wallet.sendTransfer({ seqno, secretKey: A.keyPair.secretKey, messages: [internal({ to: B.address, value: toNano('0.5'), bounce: false })] }))
      .rejects.toThrow()
    const { tx } = await sendAndWait(client, A, { messages: [internal({ to: B.address, value: toNano('0.5'), bounce: false })] }, { timeoutMs: 5000, intervalMs: 50 })
    expect(exitCodeOf(tx)).toBe(0)
    expect(tx.now).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + 3599)
    const got = await waitForTransaction(client, B.address, (t) => fromA(A.address)(t) && t.inMessage?.info.type === 'internal' && t.inMessage.info.value.coins === toNano('0.5'), { timeoutMs: 5000, intervalMs: 50 })
    expect(got.now).toBeGreaterThanOrEqual(tx.now)
  })
})
