// Reads a model bundle from its folder and checks it against the manifest's bundle digest
// (protocol/bundle.ts). Whatever reaches onnxruntime or the tokenizer is exactly the bytes that
// were hashed: small files and inline graphs are read once into memory; a graph with external
// weights (which onnxruntime only loads from a path) is copied, hashing as it copies, into a
// private directory that nobody else can write, and loaded from there.
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { bundleDigest, type BundleDescription, type BundleTensor } from '../protocol/bundle.ts'
import { BadManifestError, ModelHashMismatchError } from './errors.ts'

/** The manifest fields a bundle is made of. */
export interface BundleManifest {
  name: string
  task: string
  /** The ONNX graph's path (one of `files`). */
  file: string
  /** Every file of the bundle, graph included: path → hex sha256. */
  files: Record<string, string>
  /** The declared bundle digest: the model hash. */
  sha256: string
  inputs?: readonly BundleTensor[]
  outputs?: readonly BundleTensor[]
}

/** Where onnxruntime gets the graph from. */
export type GraphSource =
  | { kind: 'bytes', bytes: Buffer }
  /** A private copy with its external weights beside it, as the graph's relative locations expect. */
  | { kind: 'path', path: string }

export interface LoadedBundle {
  /** The bundle digest (= manifest sha256, verified). */
  digest: Buffer
  graph: GraphSource
  /** Every other file, by bundle path: JSON objects parsed, text files as strings. */
  json: Map<string, Record<string, unknown>>
  text: Map<string, string>
  /** Removes the private copy, if any; call once the session is created (or failed). */
  release: () => Promise<void>
}

/** Files the node reads itself (as JSON or text); everything else goes to onnxruntime. */
const TEXT_FILE = /\.(json|jinja)$/

/** The description the digest is computed from; inputs/outputs only where the manifest has them. */
export function describeBundle (m: BundleManifest): BundleDescription {
  return {
    task: m.task,
    graph: m.file,
    files: m.files,
    ...(m.inputs === undefined ? {} : { inputs: m.inputs }),
    ...(m.outputs === undefined ? {} : { outputs: m.outputs })
  }
}

/** Resolves a bundle path; it must name a file inside the model's folder. */
export function insideFolder (folder: string, path: string, manifestFile: string, field: string): string {
  const file = resolve(folder, path)
  const rel = relative(folder, file)
  if (rel === '' || rel.startsWith('..' + sep) || rel === '..' || isAbsolute(rel)) {
    throw new BadManifestError(manifestFile, field, `"${path}" must name a file inside ${folder}`)
  }
  return file
}

export interface ReadBundleOptions {
  /** Parent of private copies of external-weight graphs. Default os.tmpdir(). */
  scratchDir?: string
}

/**
 * Verifies the manifest's digest against its file list, then every file against its entry, and
 * returns the verified contents. Throws ModelHashMismatchError (a file or the digest differs) or
 * BadManifestError (a file cannot be read or parsed).
 */
export async function readBundle (folder: string, manifestFile: string, m: BundleManifest, options: ReadBundleOptions = {}): Promise<LoadedBundle> {
  // The manifest must be consistent in itself first: its digest commits to every file entry.
  const digest = bundleDigest(describeBundle(m))
  if (digest.toString('hex') !== m.sha256) {
    throw new ModelHashMismatchError(m.name, m.sha256, digest.toString('hex'), `the bundle its manifest ${manifestFile} lists`)
  }
  const json = new Map<string, Record<string, unknown>>()
  const text = new Map<string, string>()
  const binary: string[] = []
  for (const path of Object.keys(m.files).sort()) {
    const field = `files.${path}`
    const file = insideFolder(folder, path, manifestFile, field)
    if (path === m.file || !TEXT_FILE.test(path)) { binary.push(path); continue }
    const bytes = await readChecked(m, manifestFile, field, file, path)
    const content = bytes.toString('utf8')
    if (path.endsWith('.jinja')) { text.set(path, content); continue }
    let value: unknown
    try {
      value = JSON.parse(content)
    } catch (err) {
      throw new BadManifestError(manifestFile, field, `${file} is not valid JSON: ${(err as Error).message}`, { cause: err })
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadManifestError(manifestFile, field, `${file} must hold a JSON object`)
    json.set(path, value as Record<string, unknown>)
  }
  if (binary.length === 1) {
    // An inline graph: onnxruntime gets the very bytes that were hashed.
    const bytes = await readChecked(m, manifestFile, 'file', insideFolder(folder, m.file, manifestFile, 'file'), m.file)
    return { digest, graph: { kind: 'bytes', bytes }, json, text, release: async () => {} }
  }
  // External weights: onnxruntime refuses them from a buffer, so it loads a private copy whose
  // bytes were hashed while being written. Files the manifest does not list are not there, so a
  // graph that points at an unlisted weights file fails to load instead of using unhashed bytes.
  const scratch = await mkdtemp(join(options.scratchDir ?? tmpdir(), 'silk-bundle-'))
  const release = async (): Promise<void> => { await rm(scratch, { recursive: true, force: true }) }
  try {
    for (const path of binary) {
      const field = path === m.file ? 'file' : `files.${path}`
      const source = insideFolder(folder, path, manifestFile, field)
      const target = join(scratch, path)
      await mkdir(dirname(target), { recursive: true, mode: 0o700 })
      const actual = await copyHashing(source, target, manifestFile, field)
      if (actual !== m.files[path]) throw new ModelHashMismatchError(m.name, m.files[path] as string, actual, source)
    }
  } catch (err) {
    await release()
    throw err
  }
  return { digest, graph: { kind: 'path', path: join(scratch, m.file) }, json, text, release }
}

async function readChecked (m: BundleManifest, manifestFile: string, field: string, file: string, path: string): Promise<Buffer> {
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (err) {
    throw new BadManifestError(manifestFile, field, `cannot read ${file}: ${(err as Error).message}`, { cause: err })
  }
  const actual = createHash('sha256').update(bytes).digest('hex')
  if (actual !== m.files[path]) throw new ModelHashMismatchError(m.name, m.files[path] as string, actual, file)
  return bytes
}

/** Streams source into a new owner-only file, returning the hex sha256 of exactly the bytes written. */
async function copyHashing (source: string, target: string, manifestFile: string, field: string): Promise<string> {
  const hash = createHash('sha256')
  const tap = new Transform({
    transform (chunk: Buffer, _enc, done) { hash.update(chunk); done(null, chunk) }
  })
  try {
    await pipeline(createReadStream(source), tap, createWriteStream(target, { flags: 'wx', mode: 0o400 }))
  } catch (err) {
    throw new BadManifestError(manifestFile, field, `cannot read ${source}: ${(err as Error).message}`, { cause: err })
  }
  return hash.digest('hex')
}
