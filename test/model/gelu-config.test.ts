/**
 * ModelConfig.gelu: checkpoints of the default ('tanh') carry no gelu key (so their bytes are what they were
 * before the key existed), an old file without it loads as 'tanh', 'erf' round-trips, a bad value is an
 * error, and the form really changes what the model computes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createModel, decodeCheckpoint, presetConfig, readSafetensors, resolveConfig, writeSafetensors } from '../../src/model/index.ts';
import { modelFromBytes } from '../../src/model/index.ts';
import { rng } from '../util/harness.ts';
import { syntheticBatch } from '../../src/model/synthetic.ts';

const cfg = { ...presetConfig('tiny'), numFeatures: 2, catCardinalities: [3] };

test("a default checkpoint stores no gelu key and loads as 'tanh'; 'erf' is stored and restored", () => {
  const m = createModel(cfg, { seed: 1 });
  const bytes = m.toSafetensors();
  const stored = JSON.parse(readSafetensors(bytes).metadata.config);
  assert.not.ok('gelu' in stored, 'the default is left out of the stored config');
  assert.is(decodeCheckpoint(bytes).config.gelu, 'tanh');
  const e = createModel({ ...cfg, gelu: 'erf' }, { seed: 1 });
  const eb = e.toSafetensors();
  assert.is(JSON.parse(readSafetensors(eb).metadata.config).gelu, 'erf');
  assert.is(modelFromBytes(eb).config.gelu, 'erf');
});

test('an explicit gelu "tanh" in an old-style file is accepted; a bad value is an error naming the key', () => {
  const m = createModel(cfg, { seed: 1 });
  const file = readSafetensors(m.toSafetensors());
  const rewrite = (gelu: unknown) => {
    const meta = { ...file.metadata, config: JSON.stringify({ ...JSON.parse(file.metadata.config), gelu }) };
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const n of file.names) tensors[n] = { shape: file.tensors[n].shape, data: Float32Array.from(file.tensors[n].data) };
    return writeSafetensors(tensors, meta);
  };
  assert.is(decodeCheckpoint(rewrite('tanh')).config.gelu, 'tanh');
  assert.throws(() => decodeCheckpoint(rewrite('relu')), /'gelu' must be tanh or erf/);
  assert.throws(() => resolveConfig({ gelu: 'exact' as never }), /'gelu' must be tanh or erf/);
});

test('the same weights give different logits under tanh and erf GELU (the switch reaches every block)', () => {
  const t = createModel(cfg, { seed: 4 }), e = createModel({ ...cfg, gelu: 'erf' }, { seed: 4 });
  // Off the small init, so fc1 outputs reach the range where the two forms differ (~1e-3 near |x| = 2).
  const r = rng(9), p = Float32Array.from(t.paramData(), (v) => v + 0.5 * (2 * r() - 1));
  t.setParams(p); e.setParams(p);
  const batch = syntheticBatch(cfg, ['both', 'image', 'table'], 3);
  const a = t.forward(batch), b = e.forward(batch);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  assert.ok(diff > 1e-4 && diff < 1, `max logit difference ${diff}`);
});

test.run();
