/**
 * loadDataset on a hand-written fixture in the MIMIC layout that holds every quirk: gzip and plain CSVs, a BOM,
 * label columns out of order, quoted fields, text in numeric columns, StudyTime with lost leading zeros,
 * studies without stays, a lateral-only study, corrupt and truncated JPEGs, a missing image file; the cache
 * round trip and a corrupted cache; malformed input stopping with file and line.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { LABEL_NAMES } from '../../src/engine/batch.ts';
import { DataError, csvLine, encodeGrayJpeg, loadDataset, makeBatch, readImageCache } from '../../src/data/index.ts';
import type { PreparedDataset } from '../../src/data/index.ts';

const root = mkdtempSync(join(tmpdir(), 'rf-data-load-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

const S = 16;
function write(path: string, lines: string[], gzip = false): void {
  const text = Buffer.from(lines.join('\n') + '\n');
  writeFileSync(path, gzip ? gzipSync(text) : text);
}
function jpg(seed: number): Uint8Array {
  const W = 40, H = 48, px = new Uint8Array(W * H);
  for (let i = 0; i < W * H; i++) px[i] = (seed * 37 + (i % W) * 3 + Math.floor(i / W) * 2) & 255;
  return encodeGrayJpeg(px, W, H, 90);
}

// study, subject, dicom, view, date, time, image: ok|corrupt|truncated|missing
const STUDIES: [number, number, string, string, string, string, string][] = [
  [50000001, 10000001, 'd1a', 'PA', '21800506', '84027.734', 'ok'],
  [50000001, 10000001, 'd1b', 'LATERAL', '21800506', '84027.734', 'ok'],
  [50000002, 10000001, 'd2', 'AP', '21800601', '143000', 'ok'],
  [50000003, 10000002, 'd3', 'LL', '21800702', '100000.5', 'ok'],
  [50000004, 10000002, 'd4', 'PA', '21800802', '100000', 'corrupt'],
  [50000005, 11000003, 'd5', 'PA', '21800902', '100000', 'truncated'],
  [50000006, 11000003, 'd6', 'AP', '21801002', '100000', 'missing'],
  [50000007, 12000004, 'd7', 'PA', '21801102', '100000', 'ok'],
  [50000008, 12000004, 'd8', 'PA', '21801202', '91500', 'ok'],
  [50000009, 12000004, 'd9', 'PA', '21801203', '91500', 'ok'],
];

function buildFixture(dir: string): void {
  const cxr = join(dir, 'mimic-cxr-jpg');
  mkdirSync(join(dir, 'mimic-iv', 'hosp'), { recursive: true });
  mkdirSync(join(dir, 'mimic-iv', 'ed'), { recursive: true });
  const meta = [csvLine(['dicom_id', 'subject_id', 'study_id', 'ViewPosition', 'Rows', 'Columns', 'StudyDate', 'StudyTime'])];
  STUDIES.forEach(([study, subject, dicom, view, date, time, kind], k) => {
    meta.push(csvLine([dicom, subject, study, view, 48, 40, date, time]));
    const d = join(cxr, 'files', `p${String(subject).slice(0, 2)}`, `p${subject}`, `s${study}`);
    mkdirSync(d, { recursive: true });
    const bytes = jpg(k);
    if (kind === 'ok') writeFileSync(join(d, `${dicom}.jpg`), bytes);
    if (kind === 'truncated') writeFileSync(join(d, `${dicom}.jpg`), bytes.subarray(0, bytes.length >> 1));
    if (kind === 'corrupt') {
      const c = new Uint8Array(bytes);
      c.fill(0x5a, 20, 200); // tables and frame header destroyed, end marker kept
      writeFileSync(join(d, `${dicom}.jpg`), c);
    }
  });
  write(join(cxr, 'mimic-cxr-2.0.0-metadata.csv.gz'), meta, true);
  // label columns in reverse order (matched by name), a byte-order mark, a study with no metadata
  const cols = [...LABEL_NAMES].reverse();
  const lab = (vals: Record<string, string>) => cols.map((c) => vals[c] ?? '');
  const chex = [
    '\uFEFF' + csvLine(['subject_id', 'study_id', ...cols]),
    csvLine([10000001, 50000001, ...lab({ Cardiomegaly: '1.0', Edema: '-1.0', 'No Finding': '', Pneumonia: '0.0' })]),
    csvLine([10000001, 50000002, ...lab({ 'No Finding': '1.0' })]),
    csvLine([10000002, 50000003, ...lab({ 'Pleural Effusion': '1' })]),
    csvLine([10000002, 50000004, ...lab({ Pneumothorax: '0' })]),
    csvLine([11000003, 50000005, ...lab({ Atelectasis: '1.0' })]),
    csvLine([11000003, 50000006, ...lab({ 'Support Devices': '1.0' })]),
    csvLine([12000004, 50000007, ...lab({})]),
    csvLine([12000004, 50000008, ...lab({ Pneumonia: '1.0', Consolidation: '-1.0' })]),
    csvLine([19999999, 59999999, ...lab({ Edema: '1.0' })]),
  ];
  write(join(cxr, 'mimic-cxr-2.0.0-chexpert.csv'), chex);
  write(join(dir, 'mimic-iv', 'hosp', 'patients.csv.gz'), [
    'subject_id,gender,anchor_age,anchor_year,anchor_year_group,dod',
    '10000001,F,60,2178,2008 - 2010,',
    '10000002,M,45,2180,2008 - 2010,',
    '11000003,F,70,2180,2011 - 2013,',
    '12000004,M,33,2180,2014 - 2016,',
  ], true);
  write(join(dir, 'mimic-iv', 'ed', 'edstays.csv'), [
    'subject_id,hadm_id,stay_id,intime,outtime,gender,race,arrival_transport,disposition',
    '10000001,,30000001,2180-05-06 08:00:00,2180-05-06 12:00:00,F,WHITE,AMBULANCE,ADMITTED',
    // ends 1.5 h before study 50000002 (14:30): matched only with a window
    '10000001,,30000002,2180-06-01 09:00:00,2180-06-01 13:00:00,F,WHITE,WALK IN,HOME',
    '10000002,,30000003,2180-07-02 09:00:00,2180-07-02 11:00:00,M,"BLACK/AFRICAN AMERICAN",WALK IN,HOME',
    '10000002,,30000004,2180-08-02 09:00:00,2180-08-02 11:00:00,M,UNKNOWN,UNKNOWN,HOME',
    '11000003,,30000005,2180-09-02 09:00:00,2180-09-02 11:00:00,F,"HISPANIC/LATINO - PUERTO RICAN",AMBULANCE,ADMITTED',
    '11000003,,30000006,2180-10-02 09:00:00,2180-10-02 11:00:00,F,ASIAN,WALK IN,HOME',
    '12000004,,30000008,2180-12-02 09:00:00,2180-12-02 10:00:00,M,WHITE,WALK IN,HOME',
  ]);
  write(join(dir, 'mimic-iv', 'ed', 'triage.csv'), [
    'subject_id,stay_id,temperature,heartrate,resprate,o2sat,sbp,dbp,pain,acuity,chiefcomplaint',
    '10000001,30000001,98.6,110,22,91,130,80,4-5,2,"Fever, cough"',
    '10000001,30000002,99.0,80,16,98,120,70,0,3,Follow up',
    '10000002,30000003,97.9,72,14,99,118,72,10+,3,Dyspnea',
    '10000002,30000004,98.1,75,16,970,125,75,3,4,"Said ""fine"""',
    '11000003,30000005,101.2,120,28,88,100,60,unable,1,"SOB, ""bad"", fever"',
    '11000003,30000006,98.4,,,,,,,,',
    '12000004,30000008,abc,90,18,97,135,85,uta,3,Chest pain',
  ]);
  write(join(dir, 'mimic-iv', 'hosp', 'labevents.csv'), [
    'labevent_id,subject_id,hadm_id,specimen_id,itemid,charttime,value,valuenum,valueuom,flag',
    '1,10000001,,9,51301,2180-05-06 09:00:00,12.5,12.5,K/uL,abnormal',
    '2,10000001,,9,51301,2180-05-06 20:00:00,99.0,99.0,K/uL,abnormal', // farther from the study: not chosen
    '3,10000001,,9,51301,2180-05-09 09:00:00,50.0,50.0,K/uL,abnormal', // outside the window
    '4,10000001,,9,50971,2180-05-06 09:00:00,4.1,4.1,mEq/L,', // not in the spec
  ]);
}

const FIX = join(root, 'fixture');
buildFixture(FIX);
const rowOf = (ds: PreparedDataset, study: number) => {
  const i = ds.studyId.indexOf(study);
  assert.ok(i >= 0, `study ${study} not kept`);
  return i;
};
const numOf = (ds: PreparedDataset, i: number, name: string): number | undefined => {
  const j = ds.schema.numeric.findIndex((f) => f.name === name);
  const Fn = ds.schema.numeric.length;
  // float32 storage: compare at 1e-4
  return ds.numPresent[i * Fn + j] ? Math.round((ds.num[i * Fn + j] * ds.schema.numeric[j].std + ds.schema.numeric[j].mean) * 1e4) / 1e4 : undefined;
};

test('fixture: samples, image reasons, table join with StudyTime zero-padding, labels by name', async () => {
  const ds = await loadDataset(FIX, { imageSize: S, threads: 1, cacheDir: join(root, 'cache1') });
  const r = ds.report;
  assert.is(ds.n, 9);
  assert.is(r.splitSource, 'stratified');
  assert.equal(r.imageMissingReasons, { noFrontal: 1, missingFile: 1, corrupt: 2 });
  assert.is(r.imageMissing, 4);
  assert.is(r.labelsWithoutStudy, 1);
  assert.is(r.studiesWithoutLabels, 1);
  assert.is(r.allBlankLabels, 2); // 50000007 (all blank) and 50000009 (no row)
  const has = (st: number) => ds.hasImage[rowOf(ds, st)];
  assert.equal([1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => has(50000000 + k)), [1, 1, 0, 0, 0, 0, 1, 1, 1]);
  for (const p of ['d4.jpg', 'd5.jpg', 'd6.jpg']) assert.ok(r.problems.some((q) => q.file.endsWith(p)), `${p} listed`);
  // 08:40:27 from "84027.734" falls in 08:00-12:00
  const s1 = rowOf(ds, 50000001);
  assert.ok(Math.abs(numOf(ds, s1, 'temperature')! - 37) < 1e-4);
  assert.is(numOf(ds, s1, 'pain'), 4.5);
  assert.ok(Math.abs(numOf(ds, s1, 'age')! - 62) < 1e-4);
  assert.ok(Math.abs(numOf(ds, s1, 'wbc')! - 12.5) < 1e-4, 'closest lab in the window, joined without hadm_id');
  assert.is(numOf(ds, rowOf(ds, 50000002), 'temperature'), undefined, 'no stay without a window');
  assert.is(numOf(ds, rowOf(ds, 50000007), 'age'), undefined, 'no table without a stay');
  assert.is(numOf(ds, rowOf(ds, 50000003), 'pain'), 10);
  assert.is(numOf(ds, rowOf(ds, 50000004), 'o2sat'), undefined, 'o2sat 970 dropped');
  const s8 = rowOf(ds, 50000008);
  assert.is(numOf(ds, s8, 'temperature'), undefined);
  assert.is(numOf(ds, s8, 'pain'), undefined);
  const fr = (n: string) => r.features.find((f) => f.name === n)!;
  assert.is(fr('temperature').unparsed, 1);
  assert.is(fr('pain').unparsed, 2);
  assert.is(fr('o2sat').dropped, 1);
  assert.is(r.tableMissing, 3);
  // labels matched by column name
  const L = (i: number, n: string) => ds.labels[i * 14 + LABEL_NAMES.indexOf(n as (typeof LABEL_NAMES)[number])];
  assert.is(L(s1, 'Cardiomegaly'), 1);
  assert.is(L(s1, 'Edema'), -1);
  assert.is(L(s1, 'Pneumonia'), 0);
  assert.ok(Number.isNaN(L(s1, 'Fracture')));
  assert.is(L(rowOf(ds, 50000003), 'Pleural Effusion'), 1);
  // categoricals: vocab from train only; unknown race / transport are missing
  const race = ds.schema.categorical.findIndex((c) => c.name === 'race');
  const s4 = rowOf(ds, 50000004);
  assert.is(ds.catPresent[s4 * ds.schema.categorical.length + race], 0);
  // no patient in two splits
  const sp = new Map<number, number>();
  for (let i = 0; i < ds.n; i++) {
    const p = sp.get(ds.subjectId[i]);
    if (p !== undefined) assert.is(p, ds.split[i]);
    sp.set(ds.subjectId[i], ds.split[i]);
  }
  // shared memory for the worker pool
  for (const a of [ds.pixels, ds.num, ds.numPresent, ds.cat, ds.catPresent, ds.labels, ds.hasImage]) assert.instance(a.buffer, SharedArrayBuffer);
});

test('options: a window recovers the near-miss stay; allowLateral uses the lateral view; strict stops', async () => {
  const ds = await loadDataset(FIX, { imageSize: S, threads: 1, cacheDir: join(root, 'cache2'), windowHours: 2, allowLateral: true });
  assert.ok(numOf(ds, rowOf(ds, 50000002), 'temperature') !== undefined);
  assert.is(ds.hasImage[rowOf(ds, 50000003)], 1);
  assert.is(ds.report.imageMissingReasons.noFrontal, 0);
  try {
    await loadDataset(FIX, { imageSize: S, threads: 1, cacheDir: join(root, 'cache3'), strict: true });
    assert.unreachable('strict should stop');
  } catch (e) {
    assert.instance(e, DataError);
    assert.match((e as Error).message, /d[456]\.jpg/);
  }
});

test('image cache: a second run reads it; pool and inline decode agree; a corrupted cache is detected and rebuilt', async () => {
  const cacheDir = join(root, 'cache4');
  const a = await loadDataset(FIX, { imageSize: S, threads: 2, cacheDir });
  assert.is(a.report.cache.hit, false);
  const b = await loadDataset(FIX, { imageSize: S, threads: 1, cacheDir: join(root, 'cache5') });
  assert.equal(Array.from(a.pixels), Array.from(b.pixels), 'worker pool and inline decode give the same bytes');
  const c = await loadDataset(FIX, { imageSize: S, threads: 1, cacheDir });
  assert.is(c.report.cache.hit, true);
  assert.equal(Array.from(c.pixels), Array.from(a.pixels));
  assert.equal(c.report.imageMissingReasons, a.report.imageMissingReasons);
  const file = a.report.cache.file;
  const bytes = readFileSync(file);
  assert.is(bytes.toString('latin1', 0, 6), 'RFIMGC');
  assert.is(bytes.readUInt32LE(12), S);
  bytes[bytes.length - 5] ^= 0xff;
  writeFileSync(file, bytes);
  assert.match(String(readImageCache(file, S, bytes.readUInt32LE(16), bytes.readUInt32LE(20))), /checksum/);
  const d = await loadDataset(FIX, { imageSize: S, threads: 1, cacheDir });
  assert.is(d.report.cache.hit, false);
  assert.match(d.report.cache.rebuiltReason ?? '', /checksum/);
  assert.equal(Array.from(d.pixels), Array.from(a.pixels));
  writeFileSync(file, bytes.subarray(0, 100));
  const e = await loadDataset(FIX, { imageSize: S, threads: 1, cacheDir });
  assert.match(e.report.cache.rebuiltReason ?? '', /truncated|size/);
});

test('makeBatch: normalized images, zeros without an image, rows copied in order', async () => {
  const ds = await loadDataset(FIX, { imageSize: S, threads: 1, cacheDir: join(root, 'cache1') });
  const i1 = rowOf(ds, 50000001), i4 = rowOf(ds, 50000004);
  const b = makeBatch(ds, [i4, i1]);
  assert.is(b.B, 2);
  assert.is(b.S, S);
  assert.equal(Array.from(b.hasImage), [0, 1]);
  assert.ok(b.image.subarray(0, S * S).every((v) => v === 0));
  for (const k of [0, 17, S * S - 1]) {
    const want = (ds.pixels[i1 * S * S + k] / 255 - ds.pixelMean) / ds.pixelStd;
    assert.ok(Math.abs(b.image[S * S + k] - want) < 1e-6);
  }
  const Fn = ds.schema.numeric.length;
  assert.equal(Array.from(b.num.subarray(Fn, 2 * Fn)), Array.from(ds.num.subarray(i1 * Fn, (i1 + 1) * Fn)));
  assert.equal(Array.from(b.labels.subarray(0, 14)).map(String), Array.from(ds.labels.subarray(i4 * 14, i4 * 14 + 14)).map(String));
  assert.ok(makeBatch(ds, [i1, i4], b) === b, 'reuses the output batch');
  assert.throws(() => makeBatch(ds, [ds.n]), /outside/);
});

async function expectError(mutate: (dir: string) => void, re: RegExp): Promise<void> {
  const dir = mkdtempSync(join(root, 'bad-'));
  cpSync(FIX, dir, { recursive: true });
  mutate(dir);
  try {
    await loadDataset(dir, { imageSize: S, threads: 1 });
  } catch (e) {
    assert.instance(e, DataError);
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable(`expected ${re}`);
}

test('malformed input stops with file and line', async () => {
  const chex = (d: string) => join(d, 'mimic-cxr-jpg', 'mimic-cxr-2.0.0-chexpert.csv');
  const edit = (p: string, f: (s: string) => string) => writeFileSync(p, f(readFileSync(p, 'utf8')));
  await expectError((d) => edit(chex(d), (s) => s.replace(',1.0,', ',2.0,')), /chexpert\.csv:2: label '.*' is '2\.0', outside \{1, 0, -1, blank\}/);
  await expectError((d) => edit(chex(d), (s) => s + s.split('\n')[2] + '\n'), /chexpert\.csv:11: duplicate study 50000002/);
  await expectError((d) => edit(chex(d), (s) => s.replace('Cardiomegaly', 'Cardiomegalyy')), /chexpert\.csv:1: missing required column 'Cardiomegaly'/);
  await expectError((d) => edit(join(d, 'mimic-iv', 'ed', 'triage.csv'), (s) => s.replace('Follow up', 'Follow up,extra')), /triage\.csv:3: ragged row/);
  await expectError((d) => edit(join(d, 'mimic-iv', 'ed', 'edstays.csv'), (s) => s.replace('"BLACK/AFRICAN AMERICAN"', 'BLACK"AFRICAN')), /edstays\.csv:4: bad quoting/);
  await expectError((d) => write(join(d, 'mimic-cxr-jpg', 'mimic-cxr-2.0.0-metadata.csv.gz'), ['dicom_id,subject_id,study_id,ViewPosition,StudyDate', 'x,1,2,PA,21800101'], true), /metadata\.csv\.gz:1: missing required column 'StudyTime'/);
  await expectError((d) => rmSync(chex(d)), /chexpert\.csv\[\.gz\]: file not found/);
  await expectError((d) => edit(chex(d), (s) => s.replace(',1.0,', ',0x1,')), /chexpert\.csv:2: label '.*' is '0x1', outside/);
});

test('labels that leave nothing to learn stop, naming the label file (training would run with loss 0)', async () => {
  const chex = (d: string) => join(d, 'mimic-cxr-jpg', 'mimic-cxr-2.0.0-chexpert.csv');
  const keepRows = (d: string, f: (row: string) => string) => {
    const [head, ...rows] = readFileSync(chex(d), 'utf8').trimEnd().split('\n');
    writeFileSync(chex(d), [head, ...rows.map(f)].join('\n') + '\n');
  };
  await expectError((d) => keepRows(d, () => ''), /chexpert\.csv: a header and no rows/);
  // rows, but every label blank or uncertain
  await expectError((d) => keepRows(d, (r) => r.split(',').map((v, k) => (k < 2 ? v : v === '-1.0' ? v : '')).join(',')), /chexpert\.csv: no study of the metadata has an observed label/);
  // observed labels only outside the training split (official split file puts every labelled study in test)
  const splitOnly = (d: string) => {
    keepRows(d, (r) => (r.startsWith('10000001,50000001,') ? r : r.split(',').map((v, k) => (k < 2 ? v : '')).join(',')));
    const split = ['study_id,subject_id,split', ...STUDIES.map(([st, su]) => `${st},${su},${st === 50000001 ? 'test' : 'train'}`)];
    writeFileSync(join(d, 'mimic-cxr-jpg', 'mimic-cxr-2.0.0-split.csv'), split.join('\n') + '\n');
  };
  await expectError(splitOnly, /chexpert\.csv: no observed label \(1 or 0\) in the training split \(\d+ samples\)/);
  const dir = mkdtempSync(join(root, 'unlabelled-'));
  cpSync(FIX, dir, { recursive: true });
  splitOnly(dir);
  const ds = await loadDataset(dir, { imageSize: S, threads: 1, allowUnlabeled: true });
  assert.is(ds.report.splitSource, 'official');
});

test.run();
