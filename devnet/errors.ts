// Errors of the local chain. The server maps `code` to the `code` field of its error body.

export type DevnetErrorCode =
  | 'BAD_REQUEST' // malformed input: JSON, BOC, address, parameter
  | 'NOT_FOUND' // unknown method, transaction, route
  | 'REJECTED' // the chain refused: external message not accepted, emulation failed
  | 'CLOSED' // the chain was closed

export const httpCodeOf: Record<DevnetErrorCode, number> = {
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  REJECTED: 500,
  CLOSED: 503
}

export class DevnetError extends Error {
  override name = 'DevnetError'
  constructor (readonly code: DevnetErrorCode, message: string) {
    super(message)
  }
}

export function badRequest (message: string): DevnetError {
  return new DevnetError('BAD_REQUEST', message)
}
