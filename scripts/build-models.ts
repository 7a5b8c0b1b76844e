// Builds the bundled test models with onnx-proto (no Python) into models/<folder>/{model.onnx,manifest.json}
// (and model.onnx_data for the external-weights fixture). Weights come from a seeded PRNG and
// protobuf encoding is deterministic, so a rerun writes identical bytes.
//   npx tsx scripts/build-models.ts [outDir]
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import onnxProto from 'onnx-proto'
import { bundleDigest, fileDigest } from '../protocol/bundle.ts'
import type { TensorManifest as Manifest, TensorSpec } from '../node/models.ts'

const { onnx } = onnxProto
type GraphProto = onnxProto.onnx.IGraphProto
type ValueInfoProto = onnxProto.onnx.IValueInfoProto
type TensorProto = onnxProto.onnx.ITensorProto

export const DEFAULT_MODELS_DIR = fileURLToPath(new URL('../models/', import.meta.url))

/** Opset 17 / IR 8: within what onnx-proto 8 (ONNX 1.10) encodes and what onnxruntime 1.30 runs. */
const OPSET = 17
const IR_VERSION = 8

/** Seed of the MLP's weights; changing it changes the model hash. */
export const MLP_SEED = 0x5111c
export const MLP_SIZES = { input: 64, hidden: 128, output: 10 } as const

const ELEM_TYPE = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  uint8: onnx.TensorProto.DataType.UINT8,
  bool: onnx.TensorProto.DataType.BOOL
} as const

/** Graph input/output declaration; string dims are symbolic (dynamic) axes. */
export function valueInfo ({ name, dtype, shape }: TensorSpec): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM_TYPE[dtype],
        shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) }
      }
    }
  }
}

export function float32Initializer (name: string, dims: number[], values: Float32Array): TensorProto {
  return {
    name,
    dataType: onnx.TensorProto.DataType.FLOAT,
    dims,
    rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
  }
}

export function encodeModel (graph: GraphProto): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'silk-build-models',
    graph
  })
  return onnx.ModelProto.encode(model).finish()
}

/** mulberry32: tiny, seedable, and the same sequence on every platform. */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Uniform in ±1/√fanIn, as common layer initialisers do, so activations stay in a sane range. */
function layerWeights (rand: () => number, fanIn: number, count: number): Float32Array {
  const bound = 1 / Math.sqrt(fanIn)
  const out = new Float32Array(count)
  for (let i = 0; i < count; i++) out[i] = (rand() * 2 - 1) * bound
  return out
}

export interface BuiltModel {
  folder: string
  manifest: Manifest
  /** Every file written beside the manifest, by bundle path. */
  files: Record<string, Uint8Array>
}

type ModelDraft = Omit<Manifest, 'sha256' | 'file' | 'files'> & { graph: GraphProto }
function mlpDraft (): ModelDraft {
  const { input: nIn, hidden: nHidden, output: nOut } = MLP_SIZES
  const rand = seededRandom(MLP_SEED)
  const w1 = layerWeights(rand, nIn, nIn * nHidden)
  const b1 = layerWeights(rand, nIn, nHidden)
  const w2 = layerWeights(rand, nHidden, nHidden * nOut)
  const b2 = layerWeights(rand, nHidden, nOut)
  const x: TensorSpec = { name: 'x', dtype: 'float32', shape: ['N', nIn] }
  const y: TensorSpec = { name: 'y', dtype: 'float32', shape: ['N', nOut] }
  return {
    name: 'mlp-64-10',
    task: 'tensor',
    pricePerUnit: '50000',
    unit: 'row',
    deterministic: true,
    inputs: [x],
    outputs: [y],
    maxBatch: 64,
    graph: {
      name: 'mlp',
      // Gemm computes A·B + C with B stored [in, out] (no transpose).
      node: [
        { name: 'fc1', opType: 'Gemm', input: ['x', 'w1', 'b1'], output: ['h'] },
        { name: 'relu', opType: 'Relu', input: ['h'], output: ['a'] },
        { name: 'fc2', opType: 'Gemm', input: ['a', 'w2', 'b2'], output: ['y'] }
      ],
      initializer: [
        float32Initializer('w1', [nIn, nHidden], w1),
        float32Initializer('b1', [nHidden], b1),
        float32Initializer('w2', [nHidden, nOut], w2),
        float32Initializer('b2', [nOut], b2)
      ],
      input: [valueInfo(x)],
      output: [valueInfo(y)]
    }
  }
}

function addDraft (): ModelDraft {
  const a: TensorSpec = { name: 'a', dtype: 'float32', shape: ['N', 4] }
  const b: TensorSpec = { name: 'b', dtype: 'float32', shape: ['N', 4] }
  const y: TensorSpec = { name: 'y', dtype: 'float32', shape: ['N', 4] }
  return {
    name: 'add-4',
    task: 'tensor',
    pricePerUnit: '1000',
    unit: 'row',
    deterministic: true,
    inputs: [a, b],
    outputs: [y],
    maxBatch: 1024,
    graph: {
      name: 'add',
      node: [{ name: 'add', opType: 'Add', input: ['a', 'b'], output: ['y'] }],
      input: [valueInfo(a), valueInfo(b)],
      output: [valueInfo(y)]
    }
  }
}

/** Name of the external-weights file the split fixture writes beside its graph. */
export const EXTERNAL_DATA_FILE = 'model.onnx_data'
/** Offsets of external tensors are page-aligned, so onnxruntime may map them instead of reading. */
const EXTERNAL_ALIGN = 4096

/**
 * Moves every initializer's raw bytes into one external-data file (ONNX's data_location=EXTERNAL
 * with location/offset/length), as exporters do for models over protobuf's 2 GB limit.
 */
export function splitWeights (graph: GraphProto, location = EXTERNAL_DATA_FILE): { graph: GraphProto, data: Uint8Array } {
  const chunks: Array<{ offset: number, bytes: Uint8Array }> = []
  let end = 0
  const initializer = (graph.initializer ?? []).map((t): TensorProto => {
    const bytes = t.rawData
    if (bytes == null) throw new Error(`initializer ${t.name ?? ''} has no raw data to move`)
    const offset = Math.ceil(end / EXTERNAL_ALIGN) * EXTERNAL_ALIGN
    chunks.push({ offset, bytes })
    end = offset + bytes.byteLength
    const { rawData: _moved, ...rest } = t
    return {
      ...rest,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(bytes.byteLength) }
      ]
    }
  })
  const data = new Uint8Array(end)
  for (const c of chunks) data.set(c.bytes, c.offset)
  return { graph: { ...graph, initializer }, data }
}

/** The MLP with its weights in model.onnx_data: same computation, same outputs, another bundle. */
function mlpSplitDraft (): ModelDraft & { external: true } {
  const draft = mlpDraft()
  return { ...draft, name: 'mlp-64-10-split', external: true }
}

/**
 * Folder → draft. The external-weights fixture sits one level down (external-weights/ has no
 * manifest), so a node serving models/ does not serve it twice over; tests load it from there.
 */
const MODELS: Record<string, () => ModelDraft & { external?: true }> = {
  mlp: mlpDraft,
  add: addDraft,
  'external-weights/mlp': mlpSplitDraft
}

/** Encodes every bundled model and writes `<outDir>/<folder>/` with its files and manifest.json. */
export async function buildModels (outDir: string = DEFAULT_MODELS_DIR): Promise<BuiltModel[]> {
  const built: BuiltModel[] = []
  for (const [folder, draft] of Object.entries(MODELS)) {
    const { graph, external, ...meta } = draft()
    const files: Record<string, Uint8Array> = {}
    if (external === true) {
      const split = splitWeights(graph)
      files['model.onnx'] = encodeModel(split.graph)
      files[EXTERNAL_DATA_FILE] = split.data
    } else {
      files['model.onnx'] = encodeModel(graph)
    }
    const digests = Object.fromEntries(Object.keys(files).sort().map((p) => [p, fileDigest(files[p] as Uint8Array)]))
    const manifest: Manifest = {
      name: meta.name,
      task: meta.task,
      file: 'model.onnx',
      files: digests,
      sha256: bundleDigest({ task: meta.task, graph: 'model.onnx', files: digests, inputs: meta.inputs, outputs: meta.outputs }).toString('hex'),
      pricePerUnit: meta.pricePerUnit,
      unit: meta.unit,
      deterministic: meta.deterministic,
      inputs: meta.inputs,
      outputs: meta.outputs,
      ...(meta.maxBatch === undefined ? {} : { maxBatch: meta.maxBatch })
    }
    const dir = join(outDir, folder)
    for (const [path, bytes] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true })
      await writeFile(join(dir, path), bytes)
    }
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
    built.push({ folder, manifest, files })
  }
  return built
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const outDir = process.argv[2] === undefined ? DEFAULT_MODELS_DIR : resolve(process.argv[2])
  for (const m of await buildModels(outDir)) {
    const bytes = Object.values(m.files).reduce((n, b) => n + b.byteLength, 0)
    console.log(`${join(outDir, m.folder)}  ${Object.keys(m.files).join(' + ')}  ${bytes} bytes  model hash ${m.manifest.sha256}  (${m.manifest.name})`)
  }
}
