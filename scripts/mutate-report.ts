import { existsSync, readFileSync } from 'node:fs'

// Prints the mutation score of each mutated file and overall from Stryker's JSON report
// (npm run mutate), and fails below the bar the project holds its verification code to.

const REPORT = 'reports/mutation/mutation.json'
const BAR = 85

interface Mutant { status: string }
interface Report { files: Record<string, { mutants: Mutant[] }> }

/** Stryker's definition: detected (killed, timed out) over valid (detected, survived, not covered); errors and ignored mutants do not count. */
export function score (mutants: Mutant[]): { detected: number, valid: number, percent: number } {
  const detected = mutants.filter((m) => m.status === 'Killed' || m.status === 'Timeout').length
  const valid = detected + mutants.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage').length
  return { detected, valid, percent: valid === 0 ? 100 : 100 * detected / valid }
}

if (!existsSync(REPORT)) {
  console.error(`no ${REPORT}: Stryker did not finish (see its output above)`)
  process.exit(1)
}
const report = JSON.parse(readFileSync(REPORT, 'utf8')) as Report
const all: Mutant[] = []
for (const [file, { mutants }] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  const s = score(mutants)
  all.push(...mutants)
  console.log(`${file}: mutation score: ${s.percent.toFixed(1)}% (${s.detected} of ${s.valid} mutants killed)`)
}
const total = score(all)
console.log(`overall: mutation score: ${total.percent.toFixed(1)}% (${total.detected} of ${total.valid} mutants killed; the bar is ${BAR}%)`)
if (total.percent < BAR) process.exit(1)
