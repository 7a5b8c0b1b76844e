import { mkdir, open } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { mnemonicNew } from '@ton/crypto'
import { chainClient } from '../chain/client.ts'
import type { NetworkName, WalletKind } from './args.ts'
import { CliError, mnemonicWords, out, parseAddress, pickWallet, shown, ton, walletsOf } from './common.ts'

// `silk wallet new|show|balance`: wallets kept as mnemonic files (mode 0600). The words are written
// to the file and nowhere else: never to stdout, stderr or a log.

const KIND_NAMES: Record<WalletKind, string> = { v4: 'V4R2', w5: 'W5 (V5R1)' }

export async function walletNew (o: { file: string, network: NetworkName, wallet: WalletKind }): Promise<void> {
  const file = resolve(o.file)
  const words = await mnemonicNew(24)
  let handle
  try {
    // a new folder for it (e.g. ~/.silk) is private too
    await mkdir(dirname(file), { recursive: true, mode: 0o700 })
    handle = await open(file, 'wx', 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CliError('EXISTS', `${file} already exists; refusing to overwrite a mnemonic`)
    throw new CliError('BAD_ARGUMENT', `cannot create ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
  }
  try {
    await handle.writeFile(words.join(' ') + '\n')
    await handle.sync()
  } finally {
    await handle.close()
  }
  const w = (await walletsOf(words, o.network))[o.wallet]
  out(`address:  ${shown(w.address, o.network, 'wallet')} (${KIND_NAMES[o.wallet]}, ${o.network}; deployed by its first outgoing transfer)`)
  out(`mnemonic: saved to ${file} (mode 0600). Back it up: whoever reads it owns the wallet.`)
  if (o.network === 'local') out(`fund it:  silk devnet faucet ${shown(w.address, o.network, 'wallet')} 10`)
}

export async function walletShow (o: { file?: string, network: NetworkName, wallet?: WalletKind }): Promise<void> {
  const words = await mnemonicWords(o.file, 'SILK_MNEMONIC')
  const both = await walletsOf(words, o.network)
  for (const kind of o.wallet !== undefined ? [o.wallet] : (['w5', 'v4'] as const)) {
    out(`${kind}: ${shown(both[kind].address, o.network, 'wallet')} (${KIND_NAMES[kind]}, ${o.network})`)
  }
}

export async function walletBalance (addr: string | undefined, o: { file?: string, network: NetworkName, endpoint: string, apiKey?: string, wallet?: WalletKind }): Promise<void> {
  const chain = chainClient(o.endpoint, o.apiKey, { timeoutMs: 15_000 })
  let address
  if (addr !== undefined) {
    address = parseAddress(addr, 'address')
  } else {
    const words = await mnemonicWords(o.file, 'SILK_MNEMONIC')
    address = (await pickWallet(words, o.network, { kind: o.wallet, chain, source: o.file ?? 'SILK_MNEMONIC' })).address
  }
  let state
  try {
    state = await chain.getContractState(address)
  } catch (err) {
    throw new CliError('CHAIN_UNREACHABLE', `cannot reach the chain at ${o.endpoint}: ${(err as Error).message.split('\n')[0]}`)
  }
  const what = state.state === 'active' ? 'deployed' : state.state === 'frozen' ? 'frozen' : 'not deployed yet'
  out(`${shown(address, o.network, 'wallet')}: ${ton(state.balance)} TON (${what})`)
}
