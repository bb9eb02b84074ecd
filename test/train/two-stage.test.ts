/**
 * Two-stage training (issue 14): the encoders' learning-rate schedule (frozen warm-up, then a scale, AdamW
 * counting their steps from the unfreeze), its determinism, `--pretrain-encoders` (three resumable run
 * folders, stage 2 initialized from stage 1), and `--init-vision` through the trainer.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '../../src/data/index.ts';
import { INCEPTION_NORM, buildLayout, readSafetensors, readTimmVit, timmVisionTensors, writeSafetensors } from '../../src/model/index.ts';
import type { ModelConfig } from '../../src/model/index.ts';
import { TRAIN_DEFAULTS, applyOverrides } from '../../src/train/config.ts';
import { encoderRate } from '../../src/train/loop.ts';
import { isEncoderTensor } from '../../src/train/step.ts';
import { train } from '../../src/train/trainer.ts';
import { stageConfigs, trainTwoStage } from '../../src/train/two-stage.ts';
import { rng } from '../util/harness.ts';

const root = mkdtempSync(join(tmpdir(), 'rf-two-stage-'));
const data = join(root, 'data');
await generateSynthetic({ out: data, patients: 200, seed: 4 });
const quiet = () => {};
const runs = join(root, 'runs');
const cfg = (over: Record<string, unknown>) =>
  applyOverrides(TRAIN_DEFAULTS, { data, out: runs, preset: 'tiny', epochs: 1, progress: 'none', threads: 1, patience: 0, ...over }, 'test');

/** A run folder's tensors: the best checkpoint's parameters by name, and the resume state's flat moments. */
function tensors(dir: string, file = 'last.safetensors') {
  return readSafetensors(readFileSync(join(dir, file))).tensors;
}
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

test('encoderRate: none by default; frozen for the warm-up epochs, then scaled, AdamW steps counted from the unfreeze', () => {
  assert.is(encoderRate({ encoderLrScale: 1, encoderWarmupEpochs: 0 }, 5, 10), undefined);
  assert.equal(encoderRate({ encoderLrScale: 0.1, encoderWarmupEpochs: 0 }, 5, 10), { scale: 0.1, t: 5 });
  assert.equal(encoderRate({ encoderLrScale: 1, encoderWarmupEpochs: 2 }, 19, 10), { scale: 0, t: 0 });
  assert.equal(encoderRate({ encoderLrScale: 0.5, encoderWarmupEpochs: 2 }, 20, 10), { scale: 0.5, t: 0 });
  assert.equal(encoderRate({ encoderLrScale: 0.5, encoderWarmupEpochs: 2 }, 23, 10), { scale: 0.5, t: 3 });
  assert.ok(isEncoderTensor('vision.blocks.0.ln1.weight') && isEncoderTensor('tabular.num.weight') && !isEncoderTensor('fusion.cls') && !isEncoderTensor('head.weight'));
});

let base = '';
test('warm-up epochs: encoders get zero gradients (moments stay 0, weights unchanged) while fusion and head train', async () => {
  const a = await train(cfg({ name: 'base' }), { log: quiet });
  base = a.runDir;
  const init = `${join(base, 'model.safetensors')}=vision.,tabular.`;
  const w = await train(cfg({ name: 'warm', initFrom: init, encoderWarmupEpochs: 1 }), { log: quiet });
  const before = tensors(base, 'model.safetensors'), after = tensors(w.runDir);
  const state = readSafetensors(readFileSync(join(w.runDir, 'last.state.safetensors'))).tensors;
  const layout = buildLayout(JSON.parse(readSafetensors(readFileSync(join(w.runDir, 'last.safetensors'))).metadata.config) as ModelConfig);
  let enc = 0, other = 0;
  for (const e of layout) {
    const m = state.m.data.subarray(e.offset, e.offset + e.size), v = state.v.data.subarray(e.offset, e.offset + e.size);
    if (isEncoderTensor(e.name)) {
      enc++;
      assert.ok(same(after[e.name].data, before[e.name].data), `${e.name} moved during the warm-up`);
      assert.ok(m.every((x) => x === 0) && v.every((x) => x === 0), `${e.name} has non-zero AdamW moments: it received gradient`);
    } else if (!same(after[e.name].data, before[e.name].data)) other++;
  }
  assert.ok(enc > 10 && other > 5, `encoder tensors ${enc}, other tensors that trained ${other}`);
});

test('the encoder learning-rate scale is deterministic and changes the encoders (and only scales them)', async () => {
  const init = `${join(base, 'model.safetensors')}=vision.,tabular.`;
  const r1 = await train(cfg({ name: 'half1', initFrom: init, encoderLrScale: 0.5, encoderWarmupEpochs: 1, epochs: 2 }), { log: quiet });
  const r2 = await train(cfg({ name: 'half2', initFrom: init, encoderLrScale: 0.5, encoderWarmupEpochs: 1, epochs: 2 }), { log: quiet });
  assert.ok(readFileSync(join(r1.runDir, 'last.safetensors')).equals(readFileSync(join(r2.runDir, 'last.safetensors'))), 'same options, different bits');
  const full = await train(cfg({ name: 'full', initFrom: init, encoderWarmupEpochs: 1, epochs: 2 }), { log: quiet });
  const h = tensors(r1.runDir), f = tensors(full.runDir), b = tensors(base, 'model.safetensors');
  // After the frozen epoch both moved their encoders, by different amounts.
  const name = 'vision.patch.weight';
  assert.not.ok(same(h[name].data, b[name].data));
  assert.not.ok(same(h[name].data, f[name].data));
  assert.throws(() => stageConfigs(cfg({ resume: 'x', pretrainEncoders: true })), /rerun the same command/);
});

test('--pretrain-encoders: image-only and tabular-only runs, then the fusion run from their encoders; a rerun does nothing', async () => {
  const c = cfg({ name: 'two', pretrainEncoders: true, encoderWarmupEpochs: 1 });
  const r = await trainTwoStage(c, { log: quiet });
  assert.not.ok(r.interrupted);
  for (const d of ['two-image', 'two-tabular', 'two']) assert.ok(existsSync(join(runs, d, 'metrics.json')), `${d} finished`);
  // Stage 2 trained one epoch with frozen encoders: its encoders are exactly stage 1's best.
  const fusion = tensors(join(runs, 'two')), img = tensors(join(runs, 'two-image'), 'model.safetensors'), tab = tensors(join(runs, 'two-tabular'), 'model.safetensors');
  assert.ok(same(fusion['vision.blocks.0.attn.qkv.weight'].data, img['vision.blocks.0.attn.qkv.weight'].data));
  assert.ok(same(fusion['tabular.blocks.0.mlp.fc1.weight'].data, tab['tabular.blocks.0.mlp.fc1.weight'].data));
  const saved = JSON.parse(readFileSync(join(runs, 'two-image', 'config.json'), 'utf8'));
  assert.equal([saved.missTab, saved.dropImage, saved.encoderWarmupEpochs], [1, 0, 0]);
  const again = await trainTwoStage(c, { log: quiet });
  assert.equal([again.image.stop, again.tabular.stop, again.fusion?.stop], ['already-finished', 'already-finished', 'already-finished']);
});

test('--init-vision through the trainer: the config takes the file\'s shape and gelu erf; warm-up keeps the imported weights', async () => {
  // A timm-layout ViT of width 64 (1 head by the d/64 rule), patch 8, a 3x3 position grid, one block.
  const r = rng(6), d = 64, p = 8, hidden = 128, t: Record<string, { shape: number[]; data: Float32Array }> = {};
  const put = (n: string, shape: number[]) => { t[n] = { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 0.1 * (2 * r() - 1)) }; };
  put('cls_token', [1, 1, d]); put('pos_embed', [1, 10, d]); put('patch_embed.proj.weight', [d, 3, p, p]); put('patch_embed.proj.bias', [d]);
  for (const [n, s] of [['norm1.weight', [d]], ['norm1.bias', [d]], ['attn.qkv.weight', [3 * d, d]], ['attn.qkv.bias', [3 * d]], ['attn.proj.weight', [d, d]], ['attn.proj.bias', [d]],
    ['norm2.weight', [d]], ['norm2.bias', [d]], ['mlp.fc1.weight', [hidden, d]], ['mlp.fc1.bias', [hidden]], ['mlp.fc2.weight', [d, hidden]], ['mlp.fc2.bias', [d]]] as const) put(`blocks.0.${n}`, [...s]);
  put('norm.weight', [d]); put('norm.bias', [d]);
  const file = join(root, 'vit.safetensors');
  writeFileSync(file, writeSafetensors(t));
  const lines: string[] = [];
  const run = await train(cfg({ name: 'vit', initVision: file, encoderWarmupEpochs: 1 }), { log: (l) => lines.push(l) });
  const ck = readSafetensors(readFileSync(join(run.runDir, 'last.safetensors')));
  const config = JSON.parse(ck.metadata.config) as ModelConfig;
  assert.equal([config.dim, config.heads, config.patchSize, config.visionDepth, config.mlpRatio, config.gelu], [d, 1, p, 1, 2, 'erf']);
  assert.ok(lines.some((l) => /initialized 17 vision tensors from .*vit\.safetensors .*position grid 3 -> 4/.test(l)), lines.join('\n'));
  const norm = JSON.parse(ck.metadata.normalization) as { pixelMean: number; pixelStd: number };
  const want = timmVisionTensors(readTimmVit(readFileSync(file)), config, INCEPTION_NORM, norm.pixelMean, norm.pixelStd);
  for (const [n, v] of want) assert.ok(same(ck.tensors[n].data, v), `${n} is not the imported value after a frozen epoch`);
});

test.run();
