/**
 * The stress report's naturally-incomplete row: level-0 cells scored on the test studies grouped by the
 * availability they came with; testset.json keeps that availability (and older files without it still read).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LABEL_NAMES } from '../../src/engine/batch.ts';
import { evaluate } from '../../src/eval/metrics.ts';
import { mulberry32 } from '../../src/engine/rng.ts';
import { checkTestSet, readTestSet } from '../../src/protocols/job-files.ts';
import type { JobResult } from '../../src/protocols/job-files.ts';
import { naturalMissingness, naturalMissingnessTable } from '../../src/protocols/natural.ts';
import type { StoredCell } from '../../src/protocols/results.ts';

const L = LABEL_NAMES.length, n = 60;
const rand = mulberry32(4);
const targets = Float32Array.from({ length: n * L }, () => (rand() < 0.4 ? 1 : 0));
const hasImage = Uint8Array.from({ length: n }, (_, i) => (i % 3 === 2 ? 0 : 1));
const hasTab = Uint8Array.from({ length: n }, (_, i) => (i % 3 === 1 ? 0 : 1));
const probsOf = (q: number) => Array.from(targets, (t) => Math.min(1, Math.max(0, q * t + (1 - q) * rand())));
const cell = (method: string, seed: number, trainLevel: number, q: number): StoredCell => ({
  method, protocol: 'image', trainLevel, seed, rows: [], predictions: [{ testLevel: 0, probs: probsOf(q) }, { testLevel: 1, probs: probsOf(0) }],
});

test('naturalMissingness: each pattern scored on its own studies, per seed; only level-0 cells', () => {
  const cells = [cell('proposed', 0, 0, 0.6), cell('proposed', 1, 0, 0.6), cell('late-fusion', 0, 0, 0.1), cell('proposed', 0, 0.5, 0)];
  const ts = { patients: Array.from({ length: n }, (_, i) => i), targets, hasImage, hasTab };
  const r = naturalMissingness(cells, ts, ['proposed', 'late-fusion']);
  assert.equal(r.map((x) => [x.method, x.pattern, x.studies, x.values.length]), [
    ['proposed', 'both', 20, 2], ['proposed', 'image only', 20, 2], ['proposed', 'table only', 20, 2],
    ['late-fusion', 'both', 20, 1], ['late-fusion', 'image only', 20, 1], ['late-fusion', 'table only', 20, 1],
  ]);
  // By hand: seed 0 of proposed on the image-only studies (i % 3 == 1).
  const idx = [...Array(n).keys()].filter((i) => i % 3 === 1);
  const p = cells[0].predictions![0].probs;
  const want = evaluate(idx.flatMap((i) => p.slice(i * L, i * L + L)), idx.flatMap((i) => Array.from(targets.subarray(i * L, i * L + L))), LABEL_NAMES).macroAuroc;
  assert.is(r[1].values[0], want);
  assert.ok(r[0].values[0] > r[3].values[0], 'the better model scores higher');
  const t = naturalMissingnessTable(cells, ts, ['proposed', 'late-fusion'])!;
  assert.equal(t.header, ['method', 'both (20 studies)', 'image only (20 studies)', 'table only (20 studies)']);
  assert.match(t.rows[0][1], /^\d\.\d{3} ± \d\.\d{3}$/);
  assert.match(t.rows[1][1], /^\d\.\d{3}$/);
  assert.is(naturalMissingnessTable(cells, { patients: ts.patients, targets }, ['proposed']), null, 'no availability stored: no row');
});

test('testset.json stores the natural availability (the level-0 test point); an older file reads without it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rf-natural-'));
  const job = { name: 'j', testPatients: [1, 2, 3], testTargets: new Float32Array(3 * L),
    points: [{ missImage: 0.5, missTab: 0, hasImage: Uint8Array.of(0, 0, 0), hasTab: Uint8Array.of(1, 1, 1), probs: new Float32Array(3 * L) },
      { missImage: 0, missTab: 0, hasImage: Uint8Array.of(1, 0, 1), hasTab: Uint8Array.of(1, 1, 0), probs: new Float32Array(3 * L) }] } as unknown as JobResult;
  checkTestSet(dir, job, {});
  const ts = readTestSet(join(dir, 'testset.json'));
  assert.equal([...ts.hasImage!], [1, 0, 1]);
  assert.equal([...ts.hasTab!], [1, 1, 0]);
  writeFileSync(join(dir, 'old.json'), JSON.stringify({ patients: [1, 2, 3], targets: new Array(3 * L).fill(0) }));
  assert.is(readTestSet(join(dir, 'old.json')).hasImage, undefined);
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ patients: [1, 2, 3], targets: new Array(3 * L).fill(0), hasImage: '10', hasTab: '111' }));
  assert.is(readTestSet(join(dir, 'bad.json')).hasImage, undefined, 'a mask of the wrong length is ignored');
});

test.run();
