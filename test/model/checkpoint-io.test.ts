/**
 * Checkpoints: a save/load round trip reproduces logits bit for bit and keeps the metadata; corrupt and
 * hostile files are rejected with a message that names the problem.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLayout, createModel, initParams, loadModel, presetConfig, readSafetensors, resolveConfig, writeSafetensors } from '../../src/index.ts';
import { rng, sameBits } from '../util/harness.ts';
import { syntheticBatch } from '../../src/model/synthetic.ts';

const cfg = { ...presetConfig('tiny'), numFeatures: 4, catCardinalities: [3, 5], uncertain: 'ones' as const };
const dir = mkdtempSync(join(tmpdir(), 'rf-model-io-'));

function trained() {
  const m = createModel(cfg, { seed: 8, metadata: { schema: { numeric: ['hr', 'temp', 'o2', 'age'], categorical: [{ name: 'sex', vocab: ['F', 'M', '?'] }] }, normalization: { pixelMean: 0.5, pixelStd: 0.25 } } });
  const r = rng(1), p = Float32Array.from(m.paramData());
  for (let i = 0; i < p.length; i++) p[i] += 0.05 * (2 * r() - 1);
  m.setParams(p);
  return m;
}

/** Split a file into its header object and data bytes, and put one back together. */
function parse(bytes: Uint8Array): { header: Record<string, any>; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), data: bytes.subarray(8 + n) };
}
function build(header: unknown, data: Uint8Array, rawHeader?: string): Uint8Array {
  const h = new TextEncoder().encode(rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

test('save/load round trip: same logits bit for bit, same config and metadata', () => {
  const m = trained();
  const path = join(dir, 'model.safetensors');
  m.save(path);
  assert.equal(readdirSync(dir).filter((f) => f.includes('.tmp')), [], 'no temporary file left behind');
  const batch = syntheticBatch(cfg, ['both', 'image', 'table', 'partial', 'none'], 3);
  const l = loadModel(path);
  sameBits('logits', l.forward(batch), m.forward(batch));
  sameBits('params', Float32Array.from(l.paramData()), Float32Array.from(m.paramData()));
  assert.equal(l.config, m.config);
  assert.equal(l.metadata, m.metadata);
  // From bytes, onto the reference backend: same parameters.
  const r = loadModel(readFileSync(path), { backend: 'reference' });
  sameBits('params via reference', Float32Array.from(r.paramData()), Float32Array.from(m.paramData()));
  // Any safetensors reader: names, dtype, shapes and the metadata layout.
  const f = readSafetensors(readFileSync(path));
  assert.equal(f.names, m.layout.map((e) => e.name));
  assert.equal(f.tensors['vision.patch.weight'].shape, [cfg.dim, cfg.patchSize * cfg.patchSize]);
  assert.equal(f.tensors['tabular.cat.embed'].shape, [8, cfg.dim]);
  assert.equal(f.tensors['head.weight'].shape, [14, cfg.dim]);
  assert.is(f.metadata.format, 'resilient-fusion/1');
  // The default gelu ('tanh') is not stored, so default files keep the bytes they had before the key existed.
  const { gelu: _tanh, ...stored } = cfg;
  assert.equal(JSON.parse(f.metadata.config), stored);
  assert.is(JSON.parse(f.metadata.label_names).length, 14);
  assert.is(JSON.parse(f.metadata.normalization).pixelStd, 0.25);
  // The data starts 8-byte aligned, as the reference writer pads it.
  assert.is(Number(new DataView(readFileSync(path).buffer).getBigUint64(0, true)) % 8, 0);
});

test('hostile and corrupt files are rejected with the right message', () => {
  const m = trained();
  const good = m.toSafetensors();
  const { header, data } = parse(good);
  const reject = (bytes: Uint8Array, re: RegExp) => assert.throws(() => loadModel(bytes), re);
  const edit = (f: (h: Record<string, any>) => void) => {
    const h = structuredClone(header);
    f(h);
    return build(h, data);
  };
  // Truncation: in the length, in the header, in the data.
  reject(good.subarray(0, 5), /shorter than the 8-byte/);
  reject(good.subarray(0, 40), /runs past the end of the file/);
  reject(good.subarray(0, good.length - 100), /out of range.*truncated/);
  // A header length beyond 100 MB (never allocated or parsed).
  const huge = Uint8Array.from(good);
  new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
  reject(huge, /exceeds the 100 MB limit/);
  reject(build(null, data, '{"vision.patch.weight": {"dtype": "F32", '), /not valid JSON/);
  reject(build(null, data, '[1, 2, 3]'), /not a JSON object/);
  reject(edit((h) => { h['head.bias'].dtype = 'Q7'; }), /unknown dtype 'Q7'/);
  reject(edit((h) => { h['head.bias'].dtype = 'F16'; }), /dtype F16 is not supported/);
  reject(edit((h) => { h['head.bias'].data_offsets = [data.length - 56, data.length + 4000]; }), /out of range/);
  reject(edit((h) => { h['head.bias'].data_offsets = [-8, 48]; }), /not a pair of non-negative integers/);
  reject(edit((h) => { const o = h['vision.patch.bias'].data_offsets; h['vision.patch.bias'].data_offsets = [o[0] - 4, o[1] - 4]; }), /overlap/);
  reject(edit((h) => { h['vision.patch.weight'].shape = [cfg.patchSize * cfg.patchSize, cfg.dim]; }), /'vision.patch.weight' has shape \[64,32\], the config expects \[32,64\]/);
  reject(edit((h) => { h['head.weight'].shape = [14, cfg.dim, 1, 2]; }), /span .* bytes but shape/);
  reject(edit((h) => { h.__metadata__.config = '{"dim": 32, "evil": 1}'; }), /unknown key 'evil'/);
  reject(edit((h) => { h.__metadata__.config = 'function(){}'; }), /config .* not valid JSON/);
  reject(edit((h) => { delete h.__metadata__.format; }), /no format/);
  reject(edit((h) => { h.__metadata__.label_names = '["a"]'; }), /label names/);
  // A checkpoint whose config has another width: every tensor mismatches; the first one is named.
  reject(edit((h) => { h.__metadata__.config = JSON.stringify({ ...cfg, dim: 16 }); }), /has shape .* the config expects/);
  // Missing and unexpected tensors (well-formed safetensors files otherwise).
  const tensors = Object.fromEntries(m.layout.map((e) => [e.name, { shape: e.shape, data: m.parameters()[e.name] }]));
  const meta = readSafetensors(good).metadata;
  const { ['fusion.cls']: _cls, ...rest } = tensors;
  void _cls;
  reject(writeSafetensors(rest, { ...meta }), /missing tensor 'fusion.cls'/);
  reject(writeSafetensors({ ...tensors, extra: { shape: [2], data: [1, 2] } }, { ...meta }), /unexpected tensor 'extra'/);
  // A hole in the data (bytes no tensor claims).
  reject(build(header, Uint8Array.from([...data, 0, 0, 0, 0])), /belong to no tensor/);
  // A path names the file in the message.
  const p = join(dir, 'bad.safetensors');
  writeFileSync(p, huge);
  assert.throws(() => loadModel(p), /bad\.safetensors: safetensors: header length/);
});

test('a config without tabular features (zero-size tensors) round-trips and runs', () => {
  const c = { ...presetConfig('tiny'), visionDepth: 0 };
  const m = createModel(c, { seed: 2 });
  const batch = syntheticBatch(c, ['image', 'none', 'image'], 4);
  const l = loadModel(m.toSafetensors());
  assert.equal(readSafetensors(m.toSafetensors()).tensors['tabular.num.weight'].shape, [0, c.dim]);
  sameBits('logits', l.forward(batch), m.forward(batch));
  assert.ok(l.lossAndGrad(batch).loss > 0);
});

test('a tensor named __proto__ is just a name', () => {
  const bytes = writeSafetensors({ __proto__x: { shape: [1], data: [1] } });
  const evil = build(JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)))).replace('__proto__x', '__proto__')), bytes.subarray(bytes.length - 4), undefined);
  const f = readSafetensors(evil);
  assert.equal(f.names, ['__proto__']);
  assert.is(({} as Record<string, unknown>).dtype, undefined);
});

test('config overrides are checked; layout names, shapes, decay flags and seeded init', () => {
  assert.throws(() => resolveConfig({ dimm: 3 } as never), /unknown key 'dimm'/);
  assert.throws(() => resolveConfig({ dim: '3' } as never), /'dim' must be a number/);
  assert.throws(() => resolveConfig({ imageSize: 30 }), /not a multiple of patchSize/);
  assert.throws(() => resolveConfig({ dim: 32, heads: 3 }), /not a multiple of heads/);
  const base = presetConfig('base');
  assert.equal([base.imageSize, base.patchSize, base.dim, base.heads, base.mlpRatio, base.visionDepth, base.tabularDepth, base.fusionDepth], [128, 16, 192, 3, 4, 4, 2, 2]);
  const c = { ...presetConfig('tiny'), numFeatures: 3, catCardinalities: [2, 5] };
  const layout = buildLayout(c);
  const byName = Object.fromEntries(layout.map((e) => [e.name, e]));
  assert.equal(layout.slice(0, 5).map((e) => e.name), ['vision.patch.weight', 'vision.patch.bias', 'vision.pos', 'vision.blocks.0.ln1.weight', 'vision.blocks.0.ln1.bias']);
  assert.equal(byName['fusion.blocks.0.attn.qkv.weight'].shape, [96, 32]);
  assert.equal(byName['tabular.blocks.0.mlp.fc1.weight'].shape, [128, 32]);
  assert.equal(byName['tabular.cat.embed'].shape, [7, 32]);
  assert.equal(byName['tabular.cat.bias'].shape, [2, 32]);
  assert.equal(byName['vision.pos'].shape, [16, 32]);
  assert.equal(layout.filter((e) => e.decay).map((e) => e.name).filter((n) => !/(qkv|proj|fc1|fc2)\.weight$/.test(n)), ['vision.patch.weight', 'head.weight']);
  assert.equal(layout[layout.length - 1].name, 'head.bias');
  for (let i = 1; i < layout.length; i++) assert.is(layout[i].offset, layout[i - 1].offset + layout[i - 1].size);
  const a = initParams(layout, 5), b = initParams(layout, 5), d = initParams(layout, 6);
  sameBits('same seed', a, b);
  assert.ok(a.some((v, i) => v !== d[i]), 'another seed gives other weights');
  const w = a.subarray(byName['head.weight'].offset, byName['head.weight'].offset + byName['head.weight'].size);
  assert.ok(w.every((v) => Math.abs(v) <= 0.04 + 1e-7) && w.some((v) => v !== 0), 'truncated normal, std 0.02');
  assert.ok(a.subarray(byName['fusion.modality.vision.scale'].offset, byName['fusion.modality.vision.scale'].offset + 32).every((v) => v === 1));
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
