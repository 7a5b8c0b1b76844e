import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Address, beginCell, internal, toNano, type Transaction } from '@ton/core'
import type { TonClient } from '@ton/ton'
import { keyPairFromSeed } from '@ton/crypto'
import { deployRegistry, registerProvider, waitUntil } from '../chain/operations.ts'
import { chainClient, faucet, sendAndWait, txHashHex, waitForTransaction, walletFromKey, walletSender, type KeyWallet } from '../chain/client.ts'
import { Channel, channelAddress, Op, providerAddress, Registry } from '../contracts/index.ts'
import { startDevnet, type Devnet } from '../devnet/server.ts'
import { silkOp } from '../devnet/silk-accounts.ts'
import type { AddressView, TxView } from '../devnet/explorer.ts'
import { buildVoucher, GLOBAL_IDS, signCell } from '../protocol/cells.ts'
import { underCi } from './tdx-samples.ts'

// The devnet explorer after a real claim on the local chain: it names the Silk accounts and the
// Silk operations, read through its JSON form (?format=json) and its pages.

const GLOBAL_ID = GLOBAL_IDS.local
/** Debian's chromium (.ci/run installs it); a machine without it skips the page test, CI never does. */
const CHROMIUM = '/usr/bin/chromium'
const runPageTest = existsSync(CHROMIUM) || underCi
const CLAIMED = toNano('0.5')

describe('explorer: Silk accounts and operations', () => {
  let devnet: Devnet
  let chain: TonClient
  let governor: KeyWallet
  let owner: KeyWallet
  let client: KeyWallet
  let gas: KeyWallet
  let registry: Address
  let provider: Address
  let channel: Address
  let claimTx: Transaction

  const tx = async (t: Transaction): Promise<TxView> => {
    const body = await (await fetch(`${devnet.baseUrl}/tx/${txHashHex(t)}?format=json`)).json() as { result: TxView }
    return body.result
  }
  const account = async (a: Address): Promise<AddressView> => {
    const body = await (await fetch(`${devnet.baseUrl}/address/${a.toString()}?format=json`)).json() as { result: AddressView }
    return body.result
  }
  const wallet = async (amount: bigint): Promise<KeyWallet> => {
    const w = walletFromKey(randomBytes(32))
    await faucet(devnet.baseUrl, w.address, amount)
    return w
  }

  beforeAll(async () => {
    devnet = await startDevnet()
    chain = chainClient(devnet.endpoint)
    governor = await wallet(toNano('10'))
    owner = await wallet(toNano('20'))
    client = await wallet(toNano('5'))
    registry = (await deployRegistry(chain, governor, { globalId: GLOBAL_ID, feeBps: 250, minStake: toNano('10'), closeDelay: 3600 })).address
    const node = keyPairFromSeed(randomBytes(32))
    gas = walletFromKey(node)
    await faucet(devnet.baseUrl, gas.address, toNano('1'))
    provider = (await registerProvider(chain, registry, owner, node, toNano('10'), GLOBAL_ID)).address
    expect(provider.equals(providerAddress(registry, owner.address, node.publicKey))).toBe(true)
    await chain.open(Registry.createFromAddress(registry)).sendOpenChannel(walletSender(chain, client), {
      clientKey: client.keyPair.publicKey, providerOwner: owner.address, nodeKey: node.publicKey, deposit: toNano('1'), nonce: 1n
    })
    channel = channelAddress(registry, client.address, client.keyPair.publicKey, owner.address, node.publicKey, 1n)
    await waitUntil(async () => await chain.open(Channel.createFromAddress(channel)).getChannelData(), (d) => d.initialized, 'the channel to open')
    // the node claims a voucher from its gas wallet, as node/settlement.ts does
    const voucher = buildVoucher({ globalId: GLOBAL_ID, channel, seqno: 3, amount: CLAIMED, receiptsRoot: Buffer.alloc(32, 7) })
    const body = Channel.claimMessage({ voucher, clientSig: signCell(voucher, client.keyPair.secretKey), nodeSig: signCell(voucher, node.secretKey) })
    await sendAndWait(chain, gas, { messages: [internal({ to: channel, value: toNano('0.03'), bounce: true, body })] })
    claimTx = await waitForTransaction(chain, channel, (t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.src.equals(gas.address))
    // everything of the cascade has landed
    await waitForTransaction(chain, gas.address, (t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.src.equals(channel))
    await waitForTransaction(chain, owner.address, (t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.src.equals(channel))
  }, 120_000)

  afterAll(async () => { await devnet?.close() })

  it('decodes the claim and what it sent: payout to the provider owner, protocol fee to the Registry, excesses to the gas wallet', async () => {
    const v = await tx(claimTx)
    expect(v.accountRoles).toEqual(['Channel'])
    expect(v.inMessage?.op).toEqual({ code: '0x434c4149', name: 'claim', voucher: { seqno: 3, amount: CLAIMED.toString() } })
    expect(v.inMessage?.sourceRoles).toEqual(['gas wallet'])
    const out = v.outMessages.map((m) => [m.op?.name, m.destinationRoles, m.value])
    expect(out).toContainEqual(['payout', ['provider owner'], (CLAIMED - CLAIMED * 250n / 10_000n).toString()])
    expect(out).toContainEqual(['protocol fee', ['Registry'], (CLAIMED * 250n / 10_000n).toString()])
    expect(out.map((o) => o[0]).sort()).toEqual(['excesses', 'payout', 'protocol fee'])
    expect(v.outMessages.find((m) => m.op?.name === 'excesses')?.destinationRoles).toEqual(['gas wallet'])
  })

  it('shows wallets non-bounceable and contracts bounceable, as the CLI prints them', async () => {
    const v = await tx(claimTx)
    expect(v.account).toBe(channel.toString({ urlSafe: true, bounceable: true, testOnly: true }))
    expect(v.inMessage?.source).toBe(gas.address.toString({ urlSafe: true, bounceable: false, testOnly: true }))
    const o = await account(owner.address)
    expect([o.kind, o.address]).toEqual(['wallet', owner.address.toString({ urlSafe: true, bounceable: false, testOnly: true })])
    const r = await account(registry)
    expect([r.kind, r.address]).toEqual(['contract', registry.toString({ urlSafe: true, bounceable: true, testOnly: true })])
  })

  it('labels every Silk account on its own page, with the operations of its transactions', async () => {
    expect((await account(registry)).roles).toEqual(['Registry'])
    expect((await account(provider)).roles).toEqual(['Provider'])
    expect((await account(channel)).roles).toEqual(['Channel'])
    expect((await account(owner.address)).roles).toEqual(['provider owner'])
    expect((await account(gas.address)).roles).toEqual(['gas wallet'])
    expect((await account(client.address)).roles).toEqual(['client'])
    expect((await account(governor.address)).roles).toEqual([])
    const reg = await account(registry)
    expect(reg.transactions.map((t) => t.op?.name)).toEqual(expect.arrayContaining(['register provider', 'open channel', 'protocol fee']))
    expect((await account(owner.address)).transactions.map((t) => [t.op?.name, t.inSourceRoles])).toContainEqual(['payout', ['Channel']])
    const page = await (await fetch(`${devnet.baseUrl}/address/${channel.toString()}`)).text()
    expect(page).toContain('<h1>Channel</h1>')
    expect(page).toContain('<span class="op">claim</span> voucher #3, 0.5 TON')
    const index = await (await fetch(`${devnet.baseUrl}/`)).text()
    expect(index).toContain('<span class="role">gas wallet</span>')
    expect(index).toContain('<span class="op">payout</span>')
  })

  it('names the Silk exit code of a refused claim', async () => {
    // the same voucher again: the channel refuses it (seqno not increasing)
    const v3 = await tx(claimTx)
    expect(v3.compute).toMatchObject({ exitCode: 0, exitName: null })
    const stale = claimTx.inMessage!.body
    await sendAndWait(chain, gas, { messages: [internal({ to: channel, value: toNano('0.03'), bounce: true, body: stale })] })
    const refused = await waitForTransaction(chain, channel, (t) => t.lt > claimTx.lt && t.inMessage?.info.type === 'internal' && t.inMessage.info.src.equals(gas.address))
    const v = await tx(refused)
    expect(v.success).toBe(false)
    expect(v.compute).toMatchObject({ exitCode: 113, exitName: 'seqnoNotIncreasing' })
    expect(await (await fetch(`${devnet.baseUrl}/tx/${txHashHex(refused)}`)).text()).toContain('(seqnoNotIncreasing)')
  })

  it('gives no Silk role for a Silk opcode sent to an account without Silk code', async () => {
    // a wallet sends a register_provider body to another wallet, which accepts anything
    const impostor = await wallet(toNano('1'))
    const sender = await wallet(toNano('1'))
    // deployed, so its code runs (and accepts) rather than being skipped
    await sendAndWait(chain, impostor, { messages: [internal({ to: sender.address, value: toNano('0.01'), bounce: false })] })
    const body = beginCell().storeUint(Op.registerProvider, 32).storeUint(0, 64).endCell()
    await sendAndWait(chain, sender, { messages: [internal({ to: impostor.address, value: toNano('0.1'), bounce: false, body })] })
    const got = await waitForTransaction(chain, impostor.address, (t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.src.equals(sender.address))
    const v = await tx(got)
    expect(v.compute).toMatchObject({ skipped: false, exitCode: 0 })
    expect(v.inMessage?.op?.name).toBe('register provider')
    expect(v.accountRoles).toEqual([])
    expect(v.inMessage?.sourceRoles).toEqual([])
    expect((await account(sender.address)).roles).toEqual([])
  })

  it('names every opcode of contracts/constants.ts', () => {
    for (const [key, code] of Object.entries(Op)) {
      const op = silkOp(beginCell().storeUint(code, 32).endCell())
      expect(op, key).not.toBeNull()
      expect(op!.code).toBe(`0x${code.toString(16).padStart(8, '0')}`)
    }
    expect(silkOp(beginCell().storeUint(0, 32).storeStringTail('hello').endCell())).toBeNull()
  })
  describe.runIf(runPageTest)('in headless Chromium', () => {
    it('shows the claim with its Silk labels and leads from it to the provider owner\'s page', async () => {
      const { chromium } = await import('playwright-core')
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
      })
      try {
        const page = await browser.newPage()
        const errors: string[] = []
        page.on('pageerror', (e) => { errors.push(e.message) })
        await page.goto(`${devnet.baseUrl}/tx/${txHashHex(claimTx)}`)
        expect(await page.locator('h1').innerText()).toBe('Transaction: claim')
        // the in message: a claim of voucher #3 from the gas wallet
        const inRow = page.locator('table').nth(1).locator('tr').nth(1)
        expect(await inRow.innerText()).toMatch(/claim voucher #3, 0\.5 TON/)
        expect(await inRow.locator('.role').allInnerTexts()).toEqual(['gas wallet', 'Channel'])
        // the payout row names the provider owner; its link opens the owner's page
        const payoutRow = page.locator('tr', { has: page.locator('.op', { hasText: /^payout$/ }) })
        expect(await payoutRow.locator('.role').allInnerTexts()).toEqual(['Channel', 'provider owner'])
        const ownerShown = owner.address.toString({ urlSafe: true, bounceable: false, testOnly: true })
        await payoutRow.locator(`a[href="/address/${ownerShown}"]`).click()
        await page.waitForURL(`**/address/${ownerShown}`)
        expect(await page.locator('h1').innerText()).toBe('provider owner')
        expect(await page.locator('body').innerText()).toContain('wallet: shown non-bounceable')
        expect(errors).toEqual([])
      } finally {
        await browser.close()
      }
    }, 60_000)
  })
})
