import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { beginCell, Cell } from '@ton/core'
import { runTolkCompiler } from '@ton/tolk-js'
import { Op } from './constants.ts'

// Compiles the Tolk contracts into contracts/build/<Name>.json ({ hash, boc }).
// Run with `npm run build:contracts`; contracts/build.test.ts fails when the committed build is stale.
// The Registry's code gets a protocol-fee prologue in front of Tolk's dispatcher (see below).

const here = dirname(fileURLToPath(import.meta.url))
export const TOLK_DIR = join(here, 'tolk')
export const BUILD_DIR = join(here, 'build')

/** Contract name → entry file under contracts/tolk. */
export const CONTRACTS = {
  Registry: 'registry.tolk',
  Provider: 'provider.tolk',
  Channel: 'channel.tolk'
} as const

export type ContractName = keyof typeof CONTRACTS

export interface CompiledContract {
  /** code cell hash, hex */
  hash: string
  /** code cell BOC, base64 */
  boc: string
}

/**
 * The Registry's code root: five instructions in front of Tolk's method dispatcher, so that a
 * protocol_fee is accepted before anything is dispatched, parsed, loaded or saved.
 *
 *   16 IFBITJMPREF ^tolk_root   ; selector with bit 16 set (every Tolk get method, -1 external):
 *                               ;   Tolk's own root, unchanged
 *   OVER                        ; selector 0 = internal message: balance value msg body 0 -> .. body
 *   x{46454553} SDBEGINSQ       ; does the body start with the protocol_fee op? (quiet: short bodies too)
 *   IFRET                       ; yes: exit code 0, storage untouched, no actions — 93 gas in all
 *   DROP                        ; no: the stack is as it was
 *   SETCP0 DICTPUSHCONST … DICTIGETJMPZ 11 THROWARG   ; Tolk's dispatcher, same method dictionary
 *
 * Why: a Channel sends the fee with exactly its amount as value (forward fee paid separately), and a
 * message buys gas only with its own value — 312,500 nanoton (2.5 % of 0.0125 TON) buys 781 gas,
 * less than Tolk's dispatcher plus one storage load and save. Every message of at least 40,000
 * nanoton (config 21's flat_gas_price) buys the flat 100 gas, so every fee that can run code at all
 * succeeds. (Below 40,000 nanoton the network skips the compute phase whatever the code: the value
 * is credited in full and the transaction is marked aborted.)
 */
export function withProtocolFeePrologue (tolkRoot: Cell, fiftCode: string): Cell {
  // Every selector other than 0 must take the IFBITJMPREF: Tolk gives get methods (crc16 & 0xffff) | 0x10000.
  const ids = [...fiftCode.matchAll(/^\s*(-?\d+) DECLMETHOD /gm)].map(([, id]) => Number(id))
  if (!ids.includes(0)) throw new Error('no onInternalMessage (method 0) in the Fift code')
  const hidden = ids.filter((n) => n > 0 && (n & 0x10000) === 0)
  if (hidden.length > 0) throw new Error(`method ids ${hidden.join(', ')} lack bit 16: the protocol-fee prologue would not pass them on`)
  if (tolkRoot.bits.length < 16 || tolkRoot.beginParse().preloadUint(16) !== 0xff00) throw new Error('Tolk code root does not start with SETCP0')
  const root = beginCell()
    .storeUint(0b11100011110, 11).storeUint(16, 5).storeRef(tolkRoot) // 16 IFBITJMPREF (x{E3D_} n:5)
    .storeUint(0x21, 8) // OVER
    .storeUint(0b11010111001011, 14).storeUint(4, 7).storeUint(Op.protocolFee, 32).storeUint(0b100, 3) // SDBEGINSQ (x{D72E_} len:7 data+tag)
    .storeUint(0xdc, 8) // IFRET
    .storeUint(0x30, 8) // DROP
    .storeBits(tolkRoot.bits)
  for (const ref of tolkRoot.refs) root.storeRef(ref)
  return root.endCell()
}

export async function compileContract (name: ContractName): Promise<CompiledContract> {
  const result = await runTolkCompiler({
    entrypointFileName: CONTRACTS[name],
    fsReadCallback: (path) => readFileSync(join(TOLK_DIR, path), 'utf-8')
  })
  if (result.status === 'error') throw new Error(`${name}: ${result.message}`)
  if (name !== 'Registry') return { hash: result.codeHashHex.toLowerCase(), boc: result.codeBoc64 }
  const tolkRoot = Cell.fromBase64(result.codeBoc64)
  const code = withProtocolFeePrologue(tolkRoot, result.fiftCode)
  return { hash: code.hash().toString('hex'), boc: code.toBoc().toString('base64') }
}

export function buildJson (compiled: CompiledContract): string {
  return JSON.stringify(compiled, null, 2) + '\n'
}

async function main (): Promise<void> {
  mkdirSync(BUILD_DIR, { recursive: true })
  for (const name of Object.keys(CONTRACTS) as ContractName[]) {
    const compiled = await compileContract(name)
    writeFileSync(join(BUILD_DIR, `${name}.json`), buildJson(compiled))
    console.log(`${name}: ${compiled.hash} (${Buffer.from(compiled.boc, 'base64').length} bytes)`)
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err)
    process.exit(1)
  })
}
