/**
 * `predict` at the point of care (issue 27): --explain in JSON and CSV (the library's values, cut to --top),
 * no input at all is an error unless --allow-empty (the priors, marked), a temperature in °C is named as
 * such, and PNG images (8- and 16-bit) are read through sharp as pixels, as the edge bundle takes ImageData.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { crc32, deflateSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Predictor } from '../../src/infer/index.ts';
import { loadModel } from '../../src/node/model.ts';
import { ckpt, gray, jpeg } from '../util/edge-fixture.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'rf-predict-explain-'));
const ckptPath = join(dir, 'model.safetensors');
writeFileSync(ckptPath, ckpt);
const jpegPath = join(dir, 'x.jpg');
writeFileSync(jpegPath, jpeg);
const predictor = new Predictor(loadModel(ckpt));
const TABLE = { temperature: 101.2, heartrate: 120, pain: '4-5', age: 70, gender: 'F', arrival_transport: 'WALK IN' };

function runCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'src/cli/predict.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('--explain: JSON carries the library\'s modality values and the top features; CSV has them as flat columns', () => {
  const want = predictor.explain({ image: jpeg, table: TABLE }).explanation!;
  const js = runCli(['--model', ckptPath, '--image', jpegPath, '--table', JSON.stringify(TABLE), '--explain', '--top', '3', '--decoder', 'jpeg-js']);
  assert.is(js.status, 0, js.stderr);
  const rec = JSON.parse(js.stdout).predictions[0];
  assert.equal(rec.explanation.modalities, want.modalities);
  assert.equal(rec.explanation.probability, want.probability);
  assert.is(rec.explanation.listed, 3);
  for (const l of predictor.labels) {
    assert.equal(rec.explanation.features.findings[l].values, want.features.findings[l].values.slice(0, 3), l);
    const m = rec.explanation.modalities[l];
    assert.ok(Math.abs(m.base + m.image + m.table - m.full) <= 4 * 2 ** -23 * Math.max(1, Math.abs(m.full)));
  }
  assert.is(rec.explanation.features.method, 'exact');
  assert.match(rec.explanation.features.baseline, /no table feature/);

  const csv = runCli(['--model', ckptPath, '--image', jpegPath, '--table', JSON.stringify(TABLE), '--explain', '--top', '2', '--format', 'csv', '--decoder', 'jpeg-js']);
  assert.is(csv.status, 0, csv.stderr);
  const [head, row] = csv.stdout.trim().split('\n').map((l) => l.split(','));
  assert.is(head.length, row.length);
  const col = (name: string): string => row[head.indexOf(name)];
  assert.ok(head.includes('Edema:image') && head.includes('Edema:p_table') && head.includes('Edema:feature_2_value') && !head.includes('Edema:feature_3'));
  assert.is(Number(col('Edema:image')), want.modalities.Edema.image);
  assert.is(Number(col('Edema:p_full')), want.probability.Edema.full);
  assert.is(col('Edema:feature_1'), want.features.findings.Edema.values[0].name);
  assert.is(Number(col('Edema:feature_1_value')), want.features.findings.Edema.values[0].value);
  assert.is(col('Edema:feature_1_se'), '');
  // Without --explain the CSV is as before: the labels are the last columns.
  const plain = runCli(['--model', ckptPath, '--table', JSON.stringify(TABLE), '--format', 'csv']);
  assert.equal(plain.stdout.split('\n')[0].split(',').slice(8), predictor.labels);
  // --explain is for one study; --permutations must be even.
  assert.match(runCli(['--model', ckptPath, '--data', dir, '--explain']).stderr, /--explain explains one study/);
  assert.match(runCli(['--model', ckptPath, '--table', '{"age": 3}', '--explain', '--permutations', '7']).stderr, /--permutations must be even/);
});

test('no input at all is an error; --allow-empty gives the priors, marked', () => {
  for (const args of [['--table', '{}'], ['--table', '{"temperature": "warm"}']]) {
    const r = runCli(['--model', ckptPath, ...args]);
    assert.is(r.status, 1, r.stderr);
    assert.match(r.stderr, /no input: no image and no usable table field.*--allow-empty/);
    assert.is(r.stdout, '');
  }
  assert.match(runCli(['--model', ckptPath, '--table', '{"temperature": "warm"}']).stderr, /\(temperature could not be used\)/);
  const ok = runCli(['--model', ckptPath, '--table', '{}', '--allow-empty']);
  assert.is(ok.status, 0, ok.stderr);
  assert.match(ok.stderr, /no input: these are the model's priors/);
  const rec = JSON.parse(ok.stdout).predictions[0];
  assert.is(rec.priors, true);
  const some = runCli(['--model', ckptPath, '--table', '{"age": 50}']);
  assert.is(some.status, 0, some.stderr);
  assert.is(JSON.parse(some.stdout).predictions[0].priors, undefined);
});

test('a temperature given in °C is named as such', () => {
  const p = predictor.predict({ table: { temperature: 37.2 } });
  assert.match(p.features.invalid[0].reason, /^37\.2 F is an impossible value outside \[57\.6, 116\.6\] F; it looks like °C: this field takes °F \(37\.2 °C = 99 °F\)$/);
  assert.not.match(predictor.predict({ table: { temperature: 400 } }).features.invalid[0].reason, /°C/);
  const cli = runCli(['--model', ckptPath, '--table', '{"temperature": "38.5", "age": 40}']);
  assert.match(cli.stderr, /warning: temperature: .*it looks like °C.*101\.3 °F/);
});

/** A 16-bit greyscale PNG written by hand (IHDR, one IDAT, IEND; filter 0), independent of sharp's encoder. */
function grey16Png(w: number, h: number, vals: Uint16Array): Buffer {
  const chunk = (type: string, body: Buffer): Buffer => {
    const b = Buffer.alloc(12 + body.length);
    b.writeUInt32BE(body.length, 0);
    b.write(type, 4, 'latin1');
    body.copy(b, 8);
    b.writeUInt32BE(crc32(b.subarray(4, 8 + body.length)), 8 + body.length);
    return b;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 16; // bit depth; colour type 0 (grey), no interlace
  const raw = Buffer.alloc(h * (1 + 2 * w));
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.writeUInt16BE(vals[y * w + x], y * (1 + 2 * w) + 1 + 2 * x);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

test('PNG (8- and 16-bit) through sharp gives the pixels the edge bundle would get as ImageData', async () => {
  const sharp = createRequire(import.meta.url)('sharp');
  const png8 = join(dir, 'x8.png'), png16 = join(dir, 'x16.png'), rgba = join(dir, 'rgba.png');
  const { width, height, data } = gray;
  await sharp(Buffer.from(data), { raw: { width, height, channels: 1 } }).png().toFile(png8);
  writeFileSync(png16, grey16Png(width, height, Uint16Array.from(data, (v) => v * 257))); // high byte: v
  const four = Buffer.alloc(4 * data.length);
  data.forEach((v, i) => four.set([v, v, v, 255], 4 * i));
  await sharp(four, { raw: { width, height, channels: 4 } }).png().toFile(rgba);
  const want = predictor.predict({ image: { width, height, data, channels: 1 }, table: TABLE }).probabilities;
  for (const f of [png8, png16, rgba]) {
    const r = runCli(['--model', ckptPath, '--image', f, '--table', JSON.stringify(TABLE)]);
    assert.is(r.status, 0, `${f}: ${r.stderr}`);
    const got = JSON.parse(r.stdout).predictions[0];
    assert.is(got.modalities.image, true);
    for (const l of predictor.labels) assert.is(got.probabilities[l], want[l], `${f} ${l}`);
  }
  const junk = join(dir, 'junk.png');
  writeFileSync(junk, 'not an image at all');
  const bad = runCli(['--model', ckptPath, '--image', junk]);
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /--image .*junk\.png: unreadable image \(not a JPEG; sharp: /);
});


test.run();
