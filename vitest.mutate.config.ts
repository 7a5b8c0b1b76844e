import { defineConfig } from 'vitest/config'

// Mutation testing (npm run mutate): only the fast unit tests of the verification and payment
// modules. End-to-end tests also cover those modules but cost seconds per mutant; they stay in
// `npm test`. Keep this list in step with `mutate` in stryker.config.mjs.
export default defineConfig({
  test: {
    setupFiles: ['./test/setup.ts'],
    include: [
      'protocol/cells.test.ts',
      'contracts/wrappers.test.ts',
      'client/verify.test.ts',
      'client/receipt-verify.test.ts',
      'node/ledger.test.ts',
      'node/payment-ledger.test.ts',
      'test/claim-policy.test.ts',
      'node/claim-messages.test.ts'
    ],
    exclude: ['node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
