/**
 * Hostile checkpoints, each written by this test: a small file whose config asks for a huge model fails at
 * once with a message (no allocation: the counts come from arithmetic), prototype keys in the config or the
 * metadata are rejected, non-finite weights name their tensor, and non-finite probabilities are an error.
 * The arithmetic itself is checked against the layout and against the model's own activation allocations.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { activationElements, buildLayout, createModel, decodeCheckpoint, encodeCheckpoint, layoutSize, MODEL_LIMITS, paramCount, presetConfig, resolveConfig, tensorCount, writeSafetensors } from '../../src/model/index.ts';
import type { ModelConfig } from '../../src/model/index.ts';
import { loadModel } from '../../src/node/model.ts';
import { Predictor, singleRecord } from '../../src/infer/index.ts';
import type { Prediction } from '../../src/infer/index.ts';
import { rng } from '../util/harness.ts';
import { syntheticBatch } from '../../src/model/synthetic.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'rf-hostile-ck-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const tiny: ModelConfig = { ...presetConfig('tiny'), numFeatures: 3, catCardinalities: [2, 4] };
const meta = { normalization: { pixelMean: 0.5, pixelStd: 0.25, imageSize: tiny.imageSize } };

/** A checkpoint's tensors with its `__metadata__.config` replaced by raw JSON text. */
function withConfigText(configText: string, extraMeta: Record<string, string> = {}): Uint8Array {
  const m = createModel(tiny, { backend: 'reference' });
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  const p = m.parameters();
  for (const e of m.layout) tensors[e.name] = { shape: e.shape, data: Float32Array.from(p[e.name]) };
  return writeSafetensors(tensors, { format: 'resilient-fusion/1', config: configText, ...extraMeta });
}

/** Decode must fail fast with `re` (and never reach a big allocation: the whole call takes well under a second). */
function rejects(bytes: Uint8Array, re: RegExp): void {
  const t0 = performance.now();
  assert.throws(() => decodeCheckpoint(bytes), re);
  assert.throws(() => loadModel(bytes, { backend: 'reference' }), re);
  const ms = performance.now() - t0;
  assert.ok(ms < 3000, `took ${ms.toFixed(0)} ms`);
}

test('arithmetic: parameter and tensor counts equal the layout; activations equal what the model allocates', () => {
  const r = rng(3);
  const configs: ModelConfig[] = [tiny, presetConfig('small'), { ...presetConfig('base'), numFeatures: 13, catCardinalities: [3, 5, 7] }];
  for (let i = 0; i < 12; i++) {
    const heads = 1 + Math.floor(r() * 3), P = 2 + Math.floor(r() * 3);
    configs.push(resolveConfig({
      imageSize: P * (1 + Math.floor(r() * 4)), patchSize: P, dim: heads * (1 + Math.floor(r() * 5)), heads, mlpRatio: 1 + Math.floor(r() * 3),
      visionDepth: Math.floor(r() * 3), tabularDepth: Math.floor(r() * 3), fusionDepth: Math.floor(r() * 3),
      numFeatures: Math.floor(r() * 4), catCardinalities: Array.from({ length: Math.floor(r() * 3) }, () => 1 + Math.floor(r() * 5)),
      attentionMasking: r() < 0.7,
    }));
  }
  for (const c of configs) {
    const layout = buildLayout(c);
    assert.is(paramCount(c), layoutSize(layout), JSON.stringify(c));
    assert.is(tensorCount(c), layout.length, JSON.stringify(c));
  }
  // The activation regions the model carves (inference for B samples, then training) against the formula.
  for (const c of configs.slice(0, 8)) {
    for (const training of [false, true]) {
      const m = createModel(c, { backend: 'reference' });
      const be = m.backend, B = 3;
      const batch = syntheticBatch(c, ['both', 'image', 'none'], 1);
      const before = be.mark();
      if (training) m.lossAndGrad(batch);
      else m.forward(batch);
      assert.is(be.mark() - before, activationElements(c, B, training), `${training ? 'training' : 'inference'} ${JSON.stringify(c)}`);
    }
  }
});

test('a small file whose config asks for a huge model fails at once, naming the sizes', () => {
  const cfg = (over: Partial<ModelConfig>) => JSON.stringify({ ...tiny, ...over });
  rejects(withConfigText(cfg({ fusionDepth: 1e7 })), /fusionDepth 10000000 is over the limit of 1024 blocks/);
  rejects(withConfigText(cfg({ fusionDepth: 1000 })), /missing tensor 'fusion\.blocks\.1\.ln1\.weight' \(the config declares 12044 tensors and 12733262 parameters \(depths 1\/1\/1000, dim 32\), the file holds 56 and 41966\)/);
  rejects(withConfigText(cfg({ dim: 2 ** 20, heads: 1 })), /parameters, over the limit of 268435456/);
  rejects(withConfigText(cfg({ imageSize: 2048, patchSize: 1, dim: 4, heads: 1 })), /activation values per sample in training, over the limit/);
  rejects(withConfigText(cfg({ numFeatures: 1e300 })), /'numFeatures' must be an integer/);
  rejects(withConfigText(cfg({ catCardinalities: [2 ** 40, 1] })), /over the limit/);
  assert.ok(MODEL_LIMITS.maxParams >= paramCount(presetConfig('base')) * 10, 'the presets are far inside the limits');
});

test('prototype keys in the config or the metadata are rejected', () => {
  rejects(withConfigText('{"__proto__": {"dim": 4}, "dim": 32}'), /model config: key '__proto__' is not allowed/);
  rejects(withConfigText(`{"constructor": {}, ${JSON.stringify(tiny).slice(1)}`), /key 'constructor' is not allowed/);
  rejects(withConfigText(`{"toString": 1, ${JSON.stringify(tiny).slice(1)}`), /unknown key 'toString'/);
  rejects(withConfigText(JSON.stringify(tiny), JSON.parse('{"__proto__": "{\\"polluted\\": 1}"}')), /__metadata__ key '__proto__' is not allowed/);
  assert.is(({} as Record<string, unknown>).polluted, undefined);
  // The same file with a clean config loads.
  assert.is(decodeCheckpoint(withConfigText(JSON.stringify(tiny))).config.dim, tiny.dim);
});

test('NaN or infinite weights are an error naming the tensor', () => {
  const m = createModel(tiny, { backend: 'reference', metadata: meta });
  for (const [bad, name] of [[NaN, 'fusion.blocks.0.mlp.fc1.weight'], [Infinity, 'head.bias'], [-Infinity, 'vision.pos']] as const) {
    const p = Float32Array.from(m.paramData());
    const e = m.layout.find((x) => x.name === name)!;
    p[e.offset + 1] = bad;
    const bytes = encodeCheckpoint(tiny, m.layout, p, meta);
    rejects(bytes, new RegExp(`tensor '${name.replace(/\./g, '\\.')}' holds ${bad} at index 1`));
  }
});

test('non-finite probabilities: an error naming the label, and predict exits 1 with no output', () => {
  const pred = (p: number): Prediction => ({ probabilities: { Atelectasis: 0.5, Cardiomegaly: p }, calibrated: false, modalities: { image: false, table: false }, features: { used: [], missing: [], invalid: [], clipped: [] } });
  assert.throws(() => singleRecord(pred(NaN), 'x.jpg'), /probability of Cardiomegaly for x\.jpg is NaN/);
  assert.ok(singleRecord(pred(0.25)));
  // Finite weights whose arithmetic overflows: a final norm scale of 3e38 and head weights of +-1e38 give
  // products of +-inf in the head's sums, so inf - inf = NaN logits.
  const c: ModelConfig = { ...presetConfig('tiny'), numFeatures: 0, catCardinalities: [] };
  const m = createModel(c, { backend: 'reference' });
  const p = Float32Array.from(m.paramData());
  const head = m.layout.find((x) => x.name === 'head.weight')!, norm = m.layout.find((x) => x.name === 'fusion.norm.weight')!;
  for (let i = 0; i < head.size; i++) p[head.offset + i] = (i % 2 ? -1 : 1) * 1e38;
  p.fill(3e38, norm.offset, norm.offset + norm.size);
  const bytes = encodeCheckpoint(c, m.layout, p, meta);
  assert.ok(Object.values(new Predictor(loadModel(bytes)).predict({ table: {} }).probabilities).some(Number.isNaN), 'the crafted model gives NaN');
  const path = join(dir, 'overflow.safetensors');
  writeFileSync(path, bytes);
  const out = join(dir, 'out.json');
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'src/cli/predict.ts'), '--model', path, '--table', '{}', '--allow-empty', '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /predict: the model's probability of \w+ for the input is NaN/);
  assert.is(r.stdout, '');
  assert.not.ok(existsSync(out), 'no output file');
});

test.run();
