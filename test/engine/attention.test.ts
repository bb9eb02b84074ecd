/**
 * Masked multi-head attention, the mask invariants in both WebAssembly builds: masked tokens' values reach
 * no output bit and get no gradient, an all-ones mask is plain attention, a sample's results do not depend
 * on its batch, and the unpacked path gives the packed path's bits. The comparison with the float64
 * reference across the tile edges and the gradient by central differences are the op table's
 * (attentionForward/Backward rows, test/engine/op-table-wasm.test.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { SyncBackend } from '../../src/engine/index.ts';
import { maskRow } from '../../src/engine/op-table.ts';
import { close, nans, put, randArray, reference, rng, sameBits, wasmBackends } from '../util/harness.ts';

interface Case { B: number; T: number; d: number; H: number; qkv: Float32Array; mask: Float32Array; dout: Float32Array; dqkv0: Float32Array }
interface Result { out: Float64Array; att: Float64Array; dqkv: Float64Array }

/** Forward then backward (dqkv accumulated onto c.dqkv0) on one backend; outputs pre-filled with NaN. */
function run(be: SyncBackend, c: Case): Result {
  const { B, T, d, H } = c;
  const mk = be.mark();
  const qkv = put(be, c.qkv), mask = put(be, c.mask), dout = put(be, c.dout), dqkv = put(be, c.dqkv0);
  const out = nans(be, B * T * d), att = nans(be, B * H * T * T);
  be.attentionForward(out, att, qkv, mask, B, T, d, H);
  be.attentionBackward(dqkv, dout, qkv, att, mask, B, T, d, H);
  const r = { out: be.readSync(out, B * T * d), att: be.readSync(att, B * H * T * T), dqkv: be.readSync(dqkv, B * T * 3 * d) };
  be.release(mk);
  return r;
}

function makeCase(seed: number, T: number, d: number, H: number, kinds: string[]): Case {
  const r = rng(seed), B = kinds.length;
  const mask = new Float32Array(kinds.flatMap((k) => maskRow(r, T, k)));
  return {
    B, T, d, H, mask,
    qkv: randArray(r, B * T * 3 * d, -2, 2),
    dout: randArray(r, B * T * d),
    dqkv0: randArray(r, B * T * 3 * d),
  };
}

test('a masked token gets exactly no gradient (its dqkv rows keep their bits), wasm and reference', () => {
  for (const be of [...wasmBackends(), reference()]) {
    for (const [T, hd, H] of [[17, 8, 3], [97, 64, 3], [9, 5, 2]]) {
      const c = makeCase(500 + T, T, hd * H, H, ['random', 'one', 'none']);
      const got = run(be, c);
      for (let t = 0; t < c.B * T; t++) {
        if (c.mask[t] !== 0) continue;
        for (let e = 0; e < 3 * c.d; e++) {
          const i = t * 3 * c.d + e;
          assert.ok(Object.is(Math.fround(got.dqkv[i]), c.dqkv0[i]), `${be.name} T=${T} token ${t}: dqkv[${e}] ${got.dqkv[i]} != ${c.dqkv0[i]}`);
        }
      }
    }
  }
});

const f32 = (a: Float64Array): Float32Array => Float32Array.from(a);

test('wasm: masked tokens\' q/k/v (even NaN) and masked rows of dout change no output bit', () => {
  for (const be of wasmBackends()) {
    for (const [T, hd, H] of [[17, 8, 3], [97, 64, 3], [9, 5, 2]]) {
      const c = makeCase(77 + T, T, hd * H, H, ['random', 'one', 'random']);
      const base = run(be, c);
      for (const fillNaN of [false, true]) {
        const r = rng(5 + T);
        const qkv = Float32Array.from(c.qkv), dout = Float32Array.from(c.dout);
        for (let t = 0; t < c.B * T; t++) {
          if (c.mask[t] !== 0) continue;
          for (let e = 0; e < 3 * c.d; e++) qkv[t * 3 * c.d + e] = fillNaN ? NaN : 100 * r() - 50;
          for (let e = 0; e < c.d; e++) dout[t * c.d + e] = fillNaN ? NaN : 7;
        }
        const got = run(be, { ...c, qkv, dout });
        const label = `${be.name} T=${T} nan=${fillNaN}`;
        sameBits(`${label} out`, f32(got.out), f32(base.out));
        sameBits(`${label} att`, f32(got.att), f32(base.att));
        sameBits(`${label} dqkv`, f32(got.dqkv), f32(base.dqkv));
      }
    }
  }
});

/** Plain (mask-free) multi-head attention forward in float64: the expected result of an all-ones mask. */
function plainAttention(qkv: Float32Array, B: number, T: number, d: number, H: number): Float64Array {
  const hd = d / H, out = new Float64Array(B * T * d), s = new Float64Array(T);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < T; i++) {
    const row = (t: number, part: number): number => (b * T + t) * 3 * d + part * d + h * hd;
    for (let j = 0; j < T; j++) {
      let dot = 0;
      for (let e = 0; e < hd; e++) dot += qkv[row(i, 0) + e] * qkv[row(j, 1) + e];
      s[j] = dot / Math.sqrt(hd);
    }
    const mx = Math.max(...s);
    let sum = 0;
    for (let j = 0; j < T; j++) { s[j] = Math.exp(s[j] - mx); sum += s[j]; }
    for (let j = 0; j < T; j++) for (let e = 0; e < hd; e++) out[(b * T + i) * d + h * hd + e] += (s[j] / sum) * qkv[row(j, 2) + e];
  }
  return out;
}

test('wasm: an all-ones mask is plain unmasked attention', () => {
  for (const be of wasmBackends()) {
    for (const [T, hd, H] of [[13, 16, 2], [97, 64, 3]]) {
      const c = makeCase(300 + T, T, hd * H, H, ['all', 'all']);
      const got = run(be, c);
      close(`${be.name} T=${T} all-ones`, got.out, plainAttention(c.qkv, c.B, T, c.d, H), 2e-6 * Math.sqrt(T * hd), 1e-5);
    }
  }
});

test('wasm: a sample\'s results are bit-identical alone and in a batch, and run to run', () => {
  for (const be of wasmBackends()) {
    const T = 33, H = 2, d = 2 * 12;
    const c = makeCase(4242, T, d, H, ['random', 'all', 'one', 'none', 'random']);
    const batch = run(be, c);
    sameBits(`${be.name} rerun`, f32(run(be, c).dqkv), f32(batch.dqkv));
    for (let b = 0; b < c.B; b++) {
      const sl = (a: Float32Array, n: number): Float32Array => a.slice(b * n, (b + 1) * n);
      const one = run(be, { B: 1, T, d, H, qkv: sl(c.qkv, T * 3 * d), mask: sl(c.mask, T), dout: sl(c.dout, T * d), dqkv0: sl(c.dqkv0, T * 3 * d) });
      sameBits(`${be.name} b=${b} out`, f32(one.out), sl(f32(batch.out), T * d));
      sameBits(`${be.name} b=${b} att`, f32(one.att), sl(f32(batch.att), H * T * T));
      sameBits(`${be.name} b=${b} dqkv`, f32(one.dqkv), sl(f32(batch.dqkv), T * 3 * d));
    }
  }
});

test('wasm: a sample with every token present and T % 4 == 0 (read in place, no packing) gives the packed path\'s bits', () => {
  // The same tokens plus one masked token (T+1) take the packed path over the same n = T present tokens.
  const ref = reference();
  for (const be of wasmBackends()) {
    for (const [T, hd, H] of [[4, 1, 2], [8, 3, 3], [12, 8, 2], [20, 12, 1], [36, 5, 2], [64, 64, 3], [196, 16, 2]]) {
      const d = hd * H, r = rng(900 + T);
      const qkv = randArray(r, T * 3 * d, -2, 2), dout = randArray(r, T * d), dqkv0 = randArray(r, T * 3 * d);
      const one = { B: 1, T, d, H, qkv, dout, dqkv0, mask: new Float32Array(T).fill(1) };
      const pad = (a: Float32Array, w: number): Float32Array => { const o = new Float32Array((T + 1) * w); o.set(a); return o; };
      const ext = { B: 1, T: T + 1, d, H, qkv: pad(qkv, 3 * d), dout: pad(dout, d), dqkv0: pad(dqkv0, 3 * d), mask: pad(one.mask, 1) };
      const a = run(be, one), b = run(be, ext), want = run(ref, one);
      const label = `${be.name} T=${T} hd=${hd} H=${H}`;
      close(`${label} out`, a.out, want.out, 2e-6 * Math.sqrt(T * hd) + 1e-6, 1e-5);
      close(`${label} dqkv`, a.dqkv, want.dqkv, 8e-6 * Math.sqrt(T * hd) + 4e-6, 1e-5);
      sameBits(`${label} out`, f32(a.out), f32(b.out).slice(0, T * d));
      sameBits(`${label} dqkv`, f32(a.dqkv), f32(b.dqkv).slice(0, T * 3 * d));
      const attB = new Float32Array(H * T * T);
      for (let h = 0; h < H; h++) for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) attB[(h * T + i) * T + j] = b.att[(h * (T + 1) + i) * (T + 1) + j];
      sameBits(`${label} att`, f32(a.att), attB);
    }
  }
});

test.run();
