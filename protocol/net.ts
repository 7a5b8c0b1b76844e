import { isIP } from 'node:net'

/**
 * True for hosts only this machine can reach (localhost, 127.0.0.0/8, ::1, with or without IPv6
 * brackets): what an endpoint that can spend or claim may bind to without a token or API key.
 */
export function isLoopbackHost (host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '')
  if (bare === 'localhost') return true
  if (isIP(bare) === 4) return bare.startsWith('127.')
  return bare === '::1'
}
