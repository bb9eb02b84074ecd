/**
 * Model checkpoints as safetensors: every parameter under its name in docs/design.md, F32 row-major, and in
 * `__metadata__` the format version, the config (JSON), the label names (JSON) and the caller's metadata
 * entries (feature schema, normalization statistics, ...), each JSON-encoded. Any safetensors reader opens
 * them; this one also checks them against the config they declare.
 */
import { LABEL_NAMES } from '../engine/batch.ts';
import type { ModelConfig } from './config.ts';
import { paramCount, resolveConfig, tensorCount } from './config.ts';
import type { LayoutEntry } from './layout.ts';
import { buildLayout, layoutSize } from './layout.ts';
import { readSafetensors, writeSafetensors } from './safetensors.ts';

/** The `format` entry of `__metadata__`. */
export const CHECKPOINT_FORMAT = 'resilient-fusion/1';
/** Metadata keys the checkpoint itself uses; caller metadata may not take them. */
const RESERVED = ['format', 'config', 'label_names'];

/** Serialize parameters (flat, in layout order) with the config and metadata. */
export function encodeCheckpoint(config: ModelConfig, layout: readonly LayoutEntry[], params: ArrayLike<number>, metadata: Record<string, unknown> = {}): Uint8Array {
  const meta: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(storedConfig(config)),
    label_names: JSON.stringify(LABEL_NAMES),
  };
  for (const [k, v] of Object.entries(metadata)) {
    if (RESERVED.includes(k)) throw new Error(`checkpoint metadata: '${k}' is reserved (${RESERVED.join(', ')})`);
    if (v === undefined) continue;
    meta[k] = JSON.stringify(v);
  }
  const flat = params instanceof Float32Array ? params : Float32Array.from(params);
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const e of layout) tensors[e.name] = { shape: e.shape, data: flat.subarray(e.offset, e.offset + e.size) };
  return writeSafetensors(tensors, meta);
}

/**
 * The config as stored: keys added after files existed are left out while they hold the value that old files
 * mean (gelu 'tanh'), so a default model's file keeps the bytes it always had and reads back the same.
 */
function storedConfig(config: ModelConfig): Partial<ModelConfig> {
  if (config.gelu !== 'tanh') return config;
  const { gelu: _default, ...rest } = config;
  return rest;
}

export interface DecodedCheckpoint {
  config: ModelConfig;
  /** Flat parameters in layout order. */
  params: Float32Array;
  /** Caller metadata, JSON-decoded (an entry that is not JSON stays a string). */
  metadata: Record<string, unknown>;
}

/**
 * Parse and check a checkpoint: a valid safetensors file whose config resolves (within MODEL_LIMITS), whose
 * label names are this build's, and whose tensors are exactly the config's layout (names and shapes) with
 * finite values. The config's parameter and tensor counts are computed arithmetically and compared with
 * the file before the layout or the parameters are allocated, so a small file claiming a huge model fails
 * at once with a message instead of exhausting memory.
 */
export function decodeCheckpoint(bytes: Uint8Array): DecodedCheckpoint {
  const file = readSafetensors(bytes);
  const m = file.metadata;
  if (m.format === undefined) throw new Error('checkpoint: no format entry in __metadata__ (not a resilient-fusion checkpoint)');
  if (m.format !== CHECKPOINT_FORMAT) throw new Error(`checkpoint: format '${m.format}' is not supported (expected ${CHECKPOINT_FORMAT})`);
  if (m.config === undefined) throw new Error('checkpoint: no config in __metadata__');
  let raw: unknown;
  try {
    raw = JSON.parse(m.config);
  } catch (e) {
    throw new Error(`checkpoint: config in __metadata__ is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('checkpoint: config in __metadata__ is not an object');
  let config: ModelConfig;
  try {
    config = resolveConfig(raw as Partial<ModelConfig>);
  } catch (e) {
    throw new Error(`checkpoint: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (m.label_names !== undefined && m.label_names !== JSON.stringify(LABEL_NAMES)) {
    throw new Error(`checkpoint: label names ${m.label_names} differ from this build's ${JSON.stringify(LABEL_NAMES)}`);
  }
  // The config (within MODEL_LIMITS) and the file must agree before the parameters are allocated. The layout
  // is only a list of names and shapes (at most 20 + 36 * maxDepth entries); the counts come from arithmetic.
  const want = paramCount(config), have = file.names.reduce((a, n) => a + file.tensors[n].data.length, 0);
  const counts = `the config declares ${tensorCount(config)} tensors and ${want} parameters (depths ${config.visionDepth}/${config.tabularDepth}/${config.fusionDepth}, dim ${config.dim}), the file holds ${file.names.length} and ${have}`;
  const layout = buildLayout(config);
  const names = new Set(layout.map((e) => e.name));
  for (const name of file.names) {
    if (!names.has(name)) throw new Error(`checkpoint: unexpected tensor '${name.slice(0, 200)}' (not a parameter of the config it declares; ${counts})`);
  }
  for (const e of layout) {
    const t = file.tensors[e.name];
    if (!t) throw new Error(`checkpoint: missing tensor '${e.name}' (${counts})`);
    if (t.shape.length !== e.shape.length || t.shape.some((s, i) => s !== e.shape[i])) {
      throw new Error(`checkpoint: tensor '${e.name}' has shape [${t.shape}], the config expects [${e.shape}]`);
    }
  }
  // Same names and shapes imply the same count; checked anyway, as the guard of the allocation below.
  if (want !== have || layoutSize(layout) !== want) throw new Error(`checkpoint: ${counts}`);
  const params = new Float32Array(want);
  for (const e of layout) {
    const t = file.tensors[e.name];
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) throw new Error(`checkpoint: tensor '${e.name}' holds ${t.data[i]} at index ${i} (weights must be finite numbers)`);
    }
    params.set(t.data, e.offset);
  }
  const metadata: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) {
    if (RESERVED.includes(k)) continue;
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') throw new Error(`checkpoint: __metadata__ key '${k}' is not allowed`);
    try {
      metadata[k] = JSON.parse(v);
    } catch {
      metadata[k] = v;
    }
  }
  return { config, params, metadata };
}
