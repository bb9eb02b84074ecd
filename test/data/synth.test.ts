/**
 * The synthetic data set: same seed same bytes, read back by the real readers, and the ground-truth properties
 * docs/synthetic-data.md states (missingness, label kinds, image and table signals, the combination finding).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { LABEL_NAMES } from '../../src/engine/batch.ts';
import { generateSynthetic, loadDataset, readCsv } from '../../src/data/index.ts';
import type { PreparedDataset, SynthSummary } from '../../src/data/index.ts';

const root = mkdtempSync(join(tmpdir(), 'rf-data-synth-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

function digest(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (!e.endsWith('.rfcache')) out.set(relative(dir, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

test('same seed, same bytes; another seed, other bytes', async () => {
  const a = join(root, 'a'), b = join(root, 'b'), c = join(root, 'c');
  await generateSynthetic({ out: a, patients: 25, seed: 11, imageSize: 96 });
  await generateSynthetic({ out: b, patients: 25, seed: 11, imageSize: 96 });
  await generateSynthetic({ out: c, patients: 25, seed: 12, imageSize: 96 });
  const da = digest(a), db = digest(b), dc = digest(c);
  assert.ok(da.size > 30);
  assert.equal([...da], [...db]);
  assert.is.not(da.get('mimic-cxr-jpg/mimic-cxr-2.0.0-chexpert.csv.gz'), dc.get('mimic-cxr-jpg/mimic-cxr-2.0.0-chexpert.csv.gz'));
  // plain CSVs read back the same way
  const p = join(root, 'plain');
  await generateSynthetic({ out: p, patients: 25, seed: 11, imageSize: 96, gzip: false });
  const dsA = await loadDataset(a, { imageSize: 16, threads: 1 });
  const dsP = await loadDataset(p, { imageSize: 16, threads: 1 });
  assert.equal(Array.from(dsA.labels).map(String), Array.from(dsP.labels).map(String));
  assert.equal(Array.from(dsA.num), Array.from(dsP.num));
  assert.equal(Array.from(dsA.pixels), Array.from(dsP.pixels));
});

let summary: SynthSummary;
let ds: PreparedDataset;
const truth = new Map<number, Record<string, number>>();
const DIR = join(root, 'big');

test('a few hundred patients: generated and read back by the real readers', async () => {
  summary = await generateSynthetic({ out: DIR, patients: 400, seed: 3, imageSize: 128 });
  ds = await loadDataset(DIR, { imageSize: 32, threads: 2 });
  await readCsv(join(DIR, 'truth.csv'), ['study_id'], (h) => (f) => {
    const rec: Record<string, number> = {};
    h.names.forEach((n, k) => (rec[n] = Number(f[k])));
    truth.set(rec.study_id, rec);
  });
  assert.is(ds.report.problems.length, 0, JSON.stringify(ds.report.problems.slice(0, 3)));
  assert.ok(ds.n >= summary.studies - 20 && ds.n <= summary.studies);
  assert.is(ds.report.splitSource, 'official');
});

test('natural missingness: about half without an ED stay; features missing at realistic rates; text in pain', () => {
  const r = ds.report;
  const tabMiss = r.tableMissing / r.samples;
  assert.ok(tabMiss > 0.38 && tabMiss < 0.65, `table missing ${tabMiss}`);
  const imgMiss = r.imageMissing / r.samples;
  assert.ok(imgMiss > 0 && imgMiss < 0.05, `image missing ${imgMiss}`);
  const withTable = r.samples - r.tableMissing;
  const f = (n: string) => r.features.find((x) => x.name === n)!;
  for (const n of ['temperature', 'heartrate', 'o2sat', 'pain']) {
    const extra = (f(n).missing - r.tableMissing) / withTable;
    assert.ok(extra > 0.01 && extra < 0.2, `${n} missing among stays ${extra}`);
  }
  assert.ok(f('pain').unparsed > 0, 'text in pain');
  assert.ok(f('wbc').missing > f('temperature').missing, 'labs are sparser than vitals');
});

test('CheXpert-style labels: positive, negative, uncertain and blank for every finding; prevalences as documented', () => {
  for (const l of ds.report.labels) {
    assert.ok(l.blank > 0, `${l.name} blank`);
    assert.ok(l.positive > 0, `${l.name} positive`);
    if (l.name !== 'No Finding') assert.ok(l.uncertain > 0 && l.negative > 0, `${l.name} uncertain/negative`);
  }
  const p = summary.prevalence;
  assert.ok(p['Lung Opacity'] > 0.3 && p['Lung Opacity'] < 0.6);
  assert.ok(p.Cardiomegaly > 0.12 && p.Cardiomegaly < 0.35);
  assert.ok(p.Pneumonia > 0.1 && p.Pneumonia < 0.25);
  assert.ok(p['Pleural Other'] < 0.06);
});

/** Mean of f over samples where cond holds. */
function meanWhere(f: (i: number) => number | undefined, cond: (i: number) => boolean): number {
  let s = 0, c = 0;
  for (let i = 0; i < ds.n; i++) {
    if (!cond(i)) continue;
    const v = f(i);
    if (v === undefined) continue;
    s += v;
    c++;
  }
  return s / c;
}
const T = (i: number) => truth.get(ds.studyId[i])!;
const label = (i: number, n: string) => ds.labels[i * 14 + LABEL_NAMES.indexOf(n as (typeof LABEL_NAMES)[number])];
const feat = (name: string) => (i: number) => {
  const j = ds.schema.numeric.findIndex((f) => f.name === name);
  const Fn = ds.schema.numeric.length;
  return ds.numPresent[i * Fn + j] ? ds.num[i * Fn + j] : undefined;
};

test('image signal: a wider cardiac silhouette with Cardiomegaly (bright pixels beside the normal heart)', () => {
  const S = ds.S;
  // columns just outside a normal heart, just inside an enlarged one, at heart level
  const edge = (i: number) => {
    if (!ds.hasImage[i]) return undefined;
    let s = 0, c = 0;
    for (let y = Math.round(0.58 * S); y < Math.round(0.68 * S); y++) {
      for (const x of [Math.round(0.3 * S), Math.round(0.74 * S)]) {
        s += ds.pixels[i * S * S + y * S + x];
        c++;
      }
    }
    return s / c;
  };
  const pos = meanWhere(edge, (i) => label(i, 'Cardiomegaly') === 1);
  const neg = meanWhere(edge, (i) => label(i, 'Cardiomegaly') === 0);
  assert.ok(pos > neg + 10, `edge brightness ${pos.toFixed(1)} vs ${neg.toFixed(1)}`);
});

test('table signals: fever and tachycardia with Pneumonia; low SpO2 with Edema; WBC with infection', () => {
  const t = feat('temperature'), hr = feat('heartrate'), o2 = feat('o2sat'), wbc = feat('wbc');
  assert.ok(meanWhere(t, (i) => label(i, 'Pneumonia') === 1) > meanWhere(t, (i) => label(i, 'Pneumonia') === 0) + 0.8);
  assert.ok(meanWhere(hr, (i) => label(i, 'Pneumonia') === 1) > meanWhere(hr, (i) => label(i, 'Pneumonia') === 0) + 0.5);
  assert.ok(meanWhere(o2, (i) => label(i, 'Edema') === 1) < meanWhere(o2, (i) => label(i, 'Edema') === 0) - 0.5);
  assert.ok(meanWhere(wbc, (i) => T(i).pneumonia === 1 || T(i).other_infection === 1) > meanWhere(wbc, (i) => T(i).pneumonia === 0 && T(i).other_infection === 0) + 1);
});

test('Pneumonia is found only in combination: opacity alone or fever alone is ambiguous, both are not', () => {
  let opac = 0, opacP = 0, inf = 0, infP = 0, both = 0, bothP = 0;
  for (const r of truth.values()) {
    const o = r.pneumonia || r.other_opacity, f = r.pneumonia || r.other_infection;
    if (o) { opac++; opacP += r.pneumonia; }
    if (f) { inf++; infP += r.pneumonia; }
    if (o && f) { both++; bothP += r.pneumonia; }
  }
  assert.ok(opacP / opac < 0.75, `P(pneumonia | opacity) ${opacP / opac}`);
  assert.ok(infP / inf < 0.75, `P(pneumonia | fever) ${infP / inf}`);
  assert.ok(bothP / both > 0.85, `P(pneumonia | both) ${bothP / both}`);
});

test('without the split file: patient-level stratified split, no leakage, label proportions close', async () => {
  rmSync(join(DIR, 'mimic-cxr-jpg', 'mimic-cxr-2.0.0-split.csv.gz'));
  const d = await loadDataset(DIR, { imageSize: 32, threads: 1, seed: 5 });
  assert.is(d.report.splitSource, 'stratified');
  assert.equal(Array.from(d.pixels), Array.from(ds.pixels), 'cache reused');
  assert.ok(d.report.cache.hit);
  const of = new Map<number, number>();
  for (let i = 0; i < d.n; i++) {
    const p = of.get(d.subjectId[i]);
    if (p !== undefined) assert.is(p, d.split[i], 'patient in two splits');
    of.set(d.subjectId[i], d.split[i]);
  }
  const sz = [d.report.splits.train, d.report.splits.validate, d.report.splits.test].map((v) => v / d.n);
  assert.ok(Math.abs(sz[0] - 0.8) < 0.03 && Math.abs(sz[1] - 0.1) < 0.03, `split sizes ${sz}`);
  for (const name of ['Cardiomegaly', 'Pneumonia', 'Pleural Effusion', 'Lung Opacity']) {
    const k = LABEL_NAMES.indexOf(name as (typeof LABEL_NAMES)[number]);
    const c = [0, 0, 0];
    let tot = 0;
    for (let i = 0; i < d.n; i++) if (d.labels[i * 14 + k] === 1) { c[d.split[i]]++; tot++; }
    for (let s = 0; s < 3; s++) assert.ok(Math.abs(c[s] / tot - [0.8, 0.1, 0.1][s]) < 0.05, `${name} split ${s}: ${c[s]}/${tot}`);
  }
});

test.run();
