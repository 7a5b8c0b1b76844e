// Helpers for any TON HTTP API v2 endpoint (the devnet, testnet or mainnet toncenter).
//
// On a real network (and on the devnet in its default realistic mode) `sendBoc` returns before the
// internal messages it causes are delivered: wait for the transaction you need with
// `waitForTransaction` / `sendAndWait`, never assume it happened.
//
// Wallet messages carry valid_until. @ton/ton's default is local clock + 60 s, which a chain whose
// clock was advanced (devnet `advanceTime`) rejects as expired; `sendTransfer` takes it from chain
// time instead (`sync_utime` of getAddressInformation, which the public API also returns).

import type { NetworkName } from '../protocol/cells.ts'
import { keyPairFromSecretKey, keyPairFromSeed, type KeyPair } from '@ton/crypto'
import {
  Address, beginCell, Cell, external, internal, storeMessage, TonClient, WalletContractV4, WalletContractV5R1,
  SendMode, type MessageRelaxed, type Sender, type SenderArguments, type Transaction
} from '@ton/ton'

/**
 * An address as the network's explorers show it: testOnly on testnet and the local chain;
 * wallets non-bounceable (a transfer to a wallet that is not deployed yet must not bounce back),
 * contracts bounceable.
 */
export function shown (address: Address, network: NetworkName, kind: 'wallet' | 'contract'): string {
  return address.toString({ urlSafe: true, bounceable: kind === 'contract', testOnly: network !== 'mainnet' })
}

export interface ChainClientOptions {
  /** Request timeout (default 30 s). */
  timeoutMs?: number
}

/** A stock TonClient for `endpoint` (…/jsonRPC). */
export function chainClient (endpoint: string, apiKey?: string, opts: ChainClientOptions = {}): TonClient {
  return new TonClient({ endpoint, apiKey, timeout: opts.timeoutMs })
}

/** http://host:port of a devnet, from its base URL or its JSON-RPC endpoint. */
export function devnetBaseUrl (devnet: string): string {
  return devnet.replace(/\/+$/, '').replace(/\/(api\/v2\/)?jsonRPC$/, '')
}

export interface FaucetResult { hash: string, lt: string, explorer: string }

/** Asks a devnet's faucet for `amount` nanoton; resolves once the recipient's transaction is on chain. */
export async function faucet (devnet: string, address: Address | string, amount: bigint | string | number): Promise<FaucetResult> {
  const res = await fetch(`${devnetBaseUrl(devnet)}/faucet`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ address: address.toString(), amount: amount.toString() })
  })
  const body = await res.json().catch(() => null) as { ok?: boolean, result?: FaucetResult, error?: string } | null
  if (!res.ok || body?.ok !== true || body.result === undefined) {
    throw new Error(`faucet failed (HTTP ${res.status}): ${body?.error ?? 'no body'}`)
  }
  return body.result
}

export interface WaitOptions {
  /** Give up after this long (default 60 s). */
  timeoutMs?: number
  /** Poll interval (default 500 ms; mind the public API's rate limit without a key). */
  intervalMs?: number
  /** Only transactions with lt > sinceLt are considered (e.g. the account's last lt before sending). */
  sinceLt?: bigint
  /** How many of the newest transactions one poll looks at (default 100). */
  maxScan?: number
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Polls getTransactions until a transaction of `address` matches `predicate`; returns it. */
export async function waitForTransaction (
  client: TonClient,
  address: Address,
  predicate: (tx: Transaction) => boolean,
  opts: WaitOptions = {}
): Promise<Transaction> {
  const timeoutMs = opts.timeoutMs ?? 60_000
  const intervalMs = opts.intervalMs ?? 500
  const maxScan = opts.maxScan ?? 100
  const sinceLt = opts.sinceLt ?? -1n
  const deadline = Date.now() + timeoutMs
  let lastError: unknown = null
  for (;;) {
    try {
      let scanned = 0
      let cursor: { lt: string, hash: string } | undefined
      scan: while (scanned < maxScan) {
        const limit = Math.min(20, maxScan - scanned)
        const page = await client.getTransactions(address, cursor === undefined
          ? { limit, archival: true }
          : { limit, lt: cursor.lt, hash: cursor.hash, archival: true })
        for (const tx of page) {
          if (tx.lt <= sinceLt) break scan
          if (predicate(tx)) return tx
        }
        scanned += page.length
        const last = page[page.length - 1]
        if (page.length < limit || last === undefined) break
        cursor = { lt: last.lt.toString(), hash: last.hash().toString('base64') }
      }
      lastError = null
    } catch (e) {
      lastError = e // transient API errors (rate limits, timeouts) are retried until the deadline
    }
    if (Date.now() + intervalMs > deadline) {
      const why = lastError !== null ? `; last error: ${(lastError as Error).message}` : ''
      throw new Error(`no matching transaction on ${address.toString()} within ${timeoutMs} ms${why}`)
    }
    await sleep(intervalMs)
  }
}

/** Hex hash of a transaction, as the devnet explorer and `explorerUrl` take it. */
export function txHashHex (tx: Transaction): string {
  return tx.hash().toString('hex')
}

/** Exit code of a transaction's compute phase, or null when skipped / not ordinary. */
export function exitCodeOf (tx: Transaction): number | null {
  const d = tx.description
  if (d.type !== 'generic' || d.computePhase.type !== 'vm') return null
  return d.computePhase.exitCode
}

/**
 * True when the transaction did what its message asked: the compute and action phases succeeded,
 * or (a plain transfer to an account without code) compute was skipped and nothing bounced.
 * Note that the latter is flagged `aborted` on chain; explorers still show it as a success.
 */
export function isSuccess (tx: Transaction): boolean {
  const d = tx.description
  if (d.type !== 'generic') return false
  if (d.computePhase.type === 'skipped') return d.bouncePhase == null
  if (!d.computePhase.success || d.aborted) return false
  return d.actionPhase == null || d.actionPhase.success
}

export interface KeyWallet {
  wallet: WalletContractV4
  address: Address
  keyPair: KeyPair
}

/** A V5R1 wallet bound to one network (networkWalletFromKey). */
export interface NetworkKeyWallet {
  wallet: WalletContractV5R1
  address: Address
  keyPair: KeyPair
  /** config param 19 of the network its wallet_id names */
  globalId: number
}

/** Any wallet the helpers below sign for. */
export type AnyKeyWallet = KeyWallet | NetworkKeyWallet

/**
 * A V4R2 wallet (workchain 0) for a key: a 64-byte Ed25519 secret key (as @ton/crypto makes),
 * a 32-byte seed, or a key pair. Its address is the same on every network; see networkWalletFromKey.
 */
export function walletFromKey (key: Buffer | Uint8Array | KeyPair, opts: { walletId?: number } = {}): KeyWallet {
  const keyPair = keyPairOf(key)
  const wallet = WalletContractV4.create({ workchain: 0, publicKey: keyPair.publicKey, walletId: opts.walletId })
  return { wallet, address: wallet.address, keyPair }
}

/**
 * A V5R1 wallet (workchain 0) whose wallet_id names the network `globalId` (config param 19;
 * protocol/cells.ts GLOBAL_IDS): its address, and every transfer it signs, belong to that network
 * only — a transfer signed on testnet is worthless on mainnet, unlike a V4 wallet's.
 */
export function networkWalletFromKey (key: Buffer | Uint8Array | KeyPair, globalId: number): NetworkKeyWallet {
  const keyPair = keyPairOf(key)
  const wallet = WalletContractV5R1.create({
    publicKey: keyPair.publicKey,
    walletId: { networkGlobalId: globalId, context: { walletVersion: 'v5r1', workchain: 0, subwalletNumber: 0 } }
  })
  return { wallet, address: wallet.address, keyPair, globalId }
}

/** The signed body of a wallet transfer, for either kind of wallet. */
export function signTransfer (w: AnyKeyWallet, args: { seqno: number, messages: MessageRelaxed[], sendMode: SendMode, validUntil: number }): Cell {
  const common = { seqno: args.seqno, secretKey: w.keyPair.secretKey, messages: args.messages, sendMode: args.sendMode, timeout: args.validUntil }
  return w.wallet instanceof WalletContractV5R1 ? w.wallet.createTransfer(common) : w.wallet.createTransfer(common)
}

function keyPairOf (key: Buffer | Uint8Array | KeyPair): KeyPair {
  let keyPair: KeyPair
  if (key instanceof Uint8Array) {
    const b = Buffer.from(key)
    if (b.length === 64) keyPair = keyPairFromSecretKey(b)
    else if (b.length === 32) keyPair = keyPairFromSeed(b)
    else throw new Error(`walletFromKey: expected a 64-byte secret key or a 32-byte seed, got ${b.length} bytes`)
  } else {
    keyPair = { publicKey: Buffer.from(key.publicKey), secretKey: Buffer.from(key.secretKey) }
  }
  return keyPair
}

/** Chain time (unix seconds) as the endpoint reports it (`sync_utime`). */
export async function chainTime (client: TonClient, probe: Address = new Address(0, Buffer.alloc(32))): Promise<number> {
  return (await client.getContractState(probe)).timestampt
}

export interface TransferArgs {
  messages: MessageRelaxed[]
  /**
   * Default PAY_GAS_SEPARATELY | IGNORE_ERRORS (3, the wallet convention: the recipient gets the exact
   * value, and a message that cannot be sent does not abort the transaction — an aborted one would
   * roll the seqno back and leave the signed message replayable). @ton/ton's own default is 0.
   */
  sendMode?: SendMode
  /** valid_until = chain time + this (default 60 s). */
  validForSeconds?: number
  /** Use this seqno instead of reading it from the chain. */
  seqno?: number
}

export interface SentTransfer {
  seqno: number
  validUntil: number
  /** Hash of the external message cell (hex). */
  messageHash: string
  /** Hash of the signed body (hex): what the wallet's transaction carries as its in-message body. */
  bodyHash: string
  /** The wallet's last lt before sending: its new transaction has a greater lt. */
  sinceLt: bigint
}

/**
 * Signs and sends a wallet transfer, deploying the wallet with it when it is not active yet.
 * valid_until comes from chain time, so it works on a devnet whose clock was advanced.
 * Resolves once the endpoint accepted the external message; it rejects when the wallet refuses it
 * (e.g. a stale seqno). The transfers themselves happen later: see `sendAndWait`.
 */
export async function sendTransfer (client: TonClient, w: AnyKeyWallet, args: TransferArgs): Promise<SentTransfer> {
  const state = await client.getContractState(w.address)
  const active = state.state === 'active'
  let seqno = args.seqno
  if (seqno === undefined) {
    if (active) {
      const r = await client.runMethod(w.address, 'seqno')
      seqno = r.stack.readNumber()
    } else {
      seqno = 0
    }
  }
  const validUntil = state.timestampt + (args.validForSeconds ?? 60)
  const body = signTransfer(w, {
    seqno,
    messages: args.messages,
    sendMode: args.sendMode ?? (SendMode.PAY_GAS_SEPARATELY | SendMode.IGNORE_ERRORS),
    validUntil
  })
  const msg = external({ to: w.address, init: active ? null : w.wallet.init, body })
  const cell = beginCell().store(storeMessage(msg)).endCell()
  await client.sendFile(cell.toBoc())
  return {
    seqno,
    validUntil,
    messageHash: cell.hash().toString('hex'),
    bodyHash: body.hash().toString('hex'),
    sinceLt: state.lastTransaction !== null ? BigInt(state.lastTransaction.lt) : -1n
  }
}

/** `sendTransfer`, then waits for the wallet's transaction that processed it. */
export async function sendAndWait (client: TonClient, w: AnyKeyWallet, args: TransferArgs, opts: WaitOptions = {}): Promise<{ sent: SentTransfer, tx: Transaction }> {
  const sent = await sendTransfer(client, w, args)
  const tx = await waitForTransaction(client, w.address, (t) =>
    t.inMessage?.info.type === 'external-in' && t.inMessage.body.hash().toString('hex') === sent.bodyHash,
  { ...opts, sinceLt: opts.sinceLt ?? sent.sinceLt })
  return { sent, tx }
}

/**
 * A @ton/core Sender for contract wrappers that signs with the wallet's key and takes valid_until
 * from chain time (see sendTransfer), unlike TonClient's stock sender.
 */
export function walletSender (client: TonClient, w: AnyKeyWallet): Sender {
  return {
    address: w.address,
    async send (args: SenderArguments): Promise<void> {
      await sendTransfer(client, w, {
        messages: [internal({ to: args.to, value: args.value, bounce: args.bounce ?? true, init: args.init ?? null, body: args.body ?? null })],
        sendMode: args.sendMode ?? SendMode.PAY_GAS_SEPARATELY
      })
    }
  }
}
