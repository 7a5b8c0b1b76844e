// One small named error class per condition; callers test `err.name` or `err.code`, never the text.

export type ProtocolErrorCode =
  | 'MALFORMED_FRAME'
  | 'FRAME_TOO_LARGE'
  | 'MALFORMED_RECEIPT'
  | 'MALFORMED_VOUCHER'
  | 'MALFORMED_TENSOR'
  | 'TENSOR_TOO_LARGE'
  | 'BAD_SIGNATURE'
  | 'MALFORMED_ADVERT'
  | 'BAD_ADVERT_SIGNATURE'
  | 'ADVERT_EXPIRED'

export class ProtocolError extends Error {
  override name = 'ProtocolError'
  constructor (readonly code: ProtocolErrorCode, message: string) {
    super(message)
  }
}
