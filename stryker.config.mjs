import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// Mutation testing of the verification and payment modules: `npm run mutate` (not part of npm test).
// Stryker changes one operator, condition or literal at a time and runs the unit tests of
// vitest.mutate.config.ts that cover it; a mutant no test notices is a check the tests do not
// bite on. scripts/mutate-report.ts prints the score per file and overall and holds the 85 % bar.

/** Lines 1-based, inclusive, as Stryker's `file:start-end` ranges take them. */
function lines (file) {
  return readFileSync(file, 'utf8').split('\n')
}

/**
 * A contract wrapper up to (not including) its getters: the message builders, parsers and sends
 * are unit-tested here; the getters need a deployed contract and are covered by contracts/*.test.ts.
 */
function beforeGetters (file) {
  return before(file, /^\s*async get\w+ \(/)
}

/**
 * A module up to (not including) the line matching `start`: node/settlement.ts's claim policy, which
 * is pure, without the Settlement class and its helpers after it, which send claims through a chain
 * and are covered end to end.
 */
function before (file, start) {
  const from = lines(file).findIndex((l) => start.test(l))
  return from > 0 ? [`${file}:1-${from}`] : [file]
}

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts', related: false },
  coverageAnalysis: 'perTest',
  mutate: [
    'protocol/cells.ts',
    'client/verify.ts',
    'node/ledger.ts',
    ...before('node/settlement.ts', /^export class Settlement /),
    ...beforeGetters('contracts/Provider.ts'),
    ...beforeGetters('contracts/Channel.ts')
  ],
  // two cores, shared with everything else on the machine
  concurrency: 1,
  timeoutMS: 20_000,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowEmojis: false, logTests: false, reportScoreTable: true },
  ignorePatterns: ['models', 'docs', 'bench', 'examples', 'devnet', 'reports', '.silk'],
  // outside the project, so that a plain `vitest run` elsewhere never picks up the sandbox's copies
  tempDirName: join(tmpdir(), 'silk-stryker'),
  cleanTempDir: 'always',
  // the bar is held by scripts/mutate-report.ts, which prints the per-file lines first
  thresholds: { high: 90, low: 85, break: null }
}
