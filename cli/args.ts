import { InvalidArgumentError } from 'commander'

// Argument checks that run while commander parses, before any command does anything. They load
// nothing heavy (no @ton/*, no libp2p): the full checks that need those (address checksums,
// multiaddr protocols) run first thing in the command, still before anything is written.

import type { NetworkName } from '../protocol/cells.ts'

export type { NetworkName }
export type WalletKind = 'v4' | 'w5'

const NETWORKS: readonly NetworkName[] = ['local', 'testnet', 'mainnet']

export function network (v: string): NetworkName {
  if (!(NETWORKS as readonly string[]).includes(v)) throw new InvalidArgumentError(`"${v}" is not a network: local, testnet or mainnet`)
  return v as NetworkName
}

export function walletKind (v: string): WalletKind {
  const k = v.toLowerCase()
  if (k === 'v4' || k === 'v4r2') return 'v4'
  if (k === 'w5' || k === 'v5' || k === 'v5r1') return 'w5'
  throw new InvalidArgumentError(`"${v}" is not a wallet kind: v4 or w5`)
}

export function int (v: string): number {
  const n = Number(v)
  if (v.trim() === '' || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`"${v}" is not a non-negative integer`)
  return n
}

/** An amount of TON as typed ("5", "0.25"); kept as the string, converted with toNano where used. */
export function tonAmount (v: string): string {
  if (!/^\d+(\.\d{1,9})?$/.test(v.trim())) throw new InvalidArgumentError(`"${v}" is not an amount of TON (e.g. 5 or 0.25, at most 9 decimals)`)
  return v.trim()
}

/** TON in nanoton, from a string tonAmount accepted; no @ton/core needed. */
export function nanoOf (ton: string): bigint {
  const [whole, frac = ''] = ton.split('.')
  return BigInt(whole!) * 1_000_000_000n + BigInt(frac.padEnd(9, '0'))
}

export function endpointUrl (v: string): string {
  let url: URL
  try { url = new URL(v) } catch { throw new InvalidArgumentError(`"${v}" is not a URL (e.g. https://testnet.toncenter.com/api/v2/jsonRPC)`) }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`"${v}" is not an http(s) URL`)
  return v
}

/** Raw (0:<64 hex>) or user-friendly (48 base64 characters) form; the checksum is checked by the command. */
export function address (v: string): string {
  if (/^-?\d+:[0-9a-fA-F]{64}$/.test(v) || /^[A-Za-z0-9+/_-]{48}$/.test(v)) return v
  throw new InvalidArgumentError(`"${v}" is not a TON address`)
}

export function listenAddr (v: string): string {
  if (!v.startsWith('/')) throw new InvalidArgumentError(`"${v}" is not a multiaddr (e.g. /ip4/0.0.0.0/tcp/4001)`)
  return v
}
