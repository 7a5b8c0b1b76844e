import type { Uint8ArrayList } from 'uint8arraylist'
import { ProtocolError } from '../errors.ts'
import { checkTensor, TENSOR_LIMITS, type DTypeName, type Tensor } from '../tensor.ts'
import { FRAME_LIMITS } from './constants.ts'
import { DType, Frame, type JobRequest, type Tensor as WireTensor } from './job.ts'

export { Frame, DType }
export type { Hello, Welcome, ModelInfo, OwedReceipt, JobRequest, JobResult, VoucherFrame, VoucherAck, ErrorFrame, PartialOutput, Cancel, ChatMessage, Label, LabelSet } from './job.ts'

const BODIES = ['hello', 'welcome', 'job', 'result', 'voucher', 'voucherAck', 'error', 'partial', 'cancel'] as const
export type FrameKind = typeof BODIES[number]

const TO_WIRE: Record<DTypeName, DType> = {
  float32: DType.FLOAT32,
  float64: DType.FLOAT64,
  int32: DType.INT32,
  int64: DType.INT64,
  uint8: DType.UINT8,
  bool: DType.BOOL
}
const FROM_WIRE = new Map<DType, DTypeName>(Object.entries(TO_WIRE).map(([k, v]) => [v, k as DTypeName]))

/** A job request with every list present (protons wants them), from just the fields that matter. */
export function jobRequest (fields: Pick<JobRequest, 'jobId' | 'modelHash'> & Partial<JobRequest>): JobRequest {
  return { inputs: [], texts: [], messages: [], ...fields }
}

export function encodeFrame (frame: Frame): Uint8Array {
  return Frame.encode(frame)
}

/** Decodes one frame; anything but exactly one well-formed body is a typed MALFORMED_FRAME error. */
export function decodeFrame (bytes: Uint8Array | Uint8ArrayList): Frame & { kind: FrameKind } {
  if (bytes.byteLength > FRAME_LIMITS.maxFrameBytes) throw new ProtocolError('FRAME_TOO_LARGE', `frame of ${bytes.byteLength} bytes exceeds ${FRAME_LIMITS.maxFrameBytes}`)
  let frame: Frame
  try {
    frame = Frame.decode(bytes, {
      limits: {
        welcome: { models: FRAME_LIMITS.maxModels, owed: FRAME_LIMITS.maxOwed },
        job: { inputs: FRAME_LIMITS.maxTensors, inputs$: { dims: TENSOR_LIMITS.maxDims }, texts: FRAME_LIMITS.maxTexts, messages: FRAME_LIMITS.maxMessages },
        result: { outputs: FRAME_LIMITS.maxTensors, outputs$: { dims: TENSOR_LIMITS.maxDims }, labels: FRAME_LIMITS.maxTexts, labels$: { labels: FRAME_LIMITS.maxLabels } }
      }
    } as never)
  } catch (err) {
    throw new ProtocolError('MALFORMED_FRAME', `undecodable frame: ${(err as Error).message}`)
  }
  const present = BODIES.filter((k) => frame[k] != null)
  if (present.length !== 1) throw new ProtocolError('MALFORMED_FRAME', `a frame needs exactly one body, got ${present.length}`)
  return Object.assign(frame, { kind: present[0]! })
}

export function toWireTensor (t: Tensor): WireTensor {
  return { name: t.name, dtype: TO_WIRE[t.dtype], dims: t.dims.map(BigInt), data: t.data }
}

export function fromWireTensor (w: WireTensor, maxBytes: number = FRAME_LIMITS.maxTensorBytes): Tensor {
  const dtype = FROM_WIRE.get(w.dtype)
  if (dtype === undefined) throw new ProtocolError('MALFORMED_TENSOR', `tensor "${w.name}": unknown dtype ${w.dtype}`)
  const dims = w.dims.map((d) => {
    if (d > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError('MALFORMED_TENSOR', `tensor "${w.name}": dim ${d} too large`)
    return Number(d)
  })
  const t: Tensor = { name: w.name, dtype, dims, data: w.data }
  checkTensor(t, maxBytes)
  return t
}

export function fromWireTensors (list: WireTensor[]): Tensor[] {
  if (list.length > FRAME_LIMITS.maxTensors) throw new ProtocolError('MALFORMED_FRAME', `more than ${FRAME_LIMITS.maxTensors} tensors`)
  const names = new Set<string>()
  return list.map((w) => {
    if (names.has(w.name)) throw new ProtocolError('MALFORMED_TENSOR', `tensor "${w.name}" given twice`)
    names.add(w.name)
    return fromWireTensor(w)
  })
}
