import type { AbortOptions, Stream } from '@libp2p/interface'
import { InvalidDataLengthError, lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import { ProtocolError } from '../errors.ts'
import { FRAME_LIMITS } from './constants.ts'
import { decodeFrame, encodeFrame, type Frame, type FrameKind } from './frames.ts'

/** A job-protocol session over one libp2p stream: length-prefixed frames, bounded and validated. */
export class FrameStream {
  private readonly lp: LengthPrefixedStream<Stream>
  /** bytes of frames read so far (for rate limits) */
  bytesRead = 0

  constructor (readonly stream: Stream, maxFrameBytes: number = FRAME_LIMITS.maxFrameBytes) {
    this.lp = lpStream(stream, { maxDataLength: maxFrameBytes })
  }

  /** Next frame; ProtocolError for a bad or oversize frame (after which the stream is unusable). */
  async read (options?: AbortOptions): Promise<Frame & { kind: FrameKind }> {
    let bytes
    try {
      bytes = await this.lp.read(options)
    } catch (err) {
      if (err instanceof InvalidDataLengthError || (err as Error).name === 'InvalidDataLengthError') {
        throw new ProtocolError('FRAME_TOO_LARGE', (err as Error).message)
      }
      throw err
    }
    this.bytesRead += bytes.byteLength
    return decodeFrame(bytes)
  }

  async write (frame: Frame, options?: AbortOptions): Promise<void> {
    await this.lp.write(encodeFrame(frame), options)
  }
}
