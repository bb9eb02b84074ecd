/** Data building blocks: CSV streaming and its quirks, value parsing, JPEG round trip and resize, splits. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  DataError, readCsv, splitCsvRecord, parseStudyDateTime, parseTimestamp, parsePain, numericValue, categoricalValue,
  DEFAULT_FEATURE_SPEC, encodeGrayJpeg, decodeGray, resizeGray, iterativeStratification, checksum32,
} from '../../src/data/index.ts';
import { Rng } from '../../src/engine/rng.ts';
import type { NumericFeature, CategoricalFeature } from '../../src/data/index.ts';
import { rejects as rejectsWith } from '../util/harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'rf-data-csv-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

async function rows(file: string, required: string[] = []): Promise<{ header: string[]; rows: string[][]; lines: number[] }> {
  const out: string[][] = [], lines: number[] = [];
  let header: string[] = [];
  await readCsv(file, required, (h) => {
    header = h.names;
    return (f, line) => {
      out.push(f);
      lines.push(line);
    };
  });
  return { header, rows: out, lines };
}

const rejects = (p: Promise<unknown>, re: RegExp) => rejectsWith(p, re, DataError);

test('splitCsvRecord: plain, quoted commas, doubled quotes, empty fields, unfinished quote, bad quoting', () => {
  assert.equal(splitCsvRecord('a,b,,d'), ['a', 'b', '', 'd']);
  assert.equal(splitCsvRecord('1,"Fever, Cough","say ""hi""",'), ['1', 'Fever, Cough', 'say "hi"', '']);
  assert.equal(splitCsvRecord('"",x'), ['', 'x']);
  assert.is(splitCsvRecord('1,"open'), undefined);
  assert.throws(() => splitCsvRecord('1,ab"c,2'), /bad quoting/);
  assert.throws(() => splitCsvRecord('1,"ab"c,2'), /bad quoting/);
});

test('readCsv: gzip and plain give the same rows; BOM, CRLF, multi-line quoted field, blank line', async () => {
  const text = '\uFEFFid,name,note\r\n1,a,"x, y"\r\n2,b,"line1\nline2"\r\n\r\n3,c,"q ""z"""\r\n';
  writeFileSync(join(dir, 'p.csv'), text);
  writeFileSync(join(dir, 'g.csv.gz'), gzipSync(Buffer.from(text), { level: 6 }));
  // gzip is detected by magic bytes, not by name
  writeFileSync(join(dir, 'hidden-gzip.csv'), gzipSync(Buffer.from(text)));
  const p = await rows(join(dir, 'p.csv'), ['id', 'note']);
  const g = await rows(join(dir, 'g.csv.gz'));
  const h = await rows(join(dir, 'hidden-gzip.csv'));
  assert.equal(p.header, ['id', 'name', 'note']);
  assert.equal(p.rows, [['1', 'a', 'x, y'], ['2', 'b', 'line1\nline2'], ['3', 'c', 'q "z"']]);
  assert.equal(p.lines, [2, 3, 6]);
  assert.equal(g.rows, p.rows);
  assert.equal(h.rows, p.rows);
});

test('readCsv: ragged row, missing column, bad quoting, unclosed quote, truncated gzip stop with file and line', async () => {
  writeFileSync(join(dir, 'ragged.csv'), 'a,b,c\n1,2,3\n4,5\n');
  await rejects(rows(join(dir, 'ragged.csv')), /ragged\.csv:3: ragged row: 2 fields, the header has 3/);
  writeFileSync(join(dir, 'cols.csv'), 'a,b\n1,2\n');
  await rejects(rows(join(dir, 'cols.csv'), ['a', 'study_id']), /cols\.csv:1: missing required column 'study_id'/);
  writeFileSync(join(dir, 'quote.csv'), 'a,b\n1,2\n3,x"y\n');
  await rejects(rows(join(dir, 'quote.csv')), /quote\.csv:3: bad quoting/);
  writeFileSync(join(dir, 'open.csv'), 'a,b\n1,2\n3,"never closed\n4,5\n');
  await rejects(rows(join(dir, 'open.csv')), /open\.csv:3: bad quoting: a quoted field is never closed/);
  const gz = gzipSync(Buffer.from('a,b\n' + '1,2\n'.repeat(5000)));
  writeFileSync(join(dir, 'trunc.csv.gz'), gz.subarray(0, gz.length - 20));
  await rejects(rows(join(dir, 'trunc.csv.gz')), /trunc\.csv\.gz:\d+: cannot read/);
  writeFileSync(join(dir, 'empty.csv'), '');
  await rejects(rows(join(dir, 'empty.csv')), /empty file/);
});

test('StudyTime with lost leading zeros; MIMIC-IV timestamps', () => {
  assert.is(parseStudyDateTime('21800506', '84027.734'), Date.UTC(2180, 4, 6, 8, 40, 27, 734));
  assert.is(parseStudyDateTime('21800506', '213014.531'), Date.UTC(2180, 4, 6, 21, 30, 14, 531));
  assert.is(parseStudyDateTime('21800506', '5'), Date.UTC(2180, 4, 6, 0, 0, 5));
  assert.is(parseStudyDateTime('21800506', '1237.0'), Date.UTC(2180, 4, 6, 0, 12, 37));
  assert.ok(Number.isNaN(parseStudyDateTime('21800506', 'noon')));
  assert.ok(Number.isNaN(parseStudyDateTime('2180-05-06', '84027')));
  assert.is(parseTimestamp('2180-05-06 08:00:00'), Date.UTC(2180, 4, 6, 8));
  assert.ok(Number.isNaN(parseTimestamp('yesterday')));
});

test('pain text rules, ranges, unit conversion and the mimic4ed valid ranges', () => {
  assert.is(parsePain('4-5'), 4.5);
  assert.is(parsePain('10+'), 10);
  assert.is(parsePain(' 7 '), 7);
  assert.is(parsePain('8/10'), 8);
  for (const t of ['uta', 'UTA', 'unable', 'Critical', '', 'denies']) assert.ok(Number.isNaN(parsePain(t)), t);
  const f = (n: string) => DEFAULT_FEATURE_SPEC.features.find((x) => x.name === n) as NumericFeature;
  const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} != ${b}`);
  const [t1, s1] = numericValue(f('temperature'), '98.6');
  near(t1, 37);
  assert.is(s1, 0);
  assert.equal(numericValue(f('temperature'), '36.8')[1], 2); // entered in Celsius: 2.7 C, beyond 14.2: dropped
  assert.equal(numericValue(f('temperature'), 'abc')[1], 1);
  assert.equal(numericValue(f('temperature'), 'Infinity')[1], 1);
  assert.equal(numericValue(f('temperature'), 'NaN')[1], 1);
  const [t2, s2] = numericValue(f('temperature'), '115'); // 46.1 C: between 45 and 47, clipped
  assert.is(t2, 45);
  assert.is(s2, 3);
  assert.equal(numericValue(f('o2sat'), '970')[1], 2);
  assert.equal(numericValue(f('o2sat'), '120'), [100, 3]);
  assert.equal(numericValue(f('heartrate'), '400')[1], 2);
  assert.equal(numericValue(f('pain'), '4-5'), [4.5, 0]);
  assert.equal(numericValue(f('acuity'), '0')[1], 2);
  near(numericValue(f('ntprobnp'), '1000')[0], Math.log(1000));
  const race = DEFAULT_FEATURE_SPEC.features.find((x) => x.name === 'race') as CategoricalFeature;
  assert.is(categoricalValue(race, 'WHITE - OTHER EUROPEAN'), 'WHITE');
  assert.is(categoricalValue(race, 'Hispanic/Latino - Puerto Rican'), 'HISPANIC');
  assert.is(categoricalValue(race, 'AMERICAN INDIAN/ALASKA NATIVE'), 'OTHER');
  assert.is(categoricalValue(race, 'UNABLE TO OBTAIN'), '');
});

test('grayscale JPEG encoder: decodes through jpeg-js close to the source; deterministic', () => {
  const W = 72, H = 56;
  const px = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) px[y * W + x] = Math.round(128 + 90 * Math.sin(x / 9) * Math.cos(y / 7));
  const a = encodeGrayJpeg(px, W, H, 95), b = encodeGrayJpeg(px, W, H, 95);
  assert.equal(a, b);
  const d = decodeGray(a);
  assert.is(d.width, W);
  assert.is(d.height, H);
  let se = 0;
  for (let i = 0; i < W * H; i++) se += (d.data[i] - px[i]) ** 2;
  const psnr = 10 * Math.log10((255 * 255) / (se / (W * H)));
  assert.ok(psnr > 35, `PSNR ${psnr.toFixed(1)} dB`);
  assert.throws(() => decodeGray(a.subarray(0, a.length >> 1)), /truncated/);
  assert.throws(() => decodeGray(new TextEncoder().encode('not a jpeg at all')), /not a JPEG/);
  const garbage = new Uint8Array(400);
  garbage.set([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x03]);
  garbage.set([0xff, 0xd9], 398);
  assert.throws(() => decodeGray(garbage));
  assert.throws(() => decodeGray(a, { maxResolutionInMP: 0.001, maxMemoryUsageInMB: 512 }), /maxResolutionInMP/);
});

test('anti-aliased resize: constant stays constant, a checkerboard averages to gray, upsampling works', () => {
  const c = new Uint8Array(100 * 80).fill(77);
  const o = new Uint8Array(16 * 16);
  resizeGray(c, 100, 80, 16, o);
  assert.ok(o.every((v) => v === 77));
  const cb = new Uint8Array(128 * 128);
  for (let y = 0; y < 128; y++) for (let x = 0; x < 128; x++) cb[y * 128 + x] = (x + y) & 1 ? 255 : 0;
  resizeGray(cb, 128, 128, 16, o);
  for (const v of o) assert.ok(Math.abs(v - 127.5) <= 2, `aliasing: ${v}`);
  const small = new Uint8Array([0, 255, 255, 0]);
  const up = new Uint8Array(64);
  resizeGray(small, 2, 2, 8, up);
  assert.is(up[0], 0);
  assert.is(up[7], 255);
});

test('iterative stratification: no patient in two splits, per-label proportions close, seeded', () => {
  const rng = new Rng(1);
  const n = 3000, L = 5;
  const group = new Int32Array(n), pos = new Uint8Array(n * L);
  let g = 0;
  for (let i = 0; i < n; i++) {
    if (i === 0 || rng.bernoulli(0.6)) g++;
    group[i] = g;
    const p = [0.3, 0.1, 0.05, 0.02, 0.5];
    for (let l = 0; l < L; l++) pos[i * L + l] = rng.bernoulli(p[l]) ? 1 : 0;
  }
  const s = iterativeStratification(group, pos, L, 7);
  assert.equal(s, iterativeStratification(group, pos, L, 7));
  const of = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const prev = of.get(group[i]);
    if (prev !== undefined) assert.is(prev, s[i], 'a patient in two splits');
    of.set(group[i], s[i]);
  }
  const sizes = [0, 0, 0];
  for (let i = 0; i < n; i++) sizes[s[i]]++;
  assert.ok(Math.abs(sizes[0] / n - 0.8) < 0.02 && Math.abs(sizes[1] / n - 0.1) < 0.02, `sizes ${sizes}`);
  for (let l = 0; l < L; l++) {
    const c = [0, 0, 0];
    let tot = 0;
    for (let i = 0; i < n; i++) if (pos[i * L + l]) {
      c[s[i]]++;
      tot++;
    }
    for (let k = 0; k < 3; k++) {
      const want = [0.8, 0.1, 0.1][k];
      assert.ok(Math.abs(c[k] / tot - want) < 0.03 + 2 / tot, `label ${l} split ${k}: ${c[k]}/${tot}`);
    }
  }
});

test('checksum32 sees a single flipped bit, aligned or not', () => {
  const a = new Uint8Array(1001);
  for (let i = 0; i < a.length; i++) a[i] = (i * 31) & 255;
  const h = checksum32(a);
  a[500] ^= 4;
  assert.is.not(checksum32(a), h);
  a[500] ^= 4;
  assert.is(checksum32(a.subarray(1)), checksum32(a.slice(1)));
});

test('readCsv: a plain file of several read chunks: every row whole, across chunk edges, the last without a newline', async () => {
  // ~3 MB: lines cross the reader's 1 MiB chunks; no carriage return anywhere (the splitter's fast path).
  const n = 60000, rows = Array.from({ length: n }, (_, i) => `${i},${'x'.repeat(i % 37)},${(i * 7) % 1000}`);
  const file = join(dir, 'chunks.csv');
  writeFileSync(file, 'id,pad,v\n' + rows.join('\n'));
  let count = 0;
  await readCsv(file, ['id', 'pad', 'v'], () => (f, line) => {
    const i = count++;
    if (f[0] !== String(i) || f[1].length !== i % 37 || f[2] !== String((i * 7) % 1000) || line !== i + 2) {
      assert.unreachable(`row ${i} at line ${line}: ${f.join(',')}`);
    }
  });
  assert.is(count, n);
});

test.run();
