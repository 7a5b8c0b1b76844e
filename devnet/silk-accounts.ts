// What the explorer knows about Silk: which accounts are Silk contracts (by their code, which
// nobody can fake), which wallets play a part (vouched for by a Silk contract that accepted or sent
// their message), and what each Silk message is (by its opcode, contracts/constants.ts).
import { Address, type Cell } from '@ton/core'
import { WalletContractV3R2, WalletContractV4, WalletContractV5R1 } from '@ton/ton'
import { Errors, Op } from '../contracts/constants.ts'
import { channelCode, providerCode, registryCode } from '../contracts/code.ts'
import { parseCloseRequest, parseVoucher } from '../protocol/cells.ts'
import { shown } from '../cli/common.ts'
import type { LocalChain, TxRecord } from './LocalChain.ts'

export type ContractRole = 'Registry' | 'Provider' | 'Channel'
export type WalletRole = 'provider owner' | 'gas wallet' | 'client' | 'governor' | 'faucet'
export type SilkRole = ContractRole | WalletRole

export interface AccountLabel {
  /** the address as explorers show it: wallets non-bounceable, contracts bounceable, testOnly */
  address: string
  kind: 'wallet' | 'contract'
  /** the parts this account plays in Silk; empty when none is known */
  roles: SilkRole[]
}

export type Labels = ReadonlyMap<string, AccountLabel>

const ZERO = Buffer.alloc(32)
/** Code hashes of the wallet contracts the devnet knows, with their names (getWalletInformation uses them too). */
export const walletCodes = new Map<string, string>([
  [WalletContractV3R2.create({ workchain: 0, publicKey: ZERO }).init.code.hash().toString('hex'), 'wallet v3 r2'],
  [WalletContractV4.create({ workchain: 0, publicKey: ZERO }).init.code.hash().toString('hex'), 'wallet v4 r2'],
  [WalletContractV5R1.create({ workchain: 0, publicKey: ZERO }).init.code.hash().toString('hex'), 'wallet v5 r1']
])

const contractCodes = new Map<string, ContractRole>([
  [registryCode.hash().toString('hex'), 'Registry'],
  [providerCode.hash().toString('hex'), 'Provider'],
  [channelCode.hash().toString('hex'), 'Channel']
])

/** Every Silk opcode with the name the explorer shows. */
const opNames = new Map<number, string>([
  [Op.registerProvider, 'register provider'],
  [Op.openChannel, 'open channel'],
  [Op.protocolFee, 'protocol fee'],
  [Op.slashedStake, 'slashed stake'],
  [Op.changeOwner, 'change owner'],
  [Op.setParams, 'set params'],
  [Op.addModel, 'add model'],
  [Op.removeModel, 'remove model'],
  [Op.addMeasurement, 'add measurement'],
  [Op.removeMeasurement, 'remove measurement'],
  [Op.withdrawTreasury, 'withdraw treasury'],
  [Op.providerInit, 'provider init'],
  [Op.stakeTopUp, 'stake top-up'],
  [Op.unbond, 'unbond'],
  [Op.withdrawStake, 'withdraw stake'],
  [Op.reportEquivocation, 'report equivocation (slash)'],
  [Op.channelInit, 'channel init'],
  [Op.channelTopUp, 'channel top-up'],
  [Op.claim, 'claim'],
  [Op.startClose, 'start close'],
  [Op.finishClose, 'finish close'],
  [Op.cooperativeClose, 'cooperative close'],
  [Op.payout, 'payout'],
  [Op.refund, 'refund'],
  [Op.excesses, 'excesses'],
  [Op.treasuryWithdrawal, 'treasury withdrawal'],
  [Op.stakeWithdrawal, 'stake withdrawal'],
  [Op.slashReward, 'slash reward']
])

/** What only the Registry's governor may send it. */
const GOVERNANCE = new Set<number>([Op.setParams, Op.addModel, Op.removeModel, Op.addMeasurement, Op.removeMeasurement, Op.withdrawTreasury])

const exitNames = new Map<number, string>(Object.entries(Errors).map(([name, code]) => [code, name]))

export interface SilkOp {
  /** 0x-prefixed, 8 hex digits */
  code: string
  name: string
  /** what a claim or close carries: its voucher's seqno and amount (nanoton) */
  voucher?: { seqno: number, amount: string }
}

/** The Silk operation a message body carries, or null (a comment, an empty body, another contract's op). */
export function silkOp (body: Cell): SilkOp | null {
  const s = body.beginParse()
  if (s.remainingBits < 32) return null
  const code = s.preloadUint(32)
  const name = opNames.get(code)
  if (name === undefined) return null
  const op: SilkOp = { code: `0x${code.toString(16).padStart(8, '0')}`, name }
  if ((code === Op.claim || code === Op.cooperativeClose) && s.remainingRefs >= 1) {
    try {
      const ref = body.refs[0]!
      const v = code === Op.claim ? parseVoucher(ref) : parseCloseRequest(ref)
      op.voucher = { seqno: v.seqno, amount: v.amount.toString() }
    } catch {
      // a malformed voucher: the channel refused it (exit code 119); the name is still right
    }
  }
  return op
}

/** The name of a Silk contract exit code (contracts/constants.ts Errors), or null. */
export function exitName (code: number): string | null {
  return exitNames.get(code) ?? null
}

interface Vouch {
  role: WalletRole
  /** the Silk contract whose transaction vouches for the role: it must have that contract's code */
  via: string
  viaRole: ContractRole
}

/**
 * Labels accounts. Contract roles come from code hashes; wallet roles from successful Silk
 * messages that a Silk contract accepted (register provider → provider owner, open channel →
 * client, claim → gas wallet, governance → governor) or sent (payout → provider owner, refund →
 * client). A message sent to an impostor contract vouches for nothing: the voucher must have the
 * Silk code when asked.
 */
export class SilkAccounts {
  private readonly vouches = new Map<string, Vouch[]>()
  private readonly stop: () => void

  constructor (private readonly chain: LocalChain) {
    for (const r of chain.recentTransactions(chain.transactionCount).reverse()) this.observe(r)
    this.stop = chain.onTransaction((r) => { this.observe(r) })
  }

  close (): void {
    this.stop()
  }

  private vouch (address: Address, v: Vouch): void {
    const key = address.toRawString()
    const list = this.vouches.get(key) ?? []
    if (!list.some((x) => x.role === v.role && x.via === v.via)) list.push(v)
    this.vouches.set(key, list)
  }

  private observe (r: TxRecord): void {
    const m = r.tx.inMessage
    if (m?.info.type !== 'internal') return
    const s = m.body.beginParse()
    if (s.remainingBits < 32) return
    const op = s.preloadUint(32)
    const d = r.tx.description
    const accepted = d.type === 'generic' && d.computePhase.type === 'vm' && d.computePhase.success && !d.aborted
    const account = r.account.toRawString()
    const src = m.info.src
    if (accepted) {
      if (op === Op.registerProvider) this.vouch(src, { role: 'provider owner', via: account, viaRole: 'Registry' })
      else if (op === Op.openChannel) this.vouch(src, { role: 'client', via: account, viaRole: 'Registry' })
      else if (op === Op.claim) this.vouch(src, { role: 'gas wallet', via: account, viaRole: 'Channel' })
      else if (GOVERNANCE.has(op)) this.vouch(src, { role: 'governor', via: account, viaRole: 'Registry' })
    }
    if (op === Op.payout) this.vouch(r.account, { role: 'provider owner', via: src.toRawString(), viaRole: 'Channel' })
    else if (op === Op.refund) this.vouch(r.account, { role: 'client', via: src.toRawString(), viaRole: 'Channel' })
  }

  private async contractRole (raw: string, cache: Map<string, { role: ContractRole | undefined, codeHash: string | undefined }>): Promise<{ role: ContractRole | undefined, codeHash: string | undefined }> {
    const hit = cache.get(raw)
    if (hit !== undefined) return hit
    const acc = await this.chain.getAccount(Address.parseRaw(raw))
    const codeHash = acc.code?.hash().toString('hex')
    const found = { role: codeHash === undefined ? undefined : contractCodes.get(codeHash), codeHash }
    cache.set(raw, found)
    return found
  }

  /** Labels for these addresses, keyed by raw address. */
  async label (addresses: Iterable<Address>): Promise<Map<string, AccountLabel>> {
    const cache = new Map<string, { role: ContractRole | undefined, codeHash: string | undefined }>()
    const out = new Map<string, AccountLabel>()
    for (const a of addresses) {
      const raw = a.toRawString()
      if (out.has(raw)) continue
      const own = await this.contractRole(raw, cache)
      const roles: SilkRole[] = []
      if (own.role !== undefined) roles.push(own.role)
      else {
        for (const v of this.vouches.get(raw) ?? []) {
          if (!roles.includes(v.role) && (await this.contractRole(v.via, cache)).role === v.viaRole) roles.push(v.role)
        }
        if (a.equals(this.chain.treasuryAddress)) roles.push('faucet')
      }
      // wallets (and accounts with no code yet, which a wallet deploys into) are shown non-bounceable
      const kind = own.role === undefined && (own.codeHash === undefined || walletCodes.has(own.codeHash)) ? 'wallet' : 'contract'
      out.set(raw, { address: shown(a, 'local', kind), kind, roles })
    }
    return out
  }

  /** Every address a transaction names: its account and its messages' ends. */
  static addressesOf (r: TxRecord): Address[] {
    const list: Address[] = [r.account]
    const msgs = [...(r.tx.inMessage != null ? [r.tx.inMessage] : []), ...r.tx.outMessages.values()]
    for (const m of msgs) {
      if (m.info.type === 'internal') list.push(m.info.src, m.info.dest)
      else if (m.info.type === 'external-in') list.push(m.info.dest)
      else list.push(m.info.src)
    }
    return list
  }
}
