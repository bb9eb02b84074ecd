/**
 * Masked multi-head attention benchmark: forward, backward and both, one thread, a batch of 32 samples with
 * 30% of the tokens masked, d=192, 3 heads, T=97 and T=229. FLOPs are nominal (4·T²·d forward, 8·T²·d
 * backward per sample, masked tokens counted) so the figure is comparable with an unmasked kernel; the
 * kernel skips masked tokens, so it does about (present share)² of that work. Verified against the float64
 * reference (two samples) before timing; % of peak is against the build's measured multiply-add peak.
 */
import { ReferenceBackend, WasmBackend, wasmBuildSupported } from '../src/engine/index.ts';
import type { SyncBackend } from '../src/engine/index.ts';
import { mulberry32 } from '../src/engine/rng.ts';
import { measure, measurePeak, row } from './util.ts';
import type { BenchMain } from './util.ts';

const rng = mulberry32;

interface Data { qkv: Float32Array; mask: Float32Array; dout: Float32Array; present: number }
function data(B: number, T: number, d: number, seed: number): Data {
  const r = rng(seed);
  const rand = (n: number): Float32Array => Float32Array.from({ length: n }, () => 2 * r() - 1);
  const mask = new Float32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) mask[b * T + t] = r() < 0.3 ? 0 : 1;
    mask[b * T] = 1; // CLS-like: never a fully masked sample
  }
  let present = 0;
  for (const m of mask) present += m;
  return { qkv: rand(B * T * 3 * d), mask, dout: rand(B * T * d), present: present / mask.length };
}

/** Runs forward + backward for samples [0, Bv) on a backend; returns out and dqkv. */
function verifyRun(be: SyncBackend, x: Data, Bv: number, T: number, d: number, H: number): { out: Float64Array; dqkv: Float64Array } {
  const qkv = be.alloc(Bv * T * 3 * d), mask = be.alloc(Bv * T), dout = be.alloc(Bv * T * d);
  const out = be.alloc(Bv * T * d), att = be.alloc(Bv * H * T * T), dqkv = be.alloc(Bv * T * 3 * d);
  be.write(qkv, x.qkv.subarray(0, Bv * T * 3 * d));
  be.write(mask, x.mask.subarray(0, Bv * T));
  be.write(dout, x.dout.subarray(0, Bv * T * d));
  be.fill(dqkv, Bv * T * 3 * d, 0);
  be.attentionForward(out, att, qkv, mask, Bv, T, d, H);
  be.attentionBackward(dqkv, dout, qkv, att, mask, Bv, T, d, H);
  return { out: be.readSync(out, Bv * T * d), dqkv: be.readSync(dqkv, Bv * T * 3 * d) };
}

function maxRelErr(got: Float64Array, want: Float64Array): number {
  let scale = 0, err = 0;
  for (let i = 0; i < want.length; i++) { scale = Math.max(scale, Math.abs(want[i])); err = Math.max(err, Math.abs(got[i] - want[i])); }
  return err / (scale || 1);
}

export const main: BenchMain = (args, emit) => {
  const B = 32, d = 192, H = 3;
  const Ts = args.quick ? [97] : [97, 229];
  for (const build of args.builds) {
    if (!wasmBuildSupported(build)) continue;
    const peak = measurePeak(build);
    for (const T of Ts) {
      const x = data(B, T, d, 1234 + T);
      const be = new WasmBackend(build, 1 << 26);
      // verify first
      const want = verifyRun(new ReferenceBackend(), x, 2, T, d, H);
      const mk = be.mark();
      const got = verifyRun(be, x, 2, T, d, H);
      be.release(mk);
      const e = Math.max(maxRelErr(got.out, want.out), maxRelErr(got.dqkv, want.dqkv));
      if (!(e < 1e-4)) throw new Error(`attention ${build} T=${T}: verification failed, max relative error ${e}`);

      const qkv = be.alloc(B * T * 3 * d), mask = be.alloc(B * T), dout = be.alloc(B * T * d);
      const out = be.alloc(B * T * d), att = be.alloc(B * H * T * T), dqkv = be.alloc(B * T * 3 * d);
      be.write(qkv, x.qkv);
      be.write(mask, x.mask);
      be.write(dout, x.dout);
      be.fill(dqkv, B * T * 3 * d, 0);
      const fwd = (): void => be.attentionForward(out, att, qkv, mask, B, T, d, H);
      const bwd = (): void => be.attentionBackward(dqkv, dout, qkv, att, mask, B, T, d, H);
      const shape = `B=${B} T=${T} d=${d} H=${H}`;
      const nominal = B * T * T * d;
      const opts = { minRuns: 9, minSeconds: args.quick ? 0.2 : 0.5 };
      const extra = { present: +x.present.toFixed(3), maxRelErr: e.toExponential(1) };
      fwd();
      emit({ ...row('attention fwd', build, shape, measure(fwd, opts), 4 * nominal, peak), ...extra });
      emit({ ...row('attention bwd', build, shape, measure(bwd, opts), 8 * nominal, peak), ...extra });
      emit({ ...row('attention fwd+bwd', build, shape, measure(() => { fwd(); bwd(); }, opts), 12 * nominal, peak), ...extra });
    }
  }
};
