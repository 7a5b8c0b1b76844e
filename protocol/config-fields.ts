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
