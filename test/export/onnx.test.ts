/**
 * ONNX export (src/export/onnx.ts, src/cli/export.ts): the exported graph, run in onnxruntime-node, gives the
 * engine's logits within 1e-5 relative, measured as max|onnx - engine| / max|engine| over the whole [B,14]
 * output, for every availability pattern (both, image only, table only, neither, and random feature masks
 * with and without an image), absent slots holding NaN or garbage, at batch 1 and 64, on tiny and small, both
 * GELU forms, the masking ablation, every opset 17..21. Each model is loaded twice: with onnxruntime's
 * optimizations and with none plus strict shape and type inference (the nearest thing to the ONNX checker in
 * npm; the real checker, onnx.checker, is Python/C++ only). Calibration, metadata, refusals and the CLIs
 * (`export`, `predict --dump-inputs`) are checked too.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { exportOnnx, MASK_BIAS, onnxModel } from '../../src/export/onnx.ts';
import { ONNX_OPSETS } from '../../src/export/opsets.ts';
import { syntheticBatch } from '../../src/model/synthetic.ts';
import type { Availability } from '../../src/model/synthetic.ts';
import type { Model } from '../../src/model/model.ts';
import type { SyncBackend } from '../../src/engine/types.ts';
import { sigmoidProbabilities } from '../../src/model/loss.ts';
import { LABEL_NAMES } from '../../src/engine/batch.ts';
import { encodeGrayJpeg } from '../../src/data/index.ts';
import { feedsOf, perturbedModel, relDiff } from '../../bench/onnx-compare.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'rf-onnx-'));
const TOL = 1e-5;
const PATTERNS: Availability[] = ['both', 'image', 'table', 'none', 'partial', 'tablePartial'];

/** Two sessions of one model: onnxruntime's default optimizations, and none with strict shape inference. */
async function sessions(bytes: Uint8Array): Promise<ort.InferenceSession[]> {
  return [
    await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, logSeverityLevel: 3 }),
    await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, graphOptimizationLevel: 'disabled', extra: { session: { strict_shape_type_inference: '1' } } }),
  ];
}

function exported(m: Model<SyncBackend>, opset?: number, metadata = m.metadata): Uint8Array {
  return exportOnnx({ config: m.config, params: m.paramData(), metadata }, { opset });
}

/** Compare the graph with the engine on batch 1 of each pattern and batch 64 of mixed patterns. */
async function compare(what: string, m: Model<SyncBackend>, opset?: number): Promise<number> {
  const ss = await sessions(exported(m, opset));
  let worst = 0;
  const batches = [
    ...PATTERNS.map((p, i) => ({ tag: `B=1 ${p}`, b: syntheticBatch(m.config, [p], 10 + i) })),
    { tag: 'B=64 mixed, NaN absent', b: syntheticBatch(m.config, Array.from({ length: 64 }, (_, i) => PATTERNS[(i * 5) % 6]), 31) },
    { tag: 'B=64 mixed, garbage absent', b: syntheticBatch(m.config, Array.from({ length: 64 }, (_, i) => PATTERNS[(i * 7 + 3) % 6]), 32, { absent: 'random' }) },
  ];
  for (const { tag, b } of batches) {
    const ref = m.forward(b);
    for (const [si, s] of ss.entries()) {
      const out = await s.run(feedsOf(b));
      const r = relDiff(out.logits.data as Float32Array, ref);
      if (!(r <= TOL)) assert.unreachable(`${what} opset ${opset ?? 'default'} ${tag} (session ${si}): logits differ by ${r.toExponential(2)} relative (max|d|/max|ref|), over ${TOL}`);
      const pr = relDiff(out.probabilities.data as Float32Array, sigmoidProbabilities(ref));
      if (!(pr <= TOL)) assert.unreachable(`${what} ${tag}: probabilities differ by ${pr.toExponential(2)}`);
      worst = Math.max(worst, r);
    }
  }
  return worst;
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('tiny: the graph gives the engine logits in onnxruntime for every pattern at every opset 17..21', async () => {
  const m = perturbedModel('tiny');
  const worst: string[] = [];
  for (const opset of ONNX_OPSETS) worst.push(`${opset}: ${(await compare('tiny', m, opset)).toExponential(1)}`);
  console.log(`  tiny, max|d|/max|ref| by opset: ${worst.join(', ')}`);
});

test('small (tanh and erf GELU) and tiny variants: masking ablation, no fusion or tabular blocks, no features of a kind', async () => {
  const cases: [string, Model<SyncBackend>][] = [
    ['small tanh', perturbedModel('small')],
    ['small erf', perturbedModel('small', { gelu: 'erf' }, 2)],
    ['tiny erf', perturbedModel('tiny', { gelu: 'erf' }, 3)],
    ['tiny attentionMasking false', perturbedModel('tiny', { attentionMasking: false }, 4)],
    ['tiny fusionDepth 0, tabularDepth 0', perturbedModel('tiny', { fusionDepth: 0, tabularDepth: 0 }, 5)],
    ['tiny numeric only', perturbedModel('tiny', { catCardinalities: [] }, 6)],
    ['tiny categorical only', perturbedModel('tiny', { numFeatures: 0 }, 7)],
    ['tiny image only', perturbedModel('tiny', { numFeatures: 0, catCardinalities: [] }, 8)],
  ];
  const worst: string[] = [];
  for (const [what, m] of cases) worst.push(`${what} ${(await compare(what, m, what.startsWith('small erf') ? 17 : undefined)).toExponential(1)}`);
  console.log(`  max|d|/max|ref|: ${worst.join('; ')}`);
});

test('a masked key gets exactly zero weight: absent values of any size change no logit bit', async () => {
  const m = perturbedModel('tiny');
  const [s] = await sessions(exported(m));
  const a = syntheticBatch(m.config, ['partial', 'tablePartial', 'image', 'none'], 40, { absent: 'zero' });
  const b = syntheticBatch(m.config, ['partial', 'tablePartial', 'image', 'none'], 40, { absent: 'random' });
  const la = (await s.run(feedsOf(a))).logits.data as Float32Array, lb = (await s.run(feedsOf(b))).logits.data as Float32Array;
  for (let i = 0; i < la.length; i++) assert.ok(Object.is(la[i], lb[i]), `logit ${i}: ${la[i]} vs ${lb[i]}`);
  assert.ok(MASK_BIAS <= -1e9 && Number.isFinite(MASK_BIAS), 'a finite large negative bias');
});

test('calibration: probabilities are sigmoid(logits / T) with the checkpoint temperatures; metadata names labels and preprocessing', async () => {
  const m = perturbedModel('tiny');
  const temperatures = Array.from({ length: 14 }, (_, k) => 0.5 + k / 7);
  const thresholds = { values: Array.from({ length: 14 }, (_, k) => k / 20), rule: 'youden', split: 'validation' };
  const bytes = exported(m, undefined, { ...m.metadata, calibration: { method: 'temperature', temperatures }, thresholds });
  const [s] = await sessions(bytes);
  const b = syntheticBatch(m.config, ['both', 'table', 'image', 'none'], 50);
  const ref = m.forward(b);
  const out = await s.run(feedsOf(b));
  const want = ref.map((x, i) => 1 / (1 + Math.exp(-x / temperatures[i % 14])));
  assert.ok(relDiff(out.probabilities.data as Float32Array, want) < 1e-5, 'calibrated probabilities');
  const model = onnxProto.onnx.ModelProto.decode(bytes);
  const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
  assert.equal(JSON.parse(meta.labels), [...LABEL_NAMES]);
  assert.equal(JSON.parse(meta.calibration).temperatures, temperatures);
  assert.equal(JSON.parse(meta.thresholds), { ...thresholds, appliesTo: 'probabilities' });
  const pre = JSON.parse(meta.preprocessing);
  assert.is(pre.image.pixelMean, 0.5);
  assert.is(pre.image.pixelStd, 0.25);
  assert.equal(pre.numeric.map((f: { name: string }) => f.name), Array.from({ length: 13 }, (_, j) => `n${j}`));
  assert.equal(pre.categorical[2].vocab.length, 7);
  assert.is(Number(model.opsetImport[0].version), 21);
  assert.ok(model.graph!.node!.every((n) => !n.domain), 'standard operators only');
});

test('the strict session is a real check: a declared output shape that the graph does not produce is refused', async () => {
  const m = perturbedModel('tiny');
  const pm = onnxModel({ config: m.config, params: m.paramData(), metadata: m.metadata });
  const dim = pm.graph!.output![0].type!.tensorType!.shape!.dim![1];
  dim.dimValue = 15;
  const bytes = onnxProto.onnx.ModelProto.encode(onnxProto.onnx.ModelProto.create(pm)).finish();
  try {
    await sessions(bytes);
    assert.unreachable('loaded a model whose logits are declared [batch, 15]');
  } catch (e) {
    assert.match((e as Error).message, /Inferred=14 Declared=15/);
  }
});

test('what cannot be exported is refused with a message naming it', () => {
  const m = perturbedModel('tiny');
  assert.throws(() => exported(m, 16), /opset 16 is not supported: the export writes and tests opsets 17\.\.21/);
  assert.throws(() => exported(m, 22), /opset 22 is not supported/);
  const { normalization: _n, ...noNorm } = m.metadata;
  assert.throws(() => exported(m, 21, noNorm), /no 'normalization' entry/);
  assert.throws(() => exported(m, 21, { ...m.metadata, calibration: { method: 'temperature', temperatures: [1, 2] } }), /calibration\.temperatures has 2 values, the model has 14 labels/);
  assert.throws(() => exported(m, 21, { ...m.metadata, calibration: { method: 'temperature', temperatures: Array(14).fill(0) } }), /calibration\.temperatures\[0\] \(Atelectasis\) 0 is not a temperature in \(0, /);
  assert.throws(() => exported(m, 21, { ...m.metadata, calibration: { method: 'platt' } }), /calibration\.method "platt" is not 'temperature'/);
  assert.throws(() => exported(m, 21, { ...m.metadata, thresholds: { values: Array(14).fill(1.5), rule: 'f1', split: 'validation' } }), /thresholds\.values\[0\] \(Atelectasis\) 1\.5 is not/);
});

function cli(name: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, `src/cli/${name}.ts`), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('CLI: export writes a file onnxruntime serves; predict --dump-inputs feeds it to the engine\'s own probabilities', async () => {
  const m = perturbedModel('tiny');
  const ckpt = join(dir, 'model.safetensors');
  writeFileSync(ckpt, m.toSafetensors());
  const onnxPath = join(dir, 'model.onnx');
  const e = cli('export', ['--model', ckpt, '--out', onnxPath, '--opset', '19']);
  assert.is(e.status, 0, e.stderr);
  assert.match(e.stderr, /export: wrote .*model\.onnx .*opset 19/);
  const S = m.config.imageSize, px = new Uint8Array(S * S).map((_, i) => (i * 37) % 251);
  const jpg = join(dir, 'x.jpg');
  writeFileSync(jpg, encodeGrayJpeg(px, S, S, 95));
  const dump = join(dir, 'inputs.json');
  const p = cli('predict', ['--model', ckpt, '--image', jpg, '--table', '{"n0": 2.5, "n4": -1, "c1": "v3"}', '--dump-inputs', dump]);
  assert.is(p.status, 0, p.stderr);
  const probs = JSON.parse(p.stdout).predictions[0].probabilities as Record<string, number>;
  const doc = JSON.parse(readFileSync(dump, 'utf8'));
  assert.equal(doc.inputs.image_present.data, [1]);
  assert.equal(doc.inputs.num_present.data.slice(0, 5), [1, 0, 0, 0, 1]);
  assert.equal(doc.inputs.cat.data, [0, 3, 0]);
  assert.equal(doc.inputs.cat_present.data, [0, 1, 0]);
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, a] of Object.entries(doc.inputs as Record<string, { dims: number[]; dtype: string; data: number[] }>)) {
    feeds[k] = a.dtype === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(a.data, (v) => BigInt(v)), a.dims) : new ort.Tensor('float32', Float32Array.from(a.data), a.dims);
  }
  const s = await ort.InferenceSession.create(onnxPath);
  const out = (await s.run(feeds)).probabilities.data as Float32Array;
  assert.ok(relDiff(out, LABEL_NAMES.map((l) => probs[l])) < 1e-5, `probabilities ${Array.from(out)} vs predict's ${JSON.stringify(probs)}`);
});

test('CLI: bad flags and an imputed run are refused in one line, nothing written', () => {
  const m = perturbedModel('tiny');
  const run = join(dir, 'run');
  mkdirSync(run, { recursive: true });
  writeFileSync(join(run, 'model.safetensors'), m.toSafetensors());
  const out = join(dir, 'refused.onnx');
  const opset = cli('export', ['--model', join(run, 'model.safetensors'), '--out', out, '--opset', '16']);
  assert.is(opset.status, 1);
  assert.match(opset.stderr, /^export: --opset expects an integer in 17\.\.21, got "16"\n$/);
  const none = cli('export', ['--out', out]);
  assert.match(none.stderr, /^export: --model is required/);
  const missing = cli('export', ['--model', join(dir, 'nope.safetensors'), '--out', out]);
  assert.match(missing.stderr, /^export: --model .*nope\.safetensors: no such file\n$/);
  const folder = cli('export', ['--model', join(run, 'model.safetensors'), '--out', run]);
  assert.match(folder.stderr, /^export: --out .*run: a folder/);
  const nowhere = cli('export', ['--model', join(run, 'model.safetensors'), '--out', join(dir, 'no', 'such', 'm.onnx')]);
  assert.match(nowhere.stderr, /^export: --out .*m\.onnx: no such folder .*such\n$/);
  writeFileSync(join(run, 'config.json'), JSON.stringify({ impute: true, preset: 'tiny' }));
  const imputed = cli('export', ['--model', join(run, 'model.safetensors'), '--out', out]);
  assert.is(imputed.status, 1);
  assert.match(imputed.stderr, /^export: --model .*model\.safetensors: trained with impute true \(.*config\.json\); .* not exported\n$/);
  const dumpData = cli('predict', ['--model', join(run, 'model.safetensors'), '--data', dir, '--dump-inputs', join(dir, 'd.json')]);
  assert.match(dumpData.stderr, /--dump-inputs writes the arrays of one study/);
  assert.not.ok(existsSync(out), 'no file written');
});

test.run();
