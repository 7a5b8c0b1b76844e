// A tiny block explorer for the devnet: one page per transaction and per address, JSON on request.

import { fromNano, type Address, type Message } from '@ton/core'
import type { AccountInfo, LocalChain, TxRecord } from './LocalChain.ts'
import { exitName, silkOp, type Labels, type SilkOp, type SilkRole } from './silk-accounts.ts'
import { commentOf, friendly } from './tonapi.ts'

const none: Labels = new Map()
/** An address as shown: its label's form when known (wallets non-bounceable), else bounceable. */
const show = (labels: Labels, a: Address): string => labels.get(a.toRawString())?.address ?? friendly(a)
const rolesOf = (labels: Labels, a: Address): SilkRole[] => labels.get(a.toRawString())?.roles ?? []

export interface MessageView {
  type: 'internal' | 'external-in' | 'external-out'
  source: string | null
  /** the Silk parts the source plays (Registry, Channel, provider owner, …) */
  sourceRoles: SilkRole[]
  destination: string | null
  destinationRoles: SilkRole[]
  /** the Silk operation the body carries, by its opcode (contracts/constants.ts) */
  op: SilkOp | null
  /** nanoton */
  value: string
  valueTon: string
  bounce: boolean | null
  bounced: boolean | null
  comment: string | null
  bodyHash: string
  createdLt: string | null
  /** The transaction this message came from (in message) or led to (out message), when known. */
  txHash: string | null
}

export interface TxView {
  hash: string
  account: string
  accountRaw: string
  accountRoles: SilkRole[]
  lt: string
  utime: number
  time: string
  block: number
  inMessage: MessageView | null
  outMessages: MessageView[]
  compute: { skipped: true, reason: string } | { skipped: false, success: boolean, exitCode: number, exitName: string | null, gasUsed: string }
  action: { success: boolean, resultCode: number, messagesCreated: number } | null
  aborted: boolean
  success: boolean
  fees: { total: string, storage: string, gas: string, forward: string }
  oldStatus: string
  endStatus: string
}

export interface AddressView {
  address: string
  raw: string
  kind: 'wallet' | 'contract'
  roles: SilkRole[]
  balance: string
  balanceTon: string
  status: string
  transactions: Array<{ hash: string, lt: string, time: string, inValue: string, inSource: string | null, inSourceRoles: SilkRole[], op: SilkOp | null, outMessages: number, success: boolean, exitCode: number | null }>
}

function messageView (chain: LocalChain, m: Message, direction: 'in' | 'out', labels: Labels): MessageView {
  const info = m.info
  let txHash: string | null = null
  if (info.type === 'internal') {
    const linked = direction === 'in'
      ? chain.findSourceTx(info.src, info.dest, info.createdLt)
      : chain.findResultTx(info.src, info.dest, info.createdLt)
    txHash = linked?.hashHex ?? null
  }
  const value = info.type === 'internal' ? info.value.coins : 0n
  return {
    type: info.type,
    source: info.type === 'external-in' ? null : show(labels, info.src),
    sourceRoles: info.type === 'external-in' ? [] : rolesOf(labels, info.src),
    destination: info.type === 'external-out' ? (info.dest != null ? info.dest.toString() : null) : show(labels, info.dest),
    destinationRoles: info.type === 'external-out' ? [] : rolesOf(labels, info.dest),
    op: silkOp(m.body),
    value: value.toString(),
    valueTon: fromNano(value),
    bounce: info.type === 'internal' ? info.bounce : null,
    bounced: info.type === 'internal' ? info.bounced : null,
    comment: commentOf(m.body),
    bodyHash: m.body.hash().toString('hex'),
    createdLt: info.type === 'external-in' ? null : info.createdLt.toString(),
    txHash
  }
}

/** One transaction; `labels` (from SilkAccounts.label) names the Silk accounts in it. */
export function describeTransaction (chain: LocalChain, r: TxRecord, labels: Labels = none): TxView {
  const tx = r.tx
  const d = tx.description
  let compute: TxView['compute'] = { skipped: true, reason: 'no compute phase' }
  let action: TxView['action'] = null
  let aborted = false
  let storage = 0n
  let gas = 0n
  let forward = 0n
  if (d.type === 'generic' || d.type === 'tick-tock') {
    const c = d.computePhase
    compute = c.type === 'vm'
      ? { skipped: false, success: c.success, exitCode: c.exitCode, exitName: c.exitCode === 0 ? null : exitName(c.exitCode), gasUsed: c.gasUsed.toString() }
      : { skipped: true, reason: c.reason }
    if (c.type === 'vm') gas = c.gasFees
    if (d.actionPhase != null) {
      action = { success: d.actionPhase.success, resultCode: d.actionPhase.resultCode, messagesCreated: d.actionPhase.messagesCreated }
      forward = d.actionPhase.totalFwdFees ?? 0n
    }
    aborted = d.aborted
    storage = d.storagePhase?.storageFeesCollected ?? 0n
  }
  // A plain transfer to an account without code skips compute and is flagged aborted; it still succeeded unless it bounced.
  const bounced = (d.type === 'generic' && d.bouncePhase != null)
  const success = compute.skipped ? !bounced : (!aborted && compute.success && (action === null || action.success))
  return {
    hash: r.hashHex,
    account: show(labels, r.account),
    accountRaw: r.account.toRawString(),
    accountRoles: rolesOf(labels, r.account),
    lt: r.lt.toString(),
    utime: r.utime,
    time: new Date(r.utime * 1000).toISOString(),
    block: r.block,
    inMessage: tx.inMessage != null ? messageView(chain, tx.inMessage, 'in', labels) : null,
    outMessages: [...tx.outMessages.values()].map((m) => messageView(chain, m, 'out', labels)),
    compute,
    action,
    aborted,
    success,
    fees: { total: tx.totalFees.coins.toString(), storage: storage.toString(), gas: gas.toString(), forward: forward.toString() },
    oldStatus: tx.oldStatus,
    endStatus: tx.endStatus
  }
}

/** An account and its latest transactions; `labels` must cover the account and those transactions' addresses. */
export function describeAddress (chain: LocalChain, acc: AccountInfo, limit = 50, labels: Labels = none): AddressView {
  return {
    address: show(labels, acc.address),
    raw: acc.address.toRawString(),
    kind: labels.get(acc.address.toRawString())?.kind ?? 'contract',
    roles: rolesOf(labels, acc.address),
    balance: acc.balance.toString(),
    balanceTon: fromNano(acc.balance),
    status: acc.status,
    transactions: chain.getTransactions(acc.address, { limit }).map((r) => {
      const v = describeTransaction(chain, r, labels)
      return {
        hash: v.hash,
        lt: v.lt,
        time: v.time,
        inValue: v.inMessage?.value ?? '0',
        inSource: v.inMessage?.source ?? null,
        inSourceRoles: v.inMessage?.sourceRoles ?? [],
        op: v.inMessage?.op ?? null,
        outMessages: v.outMessages.length,
        success: v.success,
        exitCode: v.compute.skipped ? null : v.compute.exitCode
      }
    })
  }
}

// ---- HTML ----

export function esc (s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c] ?? c))
}

const ton = (nano: string): string => `${esc(fromNano(BigInt(nano)))} TON`

function page (title: string, body: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(title)} · Silk devnet</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}code{font:12px ui-monospace,monospace;word-break:break-all}.ok{color:#070}.role{background:#eef3ff;border:1px solid #c8d6f5;border-radius:3px;padding:0 4px;font-size:12px;white-space:nowrap}.op{font-weight:600}.fail{color:#b00}a{color:#05c}
</style></head><body><p><a href="/">Silk devnet explorer</a></p>
${body}
</body></html>
`
}

const roleTags = (roles: SilkRole[]): string => roles.map((r) => ` <span class="role">${esc(r)}</span>`).join('')
const addrLink = (a: string | null, roles: SilkRole[] = []): string => (a === null ? '—' : `<a href="/address/${esc(a)}"><code>${esc(a)}</code></a>${roleTags(roles)}`)
const opText = (op: SilkOp | null): string => op === null
  ? ''
  : `<span class="op">${esc(op.name)}</span>${op.voucher === undefined ? '' : ` voucher #${op.voucher.seqno}, ${ton(op.voucher.amount)}`}`
const txLink = (h: string | null, label?: string): string => (h === null ? '—' : `<a href="/tx/${esc(h)}"><code>${esc(label ?? h)}</code></a>`)

function messageRows (m: MessageView, linkLabel: string): string {
  return `<tr><td>${esc(m.type)}</td><td>${opText(m.op)}</td><td>${addrLink(m.source, m.sourceRoles)}</td><td>${addrLink(m.destination, m.destinationRoles)}</td><td>${ton(m.value)}</td>` +
    `<td>${m.bounce === null ? '—' : m.bounce ? 'yes' : 'no'}${m.bounced === true ? ' (bounced)' : ''}</td>` +
    `<td>${m.comment === null ? '' : esc(m.comment)}</td><td>${txLink(m.txHash, m.txHash === null ? undefined : `${linkLabel} ${m.txHash.slice(0, 12)}…`)}</td></tr>`
}

export function renderTxHtml (v: TxView): string {
  const status = v.success ? '<span class="ok">success</span>' : '<span class="fail">failed</span>'
  const compute = v.compute.skipped ? `skipped (${esc(v.compute.reason)})` : `exit code <b>${v.compute.exitCode}</b>${v.compute.exitName === null ? '' : ` (${esc(v.compute.exitName)})`}, gas ${esc(v.compute.gasUsed)}`
  const head = '<tr><th>type</th><th>operation</th><th>source</th><th>destination</th><th>value</th><th>bounce</th><th>comment</th><th>transaction</th></tr>'
  const what = v.inMessage?.op != null ? `: ${esc(v.inMessage.op.name)}` : ''
  return page(`tx ${v.hash.slice(0, 12)}`, `<h1>Transaction${what}</h1>
<table>
<tr><th>hash</th><td><code>${esc(v.hash)}</code></td></tr>
<tr><th>account</th><td>${addrLink(v.account, v.accountRoles)}<br><code>${esc(v.accountRaw)}</code></td></tr>
<tr><th>lt</th><td>${esc(v.lt)}</td></tr>
<tr><th>time</th><td>${esc(v.time)} (${v.utime})</td></tr>
<tr><th>block</th><td>${v.block}</td></tr>
<tr><th>status</th><td>${status}${v.aborted ? ' (aborted)' : ''}; ${esc(v.oldStatus)} → ${esc(v.endStatus)}</td></tr>
<tr><th>compute</th><td>${compute}</td></tr>
<tr><th>action</th><td>${v.action === null ? '—' : `result code ${v.action.resultCode}, ${v.action.messagesCreated} message(s) created`}</td></tr>
<tr><th>fees</th><td>total ${ton(v.fees.total)} (storage ${ton(v.fees.storage)}, gas ${ton(v.fees.gas)}, forward ${ton(v.fees.forward)})</td></tr>
</table>
<h2>In message</h2>
${v.inMessage === null ? '<p>none</p>' : `<table>${head}${messageRows(v.inMessage, 'from')}</table>`}
<h2>Out messages (${v.outMessages.length})</h2>
${v.outMessages.length === 0 ? '<p>none</p>' : `<table>${head}${v.outMessages.map((m) => messageRows(m, 'to')).join('\n')}</table>`}
<p><a href="?format=json">JSON</a></p>`)
}

export function renderAddressHtml (v: AddressView): string {
  const rows = v.transactions.map((t) =>
    `<tr><td>${txLink(t.hash, `${t.hash.slice(0, 16)}…`)}</td><td>${esc(t.lt)}</td><td>${esc(t.time)}</td><td>${opText(t.op)}</td><td>${ton(t.inValue)}</td>` +
    `<td>${addrLink(t.inSource, t.inSourceRoles)}</td><td>${t.outMessages}</td><td>${t.success ? '<span class="ok">ok</span>' : '<span class="fail">failed</span>'}${t.exitCode === null ? '' : ` (${t.exitCode})`}</td></tr>`).join('\n')
  return page(`address ${v.address.slice(0, 12)}`, `<h1>${v.roles.length === 0 ? 'Address' : esc(v.roles.join(', '))}</h1>
<table>
<tr><th>address</th><td><code>${esc(v.address)}</code>${roleTags(v.roles)} (${v.kind === 'wallet' ? 'wallet: shown non-bounceable' : 'contract: shown bounceable'})</td></tr>
<tr><th>raw</th><td><code>${esc(v.raw)}</code></td></tr>
<tr><th>balance</th><td>${ton(v.balance)}</td></tr>
<tr><th>status</th><td>${esc(v.status)}</td></tr>
</table>
<h2>Recent transactions</h2>
${v.transactions.length === 0 ? '<p>none</p>' : `<table><tr><th>hash</th><th>lt</th><th>time</th><th>operation</th><th>in value</th><th>from</th><th>out</th><th>result</th></tr>${rows}</table>`}
<p><a href="?format=json">JSON</a></p>`)
}

/** The latest transactions; `labels` must cover the accounts of chain.recentTransactions(INDEX_SIZE). */
export const INDEX_SIZE = 30
export function renderIndexHtml (chain: LocalChain, endpoint: string, labels: Labels = none): string {
  const rows = chain.recentTransactions(INDEX_SIZE).map((r) => {
    const v = describeTransaction(chain, r, labels)
    return `<tr><td>${txLink(v.hash, `${v.hash.slice(0, 16)}…`)}</td><td>${addrLink(v.account, v.accountRoles)}</td><td>${esc(v.time)}</td>` +
      `<td>${opText(v.inMessage?.op ?? null)}</td><td>${v.inMessage === null ? '—' : ton(v.inMessage.value)}</td><td>${v.success ? '<span class="ok">ok</span>' : '<span class="fail">failed</span>'}</td></tr>`
  }).join('\n')
  return page('explorer', `<h1>Silk devnet</h1>
<p>JSON-RPC endpoint: <code>${esc(endpoint)}</code> · chain time ${esc(new Date(chain.now() * 1000).toISOString())} · block ${chain.blockSeqno} · ${chain.transactionCount} transactions · faucet: <code>POST /faucet {"address","amount"}</code></p>
<h2>Latest transactions</h2>
${rows === '' ? '<p>none</p>' : `<table><tr><th>hash</th><th>account</th><th>time</th><th>operation</th><th>in value</th><th>result</th></tr>${rows}</table>`}`)
}
