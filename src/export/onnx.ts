/**
 * ONNX export of a whole model (docs/design.md section 3): ViT, FT-Transformer, modality tokens, masked fusion
 * and head as standard ONNX operators (default domain, opset 17..21), so onnxruntime (C++, C#, Java, Python,
 * the browser) can serve a checkpoint of this engine and give the same logits.
 *
 * The engine groups samples by availability and runs each encoder only over the samples that have its
 * modality; the graph instead runs every encoder over the whole batch at fixed sequence lengths and
 * reproduces the engine's function with masks:
 * - absent inputs are replaced by zeros first (`Where`), so NaN or garbage in an absent slot never reaches a
 *   product (the engine never reads them);
 * - a masked key gets the additive bias -1e9 before the softmax, so its weight is exactly 0 in float32, as in
 *   the engine, where it is skipped; no query row is ever fully masked: the CLS token is always a key in
 *   fusion, and in the tabular encoder a sample without any feature (whose output fusion masks out anyway)
 *   has every key unmasked;
 * - masked query rows get some finite output in the graph (zero in the engine); no unmasked row ever reads
 *   them, so the logits are the same function;
 * - with `attentionMasking: false` (the ablation) nothing is masked: what a sample lacks is a zero token
 *   that every query attends to, in fusion and in the tabular encoder, as the engine does.
 *
 * The protobuf is written with onnx-proto (the ONNX schema compiled by protobufjs). No Node.js API here.
 */
import onnxProto from 'onnx-proto';
import { LABEL_NAMES, NUM_LABELS } from '../engine/batch.ts';
import type { ModelConfig } from '../model/config.ts';
import { dims } from '../model/config.ts';
import { buildLayout } from '../model/layout.ts';
import { categoryOffsets } from '../model/plan.ts';
import { inferenceSpec } from '../infer/spec.ts';
import type { InferenceSpec } from '../infer/spec.ts';

const { onnx } = onnxProto;
type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
import { DEFAULT_OPSET, ONNX_OPSETS } from './opsets.ts';
type IAttributeProto = onnxProto.onnx.IAttributeProto;
type IValueInfoProto = onnxProto.onnx.IValueInfoProto;

/** The IR version each opset goes with (onnx/helper.py's VERSION_TABLE). */
const IR_VERSION: Record<number, number> = { 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };
/**
 * The additive bias of a masked key: finite, and exp(s - 1e9 - max) is exactly 0 in float32 for every score s
 * of size far below 1e9 (attention scores are q·k/sqrt(d/H) of LayerNorm'd, projected tokens).
 */
export const MASK_BIAS = -1e9;

export { ONNX_INPUTS, onnxInputs } from './inputs.ts';
export type { OnnxInputArray } from './inputs.ts';
/** The names of the graph's outputs, in order. */
export const ONNX_OUTPUTS = ['logits', 'probabilities'] as const;

/** What the export reads: a checkpoint's config, its flat parameters in layout order and its metadata. */
export interface OnnxSource {
  config: ModelConfig;
  params: ArrayLike<number>;
  metadata: Record<string, unknown>;
}

export interface OnnxExportOptions {
  /** Opset of the default domain, one of ONNX_OPSETS (default DEFAULT_OPSET). */
  opset?: number;
  /** Recorded as the producer version (e.g. the package version). */
  producerVersion?: string;
}

/** The checkpoint's calibration (contract of issue 26): probability_k = sigmoid(logit_k / T_k). */
export interface Calibration { method: 'temperature'; temperatures: number[] }

/**
 * The calibration entry of a checkpoint's metadata, checked as hostile input: undefined when absent,
 * else 14 positive finite temperatures (a message naming the entry otherwise).
 */
export function calibrationOf(metadata: Record<string, unknown>): Calibration | undefined {
  const c = metadata.calibration;
  if (c === undefined) return undefined;
  const bad = (why: string): never => { throw new Error(`checkpoint metadata: calibration ${why}`); };
  if (typeof c !== 'object' || c === null || Array.isArray(c)) bad('is not an object');
  const { method, temperatures } = c as Record<string, unknown>;
  if (method !== 'temperature') bad(`method ${JSON.stringify(method)?.slice(0, 60)} is not 'temperature'`);
  if (!Array.isArray(temperatures) || temperatures.length !== NUM_LABELS) bad(`temperatures is not a list of ${NUM_LABELS} numbers`);
  const t = temperatures as unknown[];
  t.forEach((v, k) => { if (typeof v !== 'number' || !Number.isFinite(v) || !(v > 0)) bad(`temperatures[${k}] ${JSON.stringify(v)?.slice(0, 40)} is not a positive number`); });
  return { method: 'temperature', temperatures: t as number[] };
}

/** The checkpoint's decision thresholds (contract of issue 26), applied to the calibrated probabilities. */
export interface Thresholds { values: number[]; rule: string; split: string }

/**
 * The thresholds entry of a checkpoint's metadata, checked as hostile input: undefined when absent, else 14
 * probabilities in [0, 1], a rule and a split (a message naming the entry otherwise). The graph does not
 * apply them; they travel in the model's metadata for the runtime that makes calls.
 */
export function thresholdsOf(metadata: Record<string, unknown>): Thresholds | undefined {
  const t = metadata.thresholds;
  if (t === undefined) return undefined;
  const bad = (why: string): never => { throw new Error(`checkpoint metadata: thresholds ${why}`); };
  if (typeof t !== 'object' || t === null || Array.isArray(t)) bad('is not an object');
  const { values, rule, split } = t as Record<string, unknown>;
  if (!Array.isArray(values) || values.length !== NUM_LABELS) bad(`values is not a list of ${NUM_LABELS} numbers`);
  (values as unknown[]).forEach((v, k) => { if (typeof v !== 'number' || !(v >= 0 && v <= 1)) bad(`values[${k}] ${JSON.stringify(v)?.slice(0, 40)} is not a probability`); });
  if (typeof rule !== 'string' || rule.length > 200) bad('rule is not a short string');
  if (typeof split !== 'string' || split.length > 200) bad('split is not a short string');
  return { values: values as number[], rule: rule as string, split: split as string };
}

/** The opset as given (a flag or an option), checked: an integer in ONNX_OPSETS. */
export function checkOpset(opset: unknown): number {
  if (typeof opset !== 'number' || !(ONNX_OPSETS as readonly number[]).includes(opset)) {
    throw new Error(`opset ${JSON.stringify(opset)} is not supported: the export writes and tests opsets ${ONNX_OPSETS[0]}..${ONNX_OPSETS[ONNX_OPSETS.length - 1]}`);
  }
  return opset;
}

// ---- a small graph builder over onnx-proto's messages ------------------------------------------------------

type AttrValue = { i: number } | { f: number } | { ints: number[] } | { s: string };
const int = (i: number): AttrValue => ({ i });
const float = (f: number): AttrValue => ({ f });
const ints = (v: number[]): AttrValue => ({ ints: v });

/** Nodes and initializers in creation order (which is a topological order), with unique names. */
class Graph {
  readonly nodes: INodeProto[] = [];
  readonly inits: ITensorProto[] = [];
  private n = 0;
  private consts = new Map<string, string>();

  /** One node; returns its (first) output's name. */
  op(type: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputs = 1): string {
    return this.opN(type, inputs, attrs, outputs)[0];
  }

  /** One node with `outputs` outputs; returns their names. */
  opN(type: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputs = 1): string[] {
    const id = this.n++;
    const out = Array.from({ length: outputs }, (_, i) => `${type}_${id}${outputs > 1 ? `_${i}` : ''}`);
    const attribute: IAttributeProto[] = Object.entries(attrs).map(([name, v]) => {
      if ('i' in v) return { name, type: onnx.AttributeProto.AttributeType.INT, i: v.i };
      if ('f' in v) return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v.f };
      if ('s' in v) return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(v.s) };
      return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: v.ints };
    });
    this.nodes.push({ opType: type, name: `${type}_${id}`, input: inputs, output: out, attribute });
    return out;
  }

  /** A float32 initializer (the values rounded to float32). */
  f32(name: string, values: ArrayLike<number>, shape: number[]): string {
    const data = Float32Array.from(values as ArrayLike<number>);
    if (data.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`export: ${name} has ${data.length} values for shape [${shape}]`);
    this.inits.push({ name, dims: shape, dataType: onnx.TensorProto.DataType.FLOAT, rawData: leBytes(data) });
    return name;
  }

  /** An int64 initializer (shapes, axes, indices), shared between nodes that use the same values. */
  i64(values: number[], shape: number[] = [values.length]): string {
    const key = `i64:${shape}:${values}`;
    const have = this.consts.get(key);
    if (have) return have;
    const name = `const_${this.consts.size}`;
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    this.inits.push({ name, dims: shape, dataType: onnx.TensorProto.DataType.INT64, rawData: leBytes(data) });
    this.consts.set(key, name);
    return name;
  }

  /** A float32 scalar constant, shared. */
  scalar(v: number): string {
    const key = `f32:${v}`;
    const have = this.consts.get(key);
    if (have) return have;
    const name = `const_${this.consts.size}`;
    this.inits.push({ name, dims: [], dataType: onnx.TensorProto.DataType.FLOAT, rawData: leBytes(new Float32Array([v])) });
    this.consts.set(key, name);
    return name;
  }
}

/** The bytes of a typed array, little-endian as TensorProto.raw_data requires (converted on a big-endian host). */
function leBytes(a: Float32Array | BigInt64Array): Uint8Array {
  const out = new Uint8Array(a.byteLength), v = new DataView(out.buffer);
  if (a instanceof Float32Array) a.forEach((x, i) => v.setFloat32(4 * i, x, true));
  else a.forEach((x, i) => v.setBigInt64(8 * i, x, true));
  return out;
}

/** [rows, cols] row-major -> its transpose [cols, rows] (Linear weights [out, in] become MatMul's [in, out]). */
function transpose(w: ArrayLike<number>, rows: number, cols: number, scale = 1): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c] * scale;
  return out;
}

// ---- the model ---------------------------------------------------------------------------------------------

/** What the layer builders share: the graph, the sizes, the parameters by name. */
interface Ctx {
  g: Graph;
  c: ModelConfig;
  opset: number;
  d: number; H: number; hd: number; hidden: number;
  p: (name: string) => ArrayLike<number>;
}

/** Linear over the last axis: x · W^T + b, W [out, in] stored transposed as one initializer. */
function linear(x: Ctx, inp: string, name: string, IC: number, OC: number): string {
  const { g, p } = x;
  const w = g.f32(`${name}.weight.T`, transpose(p(`${name}.weight`), OC, IC), [IC, OC]);
  const b = g.f32(`${name}.bias`, p(`${name}.bias`), [OC]);
  return g.op('Add', [g.op('MatMul', [inp, w]), b]);
}

function layerNorm(x: Ctx, inp: string, name: string): string {
  const { g, p, d } = x;
  return g.op('LayerNormalization', [inp, g.f32(`${name}.weight`, p(`${name}.weight`), [d]), g.f32(`${name}.bias`, p(`${name}.bias`), [d])], { axis: int(-1), epsilon: float(1e-5) });
}

/**
 * The config's GELU: tanh form 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))), or exact 0.5x(1 + erf(x/sqrt 2)):
 * the Gelu operator from opset 20, spelled out in Mul/Add/Tanh/Erf before it.
 */
function gelu(x: Ctx, inp: string): string {
  const { g } = x;
  if (x.opset >= 20) return g.op('Gelu', [inp], { approximate: { s: x.c.gelu === 'erf' ? 'none' : 'tanh' } });
  const half = g.op('Mul', [inp, g.scalar(0.5)]);
  let t: string;
  if (x.c.gelu === 'erf') {
    t = g.op('Erf', [g.op('Mul', [inp, g.scalar(Math.SQRT1_2)])]);
  } else {
    const cube = g.op('Mul', [g.op('Mul', [inp, inp]), inp]);
    const inner = g.op('Add', [inp, g.op('Mul', [cube, g.scalar(0.044715)])]);
    t = g.op('Tanh', [g.op('Mul', [inner, g.scalar(Math.sqrt(2 / Math.PI))])]);
  }
  return g.op('Mul', [half, g.op('Add', [t, g.scalar(1)])]);
}

/**
 * Multi-head attention of q [B,Tq,d] over k, v [B,T,d] (q already scaled by 1/sqrt(d/H)); `bias` [B,1,1,T]
 * (0 or MASK_BIAS per key) or none. Returns [B,Tq,d].
 */
function attention(x: Ctx, q: string, k: string, v: string, bias: string | null): string {
  const { g, H, hd, d } = x;
  const heads = g.i64([0, 0, H, hd]);
  const qh = g.op('Transpose', [g.op('Reshape', [q, heads])], { perm: ints([0, 2, 1, 3]) });
  const kh = g.op('Transpose', [g.op('Reshape', [k, heads])], { perm: ints([0, 2, 3, 1]) });
  const vh = g.op('Transpose', [g.op('Reshape', [v, heads])], { perm: ints([0, 2, 1, 3]) });
  let s = g.op('MatMul', [qh, kh]);
  if (bias) s = g.op('Add', [s, bias]);
  const o = g.op('MatMul', [g.op('Softmax', [s], { axis: int(-1) }), vh]);
  return g.op('Reshape', [g.op('Transpose', [o], { perm: ints([0, 2, 1, 3]) }), g.i64([0, 0, d])]);
}

/**
 * The qkv Linear's output rows [from, from + n) as a transposed [d, n] weight and an [n] bias; the query rows
 * (the first d, when from = 0) are multiplied by `scale`, attention's 1/sqrt(d/H) folded into the weights.
 */
function qkvPart(x: Ctx, name: string, from: number, n: number, scale: number): { w: string; b: string } {
  const { g, p, d } = x;
  const W = p(`${name}.attn.qkv.weight`), B = p(`${name}.attn.qkv.bias`);
  const w = new Float32Array(d * n), b = new Float32Array(n);
  for (let o = 0; o < n; o++) {
    for (let i = 0; i < d; i++) w[i * n + o] = W[(from + o) * d + i] * (o < x.d && from === 0 ? scale : 1);
    b[o] = B[from + o] * (o < x.d && from === 0 ? scale : 1);
  }
  const tag = `${name}.attn.qkv[${from}:${from + n}]`;
  return { w: g.f32(`${tag}.weight.T`, w, [d, n]), b: g.f32(`${tag}.bias`, b, [n]) };
}

/** The MLP half of a block: x1 + fc2(GELU(fc1(LN2(x1)))). */
function mlpHalf(x: Ctx, x1: string, name: string): string {
  const h = gelu(x, linear(x, layerNorm(x, x1, `${name}.ln2`), `${name}.mlp.fc1`, x.d, x.hidden));
  return x.g.op('Add', [x1, linear(x, h, `${name}.mlp.fc2`, x.hidden, x.d)]);
}

/** A pre-LN block over [B,T,d]: x1 = x + proj(Attn(LN1(x))); x2 = x1 + MLP(LN2(x1)). */
function block(x: Ctx, inp: string, name: string, bias: string | null): string {
  const { g, d } = x;
  const ln1 = layerNorm(x, inp, `${name}.ln1`);
  const qkv = qkvPart(x, name, 0, 3 * d, 1 / Math.sqrt(x.hd));
  const [q, k, v] = g.opN('Split', [g.op('Add', [g.op('MatMul', [ln1, qkv.w]), qkv.b]), g.i64([d, d, d])], { axis: int(-1) }, 3);
  const x1 = g.op('Add', [inp, linear(x, attention(x, q, k, v, bias), `${name}.attn.proj`, d, d)]);
  return mlpHalf(x, x1, name);
}

/**
 * The fusion's last block as the engine runs it: attention over every token, then proj, residual and MLP on
 * the CLS row alone (only its query is computed). inp [B,T,d] -> [B,1,d].
 */
function lastBlock(x: Ctx, inp: string, name: string, bias: string | null): string {
  const { g, d } = x;
  const ln1 = layerNorm(x, inp, `${name}.ln1`);
  const first = (t: string) => g.op('Slice', [t, g.i64([0]), g.i64([1]), g.i64([1])]);
  const qw = qkvPart(x, name, 0, d, 1 / Math.sqrt(x.hd)), kv = qkvPart(x, name, d, 2 * d, 1);
  const q = g.op('Add', [g.op('MatMul', [first(ln1), qw.w]), qw.b]);
  const [k, v] = g.opN('Split', [g.op('Add', [g.op('MatMul', [ln1, kv.w]), kv.b]), g.i64([d, d])], { axis: int(-1) }, 2);
  const x1 = g.op('Add', [first(inp), linear(x, attention(x, q, k, v, bias), `${name}.attn.proj`, d, d)]);
  return mlpHalf(x, x1, name);
}

/** An encoder's blocks and final LayerNorm. */
function encoder(x: Ctx, inp: string, prefix: string, depth: number, bias: string | null): string {
  let h = inp;
  for (let l = 0; l < depth; l++) h = block(x, h, `${prefix}.blocks.${l}`, bias);
  return layerNorm(x, h, `${prefix}.norm`);
}

/** The per-modality affine that marks a token's origin: scale ⊙ z + shift. */
function modalityAffine(x: Ctx, z: string, which: 'vision' | 'tabular'): string {
  const { g, p, d } = x, n = `fusion.modality.${which}`;
  return g.op('Add', [g.op('Mul', [z, g.f32(`${n}.scale`, p(`${n}.scale`), [d])]), g.f32(`${n}.shift`, p(`${n}.shift`), [d])]);
}

/** [B,T] 0/1 key mask -> [B,1,1,T] additive bias (0 present, MASK_BIAS masked). */
function keyBias(x: Ctx, mask: string): string {
  const { g } = x;
  return g.op('Unsqueeze', [g.op('Mul', [g.op('Sub', [mask, g.scalar(1)]), g.scalar(-MASK_BIAS)]), g.i64([1, 2])]);
}

/** `present != 0` as a bool tensor and as 0/1 float32 (the engine's test of every presence flag). */
function presence(x: Ctx, flag: string): { bool: string; float: string } {
  const { g } = x;
  const bool = g.op('Not', [g.op('Equal', [flag, g.scalar(0)])]);
  return { bool, float: g.op('Cast', [bool], { to: int(onnx.TensorProto.DataType.FLOAT) }) };
}

/**
 * The whole model as a GraphProto. Shapes: image [B,1,S,S], image_present [B], num and num_present [B,Fn],
 * cat (int64) and cat_present [B,Fc] -> logits [B,14], probabilities [B,14].
 */
function buildGraph(src: OnnxSource, opset: number, calibration: Calibration | undefined): onnxProto.onnx.IGraphProto {
  const c = src.config, k = dims(c), g = new Graph();
  const named = new Map(buildLayout(c).map((e) => [e.name, e]));
  const flat = src.params instanceof Float32Array ? src.params : Float32Array.from(src.params);
  const p = (name: string): Float32Array => {
    const e = named.get(name);
    if (!e) throw new Error(`export: no tensor '${name}' in the layout`);
    return flat.subarray(e.offset, e.offset + e.size);
  };
  const x: Ctx = { g, c, opset, d: k.d, H: k.H, hd: k.d / k.H, hidden: k.hidden, p };
  const { d, Nv, Fn, Fc, Ft } = k, G = k.S / k.P, masking = c.attentionMasking;

  // ---- presence -------------------------------------------------------------------------------------------
  const img = presence(x, 'image_present');
  const imgCol = g.op('Unsqueeze', [img.float, g.i64([1])]); // [B,1]
  const batchShape = g.op('Shape', ['image_present']); // [B] as a 1-D int64 tensor
  const ones = g.op('Expand', [g.scalar(1), g.op('Concat', [batchShape, g.i64([1])], { axis: int(0) })]); // [B,1]

  // ---- vision encoder over every sample (an absent image is zeros; fusion masks its tokens) --------------
  const image = g.op('Where', [g.op('Unsqueeze', [img.bool, g.i64([1, 2, 3])]), 'image', g.scalar(0)]);
  const patches = g.op('Reshape', [
    g.op('Transpose', [g.op('Reshape', [image, g.i64([-1, G, k.P, G, k.P])])], { perm: ints([0, 1, 3, 2, 4]) }),
    g.i64([-1, Nv, k.PP]),
  ]);
  let v = linear(x, patches, 'vision.patch', k.PP, d);
  v = g.op('Add', [v, g.f32('vision.pos', p('vision.pos'), [Nv, d])]);
  const vision = modalityAffine(x, encoder(x, v, 'vision', c.visionDepth, null), 'vision');

  // ---- tabular encoder over every sample (one without features: all zero tokens, masked out in fusion) ---
  let tabular: string | null = null, tokP: string | null = null;
  if (Ft > 0) {
    const toks: string[] = [], pres: string[] = [];
    if (Fn > 0) {
      const np = presence(x, 'num_present');
      const num = g.op('Where', [np.bool, 'num', g.scalar(0)]);
      const tok = g.op('Mul', [g.op('Unsqueeze', [num, g.i64([2])]), g.f32('tabular.num.weight', p('tabular.num.weight'), [Fn, d])]);
      toks.push(g.op('Add', [tok, g.f32('tabular.num.bias', p('tabular.num.bias'), [Fn, d])]));
      pres.push(np.float);
    }
    if (Fc > 0) {
      const cp = presence(x, 'cat_present');
      const code = g.op('Add', [g.op('Where', [cp.bool, 'cat', g.i64([0], [])]), g.i64([...categoryOffsets(c)])]);
      const embed = g.f32('tabular.cat.embed', p('tabular.cat.embed'), [k.vocab, d]);
      toks.push(g.op('Add', [g.op('Gather', [embed, code], { axis: int(0) }), g.f32('tabular.cat.bias', p('tabular.cat.bias'), [Fc, d])]));
      pres.push(cp.float);
    }
    tokP = pres.length > 1 ? g.op('Concat', pres, { axis: int(1) }) : pres[0]; // [B,Ft]
    const tok = toks.length > 1 ? g.op('Concat', toks, { axis: int(1) }) : toks[0];
    const masked = g.op('Mul', [tok, g.op('Unsqueeze', [tokP, g.i64([2])])]); // the engine's maskRows
    let bias: string | null = null;
    if (masking) {
      // A sample with no feature at all never reaches the engine's tabular encoder; here its keys are all
      // unmasked (no fully masked row) and fusion masks its tokens.
      const hasTab = g.op('Cast', [g.op('Greater', [g.op('ReduceSum', [tokP, g.i64([1])], { keepdims: int(1) }), g.scalar(0)])], { to: int(onnx.TensorProto.DataType.FLOAT) });
      bias = keyBias(x, g.op('Max', [tokP, g.op('Sub', [g.scalar(1), hasTab])]));
    }
    tabular = modalityAffine(x, encoder(x, masked, 'tabular', c.tabularDepth, bias), 'tabular');
  }

  // ---- fusion: [cls] ++ vision ++ tabular, absent tokens zero; masked keys (method) or attended (ablation) -
  const cls = g.op('Expand', [g.f32('fusion.cls', p('fusion.cls'), [1, 1, d]), g.op('Concat', [batchShape, g.i64([1, d])], { axis: int(0) })]);
  let seq = g.op('Concat', tabular ? [cls, vision, tabular] : [cls, vision], { axis: int(1) });
  const visP = g.op('Expand', [imgCol, g.i64([1, Nv])]);
  const present = g.op('Concat', tokP ? [ones, visP, tokP] : [ones, visP], { axis: int(1) }); // [B,T]
  seq = g.op('Mul', [seq, g.op('Unsqueeze', [present, g.i64([2])])]);
  const fbias = masking ? keyBias(x, present) : null;
  const L = c.fusionDepth;
  for (let l = 0; l < L - 1; l++) seq = block(x, seq, `fusion.blocks.${l}`, fbias);
  const clsOut = L > 0 ? lastBlock(x, seq, `fusion.blocks.${L - 1}`, fbias) : g.op('Slice', [seq, g.i64([0]), g.i64([1]), g.i64([1])]);
  const normed = layerNorm(x, g.op('Squeeze', [clsOut, g.i64([1])]), 'fusion.norm');
  const logits = linear(x, normed, 'head', d, NUM_LABELS);
  g.nodes.push({ opType: 'Identity', name: 'logits', input: [logits], output: ['logits'] });
  const scaled = calibration ? g.op('Div', ['logits', g.f32('calibration.temperatures', calibration.temperatures, [NUM_LABELS])]) : 'logits';
  g.nodes.push({ opType: 'Sigmoid', name: 'probabilities', input: [scaled], output: ['probabilities'] });

  const F = onnx.TensorProto.DataType.FLOAT, I64 = onnx.TensorProto.DataType.INT64;
  return {
    name: 'resilient_fusion',
    node: g.nodes,
    initializer: g.inits,
    input: [
      valueInfo('image', F, ['batch', 1, k.S, k.S], 'normalized grey pixels (pixel/255 - mean)/std, row-major; any value where image_present is 0'),
      valueInfo('image_present', F, ['batch'], '1 the sample has an image, 0 not'),
      valueInfo('num', F, ['batch', Fn], 'standardized numeric features (v - mean)/std in the schema order; any value where absent'),
      valueInfo('num_present', F, ['batch', Fn], '1 present, 0 missing'),
      valueInfo('cat', I64, ['batch', Fc], '0-based category codes into each vocabulary; any value where absent'),
      valueInfo('cat_present', F, ['batch', Fc], '1 present, 0 missing'),
    ],
    output: [
      valueInfo('logits', F, ['batch', NUM_LABELS], `one logit per finding, in the order of the metadata's labels`),
      valueInfo('probabilities', F, ['batch', NUM_LABELS], calibration ? 'sigmoid(logits / T), T the checkpoint\'s calibration temperatures' : 'sigmoid(logits) (the checkpoint has no calibration)'),
    ],
  };
}

function valueInfo(name: string, elemType: number, shape: (number | string)[], docString: string): IValueInfoProto {
  return {
    name, docString,
    type: { tensorType: { elemType, shape: { dim: shape.map((s) => (typeof s === 'string' ? { dimParam: s } : { dimValue: s })) } } },
  };
}

/** The preprocessing the graph's inputs expect, as JSON for the model's metadata_props. */
function preprocessingOf(spec: InferenceSpec): Record<string, unknown> {
  return {
    image: {
      input: 'image', shape: ['batch', 1, spec.imageSize, spec.imageSize],
      formula: '(pixel / 255 - pixelMean) / pixelStd over a grey image resized to imageSize x imageSize',
      imageSize: spec.imageSize, pixelMean: spec.pixelMean, pixelStd: spec.pixelStd, decoder: spec.decoder,
    },
    numeric: spec.numeric.map((f) => ({ index: f.index, name: f.name, unit: f.unit, formula: '(value - mean) / std', mean: f.mean, std: f.std })),
    categorical: spec.categorical.map((f) => ({ index: f.index, name: f.name, vocab: f.vocab, code: 'index in vocab (int64)' })),
    presence: 'image_present, num_present, cat_present: 1 present, 0 absent; absent values are ignored',
  };
}

/** The ModelProto of a checkpoint (not yet encoded). */
export function onnxModel(src: OnnxSource, opts: OnnxExportOptions = {}): onnxProto.onnx.IModelProto {
  const opset = checkOpset(opts.opset ?? DEFAULT_OPSET);
  const spec = inferenceSpec(src.config, src.metadata);
  const calibration = calibrationOf(src.metadata);
  const thresholds = thresholdsOf(src.metadata);
  const expected = buildLayout(src.config).reduce((a, e) => a + e.size, 0);
  if (src.params.length !== expected) throw new Error(`export: ${src.params.length} parameters, the config's layout has ${expected}`);
  const meta: Record<string, string> = {
    labels: JSON.stringify([...LABEL_NAMES]),
    preprocessing: JSON.stringify(preprocessingOf(spec)),
    probabilities: calibration ? 'sigmoid(logits / T), T = calibration.temperatures' : 'sigmoid(logits), uncalibrated',
    config: JSON.stringify(src.config),
    masking: src.config.attentionMasking
      ? 'absent modalities and features are masked keys (additive bias -1e9); CLS is always present'
      : 'ablation: absent modalities and features are zero tokens that every query attends to',
  };
  if (calibration) meta.calibration = JSON.stringify(calibration);
  if (thresholds) meta.thresholds = JSON.stringify({ ...thresholds, appliesTo: 'probabilities' });
  return {
    irVersion: IR_VERSION[opset],
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'resilient-fusion',
    producerVersion: opts.producerVersion ?? '',
    docString: 'Vision + tabular transformer with masked fusion (14 CheXpert findings), exported by resilient-fusion',
    graph: buildGraph(src, opset, calibration),
    metadataProps: Object.entries(meta).map(([key, value]) => ({ key, value })),
  };
}

/** The model as ONNX bytes (a ModelProto), ready to write to a .onnx file. */
export function exportOnnx(src: OnnxSource, opts: OnnxExportOptions = {}): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(onnxModel(src, opts))).finish();
}

