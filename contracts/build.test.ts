import { describe, it, expect } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { toNano } from '@ton/core'
import { BUILD_DIR, CONTRACTS, TOLK_DIR, buildJson, compileContract, type ContractName } from './compile.ts'
import { channelCode, providerCode, registryCode } from './code.ts'
import { Bounds, Errors, Fees, Op } from './constants.ts'
import { CLOSE_REQUEST_TAG, RECEIPT_TAG, REGISTRATION_TAG, VOUCHER_TAG } from '../protocol/cells.ts'

const tolk = (file: string): string => readFileSync(join(TOLK_DIR, file), 'utf-8')
const camelToSnake = (name: string): string => name.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())

describe('contract build', () => {
  it.each(Object.keys(CONTRACTS) as ContractName[])('committed build/%s.json equals a fresh compile of the sources', async (name) => {
    const committed = readFileSync(join(BUILD_DIR, `${name}.json`), 'utf-8')
    expect(committed, 'run `npm run build:contracts`').toBe(buildJson(await compileContract(name)))
  })

  it('code.ts loads the committed cells', () => {
    for (const [name, cell] of [['Registry', registryCode], ['Provider', providerCode], ['Channel', channelCode]] as const) {
      const { hash } = JSON.parse(readFileSync(join(BUILD_DIR, `${name}.json`), 'utf-8')) as { hash: string }
      expect(cell.hash().toString('hex')).toBe(hash)
    }
  })
})

describe('one table for numbers', () => {
  it('Errors mirrors contracts/tolk/errors.tolk exactly', () => {
    const consts = Object.fromEntries([...tolk('errors.tolk').matchAll(/^const ERR_(\w+) = (\w+)$/gm)]
      .map(([, name, value]) => [name!, Number(value)]))
    const expected = Object.fromEntries(Object.entries(Errors).map(([name, code]) => [camelToSnake(name).toUpperCase(), code]))
    expect(consts).toEqual(expected)
  })

  it('Fees mirrors contracts/tolk/fees.tolk exactly', () => {
    const consts = Object.fromEntries([...tolk('fees.tolk').matchAll(/^const (\w+) = ton\("([\d.]+)"\)$/gm)]
      .map(([, name, value]) => [name!, toNano(value!)]))
    const expected = Object.fromEntries(Object.entries(Fees).map(([name, v]) => [camelToSnake(name).toUpperCase(), v]))
    expect(consts).toEqual(expected)
  })

  it('Bounds mirrors contracts/tolk/bounds.tolk exactly', () => {
    const consts = Object.fromEntries([...tolk('bounds.tolk').matchAll(/^const (\w+) = (\d+)$/gm)]
      .map(([, name, value]) => [name!, Number(value)]))
    const expected = Object.fromEntries(Object.entries(Bounds).map(([name, v]) => [camelToSnake(name).toUpperCase(), v]))
    expect(consts).toEqual(expected)
    // now + the longest delay or lifetime stays inside uint32 until after 2100
    const year2100 = Date.UTC(2100, 0, 1) / 1000
    expect(year2100 + Math.max(Bounds.maxCloseDelay, Bounds.maxUnbondingDelay, Bounds.channelLifetime)).toBeLessThan(2 ** 32)
  })

  it('every opcode in protocol/schema.tlb and messages.tolk is in Op, and nothing else is', () => {
    const schema = readFileSync(new URL('../protocol/schema.tlb', import.meta.url), 'utf-8')
    const schemaOps = Object.fromEntries([...schema.matchAll(/^(\w+)#([0-9a-f]{8}) /gm)]
      .map(([, name, hex]) => [name!.replace(/_(\w)/g, (_, c: string) => c.toUpperCase()), parseInt(hex!, 16)]))
    const tolkOps = new Set([...tolk('messages.tolk').matchAll(/^struct \(0x([0-9a-f]{8})\) (\w+)/gm)].map(([, hex]) => parseInt(hex!, 16)))

    const { receipt, voucher, closeRequest, registration, ...messages } = schemaOps
    expect(receipt).toBe(RECEIPT_TAG)
    expect(voucher).toBe(VOUCHER_TAG)
    expect(closeRequest).toBe(CLOSE_REQUEST_TAG)
    expect(registration).toBe(REGISTRATION_TAG)
    expect(messages).toEqual(Op)
    expect(tolkOps).toEqual(new Set([...Object.values(Op), receipt, voucher, closeRequest, registration]))
    expect(new Set(Object.values(schemaOps)).size, 'opcodes are unique').toBe(Object.keys(schemaOps).length)
  })
})

describe('coverage of exit codes', () => {
  it('every exit code is asserted by at least one sandbox test that provokes it', () => {
    const here = new URL('.', import.meta.url)
    const tests = readdirSync(here).filter((name) => name.endsWith('.test.ts') && name !== 'build.test.ts')
      .map((name) => readFileSync(new URL(name, here), 'utf-8')).join('\n')
    const untested = Object.keys(Errors).filter((name) => !new RegExp(`Errors\\.${name}\\b`).test(tests))
    expect(untested).toEqual([])
  })
})
