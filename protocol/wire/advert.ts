import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface AdvertModel {
  hash: Uint8Array
  name: string
  task: string
  pricePerUnit: bigint
  deterministic: boolean
  execution: string
}

export namespace AdvertModel {
  let _codec: Codec<AdvertModel>

  export const codec = (): Codec<AdvertModel> => {
    if (_codec == null) {
      _codec = message<AdvertModel>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.hash != null && obj.hash.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.hash)
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(18)
          w.string(obj.name)
        }

        if ((obj.task != null && obj.task !== '')) {
          w.uint32(26)
          w.string(obj.task)
        }

        if ((obj.pricePerUnit != null && obj.pricePerUnit !== 0n)) {
          w.uint32(32)
          w.uint64(obj.pricePerUnit)
        }

        if ((obj.deterministic != null && obj.deterministic !== false)) {
          w.uint32(40)
          w.bool(obj.deterministic)
        }

        if ((obj.execution != null && obj.execution !== '')) {
          w.uint32(50)
          w.string(obj.execution)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          hash: uint8ArrayAlloc(0),
          name: '',
          task: '',
          pricePerUnit: 0n,
          deterministic: false,
          execution: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.hash = reader.bytes()
              break
            }
            case 2: {
              obj.name = reader.string()
              break
            }
            case 3: {
              obj.task = reader.string()
              break
            }
            case 4: {
              obj.pricePerUnit = reader.uint64()
              break
            }
            case 5: {
              obj.deterministic = reader.bool()
              break
            }
            case 6: {
              obj.execution = reader.string()
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
                field: `${prefix}.hash`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.task`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.pricePerUnit`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.deterministic`,
                value: reader.bool()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.execution`,
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

  export interface AdvertModelHashFieldEvent {
    field: '$.hash'
    value: Uint8Array
  }

  export interface AdvertModelNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface AdvertModelTaskFieldEvent {
    field: '$.task'
    value: string
  }

  export interface AdvertModelPricePerUnitFieldEvent {
    field: '$.pricePerUnit'
    value: bigint
  }

  export interface AdvertModelDeterministicFieldEvent {
    field: '$.deterministic'
    value: boolean
  }

  export interface AdvertModelExecutionFieldEvent {
    field: '$.execution'
    value: string
  }

  export function encode (obj: Partial<AdvertModel>): Uint8Array {
    return encodeMessage(obj, AdvertModel.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AdvertModel>): AdvertModel {
    return decodeMessage(buf, AdvertModel.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AdvertModel>): Generator<AdvertModelHashFieldEvent | AdvertModelNameFieldEvent | AdvertModelTaskFieldEvent | AdvertModelPricePerUnitFieldEvent | AdvertModelDeterministicFieldEvent | AdvertModelExecutionFieldEvent> {
    return streamMessage(buf, AdvertModel.codec(), opts)
  }
}

export interface AdvertBody {
  peerId: Uint8Array
  provider: string
  providerOwner: string
  models: AdvertModel[]
  capacity: number
  tee: string
  expires: bigint
  seq: bigint
  addrs: Uint8Array[]
  teeEvidence: Uint8Array
}

export namespace AdvertBody {
  let _codec: Codec<AdvertBody>

  export const codec = (): Codec<AdvertBody> => {
    if (_codec == null) {
      _codec = message<AdvertBody>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.peerId != null && obj.peerId.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.peerId)
        }

        if ((obj.provider != null && obj.provider !== '')) {
          w.uint32(18)
          w.string(obj.provider)
        }

        if ((obj.providerOwner != null && obj.providerOwner !== '')) {
          w.uint32(26)
          w.string(obj.providerOwner)
        }

        if (obj.models != null && obj.models.length > 0) {
          for (const value of obj.models) {
            w.uint32(34)
            AdvertModel.codec().encode(value, w)
          }
        }

        if ((obj.capacity != null && obj.capacity !== 0)) {
          w.uint32(40)
          w.uint32(obj.capacity)
        }

        if ((obj.tee != null && obj.tee !== '')) {
          w.uint32(50)
          w.string(obj.tee)
        }

        if ((obj.expires != null && obj.expires !== 0n)) {
          w.uint32(56)
          w.uint64(obj.expires)
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(64)
          w.uint64(obj.seq)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(74)
            w.bytes(value)
          }
        }

        if ((obj.teeEvidence != null && obj.teeEvidence.byteLength > 0)) {
          w.uint32(82)
          w.bytes(obj.teeEvidence)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          peerId: uint8ArrayAlloc(0),
          provider: '',
          providerOwner: '',
          models: [],
          capacity: 0,
          tee: '',
          expires: 0n,
          seq: 0n,
          addrs: [],
          teeEvidence: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.peerId = reader.bytes()
              break
            }
            case 2: {
              obj.provider = reader.string()
              break
            }
            case 3: {
              obj.providerOwner = reader.string()
              break
            }
            case 4: {
              if (opts.limits?.models != null && obj.models.length === opts.limits.models) {
                throw new MaxLengthError('Decode error - repeated field "models" had too many elements')
              }

              obj.models.push(AdvertModel.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.models$
              }))
              break
            }
            case 5: {
              obj.capacity = reader.uint32()
              break
            }
            case 6: {
              obj.tee = reader.string()
              break
            }
            case 7: {
              obj.expires = reader.uint64()
              break
            }
            case 8: {
              obj.seq = reader.uint64()
              break
            }
            case 9: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.bytes())
              break
            }
            case 10: {
              obj.teeEvidence = reader.bytes()
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
        const obj = {
          models: 0,
          addrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.peerId`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.provider`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.providerOwner`,
                value: reader.string()
              }
              break
            }
            case 4: {
              if (opts.limits?.models != null && obj.models === opts.limits.models) {
                throw new MaxLengthError('Streaming decode error - repeated field "models" had too many elements')
              }

              for (const evt of AdvertModel.codec().stream(reader, reader.uint32(), `${prefix}.models[]`, {
                limits: opts.limits?.models$
              })) {
                yield {
                  ...evt,
                  index: obj.models
                }
              }

              obj.models++

              break
            }
            case 5: {
              yield {
                field: `${prefix}.capacity`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.tee`,
                value: reader.string()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.expires`,
                value: reader.uint64()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            case 9: {
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              yield {
                field: `${prefix}.addrs[]`,
                index: obj.addrs,
                value: reader.bytes()
              }

              obj.addrs++

              break
            }
            case 10: {
              yield {
                field: `${prefix}.teeEvidence`,
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

  export interface AdvertBodyPeerIdFieldEvent {
    field: '$.peerId'
    value: Uint8Array
  }

  export interface AdvertBodyProviderFieldEvent {
    field: '$.provider'
    value: string
  }

  export interface AdvertBodyProviderOwnerFieldEvent {
    field: '$.providerOwner'
    value: string
  }

  export interface AdvertBodyModelsHashFieldEvent {
    field: '$.models[].hash'
    value: Uint8Array
    index: number
  }

  export interface AdvertBodyModelsNameFieldEvent {
    field: '$.models[].name'
    value: string
    index: number
  }

  export interface AdvertBodyModelsTaskFieldEvent {
    field: '$.models[].task'
    value: string
    index: number
  }

  export interface AdvertBodyModelsPricePerUnitFieldEvent {
    field: '$.models[].pricePerUnit'
    value: bigint
    index: number
  }

  export interface AdvertBodyModelsDeterministicFieldEvent {
    field: '$.models[].deterministic'
    value: boolean
    index: number
  }

  export interface AdvertBodyModelsExecutionFieldEvent {
    field: '$.models[].execution'
    value: string
    index: number
  }

  export interface AdvertBodyCapacityFieldEvent {
    field: '$.capacity'
    value: number
  }

  export interface AdvertBodyTeeFieldEvent {
    field: '$.tee'
    value: string
  }

  export interface AdvertBodyExpiresFieldEvent {
    field: '$.expires'
    value: bigint
  }

  export interface AdvertBodySeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export interface AdvertBodyAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: Uint8Array
  }

  export interface AdvertBodyTeeEvidenceFieldEvent {
    field: '$.teeEvidence'
    value: Uint8Array
  }

  export function encode (obj: Partial<AdvertBody>): Uint8Array {
    return encodeMessage(obj, AdvertBody.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AdvertBody>): AdvertBody {
    return decodeMessage(buf, AdvertBody.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AdvertBody>): Generator<AdvertBodyPeerIdFieldEvent | AdvertBodyProviderFieldEvent | AdvertBodyProviderOwnerFieldEvent | AdvertBodyModelsHashFieldEvent | AdvertBodyModelsNameFieldEvent | AdvertBodyModelsTaskFieldEvent | AdvertBodyModelsPricePerUnitFieldEvent | AdvertBodyModelsDeterministicFieldEvent | AdvertBodyModelsExecutionFieldEvent | AdvertBodyCapacityFieldEvent | AdvertBodyTeeFieldEvent | AdvertBodyExpiresFieldEvent | AdvertBodySeqFieldEvent | AdvertBodyAddrsFieldEvent | AdvertBodyTeeEvidenceFieldEvent> {
    return streamMessage(buf, AdvertBody.codec(), opts)
  }
}

export interface SignedAdvert {
  body: Uint8Array
  signature: Uint8Array
}

export namespace SignedAdvert {
  let _codec: Codec<SignedAdvert>

  export const codec = (): Codec<SignedAdvert> => {
    if (_codec == null) {
      _codec = message<SignedAdvert>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.body != null && obj.body.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.body)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          body: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.body = reader.bytes()
              break
            }
            case 2: {
              obj.signature = reader.bytes()
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
                field: `${prefix}.body`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.signature`,
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

  export interface SignedAdvertBodyFieldEvent {
    field: '$.body'
    value: Uint8Array
  }

  export interface SignedAdvertSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array
  }

  export function encode (obj: Partial<SignedAdvert>): Uint8Array {
    return encodeMessage(obj, SignedAdvert.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedAdvert>): SignedAdvert {
    return decodeMessage(buf, SignedAdvert.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedAdvert>): Generator<SignedAdvertBodyFieldEvent | SignedAdvertSignatureFieldEvent> {
    return streamMessage(buf, SignedAdvert.codec(), opts)
  }
}

export interface AdvertRequest {
  known: boolean
}

export namespace AdvertRequest {
  let _codec: Codec<AdvertRequest>

  export const codec = (): Codec<AdvertRequest> => {
    if (_codec == null) {
      _codec = message<AdvertRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.known != null && obj.known !== false)) {
          w.uint32(8)
          w.bool(obj.known)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          known: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.known = reader.bool()
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
                field: `${prefix}.known`,
                value: reader.bool()
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

  export interface AdvertRequestKnownFieldEvent {
    field: '$.known'
    value: boolean
  }

  export function encode (obj: Partial<AdvertRequest>): Uint8Array {
    return encodeMessage(obj, AdvertRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AdvertRequest>): AdvertRequest {
    return decodeMessage(buf, AdvertRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AdvertRequest>): Generator<AdvertRequestKnownFieldEvent> {
    return streamMessage(buf, AdvertRequest.codec(), opts)
  }
}

export interface AdvertResponse {
  adverts: SignedAdvert[]
}

export namespace AdvertResponse {
  let _codec: Codec<AdvertResponse>

  export const codec = (): Codec<AdvertResponse> => {
    if (_codec == null) {
      _codec = message<AdvertResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.adverts != null && obj.adverts.length > 0) {
          for (const value of obj.adverts) {
            w.uint32(10)
            SignedAdvert.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          adverts: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.adverts != null && obj.adverts.length === opts.limits.adverts) {
                throw new MaxLengthError('Decode error - repeated field "adverts" had too many elements')
              }

              obj.adverts.push(SignedAdvert.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.adverts$
              }))
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
        const obj = {
          adverts: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.adverts != null && obj.adverts === opts.limits.adverts) {
                throw new MaxLengthError('Streaming decode error - repeated field "adverts" had too many elements')
              }

              for (const evt of SignedAdvert.codec().stream(reader, reader.uint32(), `${prefix}.adverts[]`, {
                limits: opts.limits?.adverts$
              })) {
                yield {
                  ...evt,
                  index: obj.adverts
                }
              }

              obj.adverts++

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

  export interface AdvertResponseAdvertsBodyFieldEvent {
    field: '$.adverts[].body'
    value: Uint8Array
    index: number
  }

  export interface AdvertResponseAdvertsSignatureFieldEvent {
    field: '$.adverts[].signature'
    value: Uint8Array
    index: number
  }

  export function encode (obj: Partial<AdvertResponse>): Uint8Array {
    return encodeMessage(obj, AdvertResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AdvertResponse>): AdvertResponse {
    return decodeMessage(buf, AdvertResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AdvertResponse>): Generator<AdvertResponseAdvertsBodyFieldEvent | AdvertResponseAdvertsSignatureFieldEvent> {
    return streamMessage(buf, AdvertResponse.codec(), opts)
  }
}
