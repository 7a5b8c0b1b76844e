import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { runTolkCompiler } from '@ton/tolk-js'

// Compiles the Tolk contracts into contracts/build/<Name>.json ({ hash, boc }).
// Run with `npm run build:contracts`; contracts/build.test.ts fails when the committed build is stale.

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

export async function compileContract (name: ContractName): Promise<CompiledContract> {
  const result = await runTolkCompiler({
    entrypointFileName: CONTRACTS[name],
    fsReadCallback: (path) => readFileSync(join(TOLK_DIR, path), 'utf-8')
  })
  if (result.status === 'error') throw new Error(`${name}: ${result.message}`)
  return { hash: result.codeHashHex.toLowerCase(), boc: result.codeBoc64 }
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
