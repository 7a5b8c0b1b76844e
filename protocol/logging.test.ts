import { describe, expect, it } from 'vitest'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { Address } from '@ton/core'
import { pino } from 'pino'
import { chainClient } from '../chain/client.ts'
import { loggerOptions } from './logging.ts'

const API_KEY = 'f00dfacecafe' + 'b'.repeat(52)

describe('logs', () => {
  it('never carry the TON API key or a signed BOC, even when a chain error is logged whole', async () => {
    // a TON API that rate-limits every call, as toncenter does past its quota
    const server = createServer((_req, res) => { res.writeHead(429, { 'content-type': 'application/json' }).end('{"ok":false,"error":"Ratelimit exceed","code":429}') })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    const chain = chainClient(`http://127.0.0.1:${port}/jsonRPC`, API_KEY)
    const boc = Buffer.alloc(300, 7).toString('base64')
    const err = await chain.sendFile(Buffer.from(boc, 'base64')).then(() => undefined, (e: unknown) => e)
    server.close()
    expect(err).toBeDefined()
    // what a careless `log.warn({ err })` without the policy would write: the key is in there
    expect(JSON.stringify(err)).toContain(API_KEY)

    const lines: string[] = []
    const sink = new Writable({ write (chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done() } })
    const log = pino(loggerOptions('debug'), sink)
    log.warn({ err }, 'chain call failed')
    log.warn({ error: err, headers: { 'X-API-Key': API_KEY }, wallet: { mnemonic: 'abandon '.repeat(24), secretKey: 'ab'.repeat(64) }, boc }, 'details')
    log.info({ address: new Address(0, Buffer.alloc(32, 1)).toString() }, 'still logs what is useful')
    const text = lines.join('')
    expect(text).toContain('chain call failed')
    expect(text).toContain('429') // the cause stays readable
    expect(text).toContain(new Address(0, Buffer.alloc(32, 1)).toString())
    expect(text).not.toContain(API_KEY)
    expect(text).not.toContain(boc)
    expect(text).not.toContain('abandon abandon')
    expect(text).not.toContain('ab'.repeat(64))
  })
})
