#!/usr/bin/env node
// The `silk` command: TypeScript sources run through tsx's loader, polyfills first.
import { register } from 'tsx/esm/api'

register()
await import('../protocol/polyfill.ts')
await import('./silk.ts')
