import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { mkdir, open } from 'node:fs/promises'
import { dirname } from 'node:path'
import { identityFromSeed, type Identity } from '../protocol/keys.ts'

/** Key file errors never include key material, only the path and what is wrong. */
export class KeyFileError extends Error {
  override name = 'KeyFileError'
  constructor (readonly code: 'KEY_FILE_MISSING' | 'KEY_FILE_EXPOSED' | 'KEY_FILE_MALFORMED' | 'KEY_FILE_EXISTS' | 'KEY_FILE_NOT_OWNED' | 'KEY_FILE_SYMLINK', message: string) {
    super(message)
  }
}

interface KeyFileJson { type: 'ed25519-seed', seed: string }

/** Creates a new node key file readable only by its owner (0600); refuses to overwrite one. */
export async function createKeyFile (path: string): Promise<Identity> {
  const seed = randomBytes(32)
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  let handle
  try {
    handle = await open(path, 'wx', 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new KeyFileError('KEY_FILE_EXISTS', `key file ${path} already exists; refusing to overwrite it`)
    throw err
  }
  try {
    const body: KeyFileJson = { type: 'ed25519-seed', seed: seed.toString('hex') }
    await handle.writeFile(JSON.stringify(body) + '\n')
    await handle.sync()
  } finally {
    await handle.close()
  }
  return await identityFromSeed(seed)
}

/**
 * Reads a node key file; refuses one that group or others can read, that another user owns, or
 * that is a symbolic link. The file is opened once (O_NOFOLLOW) and checked through that very
 * descriptor, so it cannot be swapped between the check and the read.
 */
export async function readKeyFile (path: string): Promise<Identity> {
  let handle
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ELOOP') throw new KeyFileError('KEY_FILE_SYMLINK', `key file ${path} is a symbolic link; point the config at the real file`)
    throw new KeyFileError('KEY_FILE_MISSING', `key file ${path} not found (create one with \`silk node init\`)`)
  }
  try {
    const info = await handle.stat()
    if (!info.isFile()) throw new KeyFileError('KEY_FILE_MALFORMED', `key file ${path} is not a regular file`)
    if ((info.mode & 0o077) !== 0) {
      throw new KeyFileError('KEY_FILE_EXPOSED', `key file ${path} has mode ${(info.mode & 0o777).toString(8)}; it must be readable by its owner only (chmod 600 ${path})`)
    }
    const uid = process.getuid?.()
    if (uid !== undefined && info.uid !== uid) {
      throw new KeyFileError('KEY_FILE_NOT_OWNED', `key file ${path} belongs to user ${info.uid}, not to the user running the node (${uid})`)
    }
    let seed: Buffer
    try {
      const body = JSON.parse(await handle.readFile('utf8')) as Partial<KeyFileJson>
      if (body.type !== 'ed25519-seed' || typeof body.seed !== 'string' || !/^[0-9a-f]{64}$/.test(body.seed)) throw new Error('bad shape')
      seed = Buffer.from(body.seed, 'hex')
    } catch {
      throw new KeyFileError('KEY_FILE_MALFORMED', `key file ${path} is not a Silk key file`)
    }
    return await identityFromSeed(seed)
  } finally {
    await handle.close()
  }
}
