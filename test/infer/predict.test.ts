/**
 * Prediction: on a synthetic data set, `predict` gives the trainer's evaluation probabilities (Replica.predict:
 * makeBatch + forward + sigmoid) bit for bit, through the library and through the CLI; one study given as a
 * JPEG + a table of its raw CSV values gives the data-set path's probabilities bit for bit; missing fields and
 * a missing image are handled; bad inputs and hostile checkpoint metadata fail with clear errors.
 */
import { plainPolicy } from '../../src/train/batch-policy.ts';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeGray, encodeGrayJpeg, findCsv, generateSynthetic, loadDataset, parseStudyDateTime, parseTimestamp, readCsv } from '../../src/data/index.ts';
import type { PreparedDataset } from '../../src/data/index.ts';
import { alignDataset, inferenceSpec, predictDataset, Predictor } from '../../src/infer/index.ts';
import type { PredictInput } from '../../src/infer/index.ts';
import { encodeCheckpoint, presetConfig } from '../../src/model/index.ts';
import { loadModel } from '../../src/node/model.ts';
import type { ModelConfig } from '../../src/model/index.ts';
import { Replica } from '../../src/train/replica.ts';
import { rng } from '../util/harness.ts';
import { createModel } from '../../src/model/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'rf-predict-'));
const dataDir = join(dir, 'data');
const ckptPath = join(dir, 'model.safetensors');
let ds: PreparedDataset;
let config: ModelConfig;
let metadata: Record<string, unknown>;
let params: Float32Array;
let predictor: Predictor;

/** A model with parameters far enough from the initialization that the probabilities spread out. */
function makeParams(cfg: ModelConfig): Float32Array {
  const m = createModel(cfg, { seed: 5, backend: 'reference' });
  const p = Float32Array.from(m.paramData());
  const r = rng(11);
  for (let i = 0; i < p.length; i++) p[i] += 0.15 * (2 * r() - 1);
  return p;
}

function sameBits(what: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(Math.fround(got[i]), Math.fround(want[i]))) assert.unreachable(`${what}: entry ${i} is ${got[i]}, expected ${want[i]} (bit for bit)`);
  }
}

function runCli(args: string[], env: Record<string, string> = {}, timeout = 30000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'src/cli/predict.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test.before(async () => {
  await generateSynthetic({ out: dataDir, patients: 70, seed: 4, imageSize: 96 });
  // jpeg-js: the decoder of the one-JPEG path (and the edge bundle), so both paths see the same pixels.
  ds = await loadDataset(dataDir, { imageSize: 32, threads: 1, decoder: 'jpeg-js' });
  config = { ...presetConfig('tiny'), imageSize: ds.S, numFeatures: ds.schema.numeric.length, catCardinalities: ds.schema.categorical.map((c) => c.vocab.length) };
  // What the trainer stores (src/train/trainer.ts, checkpointMetadata).
  metadata = { schema: ds.schema, normalization: { pixelMean: ds.pixelMean, pixelStd: ds.pixelStd, imageSize: ds.S }, labels: ds.labelNames };
  const m = createModel(config, { metadata });
  params = makeParams(config);
  m.setParams(params);
  m.save(ckptPath);
  predictor = new Predictor(loadModel(ckptPath));
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

/** The trainer's evaluation path on sample indices: Replica.predict (makeBatch + forward + sigmoid). */
async function evaluationProbs(indices: Int32Array, data: PreparedDataset = ds): Promise<Float32Array> {
  const P = params.length;
  const shared = new SharedArrayBuffer(4 * P);
  new Float32Array(shared).set(params);
  const replica = await Replica.create({ model: config, backend: 'auto', data, params: shared, grads: new SharedArrayBuffer(4 * P), policy: plainPolicy(8) });
  return (await replica.predict({ kind: 'predict', version: 1, indices, missImage: 0, missTab: 0 })).probs;
}

test('data set: predict equals the evaluation path bit for bit (test split and all studies)', async () => {
  const p = await predictDataset(predictor, dataDir, { split: 'test', threads: 1, batchSize: 7, decoder: 'jpeg-js' });
  const want = Int32Array.from({ length: ds.n }, (_, i) => i).filter((i) => ds.split[i] === 2);
  assert.ok(want.length > 10, `test split has ${want.length} studies`);
  assert.equal([...p.indices], [...want]);
  sameBits('test probabilities', p.probs, await evaluationProbs(want));
  assert.equal(p.absentFeatures, []);
  assert.equal(p.restandardized, [], 'the checkpoint was made from this data set: values copied, not re-standardized');
  // The probabilities spread out, so the comparison means something.
  const spread = Math.max(...p.probs) - Math.min(...p.probs);
  assert.ok(spread > 0.3, `probabilities spread ${spread}`);
  // Rows carry ids, split and the modalities / features used.
  const r0 = p.rows[0];
  assert.is(r0.studyId, ds.studyId[want[0]]);
  assert.is(r0.split, 'test');
  assert.ok(p.rows.some((r) => r.image && r.table) && p.rows.some((r) => !r.table), 'mixed availability in the test split');
  for (const r of p.rows) assert.is(r.table, r.used.length > 0);
  const all = await predictDataset(predictor, dataDir, { split: 'all', threads: 1, decoder: 'jpeg-js' });
  assert.is(all.rows.length, ds.n);
  sameBits('all probabilities', all.probs, await evaluationProbs(Int32Array.from({ length: ds.n }, (_, i) => i)));
});

test('CLI: --data gives the same probabilities as CSV and JSON; --out writes a file', async () => {
  const csv = runCli(['--model', ckptPath, '--data', dataDir, '--split', 'test', '--format', 'csv', '--threads', '1', '--decoder', 'jpeg-js']);
  assert.is(csv.status, 0, csv.stderr);
  const lines = csv.stdout.trim().split('\n');
  const header = lines[0].split(',');
  assert.equal(header.slice(0, 8), ['study_id', 'subject_id', 'split', 'input', 'image', 'table', 'features_used', 'features_invalid']);
  assert.equal(header.slice(8), predictor.labels);
  const test = Int32Array.from({ length: ds.n }, (_, i) => i).filter((i) => ds.split[i] === 2);
  assert.is(lines.length - 1, test.length);
  const want = await evaluationProbs(test);
  const got = lines.slice(1).flatMap((l) => l.split(',').slice(-14).map(Number));
  sameBits('CSV probabilities', got, want);
  assert.is(Number(lines[1].split(',')[0]), ds.studyId[test[0]]);

  const out = join(dir, 'out.json');
  const js = runCli(['--model', ckptPath, '--data', dataDir, '--threads', '1', '--out', out, '--decoder', 'jpeg-js']);
  assert.is(js.status, 0, js.stderr);
  const doc = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(doc.labels, predictor.labels);
  assert.is(doc.predictions.length, test.length);
  sameBits('JSON probabilities', doc.predictions.flatMap((p: { probabilities: Record<string, number> }) => predictor.labels.map((l) => p.probabilities[l])), want);
  assert.ok(Array.isArray(doc.predictions[0].features_used));
  assert.type(doc.predictions[0].modalities.image, 'boolean');
});

// ---- one study from its raw files ------------------------------------------------------------------------

interface RawStudy { study: number; index: number; jpeg: string; table: Record<string, unknown> }

/**
 * The raw inputs of studies as a user would give them: the frontal JPEG and, when the study falls inside an
 * ED stay, that visit's values straight from the CSV files (triage, edstays, patients, labs nearest in time).
 */
async function rawStudies(): Promise<RawStudy[]> {
  const cxr = join(dataDir, 'mimic-cxr-jpg'), iv = join(dataDir, 'mimic-iv');
  const studies = new Map<number, { subject: number; time: number; frontal: string[] }>();
  await readCsv(findCsv(join(cxr, 'mimic-cxr-2.0.0-metadata'))!, ['dicom_id', 'subject_id', 'study_id', 'ViewPosition', 'StudyDate', 'StudyTime'], (h) => (f) => {
    const st = +f[h.idx('study_id')];
    const s = studies.get(st) ?? { subject: +f[h.idx('subject_id')], time: parseStudyDateTime(f[h.idx('StudyDate')], f[h.idx('StudyTime')]), frontal: [] };
    studies.set(st, s);
    if (['PA', 'AP'].includes(f[h.idx('ViewPosition')])) s.frontal.push(f[h.idx('dicom_id')]);
  });
  const patients = new Map<number, string[]>();
  await readCsv(findCsv(join(iv, 'hosp/patients'))!, ['subject_id', 'gender', 'anchor_age', 'anchor_year'], (h) => (f) => {
    patients.set(+f[h.idx('subject_id')], [f[h.idx('gender')], f[h.idx('anchor_age')], f[h.idx('anchor_year')]]);
  });
  const stays: { subject: number; stay: number; tin: number; tout: number; race: string; arrival: string }[] = [];
  await readCsv(findCsv(join(iv, 'ed/edstays'))!, ['subject_id', 'stay_id', 'intime', 'outtime', 'race', 'arrival_transport'], (h) => (f) => {
    stays.push({ subject: +f[h.idx('subject_id')], stay: +f[h.idx('stay_id')], tin: parseTimestamp(f[h.idx('intime')]), tout: parseTimestamp(f[h.idx('outtime')]), race: f[h.idx('race')], arrival: f[h.idx('arrival_transport')] });
  });
  const vitals = ['temperature', 'heartrate', 'resprate', 'o2sat', 'sbp', 'dbp', 'pain', 'acuity'];
  const triage = new Map<number, string[]>();
  await readCsv(findCsv(join(iv, 'ed/triage'))!, ['stay_id', ...vitals], (h) => (f) => { triage.set(+f[h.idx('stay_id')], vitals.map((v) => f[h.idx(v)])); });
  const labItems: Record<number, string> = { 51301: 'wbc', 50813: 'lactate', 50963: 'ntprobnp', 50912: 'creatinine' };
  const labs: { subject: number; name: string; t: number; value: string }[] = [];
  await readCsv(findCsv(join(iv, 'hosp/labevents'))!, ['subject_id', 'itemid', 'charttime', 'valuenum'], (h) => (f) => {
    const name = labItems[+f[h.idx('itemid')]];
    if (name) labs.push({ subject: +f[h.idx('subject_id')], name, t: parseTimestamp(f[h.idx('charttime')]), value: f[h.idx('valuenum')] });
  });

  const out: RawStudy[] = [];
  for (let i = 0; i < ds.n; i++) {
    const study = ds.studyId[i], s = studies.get(study)!;
    if (s.frontal.length > 1) continue; // the reader's view preference is not what this test is about
    const inStay = stays.filter((x) => x.subject === s.subject && s.time >= x.tin && s.time <= x.tout);
    if (inStay.length > 1) continue;
    const table: Record<string, unknown> = {};
    if (inStay.length === 1) {
      const st = inStay[0];
      const [gender, anchorAge, anchorYear] = patients.get(s.subject)!;
      table.age = +anchorAge + (new Date(s.time).getUTCFullYear() - +anchorYear);
      table.gender = gender;
      table.race = st.race;
      table.arrival_transport = st.arrival;
      const tri = triage.get(st.stay);
      // Numbers as a user's JSON holds them; pain as the free text it is.
      if (tri) vitals.forEach((v, k) => { if (tri[k] !== '') table[v] = v === 'pain' ? tri[k] : Number(tri[k]); });
      for (const name of Object.values(labItems)) {
        let best: string | undefined, bestD = Infinity;
        for (const l of labs) {
          if (l.subject !== s.subject || l.name !== name) continue;
          const dt = l.t - s.time;
          if (dt < -24 * 3600e3 || dt > 12 * 3600e3) continue;
          if (Math.abs(dt) < bestD) { bestD = Math.abs(dt); best = l.value; }
        }
        if (best !== undefined && best !== '') table[name] = Number(best);
      }
    }
    const jpeg = s.frontal.length ? join(cxr, 'files', `p${String(s.subject).slice(0, 2)}`, `p${s.subject}`, `s${study}`, `${s.frontal[0]}.jpg`) : '';
    out.push({ study, index: i, jpeg, table });
  }
  return out;
}

test('one study: JPEG + a table of its raw values gives the data-set probabilities bit for bit', async () => {
  const raw = await rawStudies();
  const full = raw.filter((r) => r.jpeg && Object.keys(r.table).length > 8);
  const noStay = raw.filter((r) => r.jpeg && Object.keys(r.table).length === 0);
  const noImage = raw.filter((r) => !r.jpeg && Object.keys(r.table).length > 0);
  assert.ok(full.length >= 3 && noStay.length >= 1, `studies to compare: ${full.length} with both, ${noStay.length} image only`);
  const picks = [...full.slice(0, 4), ...noStay.slice(0, 2), ...noImage.slice(0, 2)];
  const want = await evaluationProbs(Int32Array.from(picks, (r) => r.index));
  const got = predictor.predictMany(picks.map((r) => ({ image: r.jpeg ? readFileSync(r.jpeg) : undefined, table: r.table })));
  got.forEach((g, k) => {
    const i = picks[k].index;
    assert.is(g.modalities.image, ds.hasImage[i] === 1, `study ${picks[k].study}: image`);
    sameBits(`study ${picks[k].study}`, predictor.labels.map((l) => g.probabilities[l]), want.subarray(k * 14, (k + 1) * 14));
  });
  // The same through the CLI: --image and --table-file.
  const r = full[0];
  const tf = join(dir, 'table.json');
  writeFileSync(tf, JSON.stringify(r.table));
  const cli = runCli(['--model', ckptPath, '--image', r.jpeg, '--table-file', tf]);
  assert.is(cli.status, 0, cli.stderr);
  const doc = JSON.parse(cli.stdout);
  assert.is(doc.predictions.length, 1);
  sameBits('CLI single study', predictor.labels.map((l) => doc.predictions[0].probabilities[l]), want.subarray(0, 14));
  assert.equal(doc.predictions[0].modalities, { image: true, table: true });
});

test('a model trained on sharp\'s pixels: --image and --data decode with sharp (from the checkpoint), bit for bit', async () => {
  const dsSharp = await loadDataset(dataDir, { imageSize: 32, threads: 1, decoder: 'sharp' });
  assert.is(dsSharp.report.cache.decoder, 'sharp');
  const meta = { ...metadata, normalization: { pixelMean: dsSharp.pixelMean, pixelStd: dsSharp.pixelStd, imageSize: dsSharp.S, decoder: 'sharp' } };
  const path = join(dir, 'sharp.safetensors');
  const m = createModel(config, { metadata: meta });
  m.setParams(params);
  m.save(path);
  assert.is(new Predictor(loadModel(path)).spec.decoder, 'sharp');
  const raw = await rawStudies();
  const r = raw.find((x) => x.jpeg && Object.keys(x.table).length > 8)!;
  const want = await evaluationProbs(Int32Array.of(r.index), dsSharp);
  const tf = join(dir, 'table-sharp.json');
  writeFileSync(tf, JSON.stringify(r.table));
  const cli = runCli(['--model', path, '--image', r.jpeg!, '--table-file', tf]);
  assert.is(cli.status, 0, cli.stderr);
  sameBits('CLI single study (sharp)', predictor.labels.map((l) => JSON.parse(cli.stdout).predictions[0].probabilities[l]), want);
  // The same study through jpeg-js pixels gives other probabilities: the decoder really is the checkpoint's.
  const js = runCli(['--model', path, '--image', r.jpeg!, '--table-file', tf, '--decoder', 'jpeg-js']);
  assert.is(js.status, 0, js.stderr);
  const pj = predictor.labels.map((l) => JSON.parse(js.stdout).predictions[0].probabilities[l]);
  assert.ok(pj.some((v, i) => v !== Math.fround(want[i])), 'jpeg-js pixels differ from sharp pixels');
  // --data without --decoder reads the sharp cache.
  const all = runCli(['--model', path, '--data', dataDir, '--split', 'all', '--threads', '1']);
  assert.is(all.status, 0, all.stderr);
  const rec = JSON.parse(all.stdout).predictions.find((x: { study_id: number }) => x.study_id === r.study);
  sameBits('CLI --data (sharp)', predictor.labels.map((l) => rec.probabilities[l]), want);
});

// ---- --backend webgpu ----------------------------------------------------------------------------------------

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

test('CLI --backend webgpu: the wasm probabilities within 1e-4 where there is an adapter; else the fix and exit 1', async () => {
  const r = (await rawStudies()).find((x) => x.jpeg && Object.keys(x.table).length > 8)!;
  const tf = join(dir, 'table-webgpu.json');
  writeFileSync(tf, JSON.stringify(r.table));
  const args = ['--model', ckptPath, '--image', r.jpeg, '--table-file', tf];
  const wasm = runCli([...args, '--backend', 'wasm']);
  assert.is(wasm.status, 0, wasm.stderr);
  const want = JSON.parse(wasm.stdout).predictions[0];
  // No adapter (no Vulkan driver to be found): a clear error naming the fix, exit code 1, no crash.
  const none = runCli([...args, '--backend', 'webgpu'], { VK_ICD_FILENAMES: '/nonexistent.json', RF_DAWN_FLAGS: '' }, 120000);
  assert.is(none.status, 1, `expected exit 1, got ${none.status}: ${none.stderr}`);
  assert.match(none.stderr, /predict: WebGPU is not available: .*To fix: .*--backend wasm/);
  assert.is(none.stdout, '');
  // An adapter: the host's driver, else Chromium's SwiftShader Vulkan driver (as test/engine/op-table-webgpu.test.ts).
  let gpu = runCli([...args, '--backend', 'webgpu'], {}, 120000);
  let where = 'host driver';
  if (gpu.status !== 0 && /WebGPU is not available/.test(gpu.stderr) && existsSync(SWIFTSHADER_ICD)) {
    gpu = runCli([...args, '--backend', 'webgpu'], { VK_ICD_FILENAMES: SWIFTSHADER_ICD, LD_LIBRARY_PATH: `/usr/lib/chromium:${process.env.LD_LIBRARY_PATH ?? ''}` }, 120000);
    where = "Chromium's SwiftShader Vulkan driver";
  }
  if (gpu.status !== 0 && /WebGPU is not available/.test(gpu.stderr)) {
    console.log(`  [predict] SKIPPED the --backend webgpu comparison: ${gpu.stderr.trim().split('\n').pop()}`);
    return;
  }
  assert.is(gpu.status, 0, gpu.stderr);
  const got = JSON.parse(gpu.stdout).predictions[0];
  assert.equal(got.modalities, want.modalities);
  let d = 0;
  for (const l of predictor.labels) d = Math.max(d, Math.abs(got.probabilities[l] - want.probabilities[l]));
  console.log(`  [predict] --backend webgpu (${where}): max |p_gpu - p_wasm| = ${d.toExponential(2)}`);
  assert.ok(d <= 1e-4, `max |p_gpu - p_wasm| = ${d}`);
});

// ---- missing inputs ----------------------------------------------------------------------------------------

function probsOf(x: PredictInput): number[] {
  const p = predictor.predict(x);
  return predictor.labels.map((l) => p.probabilities[l]);
}

test('missing fields and a missing image: reported, and the same as leaving them out', () => {
  const jpeg = encodeGrayJpeg(Uint8Array.from({ length: 40 * 36 }, (_, i) => (i * 7) % 256), 36, 40);
  const none = predictor.predict({});
  assert.equal(none.modalities, { image: false, table: false });
  assert.is(none.features.used.length, 0);
  assert.is(none.features.missing.length, ds.schema.numeric.length + ds.schema.categorical.length);
  for (const v of Object.values(none.probabilities)) assert.ok(v > 0 && v < 1);

  const some = predictor.predict({ table: { temperature: 101.2, heartrate: '120', pain: '4-5', gender: 'F' } });
  assert.equal(some.modalities, { image: false, table: true });
  assert.equal(some.features.used, ['temperature', 'heartrate', 'pain', 'gender']);
  assert.equal(some.features.invalid, []);
  // null, '' and undefined are "not recorded"; unusable values are reported and count as missing.
  const base = probsOf({ image: jpeg, table: { temperature: 101.2, gender: 'F' } });
  assert.equal(probsOf({ image: jpeg, table: { temperature: 101.2, gender: 'F', heartrate: null, pain: '', race: undefined } }), base);
  const bad = predictor.predict({ image: jpeg, table: { temperature: 101.2, gender: 'F', o2sat: 400, acuity: 'x', arrival_transport: 'SPACESHIP', sbp: true } });
  assert.equal(bad.features.invalid.map((f) => f.name), ['o2sat', 'sbp', 'acuity', 'arrival_transport']);
  assert.match(bad.features.invalid[0].reason, /impossible value outside \[0, 150\]/);
  assert.match(bad.features.invalid[2].reason, /not a number/);
  assert.match(bad.features.invalid[3].reason, /not seen in training/);
  assert.equal(predictor.labels.map((l) => bad.probabilities[l]), base);
  // Clipping as the readers do: an o2sat of 120 is clipped to 100.
  const clip = predictor.predict({ table: { o2sat: 120 } });
  assert.equal(clip.features.clipped, ['o2sat']);
  assert.equal(probsOf({ table: { o2sat: 120 } }), probsOf({ table: { o2sat: 100 } }));
  // The image alone, and the table alone, differ from both together.
  assert.equal(predictor.predict({ image: jpeg }).modalities, { image: true, table: false });
  assert.not.equal(probsOf({ image: jpeg }), base);
  // Decoded pixels (gray, or RGBA as a canvas gives them) match the JPEG.
  const g = decodeGray(jpeg);
  assert.equal(probsOf({ image: g, table: { temperature: 101.2, gender: 'F' } }), base);
  const rgba = new Uint8ClampedArray(g.data.length * 4);
  g.data.forEach((v, i) => rgba.set([v, v, v, 255], i * 4));
  assert.equal(probsOf({ image: { width: g.width, height: g.height, data: rgba }, table: { temperature: 101.2, gender: 'F' } }), base);
});

// ---- bad inputs ----------------------------------------------------------------------------------------------

test('bad inputs: clear errors', () => {
  assert.throws(() => predictor.predict({ table: { temperature: 99, tmp: 1 } }), /unknown field 'tmp' \(this model's fields: age, temperature/);
  assert.throws(() => predictor.predict({ table: [1, 2] as unknown as Record<string, unknown> }), /table: expected an object/);
  assert.throws(() => predictor.predict({ image: new TextEncoder().encode('not a jpeg at all') }), /image: unreadable JPEG: not a JPEG/);
  const jpeg = encodeGrayJpeg(new Uint8Array(64 * 64).fill(90), 64, 64);
  assert.throws(() => predictor.predict({ image: jpeg.subarray(0, jpeg.length - 40) }), /unreadable JPEG: truncated/);
  assert.throws(() => predictor.predict({ image: { width: 10, height: 10, data: new Uint8Array(99) } }), /image: 99 values for 10 x 10/);
  assert.throws(() => predictor.predict({ image: { width: 0, height: 10, data: new Uint8Array(0) } }), /positive integers/);

  const cli = runCli(['--model', ckptPath, '--table', '{"temperature": 99, "tmp": 1}']);
  assert.is(cli.status, 1);
  assert.match(cli.stderr, /predict: table: unknown field 'tmp'/);
  assert.is(cli.stdout, '');
  const notJson = runCli(['--model', ckptPath, '--table', '{temperature: 99}']);
  assert.is(notJson.status, 1);
  assert.match(notJson.stderr, /--table: not valid JSON/);
  const both = runCli(['--model', ckptPath, '--data', dataDir, '--image', 'x.jpg']);
  assert.match(both.stderr, /not both/);
  const nothing = runCli(['--model', ckptPath]);
  assert.match(nothing.stderr, /nothing to predict/);
});

test('hostile tables: bounded size and nesting, short errors, one unit per context', () => {
  // 200k unknown keys: the error lists ten and counts the rest; more than MAX_TABLE_FIELDS entries is refused first.
  const many: Record<string, number> = {};
  for (let i = 0; i < 999; i++) many[`k${i}`] = i;
  const err = (() => { try { predictor.predict({ table: many }); } catch (e) { return (e as Error).message; } return ''; })();
  assert.match(err, /unknown fields 'k0', 'k1', .*'k9' and 989 more \(this model's fields: age/);
  assert.ok(err.length < 1000, `${err.length} characters`);
  for (let i = 0; i < 200_000; i++) many[`k${i}`] = i;
  assert.throws(() => predictor.predict({ table: many }), /table: 200000 entries, more than the 1000/);
  // A value nested 100k deep: reported as invalid without keeping it, so the report prints.
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  const p = predictor.predict({ table: { temperature: deep, age: { a: deep } } });
  assert.equal(p.features.invalid.map((f) => [f.name, f.value]), [['age', '(an object)'], ['temperature', '(an array)']]);
  assert.ok(JSON.stringify(p).length < 10_000);
  // Temperature: the listing and the invalid-value message both in F (the unit the field takes).
  const temp = predictor.fields().find((f) => f.name === 'temperature')!;
  assert.equal([temp.unit, temp.valid], ['F', [78.8, 113]]);
  const hot = predictor.predict({ table: { temperature: 200 } }).features.invalid[0];
  assert.is(hot.reason, '200 F is an impossible value outside [57.6, 116.6] F');
  const old = predictor.predict({ table: { age: 200 } }).features.invalid[0];
  assert.is(old.reason, '200 is an impossible value outside [0, 130] years');
});

test('CLI: missing files and folders are one line; --out is written atomically', () => {
  const noModel = runCli(['--model', join(dir, 'none.safetensors'), '--table', '{}']);
  assert.is(noModel.status, 1);
  assert.is(noModel.stderr.trim(), `predict: --model ${join(dir, 'none.safetensors')}: no such file`);
  const noData = runCli(['--model', ckptPath, '--data', join(dir, 'no-data')]);
  assert.is(noData.status, 1);
  assert.match(noData.stderr, new RegExp(`predict: --data ${join(dir, 'no-data')}: no such folder\\n$`));
  assert.not.match(noData.stderr, /ENOENT|\n\s+at /);
  // (Files: one argv word is limited to 128 KB by the kernel.)
  const deep = join(dir, 'deep.json'), bigFile = join(dir, 'big.json');
  writeFileSync(deep, `{"temperature": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
  writeFileSync(bigFile, `{"x": "${'a'.repeat(1_100_000)}"}`);
  const big = runCli(['--model', ckptPath, '--table-file', bigFile]);
  assert.match(big.stderr, /--table-file .*big\.json: larger than 1 MB/);
  assert.is(big.status, 1);
  // An existing output stays whole when the new one cannot be written (the target is a folder: rename fails).
  const outDir = join(dir, 'out-is-a-folder');
  mkdirSync(outDir, { recursive: true });
  const failed = runCli(['--model', ckptPath, '--table-file', deep, '--out', outDir, '--allow-empty']);
  assert.is(failed.status, 1);
  assert.match(failed.stderr, new RegExp(`predict: .*${outDir.replace(/[/.-]/g, '\\$&')}`));
  assert.equal(readdirSync(dir).filter((f) => f.includes('.tmp-')), [], 'no temporary file left');
  const out = join(dir, 'nested.json');
  const ok = runCli(['--model', ckptPath, '--table-file', deep, '--out', out, '--allow-empty']);
  assert.is(ok.status, 0, ok.stderr);
  assert.equal(JSON.parse(readFileSync(out, 'utf8')).predictions[0].features_invalid[0].value, '(an array)');
});

test('checkpoint metadata is checked before use', () => {
  const m = createModel(config);
  const make = (meta: Record<string, unknown>) => loadModel(encodeCheckpoint(m.config, m.layout, m.paramData(), meta), { backend: 'reference' });
  assert.throws(() => new Predictor(make({ schema: metadata.schema })), /no 'normalization' entry/);
  assert.throws(() => new Predictor(make({ ...metadata, normalization: { pixelMean: 0.5, pixelStd: -1, imageSize: ds.S } })), /pixelStd -1 is not a positive number/);
  assert.throws(() => new Predictor(make({ normalization: metadata.normalization })), /no 'schema' entry/);
  const schema = structuredClone(ds.schema);
  schema.numeric[1].std = 0;
  assert.throws(() => new Predictor(make({ ...metadata, schema })), /schema.numeric\[1\] \(temperature\): std 0/);
  const schema2 = structuredClone(ds.schema);
  schema2.categorical[0].vocab.push('X');
  assert.throws(() => new Predictor(make({ ...metadata, schema: schema2 })), /vocab has \d+ categories, the config/);
});

test('a data set on another checkpoint\'s preprocessing: re-standardized by name, categories by value', () => {
  const spec = inferenceSpec(config, {
    ...metadata,
    schema: {
      numeric: ds.schema.numeric.map((f, j) => (j === 1 ? { ...f, mean: f.mean + 1, std: f.std * 2 } : f)),
      categorical: ds.schema.categorical.map((c) => ({ ...c, vocab: [...c.vocab].reverse() })),
    },
  });
  const a = alignDataset(ds, spec);
  assert.equal(a.restandardized, ['temperature']);
  const Fn = ds.schema.numeric.length, Fc = ds.schema.categorical.length;
  const f1 = ds.schema.numeric[1];
  for (let i = 0; i < ds.n; i++) {
    assert.is(a.data.numPresent[i * Fn + 1], ds.numPresent[i * Fn + 1]);
    if (ds.numPresent[i * Fn + 1]) {
      const rawV = ds.num[i * Fn + 1] * f1.std + f1.mean;
      assert.ok(Math.abs(a.data.num[i * Fn + 1] - (rawV - f1.mean - 1) / (f1.std * 2)) < 1e-6);
    }
    assert.is(a.data.num[i * Fn], ds.num[i * Fn], 'same statistics: copied bit for bit');
    for (let c = 0; c < Fc; c++) {
      if (!ds.catPresent[i * Fc + c]) continue;
      assert.is(a.data.cat[i * Fc + c], ds.schema.categorical[c].vocab.length - 1 - ds.cat[i * Fc + c]);
    }
  }
});

test.run();
