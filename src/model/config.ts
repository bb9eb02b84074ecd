/**
 * Model configuration: one defaults object with a comment per key (nanoGPT style), three presets, and
 * `resolveConfig`, which applies overrides checked against the defaults (an unknown key or a value of the
 * wrong type is an error, not a silent no-op).
 */

/** What an uncertain label (-1) becomes: ignored (not a target), a positive, or a negative (CheXpert U-policies). */
export type UncertainPolicy = 'ignore' | 'ones' | 'zeros';

/**
 * The GELU of every MLP: 'tanh' is the approximation 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))) (GPT-2, and
 * this model's default since the start); 'erf' is the exact x * Phi(x), PyTorch's nn.GELU() default, which ViT
 * weights imported from timm were trained with (they differ by up to ~1e-3 per activation).
 */
export type GeluForm = 'tanh' | 'erf';

export interface ModelConfig {
  /** Image side S in pixels (1 channel, S x S). */
  imageSize: number;
  /** Patch side P; S must be a multiple of P. Vision tokens: (S/P)^2. */
  patchSize: number;
  /** Model width d, shared by the three encoders. */
  dim: number;
  /** Attention heads per block; d must be a multiple. */
  heads: number;
  /** MLP hidden width = mlpRatio * d. */
  mlpRatio: number;
  /** Transformer blocks of the vision encoder (ViT). */
  visionDepth: number;
  /** Transformer blocks of the tabular encoder (FT-Transformer). */
  tabularDepth: number;
  /** Transformer blocks of the fusion encoder. */
  fusionDepth: number;
  /** Numeric tabular features F_num (one token each). */
  numFeatures: number;
  /** Vocabulary size of each categorical feature (one token each); codes are 0..cardinality-1. */
  catCardinalities: number[];
  /** What an uncertain label (-1) means for the loss; a blank (NaN) is never a target. */
  uncertain: UncertainPolicy;
  /**
   * Mask missing modalities and features out of attention (the method). false is the ablation: every sample
   * gets the full sequence, missing tokens are zero vectors and are attended like any other.
   */
  attentionMasking: boolean;
  /** The MLPs' GELU (see GeluForm). A checkpoint without the key (older files) is 'tanh'. */
  gelu: GeluForm;
}

/** The defaults: the `small` preset (a laptop, minutes) with no tabular features declared. */
export const MODEL_DEFAULTS: Readonly<ModelConfig> = Object.freeze({
  imageSize: 64, // 64 x 64 images
  patchSize: 8, // 8 x 8 patches -> 64 vision tokens
  dim: 96, // model width
  heads: 3, // head dim 32
  mlpRatio: 4, // MLP hidden 4d
  visionDepth: 2,
  tabularDepth: 1,
  fusionDepth: 2,
  numFeatures: 0, // set from the data set's schema
  catCardinalities: [] as number[], // set from the data set's schema
  uncertain: 'ignore' as UncertainPolicy, // CheXpert U-Ignore
  attentionMasking: true, // false: the "no masking" ablation (zero-filled, attended tokens)
  gelu: 'tanh' as GeluForm, // 'erf' for imported ViT weights (docs/pretrained.md)
});

export type PresetName = 'tiny' | 'small' | 'base';

const PRESETS: Record<PresetName, Partial<ModelConfig>> = {
  /** Tests and CI: seconds. */
  tiny: { imageSize: 32, patchSize: 8, dim: 32, heads: 2, mlpRatio: 4, visionDepth: 1, tabularDepth: 1, fusionDepth: 1 },
  /** The default: a laptop in minutes. */
  small: {},
  /** Servers: the reference model of the benchmarks (ViT-Tiny width on 128 x 128 images). */
  base: { imageSize: 128, patchSize: 16, dim: 192, heads: 3, mlpRatio: 4, visionDepth: 4, tabularDepth: 2, fusionDepth: 2 },
};

/** A full config for a preset (tabular features empty until the data set's schema sets them). */
export function presetConfig(name: PresetName): ModelConfig {
  const p = PRESETS[name];
  if (!p) throw new Error(`unknown model preset '${String(name)}' (known: ${Object.keys(PRESETS).join(', ')})`);
  return resolveConfig(p);
}

/**
 * The sizes a config may ask for, checked by resolveConfig from the config alone (arithmetic, nothing
 * allocated), so a hostile checkpoint's config cannot make the loader allocate gigabytes:
 * - `maxParams` 2^28 parameters (1 GiB as F32; parameters plus gradients then take half of the 4 GiB that
 *   32-bit WebAssembly memory can address, leaving the rest for activations);
 * - `maxActivationsPerSample` 2^28 activation elements for one sample in training (every block's saved
 *   tensors and the attention maps; see `activationElements`), the same 1 GiB bound;
 * - `maxDepth` 1024 blocks per encoder.
 * The presets are far inside them (base with 16 features: 3.6 M parameters, 1.8 M activations per sample).
 */
export const MODEL_LIMITS = Object.freeze({ maxParams: 2 ** 28, maxActivationsPerSample: 2 ** 28, maxDepth: 1024 });

/** Keys that would reach the prototype chain if a program treated a config as a plain map. */
const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'];

/**
 * Defaults (or `base`) with `overrides` applied. Every key must be one of the defaults' own keys and have the
 * same type; the result is checked for consistency (S a multiple of P, d a multiple of heads, positive sizes)
 * and against MODEL_LIMITS.
 */
export function resolveConfig(overrides: Partial<ModelConfig> = {}, base: Readonly<ModelConfig> = MODEL_DEFAULTS): ModelConfig {
  const cfg: ModelConfig = { ...base, catCardinalities: [...base.catCardinalities] };
  for (const [k, v] of Object.entries(overrides)) {
    if (FORBIDDEN_KEYS.includes(k)) throw new Error(`model config: key '${k}' is not allowed`);
    if (v === undefined) continue;
    if (!Object.hasOwn(MODEL_DEFAULTS, k)) {
      throw new Error(`model config: unknown key '${k.slice(0, 60)}' (known: ${Object.keys(MODEL_DEFAULTS).join(', ')})`);
    }
    const want = MODEL_DEFAULTS[k as keyof ModelConfig];
    if (Array.isArray(want)) {
      if (!Array.isArray(v)) throw new Error(`model config: '${k}' must be an array of numbers, got ${JSON.stringify(v).slice(0, 80)}`);
    } else if (typeof v !== typeof want) {
      throw new Error(`model config: '${k}' must be a ${typeof want}, got ${JSON.stringify(v).slice(0, 80)}`);
    }
    (cfg as unknown as Record<string, unknown>)[k] = Array.isArray(v) ? [...v] : v;
  }
  checkConfig(cfg);
  checkLimits(cfg);
  return cfg;
}

function checkConfig(c: ModelConfig): void {
  const posInt = (k: keyof ModelConfig, min = 1) => {
    const v = c[k] as number;
    if (!Number.isSafeInteger(v) || v < min) throw new Error(`model config: '${k}' must be an integer >= ${min}, got ${v}`);
  };
  posInt('imageSize'); posInt('patchSize'); posInt('dim'); posInt('heads'); posInt('mlpRatio');
  posInt('visionDepth', 0); posInt('tabularDepth', 0); posInt('fusionDepth', 0); posInt('numFeatures', 0);
  if (c.imageSize % c.patchSize !== 0) throw new Error(`model config: imageSize ${c.imageSize} is not a multiple of patchSize ${c.patchSize}`);
  if (c.dim % c.heads !== 0) throw new Error(`model config: dim ${c.dim} is not a multiple of heads ${c.heads}`);
  for (const [j, n] of c.catCardinalities.entries()) {
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`model config: catCardinalities[${j}] must be an integer >= 1, got ${n}`);
  }
  if (!['ignore', 'ones', 'zeros'].includes(c.uncertain)) {
    throw new Error(`model config: 'uncertain' must be ignore, ones or zeros, got ${JSON.stringify(c.uncertain)}`);
  }
  if (c.gelu !== 'tanh' && c.gelu !== 'erf') throw new Error(`model config: 'gelu' must be tanh or erf, got ${JSON.stringify(c.gelu).slice(0, 80)}`);
}

/** MODEL_LIMITS, from the config's arithmetic (`!(x <= max)` so an overflow to Infinity or NaN fails too). */
function checkLimits(c: ModelConfig): void {
  const L = MODEL_LIMITS;
  for (const k of ['visionDepth', 'tabularDepth', 'fusionDepth'] as const) {
    if (!(c[k] <= L.maxDepth)) throw new Error(`model config: ${k} ${c[k]} is over the limit of ${L.maxDepth} blocks`);
  }
  const p = paramCount(c);
  if (!(p <= L.maxParams)) throw new Error(`model config: ${p.toExponential(3)} parameters, over the limit of ${L.maxParams} (2^28)`);
  const a = activationElements(c, 1, true);
  if (!(a <= L.maxActivationsPerSample)) {
    throw new Error(`model config: ${a.toExponential(3)} activation values per sample in training, over the limit of ${L.maxActivationsPerSample} (2^28; tokens: ${1 + (c.imageSize / c.patchSize) ** 2 + c.numFeatures + c.catCardinalities.length})`);
  }
}

/**
 * The parameter count of a config, by arithmetic (equal to layoutSize(buildLayout(c)), which a test checks):
 * a pre-LN block has 4d^2 + 2dh + 9d + h parameters (qkv, proj, fc1, fc2 and their biases, two LayerNorms).
 */
export function paramCount(c: ModelConfig): number {
  const k = dims(c), d = k.d, h = k.hidden;
  const block = 4 * d * d + 2 * d * h + 9 * d + h;
  const vision = d * k.PP + d + k.Nv * d + c.visionDepth * block + 2 * d;
  const tabular = 2 * k.Fn * d + k.vocab * d + k.Fc * d + c.tabularDepth * block + 2 * d;
  const fusion = 5 * d + c.fusionDepth * block + 2 * d;
  return vision + tabular + fusion + 14 * d + 14;
}

/** The number of named tensors of a config (12 per block, 20 outside them). */
export function tensorCount(c: ModelConfig): number {
  return 20 + 12 * (c.visionDepth + c.tabularDepth + c.fusionDepth);
}

/**
 * Arena elements of the model's activation region for `cap` samples (the model's allocActs, counted the same
 * way: each buffer rounded up to 4 elements; a test checks the two agree). `training` keeps every block's
 * activations and the backward scratch; inference keeps one block's worth.
 */
export function activationElements(c: ModelConfig, cap: number, training: boolean): number {
  const k = dims(c), d = k.d, hid = k.hidden;
  const r4 = (n: number) => Math.ceil(n / 4) * 4;
  const rowsV = cap * k.Nv, rowsT = cap * k.Ft, Tf = 1 + k.Nv + k.Ft, rowsF = cap * Tf;
  const block = (rows: number, T: number) =>
    5 * r4(rows * d) + 4 * r4(rows) + r4(rows * 3 * d) + r4(cap * k.H * T * T) + 2 * r4(rows * hid);
  const encoder = (rows: number, T: number, depth: number, outRows: number) =>
    r4(rows * d) + (training ? depth : Math.min(depth, 1)) * block(rows, T) + r4(outRows * d) + 2 * r4(outRows) + 2 * r4(rows)
    + (training ? 2 * r4(rows * d) : 0);
  const maxRows = Math.max(rowsV, rowsT, rowsF);
  return r4(cap * k.S * k.S) + r4(rowsV * k.PP) + r4(cap * k.Fn) + r4(cap * k.Fc)
    + encoder(rowsV, k.Nv, c.visionDepth, rowsV) + encoder(rowsT, k.Ft, c.tabularDepth, rowsT) + encoder(rowsF, Tf, c.fusionDepth, cap)
    + 5 * r4(cap * d) + 4 * r4(cap * 14) + 5 * r4(cap)
    + (training ? 2 * r4(maxRows * d) + r4(maxRows * 3 * d) + r4(maxRows * hid) : 0);
}

/** Sizes derived from a config, used by the layout, the activations and the FLOP count. */
export interface Dims {
  S: number; P: number; d: number; H: number; hidden: number;
  /** Vision tokens (S/P)^2 and pixels per patch P^2. */
  Nv: number; PP: number;
  /** Numeric, categorical and all tabular tokens. */
  Fn: number; Fc: number; Ft: number;
  /** Sum of categorical cardinalities (rows of tabular.cat.embed). */
  vocab: number;
}

export function dims(c: ModelConfig): Dims {
  const G = c.imageSize / c.patchSize;
  const Fc = c.catCardinalities.length;
  return {
    S: c.imageSize, P: c.patchSize, d: c.dim, H: c.heads, hidden: c.mlpRatio * c.dim,
    Nv: G * G, PP: c.patchSize * c.patchSize,
    Fn: c.numFeatures, Fc, Ft: c.numFeatures + Fc,
    vocab: c.catCardinalities.reduce((a, b) => a + b, 0),
  };
}

/**
 * Forward FLOPs (multiply-add = 2) of one complete sample (image and every feature present): the matrix
 * products of every Linear, attention's QK^T and AV, and the head, as computed (the last fusion block's
 * proj and MLP run on the CLS row only). Elementwise work is left out, as in the
 * usual MFU accounting (PaLM, appendix B). Training is about 3x this (the backward pass is two products).
 */
export function forwardFlopsPerSample(c: ModelConfig): number {
  const k = dims(c);
  const block = (n: number) => 2 * n * (3 * k.d * k.d + k.d * k.d + 2 * k.d * k.hidden) + 2 * 2 * n * n * k.d;
  const T = 1 + k.Nv + k.Ft;
  // The fusion's last block continues after attention on the CLS row alone (see lastBlockForward).
  const lastSkipped = c.fusionDepth > 0 ? 2 * (T - 1) * (k.d * k.d + 2 * k.d * k.hidden) : 0;
  return 2 * k.Nv * k.PP * k.d + c.visionDepth * block(k.Nv) + c.tabularDepth * block(k.Ft) + c.fusionDepth * block(T) - lastSkipped + 2 * 14 * k.d;
}
