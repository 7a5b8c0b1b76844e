import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Evidence {
  kind: string
  expiresAt: bigint
  quote: Uint8Array
}

export namespace Evidence {
  let _codec: Codec<Evidence>

  export const codec = (): Codec<Evidence> => {
    if (_codec == null) {
      _codec = message<Evidence>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.kind != null && obj.kind !== '')) {
          w.uint32(10)
          w.string(obj.kind)
        }

        if ((obj.expiresAt != null && obj.expiresAt !== 0n)) {
          w.uint32(16)
          w.uint64(obj.expiresAt)
        }

        if ((obj.quote != null && obj.quote.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.quote)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          kind: '',
          expiresAt: 0n,
          quote: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.kind = reader.string()
              break
            }
            case 2: {
              obj.expiresAt = reader.uint64()
              break
            }
            case 3: {
              obj.quote = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.kind`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.expiresAt`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.quote`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface EvidenceKindFieldEvent {
    field: '$.kind'
    value: string
  }

  export interface EvidenceExpiresAtFieldEvent {
    field: '$.expiresAt'
    value: bigint
  }

  export interface EvidenceQuoteFieldEvent {
    field: '$.quote'
    value: Uint8Array
  }

  export function encode (obj: Partial<Evidence>): Uint8Array {
    return encodeMessage(obj, Evidence.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Evidence>): Evidence {
    return decodeMessage(buf, Evidence.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Evidence>): Generator<EvidenceKindFieldEvent | EvidenceExpiresAtFieldEvent | EvidenceQuoteFieldEvent> {
    return streamMessage(buf, Evidence.codec(), opts)
  }
}

export interface AttestRequest {
  nonce: Uint8Array
}

export namespace AttestRequest {
  let _codec: Codec<AttestRequest>

  export const codec = (): Codec<AttestRequest> => {
    if (_codec == null) {
      _codec = message<AttestRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.nonce != null && obj.nonce.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.nonce)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          nonce: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.nonce = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.nonce`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface AttestRequestNonceFieldEvent {
    field: '$.nonce'
    value: Uint8Array
  }

  export function encode (obj: Partial<AttestRequest>): Uint8Array {
    return encodeMessage(obj, AttestRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AttestRequest>): AttestRequest {
    return decodeMessage(buf, AttestRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AttestRequest>): Generator<AttestRequestNonceFieldEvent> {
    return streamMessage(buf, AttestRequest.codec(), opts)
  }
}

export interface AttestError {
  code: string
  message: string
}

export namespace AttestError {
  let _codec: Codec<AttestError>

  export const codec = (): Codec<AttestError> => {
    if (_codec == null) {
      _codec = message<AttestError>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.code != null && obj.code !== '')) {
          w.uint32(10)
          w.string(obj.code)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(18)
          w.string(obj.message)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          code: '',
          message: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.code = reader.string()
              break
            }
            case 2: {
              obj.message = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.code`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.message`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface AttestErrorCodeFieldEvent {
    field: '$.code'
    value: string
  }

  export interface AttestErrorMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export function encode (obj: Partial<AttestError>): Uint8Array {
    return encodeMessage(obj, AttestError.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AttestError>): AttestError {
    return decodeMessage(buf, AttestError.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AttestError>): Generator<AttestErrorCodeFieldEvent | AttestErrorMessageFieldEvent> {
    return streamMessage(buf, AttestError.codec(), opts)
  }
}

export interface AttestResponse {
  evidence?: Evidence
  error?: AttestError
}

export namespace AttestResponse {
  let _codec: Codec<AttestResponse>

  export const codec = (): Codec<AttestResponse> => {
    if (_codec == null) {
      _codec = message<AttestResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.evidence != null) {
          w.uint32(10)
          Evidence.codec().encode(obj.evidence, w)
        }

        if (obj.error != null) {
          w.uint32(18)
          AttestError.codec().encode(obj.error, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.evidence = Evidence.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.evidence
              })
              break
            }
            case 2: {
              obj.error = AttestError.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.error
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Evidence.codec().stream(reader, reader.uint32(), `${prefix}.evidence`, {
                limits: opts.limits?.evidence
              })

              break
            }
            case 2: {
              yield * AttestError.codec().stream(reader, reader.uint32(), `${prefix}.error`, {
                limits: opts.limits?.error
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface AttestResponseEvidenceKindFieldEvent {
    field: '$.evidence.kind'
    value: string
  }

  export interface AttestResponseEvidenceExpiresAtFieldEvent {
    field: '$.evidence.expiresAt'
    value: bigint
  }

  export interface AttestResponseEvidenceQuoteFieldEvent {
    field: '$.evidence.quote'
    value: Uint8Array
  }

  export interface AttestResponseErrorCodeFieldEvent {
    field: '$.error.code'
    value: string
  }

  export interface AttestResponseErrorMessageFieldEvent {
    field: '$.error.message'
    value: string
  }

  export function encode (obj: Partial<AttestResponse>): Uint8Array {
    return encodeMessage(obj, AttestResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AttestResponse>): AttestResponse {
    return decodeMessage(buf, AttestResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AttestResponse>): Generator<AttestResponseEvidenceKindFieldEvent | AttestResponseEvidenceExpiresAtFieldEvent | AttestResponseEvidenceQuoteFieldEvent | AttestResponseErrorCodeFieldEvent | AttestResponseErrorMessageFieldEvent> {
    return streamMessage(buf, AttestResponse.codec(), opts)
  }
}
