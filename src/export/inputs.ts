/**
 * The ONNX graph's inputs from a batch, as JSON (no protobuf here, so `predict` loads nothing more for it).
 */
import type { Batch } from '../engine/batch.ts';

/** The names of the graph's inputs, in order (src/export/onnx.ts declares them with these shapes). */
export const ONNX_INPUTS = ['image', 'image_present', 'num', 'num_present', 'cat', 'cat_present'] as const;

/** One input array of the graph as JSON: its shape, element type and values (row-major). */
export interface OnnxInputArray { dims: number[]; dtype: 'float32' | 'int64'; data: number[] }

/**
 * A batch as the graph's six inputs (presence flags as float32 0/1, codes as int64), JSON-ready: what
 * `predict --dump-inputs` writes so that any runtime can be fed exactly what the engine saw. Absent values
 * are written as 0 (the graph ignores them; JSON has no NaN).
 */
export function onnxInputs(b: Batch): Record<(typeof ONNX_INPUTS)[number], OnnxInputArray> {
  const B = b.B, Fn = b.num.length / B, Fc = b.cat.length / B, SS = b.S * b.S;
  const clean = (v: ArrayLike<number>, present: (i: number) => boolean) => Array.from(v, (x, i) => (present(i) && Number.isFinite(x) ? x : 0));
  return {
    image: { dims: [B, 1, b.S, b.S], dtype: 'float32', data: clean(b.image, (i) => b.hasImage[Math.floor(i / SS)] !== 0) },
    image_present: { dims: [B], dtype: 'float32', data: Array.from(b.hasImage, (x) => (x ? 1 : 0)) },
    num: { dims: [B, Fn], dtype: 'float32', data: clean(b.num, (i) => b.numPresent[i] !== 0) },
    num_present: { dims: [B, Fn], dtype: 'float32', data: Array.from(b.numPresent, (x) => (x ? 1 : 0)) },
    cat: { dims: [B, Fc], dtype: 'int64', data: clean(b.cat, (i) => b.catPresent[i] !== 0) },
    cat_present: { dims: [B, Fc], dtype: 'float32', data: Array.from(b.catPresent, (x) => (x ? 1 : 0)) },
  };
}
