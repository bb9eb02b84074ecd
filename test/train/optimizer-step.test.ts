/**
 * The optimizer step as behaviour (src/train/step.ts): chunk gradients summed, frozen tensors zeroed, the
 * global norm reported before clipping, the gradient scaled to the clip norm only when above it (0: off),
 * then AdamW, checked against a float64 twin of the textbook update. Replicas are replaced by a runner
 * that writes known gradients into the slots, so only the step itself is under test.
 *
 * Mutants of scripts/mutate.ts argued equivalent (lines at commit 2f9718b):
 *   src/train/step.ts:114:28 `norm > o.clip` -> `>=`: at norm = clip the scale factor clip / norm is exactly 1, so the
 *                   gradient keeps every bit.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createModel, presetConfig } from '../../src/model/index.ts';
import type { LayoutEntry, Model } from '../../src/model/index.ts';
// Internal today: the trainer's optimizer step and its runner interface, from the modules that export them.
import { DataParallelStep } from '../../src/train/step.ts';
import type { OptimizerSettings, StepInputs } from '../../src/train/step.ts';
import type { TaskRunner } from '../../src/train/pool.ts';
import type { Task } from '../../src/train/replica.ts';
import { cutUnits } from '../../src/train/batching.ts';
import { close, rejects, rng } from '../util/harness.ts';

const CFG = { ...presetConfig('tiny'), imageSize: 16, numFeatures: 1, catCardinalities: [] as number[] };
const OPT: OptimizerSettings = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, clip: 1 };
const INP: StepInputs = { normalizer: 1 };

/**
 * A runner whose unit `u` gradient is `grads[u]`, with loss `loss` per unit. Its grad tasks take units from
 * the step's shared counter like the replicas do, so a unit handed to no task or to two shows.
 */
function fakeRunner(slots: Float32Array, grads: Float32Array[], P: number, next: SharedArrayBuffer, loss = 0.5, threads = 1): TaskRunner & { tasks: number; taken: number[] } {
  const counter = new Int32Array(next);
  const r = {
    threads, tasks: 0, taken: [] as number[],
    run: async <T>(task: Task) => {
      r.tasks++;
      if (task.kind !== 'grad') throw new Error(`the fake runner only runs grad tasks, got ${task.kind}`);
      const n = cutUnits(task.rows, 1).length, units = []; // every step here has micro-batch 1
      for (let u = Atomics.add(counter, 0, 1); u < n; u = Atomics.add(counter, 0, 1)) {
        r.taken.push(u);
        slots.set(grads[u], u * P);
        units.push({ unit: u, loss, ms: 0 });
      }
      return { units, start: 0, end: 0 } as T;
    },
    close: async () => {},
  };
  return r;
}

function setup(chunks: number, gradScale: number, opt: OptimizerSettings, frozen: (m: Model) => LayoutEntry[] = () => [], loss = 0.5, threads = 1) {
  const model = createModel(CFG, { seed: 2, backend: 'reference' });
  const P = model.numParams, r = rng(31);
  const grads = Array.from({ length: chunks }, () => Float32Array.from({ length: P }, () => gradScale * (2 * r() - 1) / Math.sqrt(P)));
  // Units of one sample (--micro-batch 1), so a batch of `chunks` rows is `chunks` units: the reference
  // backend keeps the main-thread (whole-model) optimizer step, which this file checks against its twin.
  const init = { params: new SharedArrayBuffer(4 * P), grads: new SharedArrayBuffer(4 * chunks * P), next: new SharedArrayBuffer(4) };
  const slots = new Float32Array(init.grads), params = new Float32Array(init.params);
  params.set(model.paramData());
  const runner = fakeRunner(slots, grads, P, init.next, loss, threads);
  const step = new DataParallelStep(model, runner, init, 1, opt, frozen(model));
  return { model, P, grads, params, runner, step, p0: Float64Array.from(params) };
}

/** AdamW in float64: m, v updated, bias-corrected, decoupled weight decay on `decay` tensors. */
function adamwTwin(p: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array, layout: readonly LayoutEntry[], lr: number, o: OptimizerSettings, t: number, frozen: Set<string>) {
  for (const e of layout) {
    if (frozen.has(e.name)) continue;
    for (let i = e.offset; i < e.offset + e.size; i++) {
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * g[i];
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * g[i] * g[i];
      const mh = m[i] / (1 - o.beta1 ** t), vh = v[i] / (1 - o.beta2 ** t);
      p[i] -= lr * (mh / (Math.sqrt(vh) + o.eps) + (e.decay ? o.weightDecay : 0) * p[i]);
    }
  }
}

/** Run two steps and compare the norm, the (clipped) gradient and the parameters with the twin. */
async function checkTwoSteps(gradScale: number, opt: OptimizerSettings, frozenNames: string[] = []) {
  const frozenSet = new Set(frozenNames);
  const s = setup(3, gradScale, opt, (m) => m.layout.filter((e) => frozenSet.has(e.name)));
  const p = Float64Array.from(s.p0), m = new Float64Array(s.P), v = new Float64Array(s.P);
  const rows = Int32Array.from({ length: 3 }, (_, i) => i);
  const norms: number[] = [];
  for (let t = 0; t < 2; t++) {
    const lr = 0.01 * (t + 1);
    // The second step's gradients are a tenth of the first's: clipping decides their relative weight.
    if (t === 1) for (const g of s.grads) for (let i = 0; i < g.length; i++) g[i] *= 0.1;
    const g = new Float64Array(s.P);
    for (const c of s.grads) for (let i = 0; i < s.P; i++) g[i] += c[i];
    for (const e of s.model.layout) if (frozenSet.has(e.name)) g.fill(0, e.offset, e.offset + e.size);
    let sq = 0;
    for (const x of g) sq += x * x;
    const norm = Math.sqrt(sq);
    if (opt.clip > 0 && norm > opt.clip) for (let i = 0; i < s.P; i++) g[i] *= opt.clip / norm;
    adamwTwin(p, g, m, v, s.model.layout, lr, opt, t + 1, frozenSet);
    const out = await s.step.run(rows, t, lr, INP);
    close(`norm before clipping, step ${t}`, [out.norm], [norm], 0, 1e-6);
    close(`loss, step ${t}`, [out.loss], [1.5], 1e-12);
    close(`gradient after clipping, step ${t}`, s.model.gradData(), g, 1e-9, 1e-5);
    close(`parameters, step ${t}`, s.params, p, 1e-7, 1e-5);
    norms.push(norm);
  }
  const mom = await s.step.moments();
  close('first moments', mom.m, m, 1e-9, 1e-5);
  close('second moments', mom.v, v, 1e-12, 1e-5);
  assert.is(s.step.version, 2);
  return { norms, s };
}

test('a gradient above the clip norm is scaled to it; the reported norm is the one before clipping', async () => {
  const { norms } = await checkTwoSteps(20, OPT);
  assert.ok(norms[0] > 5 * OPT.clip && norms[1] > OPT.clip, `norms ${norms}: both steps clipped`);
});

test('a gradient below the clip norm, and clip 0, leave it unscaled', async () => {
  const below = await checkTwoSteps(0.3, { ...OPT, clip: 5 });
  assert.ok(below.norms[0] < 5);
  const off = await checkTwoSteps(20, { ...OPT, clip: 0 });
  assert.ok(off.norms[0] > 5, 'clip 0 is off even for a large gradient');
  // Clipped and unclipped runs of the same gradients end apart (the second step weighs differently).
  const on = await checkTwoSteps(20, OPT);
  let diff = 0;
  for (let i = 0; i < on.s.P; i++) diff = Math.max(diff, Math.abs(on.s.params[i] - off.s.params[i]));
  assert.ok(diff > 1e-4, `clipping changed nothing (${diff})`);
});

test('frozen tensors: no gradient, no step, and left out of the norm', async () => {
  const frozen = ['vision.patch.weight', 'head.bias'];
  const { s } = await checkTwoSteps(20, OPT, frozen);
  for (const e of s.model.layout.filter((x) => frozen.includes(x.name))) {
    close(`${e.name} unchanged`, s.params.subarray(e.offset, e.offset + e.size), s.p0.subarray(e.offset, e.offset + e.size), 0);
  }
});

test('a non-finite loss or gradient norm stops the step before any parameter changes', async () => {
  const a = setup(2, 1, OPT, () => [], NaN);
  await rejects(a.step.run(Int32Array.from([0, 1]), 0, 0.01, INP), /non-finite loss NaN/);
  close('params after a NaN loss', a.params, a.p0, 0);
  close('model params after a NaN loss', a.model.paramData(), a.p0, 0);
  const b = setup(2, 1, OPT);
  b.grads[1][5] = Infinity;
  await rejects(b.step.run(Int32Array.from([0, 1]), 0, 0.01, INP), /non-finite gradient norm/);
  close('params after an infinite gradient', b.params, b.p0, 0);
  close('model params after an infinite gradient', b.model.paramData(), b.p0, 0);
  assert.is(b.step.version, 0);
});

test('the step starts from the model\'s parameters and zero moments, even on reused arena memory', async () => {
  const model = createModel(CFG, { seed: 4, backend: 'reference' });
  const P = model.numParams, be = model.backend;
  // Dirty the memory the step will allocate: allocate, fill with garbage, give it back.
  const mark = be.mark();
  be.fill(be.alloc(4 * P), 4 * P, 123);
  be.release(mark);
  const init = { params: new SharedArrayBuffer(4 * P), grads: new SharedArrayBuffer(4 * P), next: new SharedArrayBuffer(4) };
  const slots = new Float32Array(init.grads), params = new Float32Array(init.params);
  const grads = [Float32Array.from({ length: P }, (_, i) => ((i % 7) - 3) * 1e-3)];
  const step = await DataParallelStep.create(model, fakeRunner(slots, grads, P, init.next), init, 1, { ...OPT, clip: 0 });
  close('published parameters', params, model.paramData(), 0);
  const mom = await step.moments();
  close('first moments start at zero', mom.m, new Float64Array(P), 0);
  close('second moments start at zero', mom.v, new Float64Array(P), 0);
  const p0 = Float64Array.from(params);
  await step.run(Int32Array.from([0]), 0, 0.01, INP);
  const p = Float64Array.from(p0), m = new Float64Array(P), v = new Float64Array(P);
  adamwTwin(p, Float64Array.from(grads[0]), m, v, model.layout, 0.01, { ...OPT, clip: 0 }, 1, new Set());
  close('parameters after one step from zero moments', params, p, 1e-7, 1e-5);
});

test('resume: setParams publishes to the model and the replicas, setMoments continues AdamW from the given moments', async () => {
  const s = setup(2, 3, OPT);
  const r = rng(41), P = s.P;
  const flat = Float32Array.from({ length: P }, () => 0.1 * (2 * r() - 1));
  const m0 = Float64Array.from({ length: P }, () => 1e-3 * (2 * r() - 1)), v0 = Float64Array.from({ length: P }, () => 1e-6 * r());
  s.step.setParams(flat);
  assert.is(s.step.version, 1, 'new parameters bump the version the replicas watch');
  close('replica parameters', s.params, flat, 0);
  close('model parameters', s.model.paramData(), flat, 0);
  s.step.setMoments(m0, v0);
  const mom = await s.step.moments();
  close('first moments', mom.m, m0, 0);
  close('second moments', mom.v, v0, 0);
  // Step t = 4 (as after a resume) from these moments equals the twin.
  const g = new Float64Array(P);
  for (const c of s.grads) for (let i = 0; i < P; i++) g[i] += c[i];
  let sq = 0;
  for (const x of g) sq += x * x;
  const norm = Math.sqrt(sq);
  if (norm > OPT.clip) for (let i = 0; i < P; i++) g[i] *= OPT.clip / norm;
  const p = Float64Array.from(flat), m = Float64Array.from(m0), v = Float64Array.from(v0);
  adamwTwin(p, g, m, v, s.model.layout, 0.02, OPT, 5, new Set());
  await s.step.run(Int32Array.from([0, 1]), 4, 0.02, INP);
  close('parameters after a resumed step', s.params, p, 1e-7, 1e-5);
  assert.is(s.step.version, 2);
});

test('one grad task per thread that can work, every unit taken exactly once, again each step', async () => {
  const s = setup(3, 1, OPT, () => [], 0.25, 4);
  const { loss } = await s.step.run(Int32Array.from([4, 5]), 0, 0.01, INP);
  assert.is(loss, 0.5, 'the batch loss is the sum of its units\' losses');
  assert.is(s.runner.tasks, 2, 'a batch of 2 units gives 2 of the 4 threads a task');
  assert.equal([...s.runner.taken].sort(), [0, 1]);
  const s3 = setup(3, 1, OPT, () => [], 0.5, 2);
  for (let t = 0; t < 2; t++) await s3.step.run(Int32Array.from([4, 5, 6]), t, 0.01, INP);
  assert.is(s3.runner.tasks, 4, '2 tasks per step');
  assert.equal([...s3.runner.taken].sort(), [0, 0, 1, 1, 2, 2], 'the counter starts again at 0 each step');
});

test.run();
