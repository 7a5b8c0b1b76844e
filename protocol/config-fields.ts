import { readFile } from 'node:fs/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { Address } from '@ton/core'
import { z } from 'zod'

// Config fields every role validates the same way (node, gateway): one definition each.

export const tonAddressField = z.string().refine((s) => Address.isFriendly(s) || Address.isRaw(s), 'not a TON address')

export const nanotonField = z.union([z.string(), z.number().int()]).transform((v, ctx) => {
  try {
    const n = BigInt(v)
    if (n >= 0n) return n
  } catch {}
  ctx.addIssue({ code: 'custom', message: 'not a non-negative whole number of nanoton' })
  return z.NEVER
})

export const peerMultiaddrField = z.string().refine((s) => {
  try {
    return multiaddr(s).getComponents().at(-1)?.name === 'p2p'
  } catch {
    return false
  }
}, 'not a multiaddr ending in /p2p/<peerId>')

/** Zod issues as lines that name the bad field, for config errors people read. */
export function issueLines (error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`).join('\n  ')
}

/** Reads a JSON config file; `fail` makes the role's own typed error from a message naming the file. */
export async function readJsonFile (path: string, fail: (message: string) => Error): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    throw fail(`config file ${path} cannot be read`)
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    throw fail(`config file ${path} is not valid JSON: ${(err as Error).message}`)
  }
}
