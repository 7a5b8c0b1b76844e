import type { WireErrorCode } from '../protocol/wire/constants.ts'

// One small named error class per condition. Callers test `err.name` or `err.code`, never the
// text; the job service sends `code` in error frames, so codes are stable strings.

export type NodeErrorCode =
  | 'NOT_STARTED'
  | 'BAD_MANIFEST'
  | 'MODEL_HASH_MISMATCH'
  | 'UNKNOWN_MODEL'
  | 'BAD_INPUT'
  | 'INFERENCE_FAILED'
  | 'ABORTED'
  | 'OVERLOADED'

export class NodeError extends Error {
  override name = 'NodeError'
  constructor (readonly code: NodeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
  }
}

/** The store was used before `start()` resolved or after `stop()`. */
export class NotStartedError extends NodeError {
  override name = 'NotStartedError'
  constructor (message = 'model store is not started') {
    super('NOT_STARTED', message)
  }
}

/** A model folder cannot be served as configured: bad manifest field, missing file, graph that disagrees with the manifest. */
export class BadManifestError extends NodeError {
  override name = 'BadManifestError'
  /** `file` is the manifest's path; `field` the dotted path of the offending field, when there is one. */
  constructor (readonly file: string, readonly field: string | undefined, message: string, options?: ErrorOptions) {
    super('BAD_MANIFEST', `${file}: ${field === undefined ? '' : `field "${field}": `}${message}`, options)
  }
}

/** The .onnx bytes are not the ones the manifest names: serving them would sign receipts for another model. */
export class ModelHashMismatchError extends NodeError {
  override name = 'ModelHashMismatchError'
  constructor (readonly model: string, readonly expected: string, readonly actual: string, file: string) {
    super('MODEL_HASH_MISMATCH', `model "${model}": ${file} has sha256 ${actual}, manifest says ${expected}`)
  }
}

export class UnknownModelError extends NodeError {
  override name = 'UnknownModelError'
  constructor (readonly model: string) {
    super('UNKNOWN_MODEL', `unknown model ${model}`)
  }
}

/** The job's tensors do not fit the model's declared inputs; nothing was run. */
export class BadInputError extends NodeError {
  override name = 'BadInputError'
  constructor (message: string, options?: ErrorOptions) {
    super('BAD_INPUT', message, options)
  }
}

/** onnxruntime rejected or failed a run that passed validation. */
export class InferenceFailedError extends NodeError {
  override name = 'InferenceFailedError'
  constructor (message: string, options?: ErrorOptions) {
    super('INFERENCE_FAILED', message, options)
  }
}

/**
 * A text generation was stopped by its AbortSignal. Nothing more is produced after the abort is
 * seen (within one decoding step); `text` and `tokens` are what was generated (and streamed) before
 * it, so a caller may still bill `tokens`.
 */
export class AbortedError extends NodeError {
  override name = 'AbortedError'
  constructor (readonly model: string, readonly text: string, readonly tokens: number, options?: ErrorOptions) {
    super('ABORTED', `model "${model}": generation aborted after ${tokens} tokens`, options)
  }
}

/**
 * A typed refusal or failure of the job service that ends up as an ErrorFrame with `code`; the
 * session goes on unless `fatal`.
 */
export class JobError extends Error {
  override name = 'JobError'
  constructor (readonly code: WireErrorCode, message: string, readonly fatal = false) {
    super(message)
  }
}
