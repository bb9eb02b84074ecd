/**
 * ImageNet ViT weights in timm's safetensors layout (pytorch-image-models, `VisionTransformer.state_dict()`)
 * into this model's vision encoder (docs/pretrained.md):
 *
 *   patch_embed.proj.weight [d,C,p,p], .bias [d]   -> vision.patch.weight [d,p*p], .bias (channels folded, below)
 *   pos_embed [1, prefix + g0*g0, d]                -> vision.pos [G*G, d] (prefix rows dropped, resized g0 -> G)
 *   cls_token, dist_token, reg_token                -> dropped (this encoder has no prefix tokens)
 *   blocks.i.norm1 / attn.qkv / attn.proj / norm2 / mlp.fc1 / mlp.fc2 -> vision.blocks.i.ln1 / ... / mlp.fc2
 *   norm.{weight,bias}                              -> vision.norm
 *   head.*                                          -> ignored (the ImageNet classifier)
 *
 * The blocks compute what they were trained to: the same pre-LN layout, q|k|v order and head split, scale
 * 1/sqrt(hd), and the exact (erf) GELU (the config's gelu is set to 'erf'). Two differences remain and are
 * documented: LayerNorm eps is this engine's 1e-5 (timm: 1e-6), and the class token no longer takes part in
 * attention.
 */
import type { ModelConfig } from './config.ts';
import { resolveConfig } from './config.ts';
import type { LayoutEntry } from './layout.ts';
import { readSafetensors } from './safetensors.ts';
import type { SafetensorsFile } from './safetensors.ts';

/** The input normalization a checkpoint was trained with, per RGB channel (timm's pretrained_cfg mean/std). */
export interface ChannelNorm { mean: readonly number[]; std: readonly number[] }

/** timm's IMAGENET_INCEPTION_MEAN/STD: the augreg ViTs (e.g. vit_tiny_patch16_224.augreg_in21k_ft_in1k). */
export const INCEPTION_NORM: ChannelNorm = Object.freeze({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
/** timm's IMAGENET_DEFAULT_MEAN/STD: DeiT and most torchvision-style checkpoints. */
export const IMAGENET_NORM: ChannelNorm = Object.freeze({ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });

/** The shapes of a timm ViT file, read from its tensors. */
export interface TimmVit {
  file: SafetensorsFile;
  /** Width, input channels, patch side, depth, MLP hidden width. */
  d: number; channels: number; p: number; depth: number; hidden: number;
  /** Side of the position table's grid and the number of prefix rows (class, distillation, register tokens). */
  grid: number; prefix: number;
}

const BLOCK_MAP: [string, string][] = [
  ['norm1.weight', 'ln1.weight'], ['norm1.bias', 'ln1.bias'], ['attn.qkv.weight', 'attn.qkv.weight'], ['attn.qkv.bias', 'attn.qkv.bias'],
  ['attn.proj.weight', 'attn.proj.weight'], ['attn.proj.bias', 'attn.proj.bias'], ['norm2.weight', 'ln2.weight'], ['norm2.bias', 'ln2.bias'],
  ['mlp.fc1.weight', 'mlp.fc1.weight'], ['mlp.fc1.bias', 'mlp.fc1.bias'], ['mlp.fc2.weight', 'mlp.fc2.weight'], ['mlp.fc2.bias', 'mlp.fc2.bias'],
];
/** Top-level tensors that may be present and are not used. */
const IGNORED = /^(head\.|head_dist\.|fc_norm\.|cls_token$|dist_token$|reg_token$)/;

/**
 * Parse and check a timm ViT file: every tensor the encoder needs is there with consistent shapes, and no
 * block tensor is unknown (layer scale `ls1`, `q_norm`, ... would change what a block computes, so they are
 * errors rather than silently dropped). `name` labels errors (the file's path).
 */
export function readTimmVit(bytes: Uint8Array, name = 'timm file'): TimmVit {
  const fail = (m: string): never => { throw new Error(`${name}: ${m}`); };
  let file: SafetensorsFile;
  try { file = readSafetensors(bytes); } catch (e) { return fail(`${e instanceof Error ? e.message : String(e)} (convert it to F32 safetensors, docs/pretrained.md)`); }
  const t = file.tensors;
  const need = (n: string, rank: number) => {
    if (!t[n]) fail(`no tensor '${n}' (not a timm VisionTransformer state dict?)`);
    if (t[n].shape.length !== rank) fail(`'${n}' has shape [${t[n].shape}], expected rank ${rank}`);
    return t[n].shape;
  };
  const [d, channels, p, p2] = need('patch_embed.proj.weight', 4);
  if (p !== p2) fail(`patch_embed.proj.weight [${d},${channels},${p},${p2}]: patches must be square`);
  const pos = need('pos_embed', 3);
  if (pos[0] !== 1 || pos[2] !== d) fail(`pos_embed has shape [${pos}], expected [1, tokens, ${d}]`);
  let prefix = 0;
  for (const tok of ['cls_token', 'dist_token', 'reg_token']) if (t[tok]) prefix += t[tok].shape[1] ?? 1;
  const grid = Math.round(Math.sqrt(pos[1] - prefix));
  if (grid < 1 || grid * grid !== pos[1] - prefix) fail(`pos_embed holds ${pos[1]} rows: not ${prefix} prefix token(s) plus a square grid`);
  let depth = 0;
  while (t[`blocks.${depth}.attn.qkv.weight`]) depth++;
  const hidden = depth > 0 ? need('blocks.0.mlp.fc1.weight', 2)[0] : 4 * d;
  const want: Record<string, number[]> = {
    'patch_embed.proj.bias': [d], 'norm.weight': [d], 'norm.bias': [d],
  };
  for (let i = 0; i < depth; i++) {
    const shapes = [[d], [d], [3 * d, d], [3 * d], [d, d], [d], [d], [d], [hidden, d], [hidden], [d, hidden], [d]];
    BLOCK_MAP.forEach(([src], j) => { want[`blocks.${i}.${src}`] = shapes[j]; });
  }
  for (const [n, shape] of Object.entries(want)) {
    if (!t[n]) fail(`no tensor '${n}'`);
    if (t[n].shape.join('x') !== shape.join('x')) fail(`'${n}' has shape [${t[n].shape}], expected [${shape}]`);
  }
  for (const n of file.names) {
    if (!(n in want) && !IGNORED.test(n) && n !== 'patch_embed.proj.weight' && n !== 'pos_embed') {
      fail(`tensor '${n}' has no place in this encoder (layer scale, extra norms and the like are not supported)`);
    }
  }
  return { file, d, channels, p, depth, hidden, grid, prefix };
}

/**
 * `base` with the vision encoder's shape taken from the file: width, heads (`heads`, default d/64 as in every
 * standard ViT: the file does not record it), MLP ratio, patch side, depth, and gelu 'erf'. The width is shared
 * by the tabular and fusion encoders, so they take it too. Throws if the image size is not a multiple of p.
 */
export function timmVisionConfig(vit: TimmVit, base: ModelConfig, heads = 0): ModelConfig {
  const h = heads > 0 ? heads : vit.d / 64;
  if (!Number.isInteger(h) || h < 1) throw new Error(`timm import: width ${vit.d} is not a multiple of 64; give the number of heads`);
  if (vit.hidden % vit.d !== 0) throw new Error(`timm import: MLP width ${vit.hidden} is not a multiple of the width ${vit.d}`);
  if (base.imageSize % vit.p !== 0) throw new Error(`timm import: image size ${base.imageSize} is not a multiple of the checkpoint's patch size ${vit.p}`);
  return resolveConfig({ dim: vit.d, heads: h, mlpRatio: vit.hidden / vit.d, patchSize: vit.p, visionDepth: vit.depth, gelu: 'erf' }, base);
}

/**
 * Bilinear resize of a [g0*g0, d] position table to [G*G, d], PyTorch's `interpolate(mode='bilinear',
 * align_corners=False)` convention: output cell o samples source coordinate (o + 0.5) g0/G - 0.5, clamped to
 * the table. timm's own resample_abs_pos_embed uses bicubic; bilinear keeps every output a convex mix of
 * trained rows (no overshoot) and reproduces a table that is linear in the grid position exactly.
 */
export function resizePositions(pos: ArrayLike<number>, g0: number, G: number, d: number): Float32Array {
  const out = new Float32Array(G * G * d);
  const coord = (o: number) => {
    const s = Math.min(Math.max(((o + 0.5) * g0) / G - 0.5, 0), g0 - 1);
    const i = Math.min(Math.floor(s), Math.max(g0 - 2, 0)); // s = g0 - 1 is row g0-2 at weight 1
    return { i, f: s - i };
  };
  for (let y = 0; y < G; y++) {
    const { i: y0, f: fy } = coord(y), y1 = Math.min(y0 + 1, g0 - 1);
    for (let x = 0; x < G; x++) {
      const { i: x0, f: fx } = coord(x), x1 = Math.min(x0 + 1, g0 - 1);
      const w00 = (1 - fy) * (1 - fx), w01 = (1 - fy) * fx, w10 = fy * (1 - fx), w11 = fy * fx;
      const r00 = (y0 * g0 + x0) * d, r01 = (y0 * g0 + x1) * d, r10 = (y1 * g0 + x0) * d, r11 = (y1 * g0 + x1) * d;
      const o = (y * G + x) * d;
      for (let c = 0; c < d; c++) out[o + c] = w00 * pos[r00 + c] + w01 * pos[r01 + c] + w10 * pos[r10 + c] + w11 * pos[r11 + c];
    }
  }
  return out;
}

/**
 * The patch embedding for this model's one-channel input x = (pixel - pixelMean) / pixelStd (pixel in [0,1]).
 * A grey image given to the RGB network has the same pixel in every channel, normalized per channel as
 * (pixel - m_c) / s_c. The convolution is linear, so for each kernel position the channels add up:
 *   sum_c W_c (pixel - m_c) / s_c = pixel * sum_c W_c / s_c - sum_c W_c m_c / s_c,
 * and with pixel = pixelStd x + pixelMean the exact one-channel equivalent is
 *   W' = pixelStd * sum_c W_c / s_c,   b' = b + sum_{kernel} sum_c W_c (pixelMean - m_c) / s_c.
 * When the two normalizations agree (m_c = pixelMean, s_c = pixelStd) this is plainly the sum of the channels'
 * weights. So the ImageNet mean/std are folded into the weights once and the data keep their own normalization.
 */
export function foldPatchWeights(vit: TimmVit, norm: ChannelNorm, pixelMean: number, pixelStd: number): { weight: Float32Array; bias: Float32Array } {
  const { d, channels: C, p } = vit, PP = p * p;
  if (norm.mean.length !== C || norm.std.length !== C) throw new Error(`timm import: the normalization gives ${norm.mean.length} means and ${norm.std.length} stds for ${C} channels`);
  const w = vit.file.tensors['patch_embed.proj.weight'].data, b = vit.file.tensors['patch_embed.proj.bias'].data;
  const weight = new Float32Array(d * PP), bias = new Float32Array(d);
  for (let o = 0; o < d; o++) {
    let shift = 0;
    for (let k = 0; k < PP; k++) {
      let s = 0;
      for (let c = 0; c < C; c++) {
        const wc = w[(o * C + c) * PP + k];
        s += wc / norm.std[c];
        shift += (wc * (pixelMean - norm.mean[c])) / norm.std[c];
      }
      weight[o * PP + k] = pixelStd * s;
    }
    bias[o] = b[o] + shift;
  }
  return { weight, bias };
}

/**
 * Every vision.* tensor of `config` (from timmVisionConfig) as imported values, by model name. The position
 * table is resized to the config's grid; the class token's row is dropped.
 */
export function timmVisionTensors(vit: TimmVit, config: ModelConfig, norm: ChannelNorm, pixelMean: number, pixelStd: number): Map<string, Float32Array> {
  if (config.dim !== vit.d || config.patchSize !== vit.p || config.visionDepth !== vit.depth || config.mlpRatio * config.dim !== vit.hidden) {
    throw new Error('timm import: the model config does not match the file (use timmVisionConfig)');
  }
  const t = vit.file.tensors, out = new Map<string, Float32Array>();
  const { weight, bias } = foldPatchWeights(vit, norm, pixelMean, pixelStd);
  out.set('vision.patch.weight', weight);
  out.set('vision.patch.bias', bias);
  const table = t.pos_embed.data.subarray(vit.prefix * vit.d);
  out.set('vision.pos', resizePositions(table, vit.grid, config.imageSize / config.patchSize, vit.d));
  for (let i = 0; i < vit.depth; i++) for (const [src, dst] of BLOCK_MAP) out.set(`vision.blocks.${i}.${dst}`, Float32Array.from(t[`blocks.${i}.${src}`].data));
  out.set('vision.norm.weight', Float32Array.from(t['norm.weight'].data));
  out.set('vision.norm.bias', Float32Array.from(t['norm.bias'].data));
  return out;
}

/** Copy imported tensors into a flat parameter array laid out by `layout`; every name must exist with its size. */
export function placeTensors(flat: Float32Array, layout: readonly LayoutEntry[], tensors: Map<string, Float32Array>): number {
  const byName = new Map(layout.map((e) => [e.name, e]));
  for (const [n, v] of tensors) {
    const e = byName.get(n);
    if (!e || e.size !== v.length) throw new Error(`timm import: ${n} (${v.length} values) does not fit the model (${e ? e.size : 'no such tensor'})`);
    flat.set(v, e.offset);
  }
  return tensors.size;
}
