#!/usr/bin/env node
// The `silk` command. A checkout runs its TypeScript sources (cli/bin.js, through tsx), so `npx silk`
// there always matches the code; the published package ships no sources and runs the compiled
// JavaScript in dist/, no loader needed. Either way the Promise.withResolvers polyfill (Node 20) loads
// before anything else.
import { existsSync } from 'node:fs'

if (existsSync(new URL('../cli/silk.ts', import.meta.url))) {
  await import('../cli/bin.js')
} else {
  await import('../dist/protocol/polyfill.js')
  const { main } = await import('../dist/cli/silk.js')
  process.exitCode = await main(process.argv)
}
