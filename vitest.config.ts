import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    setupFiles: ['./test/setup.ts'],
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.stryker-tmp/**', 'reports/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // vitest's default is one worker less than the cores: one on a 2-core machine, where most test
    // files wait on loopback networks and a local chain rather than compute
    maxWorkers: 2
  }
})
