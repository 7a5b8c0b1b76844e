export const JOB_PROTOCOL = '/silk/job/1.0.0'

export const FRAME_LIMITS = {
  /** largest frame either side accepts; a longer length prefix ends the session */
  maxFrameBytes: 16 * 1024 * 1024,
  /** largest single tensor */
  maxTensorBytes: 8 * 1024 * 1024,
  maxTensors: 32,
  maxModels: 256,
  maxStringBytes: 1024
} as const
