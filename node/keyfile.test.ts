import { describe, expect, it } from 'vitest'
import { chmod, chown, mkdtemp, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createKeyFile, readKeyFile, type KeyFileError } from './keyfile.ts'

async function fresh (): Promise<{ dir: string, file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'silk-key-'))
  const file = join(dir, 'node.key')
  await createKeyFile(file)
  return { dir, file }
}

async function refusal (path: string): Promise<KeyFileError> {
  return await readKeyFile(path).then(() => { throw new Error('accepted') }, (e: unknown) => e as KeyFileError)
}

describe('node key files', () => {
  it('refuse a symbolic link, even to a good key file (it could be swapped for another file)', async () => {
    const { dir, file } = await fresh()
    const link = join(dir, 'link.key')
    await symlink(file, link)
    expect((await refusal(link)).code).toBe('KEY_FILE_SYMLINK')
    expect((await readKeyFile(file)).peerId).toBeDefined()
  })

  it.skipIf(process.getuid?.() !== 0)('refuse a file another user owns (checked as root, who can give it away)', async () => {
    const { file } = await fresh()
    await chown(file, 4242, 4242)
    const err = await refusal(file)
    expect(err.code).toBe('KEY_FILE_NOT_OWNED')
    expect(err.message).not.toMatch(/[0-9a-f]{64}/)
  })

  it('refuse a readable file and a directory with clear codes and no key material', async () => {
    const { dir, file } = await fresh()
    await chmod(file, 0o644)
    const err = await refusal(file)
    expect(err.code).toBe('KEY_FILE_EXPOSED')
    expect(err.message).not.toMatch(/[0-9a-f]{64}/)
    expect((await refusal(dir)).code).toMatch(/KEY_FILE_(MALFORMED|EXPOSED)/)
    expect((await refusal(join(dir, 'none.key'))).code).toBe('KEY_FILE_MISSING')
  })
})
