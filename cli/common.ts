import { existsSync, statSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { Address, fromNano } from '@ton/core'
import { mnemonicToPrivateKey, mnemonicValidate } from '@ton/crypto'
import type { TonClient } from '@ton/ton'
import { networkWalletFromKey, shown, walletFromKey, type AnyKeyWallet } from '../chain/client.ts'
import { GLOBAL_IDS } from '../protocol/cells.ts'
import type { NetworkName, WalletKind } from './args.ts'

export { shown }

// Helpers the command modules share (they may load @ton/*: they run only inside a command).

/** A failure the user can fix, said in one line; `silk: <message>` and exit 1. */
export class CliError extends Error {
  override name = 'Error'
  constructor (readonly code: 'BAD_ARGUMENT' | 'EXISTS' | 'NO_MNEMONIC' | 'BAD_MNEMONIC' | 'WRONG_WALLET' | 'CHAIN_UNREACHABLE' | 'NOT_A_REGISTRY' | 'STAKE_TOO_LOW' | 'INSUFFICIENT_BALANCE' | 'CHECKS_FAILED' | 'CLAIM_FAILED' | 'NODE_UNREACHABLE', message: string) {
    super(message)
  }
}

export const out = (line: string): void => { process.stdout.write(line + '\n') }


/** Parses an address with its checksum; the error names the option. */
export function parseAddress (value: string, option: string): Address {
  try {
    return Address.parse(value)
  } catch {
    throw new CliError('BAD_ARGUMENT', `${option} ${value}: not a valid TON address (bad checksum or form)`)
  }
}

/** TON with up to 9 decimals, trailing zeros cut. */
export function ton (nano: bigint): string {
  return fromNano(nano)
}

/**
 * The mnemonic from a file (which must be readable by its owner only) or an environment variable.
 * The words never appear in an error.
 */
export async function mnemonicWords (file: string | undefined, envName: string): Promise<string[]> {
  let text: string | undefined
  if (file !== undefined) {
    const info = await stat(file).catch(() => undefined)
    if (info === undefined) throw new CliError('NO_MNEMONIC', `mnemonic file ${file} not found`)
    if ((info.mode & 0o077) !== 0) throw new CliError('BAD_MNEMONIC', `mnemonic file ${file} has mode ${(info.mode & 0o777).toString(8)}; it must be readable by its owner only (chmod 600 ${file})`)
    text = await readFile(file, 'utf8')
  } else {
    text = process.env[envName]
    if (text === undefined || text.trim() === '') throw new CliError('NO_MNEMONIC', `give the wallet's mnemonic: --mnemonic-file <file> or ${envName} (24 words)`)
  }
  const words = text.trim().split(/\s+/)
  if (!(await mnemonicValidate(words))) throw new CliError('BAD_MNEMONIC', `the mnemonic in ${file ?? envName} is not a valid TON mnemonic (24 words)`)
  return words
}

/** Both wallets a mnemonic can be: V4R2 (same address everywhere) and W5 (bound to the network). */
export async function walletsOf (words: string[], network: NetworkName): Promise<Record<WalletKind, AnyKeyWallet>> {
  const keyPair = await mnemonicToPrivateKey(words)
  return { v4: walletFromKey(keyPair), w5: networkWalletFromKey(keyPair, GLOBAL_IDS[network]) }
}

/**
 * The wallet a mnemonic stands for: the kind asked for; else the one whose address is `expect`;
 * else the one that exists on chain (deployed, or at least funded).
 */
export async function pickWallet (words: string[], network: NetworkName, opts: { kind?: WalletKind | undefined, expect?: Address, chain?: TonClient, source: string }): Promise<AnyKeyWallet> {
  const both = await walletsOf(words, network)
  if (opts.kind !== undefined) {
    const w = both[opts.kind]
    if (opts.expect !== undefined && !w.address.equals(opts.expect)) {
      throw new CliError('WRONG_WALLET', `the ${opts.kind} wallet of ${opts.source} is ${shown(w.address, network, 'wallet')}, not ${shown(opts.expect, network, 'wallet')}`)
    }
    return w
  }
  if (opts.expect !== undefined) {
    const match = (['w5', 'v4'] as const).find((k) => both[k].address.equals(opts.expect!))
    if (match === undefined) throw new CliError('WRONG_WALLET', `${opts.source} is not the wallet ${shown(opts.expect, network, 'wallet')} (neither its V4R2 nor its W5 wallet)`)
    return both[match]
  }
  if (opts.chain !== undefined) {
    const states = await Promise.all((['w5', 'v4'] as const).map(async (k) => ({ k, s: await opts.chain!.getContractState(both[k].address) })))
    const active = states.filter((x) => x.s.state === 'active')
    const funded = states.filter((x) => x.s.balance > 0n)
    const pick = active.length === 1 ? active[0] : active.length === 0 && funded.length === 1 ? funded[0] : undefined
    if (pick !== undefined) return both[pick.k]
  }
  throw new CliError('WRONG_WALLET', `cannot tell which wallet ${opts.source} is: add --wallet v4 or --wallet w5`)
}

/** The example models shipped with Silk (the `models` folder next to the package's package.json). */
export function bundledModelsDir (): string | undefined {
  for (const rel of ['../models', '../../models']) {
    const dir = new URL(rel, import.meta.url).pathname
    if (existsSync(dir) && statSync(dir).isDirectory() && existsSync(new URL(rel + '/README.md', import.meta.url).pathname)) return dir
  }
  return undefined
}
