#!/usr/bin/env node
// The `silk` command on the TypeScript sources (through tsx's loader), polyfill first. The
// published package's bin/silk.js runs the compiled dist/cli/silk.js instead; both call main().
import { register } from 'tsx/esm/api'

register()
await import('../protocol/polyfill.ts')
const { main } = await import('./silk.ts')
process.exitCode = await main(process.argv)
