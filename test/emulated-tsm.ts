import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { TsmFileSystem } from '../node/attestation.ts'

export interface EmulatedTsm {
  fs: TsmFileSystem
  /** every report-data request the node wrote, in order */
  inblobs: Buffer[]
  /** report entries that exist now, and the most that ever existed at once */
  live: () => number
  maxLive: () => number
}

/**
 * A directory that behaves like configfs-tsm (no TDX hardware here): writing `inblob` makes
 * `outblob` hold the canned quote and bumps `generation`. `gate` holds each quote back until it
 * resolves, to see requests queue.
 */
export function emulatedTsm (quote: Buffer, gate?: Promise<void>): EmulatedTsm {
  const inblobs: Buffer[] = []
  let live = 0
  let maxLive = 0
  return {
    inblobs,
    live: () => live,
    maxLive: () => maxLive,
    fs: {
      mkdir: async (path) => {
        await mkdir(path)
        live++
        maxLive = Math.max(maxLive, live)
        await writeFile(join(path, 'provider'), 'tdx_guest\n')
        await writeFile(join(path, 'generation'), '0\n')
      },
      rmdir: async (path) => { await rm(path, { recursive: true }); live-- },
      writeFile: async (path, data) => {
        await writeFile(path, data)
        if (basename(path) !== 'inblob') return
        inblobs.push(Buffer.from(data))
        await gate
        await writeFile(join(dirname(path), 'outblob'), quote)
        const gen = Number((await readFile(join(dirname(path), 'generation'), 'utf8')).trim())
        await writeFile(join(dirname(path), 'generation'), `${gen + 1}\n`)
      },
      readFile: async (path) => await readFile(path)
    }
  }
}
