import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Collateral } from '@phala/dcap-qvl'

// Intel's public TDX sample quotes (Phala-Network/dcap-qvl sample/), kept beside the project at
// ../shared/data/tdx and never copied into it. Every test that reads them decides here whether it
// runs: under CI it always runs, so missing samples fail the build instead of skipping silently;
// a developer machine without them skips those tests and says so once.

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** Where the samples are; SILK_TDX_SAMPLES points elsewhere (e.g. to check what CI does without them). */
export const TDX_DIR = process.env.SILK_TDX_SAMPLES ?? resolve(repoRoot, '../shared/data/tdx')
export const TDX_SAMPLE_FILES = ['tdx_quote', 'tdx_quote_collateral.json', 'tdx_quote_outdated', 'tdx_quote_outdated_collateral.json'] as const
export const missingTdxSamples: string[] = TDX_SAMPLE_FILES.filter((f) => !existsSync(join(TDX_DIR, f)))

/** CI=true (the CI runner) or CI=1 (.ci/run); CI=false or CI=0 is a developer machine. */
export const underCi = (process.env.CI ?? '') !== '' && !['0', 'false'].includes((process.env.CI ?? '').toLowerCase())

/** Whether the real-quote tests run: always under CI (and fail there without the samples), else only with the samples. */
export const runTdxTests = missingTdxSamples.length === 0 || underCi

if (!runTdxTests) {
  console.warn(`\n*** Intel TDX sample quotes are missing at ${TDX_DIR}: every test that needs a real quote is SKIPPED (under CI they fail). ***\n`)
}

export interface TdxSample {
  quote: Buffer
  collateral: Collateral
  /** unix seconds: the TCB info's issueDate and nextUpdate */
  issueDate: number
  nextUpdate: number
  /** one day into the collateral's validity: verify "as of" this, never the wall clock */
  asOf: number
}

/** Reads one sample and its collateral; throws (failing the test) when they are missing. */
export function tdxSample (name: 'tdx_quote' | 'tdx_quote_outdated'): TdxSample {
  const collateral = JSON.parse(readFileSync(join(TDX_DIR, `${name}_collateral.json`), 'utf8')) as Collateral
  const tcb = JSON.parse(collateral.tcb_info) as { issueDate: string, nextUpdate: string }
  const issueDate = Date.parse(tcb.issueDate) / 1000
  return { quote: readFileSync(join(TDX_DIR, name)), collateral, issueDate, nextUpdate: Date.parse(tcb.nextUpdate) / 1000, asOf: issueDate + 86_400 }
}
