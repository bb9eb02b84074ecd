/**
 * The trainer end to end on a small synthetic data set: bit-identical checkpoints for any --threads,
 * interrupt (Ctrl-C path) and resume equal to an uninterrupted run, a tiny model clearly above chance,
 * frozen and initialized tensors, a non-finite loss stopping the run with its step named.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '../../src/data/index.ts';
import { TRAIN_DEFAULTS, applyOverrides } from '../../src/train/config.ts';
import { train } from '../../src/train/trainer.ts';
import { RESUME_FILE, writeResumeState } from '../../src/train/run-folder.ts';
import { testPointPredictions } from '../../src/train/trainer.ts';
import type { TestPointOutputs, TrainResult } from '../../src/train/trainer.ts';
import { bootstrapCI, evaluate } from '../../src/eval/index.ts';
import { LABEL_NAMES } from '../../src/engine/index.ts';
import { readSafetensors } from '../../src/model/index.ts';
import { writeDivergedCheckpoint } from '../util/diverged.ts';
import { rejects } from '../util/harness.ts';

const root = mkdtempSync(join(tmpdir(), 'rf-train-'));
const data = join(root, 'data');
await generateSynthetic({ out: data, patients: 600, seed: 1 });
const quiet = () => {};

function cfg(over: Record<string, unknown>) {
  return applyOverrides(TRAIN_DEFAULTS, { data, out: join(root, 'runs'), preset: 'tiny', epochs: 4, progress: 'none', ...over }, 'test');
}
const bytes = (run: string, f: string) => readFileSync(join(run, f));

let A: TrainResult;
let At: TestPointOutputs | undefined;

test('--threads 1 and --threads 2 give identical checkpoint bytes', async () => {
  A = await train(cfg({ name: 'a', threads: 1 }), { log: quiet, afterTest: async (ctx) => { At = await testPointPredictions(ctx, [{ missImage: 0, missTab: 0 }]); } });
  const B = await train(cfg({ name: 'b', threads: 2 }), { log: quiet });
  for (const f of ['model.safetensors', 'last.safetensors', 'last.state.safetensors']) {
    assert.ok(bytes(A.runDir, f).equals(bytes(B.runDir, f)), `${f} differs between 1 and 2 threads`);
  }
  assert.is(A.test!.macroAuroc, B.test!.macroAuroc);
  for (const f of ['config.json', 'metrics.json', 'log.jsonl', 'state.json']) assert.ok(existsSync(join(A.runDir, f)), f);
  assert.not.ok(existsSync(join(A.runDir, 'run.lock')), 'a finished run releases its folder');
  // Provenance for the demo: preset, data folder name, commit, the best epoch's validation macro AUROC.
  const prov = JSON.parse(readSafetensors(bytes(A.runDir, 'model.safetensors')).metadata.provenance);
  assert.equal(prov, { preset: 'tiny', data: 'data', commit: prov.commit, validation: { macroAuroc: A.state.bestAuroc, epoch: A.state.bestEpoch } });
  assert.match(prov.commit, /^([0-9a-f]{40}(\+dirty)?|unknown)$/);
  // The default decoder is the browser's (jpeg-js), and the checkpoint says so: predict and the edge bundle
  // then decode a JPEG to the training pixels bit for bit (test/infer/predict.test.ts, test/edge/browser.test.ts).
  assert.is(JSON.parse(readSafetensors(bytes(A.runDir, 'model.safetensors')).metadata.normalization).decoder, 'jpeg-js');
});

test('a tiny model beats chance clearly (patient-bootstrap interval of test macro AUROC above 0.5)', () => {
  const p = At!.predictions[0].probs, t = At!.targets;
  const L = LABEL_NAMES.length;
  const stat = (ix: Int32Array) => {
    const pp = new Float32Array(ix.length * L), tt = new Float32Array(ix.length * L);
    ix.forEach((r, i) => { pp.set(p.subarray(r * L, r * L + L), i * L); tt.set(t.subarray(r * L, r * L + L), i * L); });
    return evaluate(pp, tt, LABEL_NAMES).macroAuroc;
  };
  const ci = bootstrapCI(At!.patients, stat, { replicates: 200, seed: 1 });
  console.log(`  tiny, 4 epochs: test macro AUROC ${ci.estimate.toFixed(3)} [${ci.lo.toFixed(3)}, ${ci.hi.toFixed(3)}]`);
  assert.ok(Math.abs(ci.estimate - A.test!.macroAuroc) < 1e-12);
  assert.ok(ci.lo > 0.55, `lower bound ${ci.lo}`);
});

test('interrupting (Ctrl-C path) and resuming with another thread count ends with the same bytes', async () => {
  const ac = new AbortController();
  let lines = 0;
  const r1 = await train(cfg({ name: 'c', threads: 2, progress: 'lines' }), {
    log: (s) => { if (/^epoch 2 step/.test(s) && ++lines === 2) ac.abort(); },
    signal: ac.signal,
  });
  assert.ok(r1.interrupted, 'the run should report an interruption');
  const st = JSON.parse(readFileSync(join(r1.runDir, 'state.json'), 'utf8'));
  assert.ok(st.step > 0 && st.epoch === 1 && st.batchInEpoch > 0, `stopped mid-epoch 2: ${JSON.stringify(st)}`);
  // A resume state of another model (other parameter count) is refused naming its file, and the log stays as it was.
  const other = join(root, 'runs', 'c-other');
  cpSync(r1.runDir, other, { recursive: true });
  const saved = JSON.parse(readSafetensors(bytes(other, RESUME_FILE)).metadata.state);
  writeResumeState(other, saved, new Float32Array(10), new Float32Array(10), new Float32Array(10));
  appendFileSync(join(other, 'log.jsonl'), JSON.stringify({ step: 1e9 }) + '\n'); // a record a resume would trim
  const otherLog = readFileSync(join(other, 'log.jsonl'));
  await rejects(train(cfg({ resume: other, threads: 1 }), { log: quiet }), /--resume: \S+last\.state\.safetensors holds no 'params' of \d+ values/);
  assert.ok(readFileSync(join(other, 'log.jsonl')).equals(otherLog), 'a refused resume state must not trim the log');
  // A live process holding the folder refuses the resume, before anything changes; a dead one's lock is taken over.
  const logBefore = readFileSync(join(r1.runDir, 'log.jsonl'));
  writeFileSync(join(r1.runDir, 'run.lock'), String(process.ppid));
  await rejects(train(cfg({ resume: r1.runDir, threads: 1 }), { log: quiet }), /run folder \S+ is in use by process \d+ \(lock \S+run\.lock\)/);
  assert.ok(readFileSync(join(r1.runDir, 'log.jsonl')).equals(logBefore), 'a refused resume must not touch the log');
  writeFileSync(join(r1.runDir, 'run.lock'), String(spawnSync('true').pid));
  const r2 = await train(cfg({ resume: r1.runDir, threads: 1 }), { log: quiet });
  assert.not.ok(r2.interrupted);
  assert.not.ok(existsSync(join(r2.runDir, 'run.lock')), 'the lock is released at the end');
  for (const f of ['model.safetensors', 'last.safetensors']) {
    assert.ok(bytes(A.runDir, f).equals(bytes(r2.runDir, f)), `${f}: resumed run differs from the uninterrupted one`);
  }
  assert.is(r2.test!.macroAuroc, A.test!.macroAuroc);
  await rejects(train(cfg({ resume: r1.runDir, lr: 0.5 }), { log: quiet }), /--lr 0\.5 differs from the run's \S*config\.json \(/);
  // A flag given on the command line is refused even when it equals the default (here --preset small on a
  // tiny run): without the given keys it would be dropped without a word.
  await rejects(train(cfg({ resume: r1.runDir, preset: 'small' }), { log: quiet, given: new Set(['resume', 'preset']) }), /--preset "small" differs from the run's \S*config\.json \("tiny"\)/);
  // named as the flag is typed
  await rejects(train(cfg({ resume: r1.runDir, microBatch: 3 }), { log: quiet, given: new Set(['resume', 'microBatch']) }), /--micro-batch 3 differs from the run's/);
});

test('a new run into a folder that a live process holds is refused, and writes no config there', async () => {
  const dir = join(root, 'runs', 'held');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'run.lock'), String(process.ppid));
  await rejects(train(cfg({ name: 'held', epochs: 1 }), { log: quiet }), /run folder \S+held is in use by process \d+/);
  assert.not.ok(existsSync(join(dir, 'config.json')), 'nothing written under a held lock');
});

test('a new run takes the lock of its folder before the data load, and checks for a finished run under it (issue 24 item 5)', async () => {
  // A live process holds the folder: refused at once, before the (here impossible) data load, so a second
  // `--name X` can never load data while the first runs and then overwrite it once the first has finished.
  const dir = join(root, 'runs', 'race');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'run.lock'), String(process.ppid));
  await rejects(train(cfg({ name: 'race', data: join(root, 'no-such-data') }), { log: quiet }), /run folder \S+race is in use by process \d+/);
  rmSync(join(dir, 'run.lock'));
  // A finished run there: refused under the lock, which is released again.
  writeFileSync(join(dir, 'state.json'), '{}');
  await rejects(train(cfg({ name: 'race', data: join(root, 'no-such-data') }), { log: quiet }), /run folder \S+race already holds a run/);
  assert.not.ok(existsSync(join(dir, 'run.lock')), 'lock released');
  // A bad data folder for a fresh name leaves no folder behind.
  await rejects(train(cfg({ name: 'fresh', data: join(root, 'no-such-data') }), { log: quiet }), /no-such-data/);
  assert.not.ok(existsSync(join(root, 'runs', 'fresh')), 'nothing left for a run that never started');
});

test('--name is one folder name: .., ., a/b and absolute names are refused before anything is written (issue 24 item 9)', async () => {
  for (const name of ['..', '.', '../x', 'a/b', join(root, 'abs')]) {
    await rejects(Promise.resolve().then(() => train(cfg({ name, epochs: 1 }), { log: quiet })), /option 'name' must be one folder name/);
  }
  assert.not.ok(existsSync(join(root, 'x')) || existsSync(join(root, 'abs')) || existsSync(join(root, 'log.jsonl')));
});

test('a warmup longer than the whole run is a warning naming both (issue 24 item 10)', async () => {
  const lines: string[] = [];
  await train(cfg({ name: 'warm', epochs: 1, warmup: 100000, maxSteps: 1 }), { log: (l) => lines.push(l) });
  assert.ok(lines.some((l) => /^warning: --warmup 100000 is longer than the whole run \(\d+ steps: 1 epochs of \d+\); the learning rate never reaches --lr/.test(l)), lines.join('\n'));
  const quietLines: string[] = [];
  await train(cfg({ name: 'warm2', epochs: 1, warmup: 1, maxSteps: 1 }), { log: (l) => quietLines.push(l) });
  assert.not.ok(quietLines.some((l) => /--warmup/.test(l)));
});

test('frozen tensors keep their initial values; --init-from copies them from a checkpoint', async () => {
  const r = await train(cfg({ name: 'f', epochs: 1, freeze: 'vision.,tabular.', initFrom: `${join(A.runDir, 'model.safetensors')}=vision.,tabular.` }), { log: quiet });
  const src = readSafetensors(bytes(A.runDir, 'model.safetensors')).tensors;
  const got = readSafetensors(bytes(r.runDir, 'model.safetensors')).tensors;
  let frozen = 0, moved = 0;
  for (const [name, t] of Object.entries(got)) {
    const same = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(src[name].data.buffer, src[name].data.byteOffset, src[name].data.byteLength));
    if (name.startsWith('vision.') || name.startsWith('tabular.')) { assert.ok(same, `${name} changed although frozen`); frozen++; }
    else if (!same) moved++;
  }
  assert.ok(frozen > 10 && moved > 5, `frozen ${frozen}, trained ${moved}`);
  await rejects(train(cfg({ name: 'g', freeze: 'visoin.' }), { log: quiet }), /no parameter name starts with 'visoin\.'/);
});

test('a non-finite loss stops the run naming the step, without writing a checkpoint', async () => {
  const huge = writeDivergedCheckpoint(join(A.runDir, 'model.safetensors'), join(root, 'huge.safetensors'));
  await rejects(train(cfg({ name: 'nan', initFrom: `${huge}=head.`, clip: 0, warmup: 1 }), { log: quiet }), /step \d+ .*non-finite/);
  assert.not.ok(existsSync(join(root, 'runs', 'nan', 'last.state.safetensors')));
  assert.not.ok(existsSync(join(root, 'runs', 'nan', 'model.safetensors')));
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();
