import '../protocol/polyfill.ts'
import { expect } from 'vitest'
import { findTransaction, flattenTransaction, type FlatTransactionComparable } from '@ton/test-utils'

// @ton/test-utils registers its matchers only under jest/chai/bun; vitest gets them here.
expect.extend({
  toHaveTransaction (subject: unknown, cmp: FlatTransactionComparable) {
    const list = Array.isArray(subject) ? subject : (subject as { transactions?: unknown[] }).transactions
    if (!Array.isArray(list)) return { pass: false, message: () => 'expected an array of transactions or a send result' }
    const found = findTransaction(list as never, cmp)
    return {
      pass: found !== undefined,
      message: () => found !== undefined
        ? `expected no transaction matching ${String(JSON.stringify(cmp, replacer))}`
        : `no transaction matches ${String(JSON.stringify(cmp, replacer))}; got:\n${list.map((t) => JSON.stringify(flattenTransaction(t as never), replacer)).join('\n')}`
    }
  }
})

function replacer (_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString()
  if (v !== null && typeof v === 'object' && 'toRawString' in v) return (v as { toString(): string }).toString()
  if (v !== null && typeof v === 'object' && 'hash' in v && 'bits' in v) return '<cell>'
  return v
}

declare module 'vitest' {
  interface Assertion {
    toHaveTransaction(cmp: FlatTransactionComparable): void
  }
}
