/**
 * Faults around resume and run outputs (issue 16): edited or truncated state files are errors naming the file,
 * a finished run is left alone, log.jsonl has each step once after a resume, --max-steps is a normal stop,
 * a NaN stop claims no checkpoint it does not have, state.json and metrics.json agree on the best epoch, the
 * echoed config on resume is the run's own, the end-of-run summary, and no listeners left on a shared signal.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, appendFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '../../src/data/index.ts';
import { LABEL_NAMES } from '../../src/engine/index.ts';
import { readSafetensors, writeSafetensors } from '../../src/model/index.ts';
import { TRAIN_DEFAULTS, applyOverrides } from '../../src/train/config.ts';
import { Progress } from '../../src/train/progress.ts';
import { openRun } from '../../src/train/run-folder.ts';
import { train } from '../../src/train/trainer.ts';
import type { TrainResult } from '../../src/train/trainer.ts';
import { rejects } from '../util/harness.ts';
import { writeDivergedCheckpoint } from '../util/diverged.ts';

const root = mkdtempSync(join(tmpdir(), 'rf-resume-'));
const data = join(root, 'data');
await generateSynthetic({ out: data, patients: 300, seed: 2 });
const quiet = () => {};
const runs = join(root, 'runs');

function cfg(over: Record<string, unknown>) {
  return applyOverrides(TRAIN_DEFAULTS, { data, out: runs, preset: 'tiny', epochs: 2, progress: 'none', threads: 1, ...over }, 'test');
}
const logRecords = (dir: string) => readFileSync(join(dir, 'log.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number>);

/** An interrupted run (mid-epoch 2), kept pristine; each fault test works on a copy. */
let stopped: TrainResult;
const copyOf = (name: string) => {
  const dir = join(root, name);
  cpSync(stopped.runDir, dir, { recursive: true });
  return dir;
};

test('an interrupted run, a crash-duplicated log record, then resume: every step logged once, in order', async () => {
  const ac = new AbortController();
  let lines = 0;
  const sigintBefore = process.listenerCount('SIGINT');
  stopped = await train(cfg({ name: 'stop', progress: 'lines' }), {
    log: (s) => { if (/^epoch 2 step/.test(s) && ++lines === 1) ac.abort(); },
    signal: ac.signal,
  });
  assert.ok(stopped.interrupted);
  assert.is(stopped.stop, 'interrupted');
  // The trainer removes what it adds to a shared signal and to the process (the stress runner shares one signal).
  assert.is(getEventListeners(ac.signal, 'abort').length, 0, 'abort listeners left on the signal');
  assert.is(process.listenerCount('SIGINT'), sigintBefore, 'SIGINT listeners left on the process');
  const dir = copyOf('dup');
  const st = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
  // As if the process died after logging step+1 and the epoch, before saving: those records come again.
  appendFileSync(join(dir, 'log.jsonl'), JSON.stringify({ step: st.step + 1, epoch: 2, loss: 1 }) + '\n' + JSON.stringify({ epoch: 2, trainLoss: 1 }) + '\n{"step": 9');
  const echoed: string[] = [];
  // Only --resume on the command line: the echoed config must be the run's (2 epochs, tiny), not the defaults.
  const r = await train(applyOverrides(TRAIN_DEFAULTS, { resume: dir, progress: 'none', threads: 1 }, 'test'), { log: (l) => echoed.push(l) });
  assert.is(r.stop, 'done');
  const resolved = echoed.find((l) => l.startsWith('resolved config: '));
  assert.ok(resolved, echoed.join('\n'));
  const own = JSON.parse(resolved!.slice('resolved config: '.length));
  assert.is(own.epochs, 2);
  assert.is(own.preset, 'tiny');
  assert.is(own.name, 'stop');
  assert.is(own.resume, dir);
  assert.ok(echoed.some((l) => /removed 3 record\(s\) past the resume point/.test(l)), echoed.join('\n'));
  const recs = logRecords(dir);
  const steps = recs.filter((x) => 'step' in x).map((x) => x.step);
  assert.equal(steps, Array.from({ length: r.state.step }, (_, i) => i + 1), 'step records unique and consecutive');
  assert.equal(recs.filter((x) => !('step' in x)).map((x) => x.epoch), [1, 2], 'epoch records once each');
  // state.json and metrics.json agree on the best epoch, 1-based as the log.
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
  const metrics = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
  const bestLogged = recs.filter((x) => !('step' in x) && x.best).map((x) => x.epoch).pop();
  assert.is(state.bestEpoch, metrics.bestEpoch);
  assert.is(state.bestEpoch, bestLogged);
  // The end-of-run summary: folder, best checkpoint, time and a row per label.
  for (const re of [/^run folder: /, /^best checkpoint: .*model\.safetensors \(epoch \d/, /^total time: /, /^test metrics/]) assert.ok(echoed.some((l) => re.test(l)), `${re}`);
  for (const name of LABEL_NAMES) assert.ok(echoed.some((l) => l.trimStart().startsWith(name + ' ')), name);
});

test('--resume on a finished run says so and changes nothing', async () => {
  const dir = join(root, 'dup');
  const before = ['state.json', 'metrics.json', 'log.jsonl', 'model.safetensors'].map((f) => statSync(join(dir, f)).mtimeMs);
  const lines: string[] = [];
  const r = await train(cfg({ resume: dir }), { log: (l) => lines.push(l) });
  assert.is(r.stop, 'already-finished');
  assert.not.ok(r.interrupted);
  assert.ok(lines.some((l) => /already finished; nothing to do/.test(l)), lines.join('\n'));
  assert.equal(['state.json', 'metrics.json', 'log.jsonl', 'model.safetensors'].map((f) => statSync(join(dir, f)).mtimeMs), before);
});

test('--continue: a finished run trained to more epochs in a new folder; the original is left byte-identical', async () => {
  const src = join(root, 'dup');
  const files = readdirSync(src).sort();
  const before = files.map((f) => readFileSync(join(src, f)));
  await rejects(train(cfg({ continue: src, epochs: 2 }), { log: quiet, given: new Set(['continue', 'epochs']) }), /give --epochs E with E above the run's 2 epochs/);
  await rejects(train(cfg({ continue: stopped.runDir }), { log: quiet }), /not finished; continue it in its own folder with --resume/);
  const lines: string[] = [];
  const r = await train(cfg({ continue: src, epochs: 3, name: 'more' }), { log: (l) => lines.push(l), given: new Set(['continue', 'epochs', 'name']) });
  assert.is(r.stop, 'done');
  assert.is(r.runDir, join(runs, 'more'));
  assert.is(r.state.epoch, 3);
  const recs = logRecords(r.runDir);
  assert.equal(recs.filter((x) => !('step' in x)).map((x) => x.epoch), [1, 2, 3], 'the history, then the added epoch');
  const steps = recs.filter((x) => 'step' in x).map((x) => x.step);
  assert.equal(steps, Array.from({ length: r.state.step }, (_, i) => i + 1));
  assert.is(JSON.parse(readFileSync(join(r.runDir, 'config.json'), 'utf8')).epochs, 3);
  assert.equal(readdirSync(src).sort(), files, 'no file added to or removed from the original');
  files.forEach((f, i) => assert.ok(readFileSync(join(src, f)).equals(before[i]), `${f} of the original changed`));
  // The new folder is a run like any other: --resume on it says it is finished.
  const again = await train(cfg({ resume: r.runDir }), { log: quiet, given: new Set(['resume']) });
  assert.is(again.stop, 'already-finished');
});

test('kill -9 in epoch 1 after a --save-every save, then --resume: the uninterrupted bits (issue 25 item 4)', async () => {
  const args = ['--data', data, '--out', runs, '--preset', 'tiny', '--epochs', '2', '--threads', '1', '--progress', 'none'];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/train.ts', ...args, '--name', 'killed', '--save-every', '2'], { stdio: 'ignore' });
  const dir = join(runs, 'killed');
  const t0 = Date.now();
  while (!existsSync(join(dir, 'state.json')) && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const st = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
  assert.is(st.epoch, 0, 'killed inside epoch 1');
  assert.ok(st.step >= 2 && st.step % 2 === 0, `saved at step ${st.step}`);
  const resumed = await train(cfg({ resume: dir }), { log: quiet });
  const whole = await train(cfg({ name: 'whole' }), { log: quiet });
  for (const f of ['model.safetensors', 'last.safetensors', 'last.state.safetensors']) {
    assert.ok(readFileSync(join(resumed.runDir, f)).equals(readFileSync(join(whole.runDir, f))), `${f} differs from the uninterrupted run`);
  }
});

/** Rewrite the counters inside a copy's resume file. */
function editCounters(dir: string, edit: (s: Record<string, number>) => void): void {
  const path = join(dir, 'last.state.safetensors');
  const f = readSafetensors(readFileSync(path));
  const s = JSON.parse(f.metadata.state);
  edit(s);
  writeFileSync(path, writeSafetensors(f.tensors, { ...f.metadata, state: JSON.stringify(s) }));
}

test('edited counters are errors naming the resume file, before any step', async () => {
  const cases: [string, (s: Record<string, number>) => void, RegExp][] = [
    ['neg', (s) => { s.batchInEpoch = -1e6; }, /'batchInEpoch' is -1000000, not a counter/],
    ['skew', (s) => { s.step += 5; }, /step \d+ does not match epoch 1 and batch/],
    ['far', (s) => { s.epoch = 7; s.step += 6 * 1000; }, /epoch 7 is past the run's 2 epochs/],
    ['best', (s) => { s.bestEpoch = 2; }, /bestEpoch 2 is after the epochs done/],
    ['type', (s) => { (s as Record<string, unknown>).epochLossSum = 'x'; }, /'epochLossSum' is "x"/],
  ];
  for (const [name, edit, re] of cases) {
    const dir = copyOf(name);
    editCounters(dir, edit);
    const logBefore = readFileSync(join(dir, 'log.jsonl'), 'utf8');
    await rejects(train(cfg({ resume: dir }), { log: quiet }), new RegExp(`${join(dir, 'last.state.safetensors').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}.*${re.source}`));
    assert.is(readFileSync(join(dir, 'log.jsonl'), 'utf8'), logBefore, `${name}: no step was taken`);
  }
});

test('an edited config.json is refused on --resume, naming the file and the key, before anything changes (issue 24 item 7)', async () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['c-drop', { dropImage: 5 }, /option 'dropImage' expects a number in \[0, 1\], got 5/],
    ['c-lr', { lr: -5, clip: -1 }, /option 'lr' expects a number > 0 and <= 1, got -5/],
    ['c-seed', { seed: -1 }, /option 'seed' expects an integer in 0\.\.4294967295, got -1/],
    ['c-miss', { missImage: 2 }, /option 'missImage' expects a number in \[0, 1\], got 2/],
    ['c-epochs', { epochs: 1e308 }, /option 'epochs' expects an integer in 1\.\.100000/],
    ['c-batch', { batch: '32' }, /option 'batch' expects a number, got "32"/],
    ['c-micro', { microBatch: 0 }, /option 'microBatch' is 0, but a run folder records the micro-batch it trained with/],
    ['c-extra', { surprise: true }, /unknown option 'surprise'/],
  ];
  for (const [name, edit, re] of cases) {
    const dir = copyOf(name);
    const path = join(dir, 'config.json');
    writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), ...edit }));
    const logBefore = readFileSync(join(dir, 'log.jsonl'), 'utf8');
    await rejects(train(cfg({ resume: dir }), { log: quiet }), new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ${re.source}`));
    assert.is(readFileSync(join(dir, 'log.jsonl'), 'utf8'), logBefore, `${name}: the log was not trimmed`);
    assert.not.ok(existsSync(join(dir, 'run.lock')), `${name}: no lock left`);
  }
});

test('a resume file of format /1 (0-based bestEpoch) opens with the epoch made 1-based', () => {
  const dir = copyOf('v1');
  const path = join(dir, 'last.state.safetensors');
  const f = readSafetensors(readFileSync(path));
  const s = JSON.parse(f.metadata.state);
  assert.is(f.metadata.format, 'resilient-fusion-resume/2');
  assert.is(s.bestEpoch, 1, 'mid-epoch 2: epoch 1 was the best, 1-based');
  writeFileSync(path, writeSafetensors(f.tensors, { format: 'resilient-fusion-resume/1', state: JSON.stringify({ ...s, bestEpoch: 0 }) }));
  const opened = openRun(cfg({ resume: dir }));
  assert.is(opened.kind, 'resume');
  assert.equal(opened.state, { ...s, bestEpoch: 1 });
});

test('a truncated resume file or state.json is an error naming its path', async () => {
  const dir = copyOf('trunc');
  const resume = join(dir, 'last.state.safetensors');
  truncateSync(resume, Math.floor(statSync(resume).size / 2));
  await rejects(train(cfg({ resume: dir }), { log: quiet }), new RegExp(`resume state ${resume.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} cannot be read`));
  const dir2 = copyOf('trunc2');
  const st = join(dir2, 'state.json');
  truncateSync(st, 10);
  await rejects(train(cfg({ resume: dir2 }), { log: quiet }), new RegExp(`state file ${st.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not valid JSON`));
});

test('--max-steps is a normal stop: exit 0, "stopped at the step limit", resumable', async () => {
  const r = await train(cfg({ name: 'limit', maxSteps: 3 }), { log: quiet });
  assert.is(r.stop, 'step-limit');
  assert.not.ok(r.interrupted);
  assert.is(r.state.step, 3);
  const cli = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/train.ts', '--data', data, '--out', runs, '--name', 'limit-cli', '--preset', 'tiny',
    '--epochs', '2', '--threads', '1', '--progress', 'none', '--max-steps', '2'], { encoding: 'utf8' });
  assert.is(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /\nstopped at the step limit \(--max-steps 2\) at step 2: saved /);
  assert.not.match(cli.stdout + cli.stderr, /interrupted/);
});

test('the progress bar ends its line before anything else is printed, once', () => {
  const writes: string[] = [];
  const orig = process.stderr.write.bind(process.stderr);
  (process.stderr as unknown as { write: (s: string) => boolean }).write = (s: string) => { writes.push(s); return true; };
  try {
    const p = new Progress('bar', 10, quiet);
    p.done();
    assert.equal(writes, [], 'no newline before a bar is drawn');
    p.update(1, { epoch: 1, loss: 0.5, lr: 1e-3, sps: 10 });
    p.done();
    p.done();
    assert.is(writes.length, 2);
    assert.is(writes[1], '\n');
  } finally {
    (process.stderr as unknown as { write: typeof orig }).write = orig;
  }
});

test('a non-finite loss before the first save says no checkpoint was written', async () => {
  const huge = writeDivergedCheckpoint(join(stopped.runDir, 'last.safetensors'), join(root, 'huge.safetensors'));
  await rejects(train(cfg({ name: 'nan', initFrom: `${huge}=head.`, clip: 0, warmup: 1 }), { log: quiet }), /step \d+ .*non-finite.*; no checkpoint was written/);
  assert.not.ok(existsSync(join(runs, 'nan', 'last.state.safetensors')));
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();
