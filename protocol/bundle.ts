// The model hash: one canonical digest of a model bundle (graph, external weights, tokenizer,
// configs, chat template, generation config, labels, and the manifest fields that shape the
// output). Node, client, adverts, receipts and the Registry allow-list all use this one value, so
// two bundles that can compute different outputs never share a hash. Pure functions over file
// digests or bytes: the node reads files (node/bundle.ts); a client can recompute the digest from
// a manifest alone or from downloaded files.
import { createHash } from 'node:crypto'

/** Changes only with the digest's definition; part of every digest. */
export const BUNDLE_VERSION = 'silk-bundle-v1'

/** A declared tensor of a tensor model; its name, dtype and shape shape the output a job gets. */
export interface BundleTensor {
  readonly name: string
  readonly dtype: string
  readonly shape: ReadonlyArray<number | string>
}

export interface BundleDescription {
  /** The manifest's task ("tensor", "text-generation", "text-classification"). */
  readonly task: string
  /** Path of the ONNX graph inside the bundle; must be one of `files`. */
  readonly graph: string
  /** Every file of the bundle, graph included: canonical relative path → lowercase hex sha256 of its bytes. */
  readonly files: Readonly<Record<string, string>>
  /** Tensor models: declared inputs and outputs, in manifest order (outputs come back in that order). */
  readonly inputs?: readonly BundleTensor[]
  readonly outputs?: readonly BundleTensor[]
}

export class BundleError extends Error {
  override name = 'BundleError'
}

const HEX64 = /^[0-9a-f]{64}$/
/** ASCII only, so sorting strings is sorting bytes in every language. */
const PATH_CHARS = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/
const MAX_FILES = 256

/**
 * Why `path` is not a canonical bundle path, or undefined if it is: relative, "/"-separated,
 * letters, digits, ".", "_", "-", no "." or ".." segments, at most 255 bytes. One spelling per file
 * keeps one digest per bundle.
 */
export function bundlePathError (path: string): string | undefined {
  if (path.length === 0 || path.length > 255) return 'must be 1 to 255 characters'
  if (!PATH_CHARS.test(path)) return 'must be a relative path of letters, digits, ".", "_", "-" separated by "/"'
  if (path.split('/').some((s) => s === '.' || s === '..')) return 'may not contain "." or ".." segments'
  return undefined
}

/** Lowercase hex sha256 of a file's bytes: the per-file entry of a bundle. */
export function fileDigest (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/**
 * The bundle digest = the model hash:
 * sha256 of the UTF-8 JSON (no whitespace) of
 *   ["silk-bundle-v1", task, graph, inputs, outputs, files]
 * where inputs/outputs are [[name, dtype, shape], …] in manifest order ([] for text models) and
 * files is [[path, sha256hex], …] sorted by path. Throws BundleError on a malformed description.
 */
export function bundleDigest (d: BundleDescription): Buffer {
  const paths = Object.keys(d.files).sort()
  if (paths.length === 0 || paths.length > MAX_FILES) throw new BundleError(`a bundle has 1 to ${MAX_FILES} files, got ${paths.length}`)
  for (const path of paths) {
    const why = bundlePathError(path)
    if (why !== undefined) throw new BundleError(`file "${path}": ${why}`)
    if (!HEX64.test(d.files[path] as string)) throw new BundleError(`file "${path}": sha256 must be 64 lowercase hex digits`)
  }
  if (!Object.hasOwn(d.files, d.graph)) throw new BundleError(`the graph "${d.graph}" is not among the bundle's files`)
  const tensors = (list: readonly BundleTensor[] | undefined): unknown[] => (list ?? []).map((t) => [t.name, t.dtype, [...t.shape]])
  const canonical = JSON.stringify([
    BUNDLE_VERSION,
    d.task,
    d.graph,
    tensors(d.inputs),
    tensors(d.outputs),
    paths.map((p) => [p, d.files[p]])
  ])
  return createHash('sha256').update(canonical, 'utf8').digest()
}

/** The digest straight from file bytes (path → bytes), e.g. for a client holding the downloaded files. */
export function bundleDigestOfFiles (d: Omit<BundleDescription, 'files'>, files: Readonly<Record<string, Uint8Array>>): Buffer {
  const digests: Record<string, string> = {}
  for (const [path, bytes] of Object.entries(files)) digests[path] = fileDigest(bytes)
  return bundleDigest({ ...d, files: digests })
}
