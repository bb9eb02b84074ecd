/**
 * Threads and the sliced optimizer (issue 12): the same checkpoint bytes for --threads 1, 2 and an
 * oversubscribed 8 at one micro-batch; resume across a change of --threads; the workers' block-sliced
 * reduction + AdamW equal to the whole-model step on the main thread; fixed block edges; the start line,
 * the oversubscription warning and the error lines for bad thread counts; old `--chunks` runs refused.
 */
import { plainPolicy } from '../../src/train/batch-policy.ts';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '../../src/data/index.ts';
import { createModel, presetConfig } from '../../src/model/index.ts';
import { createBackend, createBackendAsync } from '../../src/engine/index.ts';
import { TRAIN_DEFAULTS, applyOverrides, parseFlags, resolveMicroBatch } from '../../src/train/config.ts';
import { train } from '../../src/train/trainer.ts';
import { openRun } from '../../src/train/run-folder.ts';
import { createRunner, threadPlan } from '../../src/train/pool.ts';
import { Replica } from '../../src/train/replica.ts';
import type { StepResult, StepTask } from '../../src/train/replica.ts';
import { DataParallelStep, slicedOptimizer, stepBuffers } from '../../src/train/step.ts';
import type { EncoderRate } from '../../src/train/step.ts';
import { BLOCK, STEP_ABORTED, SYNC_ABORT, SYNC_COUNT, SYNC_GENERATION, SYNC_INTS, SYNC_PROGRESS, StepAborted, abortStep, blockEdges, stepBarrier, workerBlocks } from '../../src/train/shards.ts';
import { observedCount, unitsPerBatch } from '../../src/train/batching.ts';
import { fakeDataset } from '../../bench/train.ts';
import { rejects, sameBits } from '../util/harness.ts';

const root = mkdtempSync(join(tmpdir(), 'rf-threads-'));
const data = join(root, 'data');
await generateSynthetic({ out: data, patients: 300, seed: 2 });
const quiet = () => {};
const cfg = (over: Record<string, unknown>) =>
  applyOverrides(TRAIN_DEFAULTS, { data, out: join(root, 'runs'), preset: 'tiny', epochs: 1, progress: 'none', batch: 30, microBatch: 4, ...over }, 'test');
const bytes = (run: string, f: string) => readFileSync(join(run, f));

test('--threads 1, 2 and 8 (oversubscribed) give the same checkpoint bytes at one micro-batch', async () => {
  const lines: string[] = [];
  const runs = [];
  for (const threads of [1, 2, 8]) runs.push(await train(cfg({ name: `t${threads}`, threads, maxSteps: 5 }), { log: (l) => lines.push(l) }));
  for (const r of runs.slice(1)) {
    for (const f of ['last.safetensors', 'last.state.safetensors']) assert.ok(bytes(runs[0].runDir, f).equals(bytes(r.runDir, f)), `${f} of ${r.runDir} differs from --threads 1`);
  }
  // batch 30 / micro-batch 4 = 8 units (the last of 2 samples): all 8 threads have work.
  assert.ok(lines.includes('threads: 8 working on 8 unit(s) of --micro-batch 4 per batch of 30'), lines.join('\n'));
  assert.ok(lines.some((l) => /optimizer in the 8 worker\(s\)/.test(l)), lines.join('\n'));
});

test('--micro-batch 0 (the default): 2 for base, 8 for tiny and small, a given number as given', () => {
  assert.is(TRAIN_DEFAULTS.microBatch, 0);
  assert.is(resolveMicroBatch('base', 0), 2);
  assert.is(resolveMicroBatch('small', 0), 8);
  assert.is(resolveMicroBatch('tiny', 0), 8);
  assert.is(resolveMicroBatch('base', 8), 8);
  assert.is(resolveMicroBatch('tiny', 3), 3);
});

test('base by default: units of 2 written into config.json, the same checkpoint bytes for --threads 1 and 3', async () => {
  const lines: string[] = [];
  const runs = [];
  // A batch of 16 in the default units of 2 is 8 units, taken unevenly by 3 workers. (--threads 2 and 8:
  // the tiny test above, at units of 4; a base run costs 2-6 s here, so two of them.)
  for (const threads of [1, 3]) {
    runs.push(await train(cfg({ name: `base-t${threads}`, preset: 'base', microBatch: 0, batch: 16, threads, maxSteps: 2 }), { log: (l) => lines.push(l) }));
  }
  assert.ok(lines.includes('threads: 3 working on 8 unit(s) of --micro-batch 2 per batch of 16'), lines.join('\n'));
  for (const r of runs) assert.is(JSON.parse(readFileSync(join(r.runDir, 'config.json'), 'utf8')).microBatch, 2);
  for (const f of ['last.safetensors', 'last.state.safetensors']) assert.ok(bytes(runs[0].runDir, f).equals(bytes(runs[1].runDir, f)), `${f} of --threads 3 differs from --threads 1`);
  // Resumed, the run keeps its recorded units: --micro-batch 0 given again means the same 2; 8 is refused.
  const again = cfg({ resume: runs[0].runDir, preset: 'base', microBatch: 0, batch: 16, threads: 2, maxSteps: 3 });
  const given = new Set(['resume', 'preset', 'microBatch', 'batch', 'threads', 'maxSteps']);
  assert.throws(() => openRun({ ...again, microBatch: 8 }, given), /--micro-batch 8 differs from the run's .*config\.json \(2\)/);
  const resumed = openRun(again, given);
  assert.is(resumed.kind, 'resume');
  assert.is((resumed as { cfg: { microBatch: number } }).cfg.microBatch, 2);
});

test('a run stopped with --threads 8 and resumed with --threads 2 ends with the bytes of an uninterrupted --threads 1 run', async () => {
  const whole = await train(cfg({ name: 'whole', threads: 1, maxSteps: 6 }), { log: quiet });
  const first = await train(cfg({ name: 'split', threads: 8, maxSteps: 3 }), { log: quiet });
  assert.is(first.stop, 'step-limit');
  const rest = await train(cfg({ resume: first.runDir, threads: 2, maxSteps: 6 }), { log: quiet });
  assert.is(rest.state.step, 6);
  for (const f of ['last.safetensors', 'last.state.safetensors']) assert.ok(bytes(whole.runDir, f).equals(bytes(rest.runDir, f)), `${f}: resumed run differs`);
});

test('a run folder of --chunks (before micro-batches) is refused on --resume, naming its config.json', async () => {
  const r = await train(cfg({ name: 'old', threads: 1, maxSteps: 1 }), { log: quiet });
  const path = join(r.runDir, 'config.json');
  const saved = JSON.parse(readFileSync(path, 'utf8'));
  delete saved.microBatch;
  writeFileSync(path, JSON.stringify({ ...saved, chunks: 5 }));
  await rejects(train(cfg({ resume: r.runDir, threads: 1 }), { log: quiet }), /config\.json was written with --chunks 5, which this version replaced by --micro-batch.*--micro-batch 6 cuts full batches the same way/);
});

/**
 * A DataParallelStep of the tiny model over 40 fake samples, batches of 13 in units of 3, on `threads`
 * workers: sliced (the workers run the optimizer) or the main-thread step, with tensors under `frozenPrefix`
 * frozen. `rows(t)` is step t's batch.
 */
async function tinyStep(threads: number, o: { sliced?: boolean; frozenPrefix?: string; clip?: number } = {}) {
  const mc = { ...presetConfig('tiny'), numFeatures: 6, catCardinalities: [] };
  const ds = fakeDataset(40, mc.imageSize, 6, 3, 0.5);
  const model = createModel(mc, { seed: 1, backend: await createBackendAsync('auto') });
  const frozen = o.frozenPrefix === undefined ? [] : model.layout.filter((e) => e.name.startsWith(o.frozenPrefix!));
  const buffers = stepBuffers(model, unitsPerBatch(13, 3), frozen);
  if (o.sliced === false) buffers.optimizer = undefined;
  const runner = createRunner({ model: model.config, backend: 'auto', data: ds, ...buffers, policy: plainPolicy(3) }, threads);
  try {
    const step = await DataParallelStep.create(model, runner, buffers, 3, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, clip: o.clip ?? 1 }, frozen);
    const rows = (t: number) => Int32Array.from({ length: 13 }, (_, i) => (t * 13 + i) % ds.n);
    return { ds, model, step, runner, rows, inp: (r: Int32Array) => ({ normalizer: observedCount(ds.labels, r, 'ignore') }) };
  } catch (e) {
    await runner.close();
    throw e;
  }
}

/** Three steps of a tinyStep; returns its final parameters, moments and norms. */
async function steps(sliced: boolean, threads: number, frozenPrefix: string, clip: number, enc?: (t: number) => EncoderRate | undefined) {
  const { model, step, runner, rows, inp } = await tinyStep(threads, { sliced, frozenPrefix, clip });
  const norms: number[] = [];
  try {
    assert.is(step.slicedOptimizer, sliced);
    for (let t = 0; t < 3; t++) norms.push((await step.run(rows(t), t, 1e-2, inp(rows(t)), enc?.(t))).norm);
    const { m, v } = await step.moments();
    return { params: step.params.slice(), m: Float32Array.from(m), v: Float32Array.from(v), norms, numParams: model.numParams };
  } finally {
    await runner.close();
  }
}

test('the sliced optimizer (1 and 3 workers) equals the whole-model step: same parameter and moment bits', async () => {
  for (const clip of [0, 0.05]) {
    const whole = await steps(false, 1, 'tabular.', clip);
    assert.ok(whole.numParams > 2 * BLOCK, 'the model spans several blocks');
    for (const threads of [1, 3]) {
      const s = await steps(true, threads, 'tabular.', clip);
      sameBits(`params (clip ${clip}, ${threads} worker(s))`, s.params, whole.params);
      sameBits('m', s.m, whole.m);
      sameBits('v', s.v, whole.v);
      // The norm is summed per block, then over blocks (fixed order); the whole step sums all at once in
      // f64, so the two agree to f64 rounding, far below the f32 clip factor's resolution.
      for (let i = 0; i < 3; i++) assert.ok(Math.abs(s.norms[i] - whole.norms[i]) <= 1e-12 * whole.norms[i], `norm ${s.norms[i]} vs ${whole.norms[i]}`);
      if (clip > 0) assert.ok(whole.norms.every((n) => n > clip), 'clipping was exercised');
    }
  }
});

test('two-stage encoder rates in the sliced optimizer equal the whole-model step: frozen first (out of the clip norm too), then scaled', async () => {
  // Step 0: encoders frozen (warm-up); steps 1, 2: half the rate, their AdamW count from the unfreeze.
  const enc = (t: number): EncoderRate => (t === 0 ? { scale: 0, t: 0 } : { scale: 0.5, t: t - 1 });
  const whole = await steps(false, 1, 'fusion.modality.', 0.05, enc);
  const plain = await steps(false, 1, 'fusion.modality.', 0.05);
  assert.ok(whole.norms[0] < plain.norms[0], 'a frozen step leaves the encoders out of the clip norm');
  for (const threads of [1, 3]) {
    const s = await steps(true, threads, 'fusion.modality.', 0.05, enc);
    sameBits(`params (${threads} worker(s))`, s.params, whole.params);
    sameBits('m', s.m, whole.m);
    sameBits('v', s.v, whole.v);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(s.norms[i] - whole.norms[i]) <= 1e-12 * whole.norms[i], `norm ${s.norms[i]} vs ${whole.norms[i]}`);
  }
});

test('a worker that fails inside a step: the others stop at the barrier, the step rejects with its error at once, and the next step runs', async () => {
  const s = await tinyStep(3);
  try {
    const bad = s.rows(0);
    bad[12] = s.ds.n + 5; // the last unit's last row: one worker throws, the two others wait for it at the barrier
    const t0 = performance.now();
    await rejects(s.step.run(bad, 0, 1e-2, s.inp(s.rows(0))), /makeBatch: index 45 outside \[0, 40\)/);
    assert.ok(performance.now() - t0 < 30_000, 'the waiting workers were released by the abort, not by the time limit');
    const before = s.step.params.slice();
    const { norm } = await s.step.run(s.rows(1), 0, 1e-2, s.inp(s.rows(1)));
    assert.ok(norm > 0 && Number.isFinite(norm));
    assert.throws(() => sameBits('params', before, s.step.params), /bits differ/, 'the next step updated the parameters');
  } finally {
    await s.runner.close();
  }
});

test('a non-finite loss: every worker skips its update, so parameters and moments stay as they were', async () => {
  for (const threads of [1, 3]) {
    const s = await tinyStep(threads);
    try {
      const p = s.step.params.slice();
      p[s.model.layout.find((e) => e.name === 'head.bias')!.offset] = NaN;
      s.step.setParams(p);
      await rejects(s.step.run(s.rows(0), 0, 1e-2, s.inp(s.rows(0))), /non-finite loss NaN/);
      const { m, v } = await s.step.moments();
      assert.ok(Array.from(m).every((x) => x === 0) && Array.from(v).every((x) => x === 0), `${threads} worker(s): moments changed`);
      sameBits(`${threads} worker(s): parameters`, p, s.step.params);
    } finally {
      await s.runner.close();
    }
  }
});

test('a step task notes progress after each unit and its reduce, and takes no unit once the step is aborted', async () => {
  const mc = { ...presetConfig('tiny'), numFeatures: 6, catCardinalities: [] };
  const model = createModel(mc, { seed: 1 });
  const buffers = stepBuffers(model, unitsPerBatch(13, 3), []);
  new Float32Array(buffers.params).set(model.paramData());
  const replica = await Replica.create({ model: model.config, backend: 'auto', data: fakeDataset(40, mc.imageSize, 6, 3, 0.5), ...buffers, policy: plainPolicy(3) });
  const sync = new Int32Array(buffers.optimizer!.sync), next = new Int32Array(buffers.next), slots = new Float32Array(buffers.grads);
  const task = (): StepTask => ({
    kind: 'step', grad: { version: 1, rows: Int32Array.from({ length: 13 }, (_, i) => i), normalizer: 50, step: 0 }, worker: 0, workers: 1, units: 5, encodersFrozen: false,
    update: { lr: 1e-3, t: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clip: 1 },
  });
  const r = await replica.run(task()) as StepResult;
  assert.is(r.units.length, 5);
  assert.ok(r.applied);
  assert.is(sync[SYNC_PROGRESS], 5 + 1, 'one note per unit and one after the reduce');
  // Aborted (another worker failed): the task stops before its next unit and computes nothing.
  next[0] = 0;
  slots.fill(0);
  abortStep(sync);
  await rejects(replica.run(task()), new RegExp(STEP_ABORTED));
  assert.is(next[0], 1, 'it took one unit from the counter and stopped');
  assert.ok(slots.every((x) => x === 0), 'no unit was computed');
});

test('step barrier: one party passes at once; an abort stops a waiter; a missing party ends in a timed-out error', () => {
  const sync = new Int32Array(new SharedArrayBuffer(4 * SYNC_INTS));
  stepBarrier(sync, 1, 'units');
  assert.is(sync[SYNC_GENERATION], 0, 'a single party neither counts nor waits');
  abortStep(sync);
  assert.throws(() => stepBarrier(sync, 2, 'units'), (e: unknown) => e instanceof StepAborted);
  sync.fill(0);
  assert.throws(() => stepBarrier(sync, 3, 'reduce', 50), /waited 0 s at the step's reduce for the other 2 worker\(s\), none of which made progress/);
});

test('step barrier: a waiter whose limit is shorter than the wait still passes while another worker makes progress', async () => {
  const sab = new SharedArrayBuffer(4 * SYNC_INTS), sync = new Int32Array(sab);
  // Another party (a plain thread) notes progress every 20 ms for ~300 ms, then arrives (the last of two).
  const other = new Worker(`
    const { workerData: sab } = require('node:worker_threads');
    const s = new Int32Array(sab);
    for (let i = 0; i < 15; i++) { Atomics.wait(s, ${SYNC_ABORT}, 0, 20); Atomics.add(s, ${SYNC_PROGRESS}, 1); }
    const gen = Atomics.load(s, ${SYNC_GENERATION});
    if (Atomics.add(s, ${SYNC_COUNT}, 1) === 1) { Atomics.store(s, ${SYNC_COUNT}, 0); Atomics.add(s, ${SYNC_GENERATION}, 1); Atomics.notify(s, ${SYNC_GENERATION}); }
  `, { eval: true, workerData: sab });
  const t0 = performance.now();
  stepBarrier(sync, 2, 'units', 100);
  assert.ok(performance.now() - t0 > 200, 'the waiter outlived its 100 ms limit because progress kept restarting it');
  assert.is(sync[SYNC_GENERATION], 1);
  await other.terminate();
});

test('the workers run the optimizer on WebAssembly; the Float64 reference keeps the main-thread step (WebGPU: train-webgpu.test.ts)', () => {
  assert.ok(slicedOptimizer(createBackend('auto')));
  assert.not.ok(slicedOptimizer(createBackend('reference')));
});

test('block edges: fixed, covering, and at a multiple of 4 from the start of the tensor they cut', () => {
  const model = createModel({ ...presetConfig('tiny'), numFeatures: 5, catCardinalities: [3] });
  const P = model.numParams;
  for (const block of [BLOCK, 1000, 37]) {
    const e = blockEdges(model.layout, P, block);
    assert.is(e[0], 0);
    assert.is(e[e.length - 1], P);
    for (let k = 1; k < e.length; k++) {
      assert.ok(e[k] > e[k - 1] && e[k] - e[k - 1] <= block + 3, `block ${k}: ${e[k - 1]}..${e[k]}`);
      const t = model.layout.find((x) => x.offset <= e[k] && e[k] < x.offset + x.size);
      if (t && k < e.length - 1) assert.is((e[k] - t.offset) % 4, 0, `edge ${e[k]} inside ${t.name}`);
    }
  }
  for (const w of [1, 3, 7]) {
    const r = Array.from({ length: w }, (_, k) => workerBlocks(10, w, k));
    assert.is(r[0][0], 0);
    assert.is(r[w - 1][1], 10);
    for (let k = 1; k < w; k++) assert.is(r[k][0], r[k - 1][1]);
  }
});

test('thread plan: capped at the units with the flag named; more than the cores warns; bad counts are errors', () => {
  const p = threadPlan(32, 32, 8, 64);
  assert.is(p.workers, 4);
  assert.is(p.line, 'threads: 4 of 32 can work (a batch of 32 is 4 unit(s) of --micro-batch 8; a smaller --micro-batch or a larger --batch gives each thread work)');
  assert.is(p.warning, undefined);
  const all = threadPlan(0, 256, 8, 16);
  assert.is(all.workers, 16);
  assert.is(all.line, 'threads: 16 working on 32 unit(s) of --micro-batch 8 per batch of 256');
  assert.match(threadPlan(8, 256, 8, 2).warning ?? '', /--threads 8 runs 8 workers on the 2 cores here/);
  // asked for more than the cores, but the units leave one worker: no warning
  const one = threadPlan(8, 8, 8, 2);
  assert.is(one.workers, 1);
  assert.is(one.warning, undefined);
  assert.throws(() => threadPlan(-1, 32, 8, 2), /--threads must be a positive integer \(or 0: all cores\), got -1/);
  assert.throws(() => threadPlan(2.5, 32, 8, 2), /got 2\.5/);
  assert.throws(() => parseFlags(['--threads', '2.5']), /--threads expects an integer in 0\.\.4096, got "2\.5"/);
  assert.throws(() => parseFlags(['--micro-batch', '-1']), /--micro-batch expects an integer in 0\.\.4096, got "-1"/);
  assert.is(parseFlags(['--micro-batch', '0']).overrides.microBatch, 0);
});

test('bad thread counts: the CLI prints one error line and exits 1; train() rejects them too', async () => {
  const cli = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/train.ts', '--data', data, '--threads', '-1'], { encoding: 'utf8' });
  assert.is(cli.status, 1, cli.stdout + cli.stderr);
  assert.match(cli.stderr, /--threads expects an integer in 0\.\.4096, got "-1"/);
  await rejects(train({ ...cfg({ name: 'bad' }), threads: -2 }, { log: quiet }), /train config: option 'threads' expects an integer in 0\.\.4096, got -2/);
});

test('--resume: an empty value and a file are one-line errors, not a fresh run', () => {
  const run = (v: string) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/train.ts', '--data', data, '--resume', v], { encoding: 'utf8' });
  const empty = run('');
  assert.is(empty.status, 1, empty.stdout + empty.stderr);
  assert.match(empty.stderr, /--resume needs a run folder, got an empty value/);
  const file = run('package.json');
  assert.is(file.status, 1, file.stdout + file.stderr);
  assert.match(file.stderr, /--resume package\.json: not a folder \(a run folder holds config\.json and last\.state\.safetensors\)/);
});

test.run();
