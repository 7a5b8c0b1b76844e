export const JOB_PROTOCOL = '/silk/job/1.0.0'

export const FRAME_LIMITS = {
  /**
   * largest frame either side accepts; a longer length prefix ends the session. libp2p streams
   * buffer at most 4 MiB unread (and reset beyond), so frames stay below that.
   */
  maxFrameBytes: 3 * 1024 * 1024,
  /** largest single tensor */
  maxTensorBytes: 3 * 1024 * 1024,
  maxTensors: 32,
  maxModels: 256,
  maxTexts: 64,
  maxMessages: 128,
  maxLabels: 256,
  maxStringBytes: 1024,
  /** owed receipts one Welcome carries (a node never lets more build up: credit bounds them) */
  maxOwed: 256
} as const

/** Codes carried in ErrorFrame.code; both ends switch on these, never on the message text. */
export const WIRE_ERRORS = [
  'MALFORMED_FRAME', // undecodable frame or wrong body for this point of the session
  'FRAME_TOO_LARGE', // length prefix above the limit: the session ends
  'MALFORMED_TENSOR',
  'TENSOR_TOO_LARGE',
  'NO_CHANNEL', // a job or voucher before a Hello that names a channel
  'BAD_CHANNEL', // channel not deployed, closed, or not opened with this node
  'CHANNEL_TERMS', // the channel's close delay is shorter, or its protocol fee higher, than this node accepts
  'BAD_HELLO', // the Hello does not prove possession of the channel's client key (or the session is already bound)
  'UNKNOWN_MODEL',
  'BAD_INPUT', // tensor names, dtypes or shapes do not match the model
  'INFERENCE_FAILED',
  'PAYMENT_REQUIRED', // the previous result is not paid yet (credit exhausted)
  'DEPOSIT_EXHAUSTED', // the channel's deposit cannot cover this job
  'MALFORMED_VOUCHER',
  'WRONG_NETWORK', // the voucher is signed for another network
  'WRONG_CHANNEL', // the voucher names another channel than the session's
  'BAD_SIGNATURE',
  'STALE_VOUCHER', // seqno not above the last accepted one
  'UNDERPAID', // the voucher does not pay for the receipts issued
  'OVER_DEPOSIT', // the voucher's cumulative amount is above the channel deposit
  'BAD_RECEIPTS_ROOT',
  'ABORTED', // the job was cancelled; what was produced so far is in its result
  'OVERLOADED', // queue full or too many sessions from one peer: retry later or elsewhere
  'SHUTTING_DOWN', // the node is stopping: go to another provider
  'IDLE_TIMEOUT', // no complete frame in time (idle or too slow a sender): the session ends
  'RATE_LIMITED', // the peer sent more bytes per second than allowed: the session ends
  'INTERNAL'
] as const

export type WireErrorCode = typeof WIRE_ERRORS[number]
