import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    setupFiles: ['./test/setup.ts'],
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.stryker-tmp/**', 'reports/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks'
  }
})
