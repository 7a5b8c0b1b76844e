import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export enum DType {
  DTYPE_UNSPECIFIED = 'DTYPE_UNSPECIFIED',
  FLOAT32 = 'FLOAT32',
  INT64 = 'INT64',
  INT32 = 'INT32',
  UINT8 = 'UINT8',
  BOOL = 'BOOL',
  FLOAT64 = 'FLOAT64'
}

enum __DTypeValues {
  DTYPE_UNSPECIFIED = 0,
  FLOAT32 = 1,
  INT64 = 2,
  INT32 = 3,
  UINT8 = 4,
  BOOL = 5,
  FLOAT64 = 6
}

export namespace DType {
  export const codec = (): Codec<DType> => {
    return enumeration<DType>(__DTypeValues)
  }
}

export interface Tensor {
  name: string
  dtype: DType
  dims: bigint[]
  data: Uint8Array
}

export namespace Tensor {
  let _codec: Codec<Tensor>

  export const codec = (): Codec<Tensor> => {
    if (_codec == null) {
      _codec = message<Tensor>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if (obj.dtype != null && __DTypeValues[obj.dtype] !== 0) {
          w.uint32(16)
          DType.codec().encode(obj.dtype, w)
        }

        if (obj.dims != null && obj.dims.length > 0) {
          for (const value of obj.dims) {
            w.uint32(24)
            w.uint64(value)
          }
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.data)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          dtype: DType.DTYPE_UNSPECIFIED,
          dims: [],
          data: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              obj.dtype = DType.codec().decode(reader)
              break
            }
            case 3: {
              if (opts.limits?.dims != null && obj.dims.length === opts.limits.dims) {
                throw new MaxLengthError('Decode error - repeated field "dims" had too many elements')
              }

              obj.dims.push(reader.uint64())
              break
            }
            case 4: {
              obj.data = reader.bytes()
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
          dims: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.dtype`,
                value: DType.codec().decode(reader)
              }
              break
            }
            case 3: {
              if (opts.limits?.dims != null && obj.dims === opts.limits.dims) {
                throw new MaxLengthError('Streaming decode error - repeated field "dims" had too many elements')
              }

              yield {
                field: `${prefix}.dims[]`,
                index: obj.dims,
                value: reader.uint64()
              }

              obj.dims++

              break
            }
            case 4: {
              yield {
                field: `${prefix}.data`,
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

  export interface TensorNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface TensorDtypeFieldEvent {
    field: '$.dtype'
    value: DType
  }

  export interface TensorDimsFieldEvent {
    field: '$.dims[]'
    index: number
    value: bigint
  }

  export interface TensorDataFieldEvent {
    field: '$.data'
    value: Uint8Array
  }

  export function encode (obj: Partial<Tensor>): Uint8Array {
    return encodeMessage(obj, Tensor.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Tensor>): Tensor {
    return decodeMessage(buf, Tensor.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Tensor>): Generator<TensorNameFieldEvent | TensorDtypeFieldEvent | TensorDimsFieldEvent | TensorDataFieldEvent> {
    return streamMessage(buf, Tensor.codec(), opts)
  }
}

export interface Hello {
  channel: string
  signature: Uint8Array
}

export namespace Hello {
  let _codec: Codec<Hello>

  export const codec = (): Codec<Hello> => {
    if (_codec == null) {
      _codec = message<Hello>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.channel != null && obj.channel !== '')) {
          w.uint32(10)
          w.string(obj.channel)
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
          channel: '',
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.channel = reader.string()
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
                field: `${prefix}.channel`,
                value: reader.string()
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

  export interface HelloChannelFieldEvent {
    field: '$.channel'
    value: string
  }

  export interface HelloSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array
  }

  export function encode (obj: Partial<Hello>): Uint8Array {
    return encodeMessage(obj, Hello.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hello>): Hello {
    return decodeMessage(buf, Hello.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hello>): Generator<HelloChannelFieldEvent | HelloSignatureFieldEvent> {
    return streamMessage(buf, Hello.codec(), opts)
  }
}

export interface ModelInfo {
  name: string
  hash: Uint8Array
  task: string
  pricePerUnit: bigint
  deterministic: boolean
  execution: string
}

export namespace ModelInfo {
  let _codec: Codec<ModelInfo>

  export const codec = (): Codec<ModelInfo> => {
    if (_codec == null) {
      _codec = message<ModelInfo>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if ((obj.hash != null && obj.hash.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.hash)
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
          name: '',
          hash: uint8ArrayAlloc(0),
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
              obj.name = reader.string()
              break
            }
            case 2: {
              obj.hash = reader.bytes()
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
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.hash`,
                value: reader.bytes()
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

  export interface ModelInfoNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface ModelInfoHashFieldEvent {
    field: '$.hash'
    value: Uint8Array
  }

  export interface ModelInfoTaskFieldEvent {
    field: '$.task'
    value: string
  }

  export interface ModelInfoPricePerUnitFieldEvent {
    field: '$.pricePerUnit'
    value: bigint
  }

  export interface ModelInfoDeterministicFieldEvent {
    field: '$.deterministic'
    value: boolean
  }

  export interface ModelInfoExecutionFieldEvent {
    field: '$.execution'
    value: string
  }

  export function encode (obj: Partial<ModelInfo>): Uint8Array {
    return encodeMessage(obj, ModelInfo.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ModelInfo>): ModelInfo {
    return decodeMessage(buf, ModelInfo.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ModelInfo>): Generator<ModelInfoNameFieldEvent | ModelInfoHashFieldEvent | ModelInfoTaskFieldEvent | ModelInfoPricePerUnitFieldEvent | ModelInfoDeterministicFieldEvent | ModelInfoExecutionFieldEvent> {
    return streamMessage(buf, ModelInfo.codec(), opts)
  }
}

export interface OwedReceipt {
  receipt: Uint8Array
  signature: Uint8Array
}

export namespace OwedReceipt {
  let _codec: Codec<OwedReceipt>

  export const codec = (): Codec<OwedReceipt> => {
    if (_codec == null) {
      _codec = message<OwedReceipt>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.receipt != null && obj.receipt.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.receipt)
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
          receipt: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.receipt = reader.bytes()
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
                field: `${prefix}.receipt`,
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

  export interface OwedReceiptReceiptFieldEvent {
    field: '$.receipt'
    value: Uint8Array
  }

  export interface OwedReceiptSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array
  }

  export function encode (obj: Partial<OwedReceipt>): Uint8Array {
    return encodeMessage(obj, OwedReceipt.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<OwedReceipt>): OwedReceipt {
    return decodeMessage(buf, OwedReceipt.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<OwedReceipt>): Generator<OwedReceiptReceiptFieldEvent | OwedReceiptSignatureFieldEvent> {
    return streamMessage(buf, OwedReceipt.codec(), opts)
  }
}

export interface Welcome {
  providerOwner: string
  provider: string
  models: ModelInfo[]
  credit: bigint
  lastVoucher: Uint8Array
  lastVoucherSig: Uint8Array
  nonce: Uint8Array
  owed: OwedReceipt[]
}

export namespace Welcome {
  let _codec: Codec<Welcome>

  export const codec = (): Codec<Welcome> => {
    if (_codec == null) {
      _codec = message<Welcome>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.providerOwner != null && obj.providerOwner !== '')) {
          w.uint32(10)
          w.string(obj.providerOwner)
        }

        if ((obj.provider != null && obj.provider !== '')) {
          w.uint32(18)
          w.string(obj.provider)
        }

        if (obj.models != null && obj.models.length > 0) {
          for (const value of obj.models) {
            w.uint32(26)
            ModelInfo.codec().encode(value, w)
          }
        }

        if ((obj.credit != null && obj.credit !== 0n)) {
          w.uint32(32)
          w.uint64(obj.credit)
        }

        if ((obj.lastVoucher != null && obj.lastVoucher.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.lastVoucher)
        }

        if ((obj.lastVoucherSig != null && obj.lastVoucherSig.byteLength > 0)) {
          w.uint32(50)
          w.bytes(obj.lastVoucherSig)
        }

        if ((obj.nonce != null && obj.nonce.byteLength > 0)) {
          w.uint32(58)
          w.bytes(obj.nonce)
        }

        if (obj.owed != null && obj.owed.length > 0) {
          for (const value of obj.owed) {
            w.uint32(66)
            OwedReceipt.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          providerOwner: '',
          provider: '',
          models: [],
          credit: 0n,
          lastVoucher: uint8ArrayAlloc(0),
          lastVoucherSig: uint8ArrayAlloc(0),
          nonce: uint8ArrayAlloc(0),
          owed: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.providerOwner = reader.string()
              break
            }
            case 2: {
              obj.provider = reader.string()
              break
            }
            case 3: {
              if (opts.limits?.models != null && obj.models.length === opts.limits.models) {
                throw new MaxLengthError('Decode error - repeated field "models" had too many elements')
              }

              obj.models.push(ModelInfo.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.models$
              }))
              break
            }
            case 4: {
              obj.credit = reader.uint64()
              break
            }
            case 5: {
              obj.lastVoucher = reader.bytes()
              break
            }
            case 6: {
              obj.lastVoucherSig = reader.bytes()
              break
            }
            case 7: {
              obj.nonce = reader.bytes()
              break
            }
            case 8: {
              if (opts.limits?.owed != null && obj.owed.length === opts.limits.owed) {
                throw new MaxLengthError('Decode error - repeated field "owed" had too many elements')
              }

              obj.owed.push(OwedReceipt.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.owed$
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
          models: 0,
          owed: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.providerOwner`,
                value: reader.string()
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
              if (opts.limits?.models != null && obj.models === opts.limits.models) {
                throw new MaxLengthError('Streaming decode error - repeated field "models" had too many elements')
              }

              for (const evt of ModelInfo.codec().stream(reader, reader.uint32(), `${prefix}.models[]`, {
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
            case 4: {
              yield {
                field: `${prefix}.credit`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.lastVoucher`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.lastVoucherSig`,
                value: reader.bytes()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.nonce`,
                value: reader.bytes()
              }
              break
            }
            case 8: {
              if (opts.limits?.owed != null && obj.owed === opts.limits.owed) {
                throw new MaxLengthError('Streaming decode error - repeated field "owed" had too many elements')
              }

              for (const evt of OwedReceipt.codec().stream(reader, reader.uint32(), `${prefix}.owed[]`, {
                limits: opts.limits?.owed$
              })) {
                yield {
                  ...evt,
                  index: obj.owed
                }
              }

              obj.owed++

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

  export interface WelcomeProviderOwnerFieldEvent {
    field: '$.providerOwner'
    value: string
  }

  export interface WelcomeProviderFieldEvent {
    field: '$.provider'
    value: string
  }

  export interface WelcomeModelsNameFieldEvent {
    field: '$.models[].name'
    value: string
    index: number
  }

  export interface WelcomeModelsHashFieldEvent {
    field: '$.models[].hash'
    value: Uint8Array
    index: number
  }

  export interface WelcomeModelsTaskFieldEvent {
    field: '$.models[].task'
    value: string
    index: number
  }

  export interface WelcomeModelsPricePerUnitFieldEvent {
    field: '$.models[].pricePerUnit'
    value: bigint
    index: number
  }

  export interface WelcomeModelsDeterministicFieldEvent {
    field: '$.models[].deterministic'
    value: boolean
    index: number
  }

  export interface WelcomeModelsExecutionFieldEvent {
    field: '$.models[].execution'
    value: string
    index: number
  }

  export interface WelcomeCreditFieldEvent {
    field: '$.credit'
    value: bigint
  }

  export interface WelcomeLastVoucherFieldEvent {
    field: '$.lastVoucher'
    value: Uint8Array
  }

  export interface WelcomeLastVoucherSigFieldEvent {
    field: '$.lastVoucherSig'
    value: Uint8Array
  }

  export interface WelcomeNonceFieldEvent {
    field: '$.nonce'
    value: Uint8Array
  }

  export interface WelcomeOwedReceiptFieldEvent {
    field: '$.owed[].receipt'
    value: Uint8Array
    index: number
  }

  export interface WelcomeOwedSignatureFieldEvent {
    field: '$.owed[].signature'
    value: Uint8Array
    index: number
  }

  export function encode (obj: Partial<Welcome>): Uint8Array {
    return encodeMessage(obj, Welcome.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Welcome>): Welcome {
    return decodeMessage(buf, Welcome.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Welcome>): Generator<WelcomeProviderOwnerFieldEvent | WelcomeProviderFieldEvent | WelcomeModelsNameFieldEvent | WelcomeModelsHashFieldEvent | WelcomeModelsTaskFieldEvent | WelcomeModelsPricePerUnitFieldEvent | WelcomeModelsDeterministicFieldEvent | WelcomeModelsExecutionFieldEvent | WelcomeCreditFieldEvent | WelcomeLastVoucherFieldEvent | WelcomeLastVoucherSigFieldEvent | WelcomeNonceFieldEvent | WelcomeOwedReceiptFieldEvent | WelcomeOwedSignatureFieldEvent> {
    return streamMessage(buf, Welcome.codec(), opts)
  }
}

export interface ChatMessage {
  role: string
  content: string
}

export namespace ChatMessage {
  let _codec: Codec<ChatMessage>

  export const codec = (): Codec<ChatMessage> => {
    if (_codec == null) {
      _codec = message<ChatMessage>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.role != null && obj.role !== '')) {
          w.uint32(10)
          w.string(obj.role)
        }

        if ((obj.content != null && obj.content !== '')) {
          w.uint32(18)
          w.string(obj.content)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          role: '',
          content: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.role = reader.string()
              break
            }
            case 2: {
              obj.content = reader.string()
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
                field: `${prefix}.role`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.content`,
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

  export interface ChatMessageRoleFieldEvent {
    field: '$.role'
    value: string
  }

  export interface ChatMessageContentFieldEvent {
    field: '$.content'
    value: string
  }

  export function encode (obj: Partial<ChatMessage>): Uint8Array {
    return encodeMessage(obj, ChatMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChatMessage>): ChatMessage {
    return decodeMessage(buf, ChatMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChatMessage>): Generator<ChatMessageRoleFieldEvent | ChatMessageContentFieldEvent> {
    return streamMessage(buf, ChatMessage.codec(), opts)
  }
}

export interface JobRequest {
  jobId: bigint
  modelHash: Uint8Array
  inputs: Tensor[]
  texts: string[]
  messages: ChatMessage[]
  prompt?: string
  maxNewTokens?: number
  stream?: boolean
}

export namespace JobRequest {
  let _codec: Codec<JobRequest>

  export const codec = (): Codec<JobRequest> => {
    if (_codec == null) {
      _codec = message<JobRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.jobId != null && obj.jobId !== 0n)) {
          w.uint32(8)
          w.uint64(obj.jobId)
        }

        if ((obj.modelHash != null && obj.modelHash.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.modelHash)
        }

        if (obj.inputs != null && obj.inputs.length > 0) {
          for (const value of obj.inputs) {
            w.uint32(26)
            Tensor.codec().encode(value, w)
          }
        }

        if (obj.texts != null && obj.texts.length > 0) {
          for (const value of obj.texts) {
            w.uint32(34)
            w.string(value)
          }
        }

        if (obj.messages != null && obj.messages.length > 0) {
          for (const value of obj.messages) {
            w.uint32(42)
            ChatMessage.codec().encode(value, w)
          }
        }

        if (obj.prompt != null) {
          w.uint32(50)
          w.string(obj.prompt)
        }

        if (obj.maxNewTokens != null) {
          w.uint32(56)
          w.uint32(obj.maxNewTokens)
        }

        if (obj.stream != null) {
          w.uint32(64)
          w.bool(obj.stream)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          jobId: 0n,
          modelHash: uint8ArrayAlloc(0),
          inputs: [],
          texts: [],
          messages: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.jobId = reader.uint64()
              break
            }
            case 2: {
              obj.modelHash = reader.bytes()
              break
            }
            case 3: {
              if (opts.limits?.inputs != null && obj.inputs.length === opts.limits.inputs) {
                throw new MaxLengthError('Decode error - repeated field "inputs" had too many elements')
              }

              obj.inputs.push(Tensor.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.inputs$
              }))
              break
            }
            case 4: {
              if (opts.limits?.texts != null && obj.texts.length === opts.limits.texts) {
                throw new MaxLengthError('Decode error - repeated field "texts" had too many elements')
              }

              obj.texts.push(reader.string())
              break
            }
            case 5: {
              if (opts.limits?.messages != null && obj.messages.length === opts.limits.messages) {
                throw new MaxLengthError('Decode error - repeated field "messages" had too many elements')
              }

              obj.messages.push(ChatMessage.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.messages$
              }))
              break
            }
            case 6: {
              obj.prompt = reader.string()
              break
            }
            case 7: {
              obj.maxNewTokens = reader.uint32()
              break
            }
            case 8: {
              obj.stream = reader.bool()
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
          inputs: 0,
          texts: 0,
          messages: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.jobId`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.modelHash`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              if (opts.limits?.inputs != null && obj.inputs === opts.limits.inputs) {
                throw new MaxLengthError('Streaming decode error - repeated field "inputs" had too many elements')
              }

              for (const evt of Tensor.codec().stream(reader, reader.uint32(), `${prefix}.inputs[]`, {
                limits: opts.limits?.inputs$
              })) {
                yield {
                  ...evt,
                  index: obj.inputs
                }
              }

              obj.inputs++

              break
            }
            case 4: {
              if (opts.limits?.texts != null && obj.texts === opts.limits.texts) {
                throw new MaxLengthError('Streaming decode error - repeated field "texts" had too many elements')
              }

              yield {
                field: `${prefix}.texts[]`,
                index: obj.texts,
                value: reader.string()
              }

              obj.texts++

              break
            }
            case 5: {
              if (opts.limits?.messages != null && obj.messages === opts.limits.messages) {
                throw new MaxLengthError('Streaming decode error - repeated field "messages" had too many elements')
              }

              for (const evt of ChatMessage.codec().stream(reader, reader.uint32(), `${prefix}.messages[]`, {
                limits: opts.limits?.messages$
              })) {
                yield {
                  ...evt,
                  index: obj.messages
                }
              }

              obj.messages++

              break
            }
            case 6: {
              yield {
                field: `${prefix}.prompt`,
                value: reader.string()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.maxNewTokens`,
                value: reader.uint32()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.stream`,
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

  export interface JobRequestJobIdFieldEvent {
    field: '$.jobId'
    value: bigint
  }

  export interface JobRequestModelHashFieldEvent {
    field: '$.modelHash'
    value: Uint8Array
  }

  export interface JobRequestInputsNameFieldEvent {
    field: '$.inputs[].name'
    value: string
    index: number
  }

  export interface JobRequestInputsDtypeFieldEvent {
    field: '$.inputs[].dtype'
    value: DType
    index: number
  }

  export interface JobRequestInputsDimsFieldEvent {
    field: '$.inputs[].dims[]'
    index: number
    value: bigint
  }

  export interface JobRequestInputsDataFieldEvent {
    field: '$.inputs[].data'
    value: Uint8Array
    index: number
  }

  export interface JobRequestTextsFieldEvent {
    field: '$.texts[]'
    index: number
    value: string
  }

  export interface JobRequestMessagesRoleFieldEvent {
    field: '$.messages[].role'
    value: string
    index: number
  }

  export interface JobRequestMessagesContentFieldEvent {
    field: '$.messages[].content'
    value: string
    index: number
  }

  export interface JobRequestPromptFieldEvent {
    field: '$.prompt'
    value: string
  }

  export interface JobRequestMaxNewTokensFieldEvent {
    field: '$.maxNewTokens'
    value: number
  }

  export interface JobRequestStreamFieldEvent {
    field: '$.stream'
    value: boolean
  }

  export function encode (obj: Partial<JobRequest>): Uint8Array {
    return encodeMessage(obj, JobRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JobRequest>): JobRequest {
    return decodeMessage(buf, JobRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JobRequest>): Generator<JobRequestJobIdFieldEvent | JobRequestModelHashFieldEvent | JobRequestInputsNameFieldEvent | JobRequestInputsDtypeFieldEvent | JobRequestInputsDimsFieldEvent | JobRequestInputsDataFieldEvent | JobRequestTextsFieldEvent | JobRequestMessagesRoleFieldEvent | JobRequestMessagesContentFieldEvent | JobRequestPromptFieldEvent | JobRequestMaxNewTokensFieldEvent | JobRequestStreamFieldEvent> {
    return streamMessage(buf, JobRequest.codec(), opts)
  }
}

export interface Label {
  label: string
  score: number
}

export namespace Label {
  let _codec: Codec<Label>

  export const codec = (): Codec<Label> => {
    if (_codec == null) {
      _codec = message<Label>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.label != null && obj.label !== '')) {
          w.uint32(10)
          w.string(obj.label)
        }

        if ((obj.score != null && obj.score !== 0)) {
          w.uint32(17)
          w.double(obj.score)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          label: '',
          score: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.label = reader.string()
              break
            }
            case 2: {
              obj.score = reader.double()
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
                field: `${prefix}.label`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.score`,
                value: reader.double()
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

  export interface LabelLabelFieldEvent {
    field: '$.label'
    value: string
  }

  export interface LabelScoreFieldEvent {
    field: '$.score'
    value: number
  }

  export function encode (obj: Partial<Label>): Uint8Array {
    return encodeMessage(obj, Label.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Label>): Label {
    return decodeMessage(buf, Label.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Label>): Generator<LabelLabelFieldEvent | LabelScoreFieldEvent> {
    return streamMessage(buf, Label.codec(), opts)
  }
}

export interface LabelSet {
  labels: Label[]
}

export namespace LabelSet {
  let _codec: Codec<LabelSet>

  export const codec = (): Codec<LabelSet> => {
    if (_codec == null) {
      _codec = message<LabelSet>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.labels != null && obj.labels.length > 0) {
          for (const value of obj.labels) {
            w.uint32(10)
            Label.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          labels: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.labels != null && obj.labels.length === opts.limits.labels) {
                throw new MaxLengthError('Decode error - repeated field "labels" had too many elements')
              }

              obj.labels.push(Label.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.labels$
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
          labels: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.labels != null && obj.labels === opts.limits.labels) {
                throw new MaxLengthError('Streaming decode error - repeated field "labels" had too many elements')
              }

              for (const evt of Label.codec().stream(reader, reader.uint32(), `${prefix}.labels[]`, {
                limits: opts.limits?.labels$
              })) {
                yield {
                  ...evt,
                  index: obj.labels
                }
              }

              obj.labels++

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

  export interface LabelSetLabelsLabelFieldEvent {
    field: '$.labels[].label'
    value: string
    index: number
  }

  export interface LabelSetLabelsScoreFieldEvent {
    field: '$.labels[].score'
    value: number
    index: number
  }

  export function encode (obj: Partial<LabelSet>): Uint8Array {
    return encodeMessage(obj, LabelSet.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<LabelSet>): LabelSet {
    return decodeMessage(buf, LabelSet.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<LabelSet>): Generator<LabelSetLabelsLabelFieldEvent | LabelSetLabelsScoreFieldEvent> {
    return streamMessage(buf, LabelSet.codec(), opts)
  }
}

export interface PartialOutput {
  jobId: bigint
  text: string
}

export namespace PartialOutput {
  let _codec: Codec<PartialOutput>

  export const codec = (): Codec<PartialOutput> => {
    if (_codec == null) {
      _codec = message<PartialOutput>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.jobId != null && obj.jobId !== 0n)) {
          w.uint32(8)
          w.uint64(obj.jobId)
        }

        if ((obj.text != null && obj.text !== '')) {
          w.uint32(18)
          w.string(obj.text)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          jobId: 0n,
          text: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.jobId = reader.uint64()
              break
            }
            case 2: {
              obj.text = reader.string()
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
                field: `${prefix}.jobId`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.text`,
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

  export interface PartialOutputJobIdFieldEvent {
    field: '$.jobId'
    value: bigint
  }

  export interface PartialOutputTextFieldEvent {
    field: '$.text'
    value: string
  }

  export function encode (obj: Partial<PartialOutput>): Uint8Array {
    return encodeMessage(obj, PartialOutput.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PartialOutput>): PartialOutput {
    return decodeMessage(buf, PartialOutput.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PartialOutput>): Generator<PartialOutputJobIdFieldEvent | PartialOutputTextFieldEvent> {
    return streamMessage(buf, PartialOutput.codec(), opts)
  }
}

export interface Cancel {
  jobId: bigint
}

export namespace Cancel {
  let _codec: Codec<Cancel>

  export const codec = (): Codec<Cancel> => {
    if (_codec == null) {
      _codec = message<Cancel>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.jobId != null && obj.jobId !== 0n)) {
          w.uint32(8)
          w.uint64(obj.jobId)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          jobId: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.jobId = reader.uint64()
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
                field: `${prefix}.jobId`,
                value: reader.uint64()
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

  export interface CancelJobIdFieldEvent {
    field: '$.jobId'
    value: bigint
  }

  export function encode (obj: Partial<Cancel>): Uint8Array {
    return encodeMessage(obj, Cancel.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Cancel>): Cancel {
    return decodeMessage(buf, Cancel.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Cancel>): Generator<CancelJobIdFieldEvent> {
    return streamMessage(buf, Cancel.codec(), opts)
  }
}

export interface JobResult {
  jobId: bigint
  outputs: Tensor[]
  receipt: Uint8Array
  signature: Uint8Array
  text?: string
  tokens?: number
  labels: LabelSet[]
}

export namespace JobResult {
  let _codec: Codec<JobResult>

  export const codec = (): Codec<JobResult> => {
    if (_codec == null) {
      _codec = message<JobResult>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.jobId != null && obj.jobId !== 0n)) {
          w.uint32(8)
          w.uint64(obj.jobId)
        }

        if (obj.outputs != null && obj.outputs.length > 0) {
          for (const value of obj.outputs) {
            w.uint32(18)
            Tensor.codec().encode(value, w)
          }
        }

        if ((obj.receipt != null && obj.receipt.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.receipt)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.signature)
        }

        if (obj.text != null) {
          w.uint32(42)
          w.string(obj.text)
        }

        if (obj.tokens != null) {
          w.uint32(48)
          w.uint32(obj.tokens)
        }

        if (obj.labels != null && obj.labels.length > 0) {
          for (const value of obj.labels) {
            w.uint32(58)
            LabelSet.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          jobId: 0n,
          outputs: [],
          receipt: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0),
          labels: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.jobId = reader.uint64()
              break
            }
            case 2: {
              if (opts.limits?.outputs != null && obj.outputs.length === opts.limits.outputs) {
                throw new MaxLengthError('Decode error - repeated field "outputs" had too many elements')
              }

              obj.outputs.push(Tensor.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.outputs$
              }))
              break
            }
            case 3: {
              obj.receipt = reader.bytes()
              break
            }
            case 4: {
              obj.signature = reader.bytes()
              break
            }
            case 5: {
              obj.text = reader.string()
              break
            }
            case 6: {
              obj.tokens = reader.uint32()
              break
            }
            case 7: {
              if (opts.limits?.labels != null && obj.labels.length === opts.limits.labels) {
                throw new MaxLengthError('Decode error - repeated field "labels" had too many elements')
              }

              obj.labels.push(LabelSet.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.labels$
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
          outputs: 0,
          labels: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.jobId`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              if (opts.limits?.outputs != null && obj.outputs === opts.limits.outputs) {
                throw new MaxLengthError('Streaming decode error - repeated field "outputs" had too many elements')
              }

              for (const evt of Tensor.codec().stream(reader, reader.uint32(), `${prefix}.outputs[]`, {
                limits: opts.limits?.outputs$
              })) {
                yield {
                  ...evt,
                  index: obj.outputs
                }
              }

              obj.outputs++

              break
            }
            case 3: {
              yield {
                field: `${prefix}.receipt`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.signature`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.text`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.tokens`,
                value: reader.uint32()
              }
              break
            }
            case 7: {
              if (opts.limits?.labels != null && obj.labels === opts.limits.labels) {
                throw new MaxLengthError('Streaming decode error - repeated field "labels" had too many elements')
              }

              for (const evt of LabelSet.codec().stream(reader, reader.uint32(), `${prefix}.labels[]`, {
                limits: opts.limits?.labels$
              })) {
                yield {
                  ...evt,
                  index: obj.labels
                }
              }

              obj.labels++

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

  export interface JobResultJobIdFieldEvent {
    field: '$.jobId'
    value: bigint
  }

  export interface JobResultOutputsNameFieldEvent {
    field: '$.outputs[].name'
    value: string
    index: number
  }

  export interface JobResultOutputsDtypeFieldEvent {
    field: '$.outputs[].dtype'
    value: DType
    index: number
  }

  export interface JobResultOutputsDimsFieldEvent {
    field: '$.outputs[].dims[]'
    index: number
    value: bigint
  }

  export interface JobResultOutputsDataFieldEvent {
    field: '$.outputs[].data'
    value: Uint8Array
    index: number
  }

  export interface JobResultReceiptFieldEvent {
    field: '$.receipt'
    value: Uint8Array
  }

  export interface JobResultSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array
  }

  export interface JobResultTextFieldEvent {
    field: '$.text'
    value: string
  }

  export interface JobResultTokensFieldEvent {
    field: '$.tokens'
    value: number
  }

  export interface JobResultLabelsLabelsLabelFieldEvent {
    field: '$.labels[].labels[].label'
    value: string
    index: number
  }

  export interface JobResultLabelsLabelsScoreFieldEvent {
    field: '$.labels[].labels[].score'
    value: number
    index: number
  }

  export function encode (obj: Partial<JobResult>): Uint8Array {
    return encodeMessage(obj, JobResult.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JobResult>): JobResult {
    return decodeMessage(buf, JobResult.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<JobResult>): Generator<JobResultJobIdFieldEvent | JobResultOutputsNameFieldEvent | JobResultOutputsDtypeFieldEvent | JobResultOutputsDimsFieldEvent | JobResultOutputsDataFieldEvent | JobResultReceiptFieldEvent | JobResultSignatureFieldEvent | JobResultTextFieldEvent | JobResultTokensFieldEvent | JobResultLabelsLabelsLabelFieldEvent | JobResultLabelsLabelsScoreFieldEvent> {
    return streamMessage(buf, JobResult.codec(), opts)
  }
}

export interface VoucherFrame {
  voucher: Uint8Array
  signature: Uint8Array
}

export namespace VoucherFrame {
  let _codec: Codec<VoucherFrame>

  export const codec = (): Codec<VoucherFrame> => {
    if (_codec == null) {
      _codec = message<VoucherFrame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.voucher != null && obj.voucher.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.voucher)
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
          voucher: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.voucher = reader.bytes()
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
                field: `${prefix}.voucher`,
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

  export interface VoucherFrameVoucherFieldEvent {
    field: '$.voucher'
    value: Uint8Array
  }

  export interface VoucherFrameSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array
  }

  export function encode (obj: Partial<VoucherFrame>): Uint8Array {
    return encodeMessage(obj, VoucherFrame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<VoucherFrame>): VoucherFrame {
    return decodeMessage(buf, VoucherFrame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<VoucherFrame>): Generator<VoucherFrameVoucherFieldEvent | VoucherFrameSignatureFieldEvent> {
    return streamMessage(buf, VoucherFrame.codec(), opts)
  }
}

export interface VoucherAck {
  seqno: number
}

export namespace VoucherAck {
  let _codec: Codec<VoucherAck>

  export const codec = (): Codec<VoucherAck> => {
    if (_codec == null) {
      _codec = message<VoucherAck>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.seqno != null && obj.seqno !== 0)) {
          w.uint32(8)
          w.uint32(obj.seqno)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          seqno: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.seqno = reader.uint32()
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
                field: `${prefix}.seqno`,
                value: reader.uint32()
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

  export interface VoucherAckSeqnoFieldEvent {
    field: '$.seqno'
    value: number
  }

  export function encode (obj: Partial<VoucherAck>): Uint8Array {
    return encodeMessage(obj, VoucherAck.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<VoucherAck>): VoucherAck {
    return decodeMessage(buf, VoucherAck.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<VoucherAck>): Generator<VoucherAckSeqnoFieldEvent> {
    return streamMessage(buf, VoucherAck.codec(), opts)
  }
}

export interface ErrorFrame {
  jobId: bigint
  code: string
  message: string
}

export namespace ErrorFrame {
  let _codec: Codec<ErrorFrame>

  export const codec = (): Codec<ErrorFrame> => {
    if (_codec == null) {
      _codec = message<ErrorFrame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.jobId != null && obj.jobId !== 0n)) {
          w.uint32(8)
          w.uint64(obj.jobId)
        }

        if ((obj.code != null && obj.code !== '')) {
          w.uint32(18)
          w.string(obj.code)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(26)
          w.string(obj.message)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          jobId: 0n,
          code: '',
          message: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.jobId = reader.uint64()
              break
            }
            case 2: {
              obj.code = reader.string()
              break
            }
            case 3: {
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
                field: `${prefix}.jobId`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.code`,
                value: reader.string()
              }
              break
            }
            case 3: {
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

  export interface ErrorFrameJobIdFieldEvent {
    field: '$.jobId'
    value: bigint
  }

  export interface ErrorFrameCodeFieldEvent {
    field: '$.code'
    value: string
  }

  export interface ErrorFrameMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export function encode (obj: Partial<ErrorFrame>): Uint8Array {
    return encodeMessage(obj, ErrorFrame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ErrorFrame>): ErrorFrame {
    return decodeMessage(buf, ErrorFrame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ErrorFrame>): Generator<ErrorFrameJobIdFieldEvent | ErrorFrameCodeFieldEvent | ErrorFrameMessageFieldEvent> {
    return streamMessage(buf, ErrorFrame.codec(), opts)
  }
}

export interface Frame {
  hello?: Hello
  welcome?: Welcome
  job?: JobRequest
  result?: JobResult
  voucher?: VoucherFrame
  voucherAck?: VoucherAck
  error?: ErrorFrame
  partial?: PartialOutput
  cancel?: Cancel
}

export namespace Frame {
  let _codec: Codec<Frame>

  export const codec = (): Codec<Frame> => {
    if (_codec == null) {
      _codec = message<Frame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.hello != null) {
          w.uint32(10)
          Hello.codec().encode(obj.hello, w)
        }

        if (obj.welcome != null) {
          w.uint32(18)
          Welcome.codec().encode(obj.welcome, w)
        }

        if (obj.job != null) {
          w.uint32(26)
          JobRequest.codec().encode(obj.job, w)
        }

        if (obj.result != null) {
          w.uint32(34)
          JobResult.codec().encode(obj.result, w)
        }

        if (obj.voucher != null) {
          w.uint32(42)
          VoucherFrame.codec().encode(obj.voucher, w)
        }

        if (obj.voucherAck != null) {
          w.uint32(50)
          VoucherAck.codec().encode(obj.voucherAck, w)
        }

        if (obj.error != null) {
          w.uint32(58)
          ErrorFrame.codec().encode(obj.error, w)
        }

        if (obj.partial != null) {
          w.uint32(66)
          PartialOutput.codec().encode(obj.partial, w)
        }

        if (obj.cancel != null) {
          w.uint32(74)
          Cancel.codec().encode(obj.cancel, w)
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
              obj.hello = Hello.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.hello
              })
              break
            }
            case 2: {
              obj.welcome = Welcome.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.welcome
              })
              break
            }
            case 3: {
              obj.job = JobRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.job
              })
              break
            }
            case 4: {
              obj.result = JobResult.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.result
              })
              break
            }
            case 5: {
              obj.voucher = VoucherFrame.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.voucher
              })
              break
            }
            case 6: {
              obj.voucherAck = VoucherAck.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.voucherAck
              })
              break
            }
            case 7: {
              obj.error = ErrorFrame.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.error
              })
              break
            }
            case 8: {
              obj.partial = PartialOutput.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.partial
              })
              break
            }
            case 9: {
              obj.cancel = Cancel.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.cancel
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
              yield * Hello.codec().stream(reader, reader.uint32(), `${prefix}.hello`, {
                limits: opts.limits?.hello
              })

              break
            }
            case 2: {
              yield * Welcome.codec().stream(reader, reader.uint32(), `${prefix}.welcome`, {
                limits: opts.limits?.welcome
              })

              break
            }
            case 3: {
              yield * JobRequest.codec().stream(reader, reader.uint32(), `${prefix}.job`, {
                limits: opts.limits?.job
              })

              break
            }
            case 4: {
              yield * JobResult.codec().stream(reader, reader.uint32(), `${prefix}.result`, {
                limits: opts.limits?.result
              })

              break
            }
            case 5: {
              yield * VoucherFrame.codec().stream(reader, reader.uint32(), `${prefix}.voucher`, {
                limits: opts.limits?.voucher
              })

              break
            }
            case 6: {
              yield * VoucherAck.codec().stream(reader, reader.uint32(), `${prefix}.voucherAck`, {
                limits: opts.limits?.voucherAck
              })

              break
            }
            case 7: {
              yield * ErrorFrame.codec().stream(reader, reader.uint32(), `${prefix}.error`, {
                limits: opts.limits?.error
              })

              break
            }
            case 8: {
              yield * PartialOutput.codec().stream(reader, reader.uint32(), `${prefix}.partial`, {
                limits: opts.limits?.partial
              })

              break
            }
            case 9: {
              yield * Cancel.codec().stream(reader, reader.uint32(), `${prefix}.cancel`, {
                limits: opts.limits?.cancel
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

  export interface FrameHelloChannelFieldEvent {
    field: '$.hello.channel'
    value: string
  }

  export interface FrameHelloSignatureFieldEvent {
    field: '$.hello.signature'
    value: Uint8Array
  }

  export interface FrameWelcomeProviderOwnerFieldEvent {
    field: '$.welcome.providerOwner'
    value: string
  }

  export interface FrameWelcomeProviderFieldEvent {
    field: '$.welcome.provider'
    value: string
  }

  export interface FrameWelcomeModelsNameFieldEvent {
    field: '$.welcome.models[].name'
    value: string
    index: number
  }

  export interface FrameWelcomeModelsHashFieldEvent {
    field: '$.welcome.models[].hash'
    value: Uint8Array
    index: number
  }

  export interface FrameWelcomeModelsTaskFieldEvent {
    field: '$.welcome.models[].task'
    value: string
    index: number
  }

  export interface FrameWelcomeModelsPricePerUnitFieldEvent {
    field: '$.welcome.models[].pricePerUnit'
    value: bigint
    index: number
  }

  export interface FrameWelcomeModelsDeterministicFieldEvent {
    field: '$.welcome.models[].deterministic'
    value: boolean
    index: number
  }

  export interface FrameWelcomeModelsExecutionFieldEvent {
    field: '$.welcome.models[].execution'
    value: string
    index: number
  }

  export interface FrameWelcomeCreditFieldEvent {
    field: '$.welcome.credit'
    value: bigint
  }

  export interface FrameWelcomeLastVoucherFieldEvent {
    field: '$.welcome.lastVoucher'
    value: Uint8Array
  }

  export interface FrameWelcomeLastVoucherSigFieldEvent {
    field: '$.welcome.lastVoucherSig'
    value: Uint8Array
  }

  export interface FrameWelcomeNonceFieldEvent {
    field: '$.welcome.nonce'
    value: Uint8Array
  }

  export interface FrameWelcomeOwedReceiptFieldEvent {
    field: '$.welcome.owed[].receipt'
    value: Uint8Array
    index: number
  }

  export interface FrameWelcomeOwedSignatureFieldEvent {
    field: '$.welcome.owed[].signature'
    value: Uint8Array
    index: number
  }

  export interface FrameJobJobIdFieldEvent {
    field: '$.job.jobId'
    value: bigint
  }

  export interface FrameJobModelHashFieldEvent {
    field: '$.job.modelHash'
    value: Uint8Array
  }

  export interface FrameJobInputsNameFieldEvent {
    field: '$.job.inputs[].name'
    value: string
    index: number
  }

  export interface FrameJobInputsDtypeFieldEvent {
    field: '$.job.inputs[].dtype'
    value: DType
    index: number
  }

  export interface FrameJobInputsDimsFieldEvent {
    field: '$.job.inputs[].dims[]'
    index: number
    value: bigint
  }

  export interface FrameJobInputsDataFieldEvent {
    field: '$.job.inputs[].data'
    value: Uint8Array
    index: number
  }

  export interface FrameJobTextsFieldEvent {
    field: '$.job.texts[]'
    index: number
    value: string
  }

  export interface FrameJobMessagesRoleFieldEvent {
    field: '$.job.messages[].role'
    value: string
    index: number
  }

  export interface FrameJobMessagesContentFieldEvent {
    field: '$.job.messages[].content'
    value: string
    index: number
  }

  export interface FrameJobPromptFieldEvent {
    field: '$.job.prompt'
    value: string
  }

  export interface FrameJobMaxNewTokensFieldEvent {
    field: '$.job.maxNewTokens'
    value: number
  }

  export interface FrameJobStreamFieldEvent {
    field: '$.job.stream'
    value: boolean
  }

  export interface FrameResultJobIdFieldEvent {
    field: '$.result.jobId'
    value: bigint
  }

  export interface FrameResultOutputsNameFieldEvent {
    field: '$.result.outputs[].name'
    value: string
    index: number
  }

  export interface FrameResultOutputsDtypeFieldEvent {
    field: '$.result.outputs[].dtype'
    value: DType
    index: number
  }

  export interface FrameResultOutputsDimsFieldEvent {
    field: '$.result.outputs[].dims[]'
    index: number
    value: bigint
  }

  export interface FrameResultOutputsDataFieldEvent {
    field: '$.result.outputs[].data'
    value: Uint8Array
    index: number
  }

  export interface FrameResultReceiptFieldEvent {
    field: '$.result.receipt'
    value: Uint8Array
  }

  export interface FrameResultSignatureFieldEvent {
    field: '$.result.signature'
    value: Uint8Array
  }

  export interface FrameResultTextFieldEvent {
    field: '$.result.text'
    value: string
  }

  export interface FrameResultTokensFieldEvent {
    field: '$.result.tokens'
    value: number
  }

  export interface FrameResultLabelsLabelsLabelFieldEvent {
    field: '$.result.labels[].labels[].label'
    value: string
    index: number
  }

  export interface FrameResultLabelsLabelsScoreFieldEvent {
    field: '$.result.labels[].labels[].score'
    value: number
    index: number
  }

  export interface FrameVoucherVoucherFieldEvent {
    field: '$.voucher.voucher'
    value: Uint8Array
  }

  export interface FrameVoucherSignatureFieldEvent {
    field: '$.voucher.signature'
    value: Uint8Array
  }

  export interface FrameVoucherAckSeqnoFieldEvent {
    field: '$.voucherAck.seqno'
    value: number
  }

  export interface FrameErrorJobIdFieldEvent {
    field: '$.error.jobId'
    value: bigint
  }

  export interface FrameErrorCodeFieldEvent {
    field: '$.error.code'
    value: string
  }

  export interface FrameErrorMessageFieldEvent {
    field: '$.error.message'
    value: string
  }

  export interface FramePartialJobIdFieldEvent {
    field: '$.partial.jobId'
    value: bigint
  }

  export interface FramePartialTextFieldEvent {
    field: '$.partial.text'
    value: string
  }

  export interface FrameCancelJobIdFieldEvent {
    field: '$.cancel.jobId'
    value: bigint
  }

  export function encode (obj: Partial<Frame>): Uint8Array {
    return encodeMessage(obj, Frame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Frame>): Frame {
    return decodeMessage(buf, Frame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Frame>): Generator<FrameHelloChannelFieldEvent | FrameHelloSignatureFieldEvent | FrameWelcomeProviderOwnerFieldEvent | FrameWelcomeProviderFieldEvent | FrameWelcomeModelsNameFieldEvent | FrameWelcomeModelsHashFieldEvent | FrameWelcomeModelsTaskFieldEvent | FrameWelcomeModelsPricePerUnitFieldEvent | FrameWelcomeModelsDeterministicFieldEvent | FrameWelcomeModelsExecutionFieldEvent | FrameWelcomeCreditFieldEvent | FrameWelcomeLastVoucherFieldEvent | FrameWelcomeLastVoucherSigFieldEvent | FrameWelcomeNonceFieldEvent | FrameWelcomeOwedReceiptFieldEvent | FrameWelcomeOwedSignatureFieldEvent | FrameJobJobIdFieldEvent | FrameJobModelHashFieldEvent | FrameJobInputsNameFieldEvent | FrameJobInputsDtypeFieldEvent | FrameJobInputsDimsFieldEvent | FrameJobInputsDataFieldEvent | FrameJobTextsFieldEvent | FrameJobMessagesRoleFieldEvent | FrameJobMessagesContentFieldEvent | FrameJobPromptFieldEvent | FrameJobMaxNewTokensFieldEvent | FrameJobStreamFieldEvent | FrameResultJobIdFieldEvent | FrameResultOutputsNameFieldEvent | FrameResultOutputsDtypeFieldEvent | FrameResultOutputsDimsFieldEvent | FrameResultOutputsDataFieldEvent | FrameResultReceiptFieldEvent | FrameResultSignatureFieldEvent | FrameResultTextFieldEvent | FrameResultTokensFieldEvent | FrameResultLabelsLabelsLabelFieldEvent | FrameResultLabelsLabelsScoreFieldEvent | FrameVoucherVoucherFieldEvent | FrameVoucherSignatureFieldEvent | FrameVoucherAckSeqnoFieldEvent | FrameErrorJobIdFieldEvent | FrameErrorCodeFieldEvent | FrameErrorMessageFieldEvent | FramePartialJobIdFieldEvent | FramePartialTextFieldEvent | FrameCancelJobIdFieldEvent> {
    return streamMessage(buf, Frame.codec(), opts)
  }
}
