/**
 * The parameter layout (llm.c's sizes table): an ordered list of named tensors carved out of one flat
 * buffer. Gradients and AdamW moments reuse the same offsets. Names are those of docs/design.md and of
 * the checkpoints; linear weights are stored [out, in] as PyTorch stores them.
 */
import type { ModelConfig } from './config.ts';
import { dims } from './config.ts';
import { mulberry32 } from '../engine/rng.ts';

/** How a tensor is initialized. */
export type InitKind = 'normal' | 'zeros' | 'ones';

export interface LayoutEntry {
  /** The parameter name (docs/design.md), e.g. `fusion.blocks.0.attn.qkv.weight`. */
  name: string;
  /** Row-major shape. */
  shape: number[];
  /** Element offset into the flat parameter (and gradient, moment) buffer. */
  offset: number;
  /** Elements (product of shape). */
  size: number;
  /** AdamW weight decay applies: Linear and patch weights only; not biases, norms, embeddings, pos, modality tokens, cls. */
  decay: boolean;
  /** Initialization: truncated normal (std 0.02), zeros or ones. */
  init: InitKind;
}

/** The names of one pre-LN block's tensors, in layout order. */
export const BLOCK_TENSORS = [
  'ln1.weight', 'ln1.bias', 'attn.qkv.weight', 'attn.qkv.bias', 'attn.proj.weight', 'attn.proj.bias',
  'ln2.weight', 'ln2.bias', 'mlp.fc1.weight', 'mlp.fc1.bias', 'mlp.fc2.weight', 'mlp.fc2.bias',
] as const;

/** The ordered layout of a config. */
export function buildLayout(c: ModelConfig): LayoutEntry[] {
  const k = dims(c), d = k.d, h = k.hidden;
  const out: LayoutEntry[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], init: InitKind, decay = false) => {
    const size = shape.reduce((a, b) => a * b, 1);
    out.push({ name, shape, offset, size, decay, init });
    offset += size;
  };
  const block = (prefix: string) => {
    add(`${prefix}.ln1.weight`, [d], 'ones');
    add(`${prefix}.ln1.bias`, [d], 'zeros');
    add(`${prefix}.attn.qkv.weight`, [3 * d, d], 'normal', true);
    add(`${prefix}.attn.qkv.bias`, [3 * d], 'zeros');
    add(`${prefix}.attn.proj.weight`, [d, d], 'normal', true);
    add(`${prefix}.attn.proj.bias`, [d], 'zeros');
    add(`${prefix}.ln2.weight`, [d], 'ones');
    add(`${prefix}.ln2.bias`, [d], 'zeros');
    add(`${prefix}.mlp.fc1.weight`, [h, d], 'normal', true);
    add(`${prefix}.mlp.fc1.bias`, [h], 'zeros');
    add(`${prefix}.mlp.fc2.weight`, [d, h], 'normal', true);
    add(`${prefix}.mlp.fc2.bias`, [d], 'zeros');
  };
  add('vision.patch.weight', [d, k.PP], 'normal', true);
  add('vision.patch.bias', [d], 'zeros');
  add('vision.pos', [k.Nv, d], 'normal');
  for (let i = 0; i < c.visionDepth; i++) block(`vision.blocks.${i}`);
  add('vision.norm.weight', [d], 'ones');
  add('vision.norm.bias', [d], 'zeros');
  add('tabular.num.weight', [k.Fn, d], 'normal');
  add('tabular.num.bias', [k.Fn, d], 'zeros');
  add('tabular.cat.embed', [k.vocab, d], 'normal');
  add('tabular.cat.bias', [k.Fc, d], 'zeros');
  for (let i = 0; i < c.tabularDepth; i++) block(`tabular.blocks.${i}`);
  add('tabular.norm.weight', [d], 'ones');
  add('tabular.norm.bias', [d], 'zeros');
  add('fusion.modality.vision.scale', [d], 'ones');
  add('fusion.modality.vision.shift', [d], 'zeros');
  add('fusion.modality.tabular.scale', [d], 'ones');
  add('fusion.modality.tabular.shift', [d], 'zeros');
  add('fusion.cls', [d], 'normal');
  for (let i = 0; i < c.fusionDepth; i++) block(`fusion.blocks.${i}`);
  add('fusion.norm.weight', [d], 'ones');
  add('fusion.norm.bias', [d], 'zeros');
  add('head.weight', [14, d], 'normal', true);
  add('head.bias', [14], 'zeros');
  return out;
}

/** Total elements of a layout. */
export function layoutSize(layout: readonly LayoutEntry[]): number {
  const last = layout[layout.length - 1];
  return last ? last.offset + last.size : 0;
}

/**
 * Initial parameters as Float32 (so every backend starts from identical values): truncated normal with
 * std 0.02 cut at two standard deviations (redrawn beyond, as timm's trunc_normal_ for ViT), zeros for
 * biases, ones for LayerNorm weights and modality scales. Each tensor draws from its own stream
 * (seed, tensor index), so adding a tensor does not change the others.
 */
export function initParams(layout: readonly LayoutEntry[], seed: number): Float32Array {
  const out = new Float32Array(layoutSize(layout));
  layout.forEach((e, t) => {
    const v = out.subarray(e.offset, e.offset + e.size);
    if (e.init === 'ones') v.fill(1);
    if (e.init !== 'normal') return;
    const r = mulberry32(Math.imul((seed >>> 0) ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(t + 1, 0x85ebca6b));
    for (let i = 0; i < e.size; i++) {
      let z: number;
      do {
        // Box-Muller; 1 - u keeps the logarithm finite.
        const u1 = 1 - r(), u2 = r();
        z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      } while (Math.abs(z) > 2);
      v[i] = 0.02 * z;
    }
  });
  return out;
}
