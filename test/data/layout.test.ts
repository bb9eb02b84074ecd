/**
 * MIMIC as PhysioNet ships it: the download trees (with and without the physionet.org/files prefix, any
 * version folder) and explicit source folders read the same data set as the flat layout, and the report says
 * which source and version each folder was. Trees are built from a small synthetic set with symlinks.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DataError, formatReport, generateSynthetic, inspectDataset, loadDataset } from '../../src/data/index.ts';
import type { LoadOptions, PreparedDataset } from '../../src/data/index.ts';
import { rejects } from '../util/harness.ts';

const root = mkdtempSync(join(tmpdir(), 'rf-data-layout-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const FLAT = join(root, 'flat');
const S = 16;
const opts = (cache: string, more: Partial<LoadOptions> = {}): LoadOptions => ({ imageSize: S, threads: 1, cacheDir: join(root, cache), ...more });

/** Link `target` at `path` (parents created). */
function link(target: string, path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(target, path, 'dir');
}

/** A PhysioNet-style tree under `dir` (prefix '' or 'physionet.org/files') over the flat set's folders. */
function physionetTree(dir: string, prefix: string, cxrVersion = '2.1.0'): string {
  const base = join(dir, prefix);
  link(join(FLAT, 'mimic-cxr-jpg'), join(base, 'mimic-cxr-jpg', cxrVersion));
  link(join(FLAT, 'mimic-iv', 'hosp'), join(base, 'mimiciv', '3.1', 'hosp'));
  link(join(FLAT, 'mimic-iv', 'ed'), join(base, 'mimic-iv-ed', '2.2', 'ed'));
  return dir;
}

function sameData(a: PreparedDataset, b: PreparedDataset): void {
  assert.is(a.n, b.n);
  for (const k of ['split', 'studyId', 'pixels', 'hasImage', 'num', 'numPresent', 'cat', 'catPresent'] as const) {
    assert.equal(Array.from(a[k] as ArrayLike<number>), Array.from(b[k] as ArrayLike<number>), k);
  }
  assert.equal(a.schema, b.schema);
}

let flat: PreparedDataset;
test('setup: a small synthetic set in the flat layout', async () => {
  await generateSynthetic({ out: FLAT, patients: 40, seed: 3, imageSize: 32 });
  flat = await loadDataset(FLAT, opts('c-flat'));
  assert.equal(flat.report.sources.cxr, { dir: join(FLAT, 'mimic-cxr-jpg'), project: 'mimic-cxr-jpg', version: null, layout: 'flat' });
  assert.is(flat.report.sources.hosp?.dir, join(FLAT, 'mimic-iv', 'hosp'));
  assert.is(flat.report.sources.ed?.project, 'mimic-iv');
});

test('physionet.org/files/<project>/<version>/ trees, with and without the prefix, read the same data', async () => {
  for (const prefix of ['physionet.org/files', '']) {
    const dir = physionetTree(mkdtempSync(join(root, 'pn-')), prefix);
    const ds = await loadDataset(dir, opts('c-pn'));
    sameData(ds, flat);
    const src = ds.report.sources;
    assert.equal([src.cxr.project, src.cxr.version, src.cxr.layout], ['mimic-cxr-jpg', '2.1.0', 'physionet']);
    assert.equal([src.hosp?.project, src.hosp?.version, src.hosp?.dir], ['mimiciv', '3.1', join(dir, prefix, 'mimiciv', '3.1', 'hosp')]);
    assert.equal([src.ed?.project, src.ed?.version], ['mimic-iv-ed', '2.2']);
    const text = formatReport(ds.report);
    assert.match(text, /images\s+mimic-cxr-jpg 2\.1\.0, physionet: /);
    assert.match(text, /hosp\s+mimiciv 3\.1, physionet: /);
    assert.match(text, /ed\s+mimic-iv-ed 2\.2, physionet: /);
  }
});

test('explicit cxrDir, mimicIvDir, mimicIvEdDir (with or without a data folder) read the same data', async () => {
  const pn = join(physionetTree(mkdtempSync(join(root, 'ex-')), 'physionet.org/files'), 'physionet.org/files');
  const dirs = { cxrDir: join(pn, 'mimic-cxr-jpg', '2.1.0'), mimicIvDir: join(pn, 'mimiciv', '3.1'), mimicIvEdDir: join(pn, 'mimic-iv-ed', '2.2') };
  const ds = await loadDataset('', opts('c-ex', dirs));
  sameData(ds, flat);
  assert.equal([ds.report.sources.cxr.layout, ds.report.sources.cxr.version], ['explicit', '2.1.0']);
  assert.is(ds.report.sources.hosp?.version, '3.1');
  // a parent of one version folder, and the module folders themselves, are found too
  const ds2 = await loadDataset(FLAT, opts('c-ex', { cxrDir: join(pn, 'mimic-cxr-jpg'), mimicIvDir: join(pn, 'mimiciv', '3.1', 'hosp') }));
  sameData(ds2, flat);
  assert.is(ds2.report.sources.cxr.version, '2.1.0');
  assert.is(ds2.report.sources.ed?.layout, 'flat', 'the ED tables still come from the data folder');
  await rejects(loadDataset(FLAT, opts('c-ex', { mimicIvEdDir: join(pn, 'mimiciv') })), /no edstays\.csv\[\.gz\] or triage\.csv\[\.gz\] here/);
});


test('two versions of a source, a missing folder, no CXR tables: errors that say what to do', async () => {
  const two = physionetTree(mkdtempSync(join(root, 'two-')), 'physionet.org/files');
  link(join(FLAT, 'mimic-cxr-jpg'), join(two, 'physionet.org/files/mimic-cxr-jpg/2.0.0'));
  await rejects(loadDataset(two, opts('c-two')), /MIMIC-CXR-JPG found in 2 places .*2\.0\.0.*2\.1\.0.*--cxr-dir/);
  const ok = await loadDataset(two, opts('c-two', { cxrDir: join(two, 'physionet.org/files/mimic-cxr-jpg/2.1.0') }));
  sameData(ok, flat);
  try {
    await loadDataset(join(root, 'nowhere'), opts('c-x'));
    assert.unreachable();
  } catch (e) {
    assert.instance(e, DataError);
    assert.match((e as Error).message, /nowhere: the data set folder does not exist/);
  }
  const empty = mkdtempSync(join(root, 'empty-'));
  await rejects(loadDataset(empty, opts('c-x')), /mimic-cxr-2\.0\.0-metadata\.csv\[\.gz\]: file not found/);
});

test('without the ED tables: ed is not found, its features are left out, inspect says so', async () => {
  const dir = mkdtempSync(join(root, 'noed-'));
  link(join(FLAT, 'mimic-cxr-jpg'), join(dir, 'mimic-cxr-jpg', '2.1.0'));
  link(join(FLAT, 'mimic-iv', 'hosp'), join(dir, 'mimiciv', '3.1', 'hosp'));
  const r = await inspectDataset(dir, { imageSize: S, threads: 1, cacheDir: join(root, 'c-noed') });
  assert.is(r.sources.ed, null);
  assert.ok(r.featuresLeftOut.includes('heartrate'));
  assert.match(formatReport(r), /ed\s+not found/);
});

test.run();
