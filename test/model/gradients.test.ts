/**
 * Whole-model gradients: every parameter tensor's analytic gradient against central finite differences of
 * the loss, in float64 through the reference backend, on a batch that mixes every availability pattern and
 * every label kind; then the WebAssembly backend's gradients against the reference's.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createModel, presetConfig, resolveConfig } from '../../src/model/index.ts';
import type { Model, ModelConfig } from '../../src/model/index.ts';
import { ReferenceBackend } from '../../src/engine/index.ts';
import { rng, wasmBackends } from '../util/harness.ts';
import { syntheticBatch } from '../../src/model/synthetic.ts';
import type { Availability } from '../../src/model/synthetic.ts';

const PATTERNS: Availability[] = ['both', 'image', 'table', 'partial', 'tablePartial', 'none', 'both'];

/** Parameters moved off their symmetric init (ones, zeros) so no gradient path is trivially zero. */
function perturbed(m: Model, seed: number): Float32Array {
  const r = rng(seed), p = Float32Array.from(m.paramData());
  for (let i = 0; i < p.length; i++) p[i] += 0.3 * (2 * r() - 1);
  return p;
}

function fdCheck(cfg: ModelConfig, label: string, perTensor: number, mayBeZero = (_name: string) => false): void {
  const m = createModel(cfg, { backend: new ReferenceBackend(), seed: 3 });
  m.setParams(perturbed(m, 11));
  const batch = syntheticBatch(cfg, PATTERNS, 5);
  const { loss, grads } = m.lossAndGrad(batch);
  assert.ok(loss > 0 && Number.isFinite(loss), `${label}: loss ${loss}`);
  const analytic: Record<string, Float64Array> = {};
  for (const [k, v] of Object.entries(grads)) analytic[k] = Float64Array.from(v);
  const params = m.parameters();
  const r = rng(17), h = 1e-5;
  let worst = 0;
  for (const e of m.layout) {
    const g = analytic[e.name], p = params[e.name];
    if (e.size === 0) continue;
    let maxAbs = 0, argmax = 0;
    for (let i = 0; i < e.size; i++) if (Math.abs(g[i]) > maxAbs) { maxAbs = Math.abs(g[i]); argmax = i; }
    if (maxAbs === 0 && mayBeZero(e.name)) continue;
    assert.ok(maxAbs > 0, `${label}: ${e.name} has an all-zero gradient`);
    const idx = new Set<number>([argmax]);
    while (idx.size < Math.min(perTensor, e.size)) idx.add(Math.floor(r() * e.size));
    let maxdiff = 0;
    for (const i of idx) {
      const p0 = p[i];
      p[i] = p0 + h;
      const lp = m.loss(batch);
      p[i] = p0 - h;
      const lm = m.loss(batch);
      p[i] = p0;
      const fd = (lp - lm) / (2 * h);
      const diff = Math.abs(fd - g[i]);
      if (!(diff <= 1e-8 + 1e-5 * Math.abs(fd))) {
        assert.unreachable(`${label}: ${e.name}[${i}]: analytic ${g[i]}, finite difference ${fd} (|diff| ${diff})`);
      }
      maxdiff = Math.max(maxdiff, diff);
    }
    worst = Math.max(worst, maxdiff);
  }
  console.log(`  ${label}: ${m.layout.length} tensors OK vs finite differences, maxdiff = ${worst.toExponential(2)}`);
}

const small = resolveConfig({
  imageSize: 16, patchSize: 8, dim: 8, heads: 2, mlpRatio: 2, visionDepth: 1, tabularDepth: 1, fusionDepth: 1,
  numFeatures: 3, catCardinalities: [3, 2],
});

test('every gradient vs central finite differences (float64 reference, ignore policy)', () => {
  fdCheck(small, 'ignore', 6);
});

test('finite differences with depth 2, depth 0, categoricals only, and the ones / zeros uncertain policies', () => {
  fdCheck({ ...small, visionDepth: 2, fusionDepth: 2, uncertain: 'ones' }, 'ones, depth 2', 3);
  fdCheck({ ...small, uncertain: 'zeros', catCardinalities: [4] }, 'zeros', 3);
  fdCheck({ ...small, visionDepth: 0, tabularDepth: 0, numFeatures: 0, catCardinalities: [4, 2] }, 'encoders of depth 0, categoricals only', 3);
  // Without fusion blocks the CLS token sees nothing else: only cls, the final norm and the head learn.
  fdCheck({ ...small, fusionDepth: 0 }, 'no fusion blocks', 3, (n) => !/^(fusion\.cls|fusion\.norm|head)/.test(n));
});

test('finite differences with attention masking off (the ablation: zero-filled tokens attended)', () => {
  fdCheck({ ...small, attentionMasking: false }, 'no masking', 4);
});

test('finite differences with the exact (erf) GELU in every block', () => {
  fdCheck({ ...small, gelu: 'erf', visionDepth: 2 }, 'erf gelu', 4);
});

for (const gelu of ['tanh', 'erf'] as const) test(`WebAssembly gradients match the reference on the tiny preset (${gelu} GELU)`, () => {
  const cfg: ModelConfig = { ...presetConfig('tiny'), numFeatures: 5, catCardinalities: [3, 4, 2], gelu };
  const ref = createModel(cfg, { backend: new ReferenceBackend(), seed: 2 });
  const p = perturbed(ref, 7);
  ref.setParams(p);
  const batch = syntheticBatch(cfg, PATTERNS, 9);
  const want = ref.lossAndGrad(batch);
  const wantGrads: Record<string, Float64Array> = {};
  for (const [k, v] of Object.entries(want.grads)) wantGrads[k] = Float64Array.from(v);
  for (const be of wasmBackends()) {
    const m = createModel(cfg, { backend: be });
    m.setParams(p);
    const got = m.lossAndGrad(batch);
    assert.ok(Math.abs(got.loss - want.loss) <= 1e-5 * want.loss, `${be.name}: loss ${got.loss} vs ${want.loss}`);
    let worst = 0;
    for (const e of m.layout) {
      const g = got.grads[e.name], w = wantGrads[e.name];
      let scale = 0;
      for (let i = 0; i < e.size; i++) scale = Math.max(scale, Math.abs(w[i]));
      for (let i = 0; i < e.size; i++) {
        const diff = Math.abs(g[i] - w[i]);
        if (!(diff <= 2e-4 * scale + 1e-7)) assert.unreachable(`${be.name}: ${e.name}[${i}]: ${g[i]} vs reference ${w[i]} (tensor max ${scale})`);
        if (scale > 0) worst = Math.max(worst, diff / scale);
      }
    }
    console.log(`  ${be.name}: ${m.layout.length} tensors OK vs reference, max relative diff = ${worst.toExponential(2)}`);
  }
});

test.run();
