/**
 * Subgroup sources: MIMIC-IV admissions (race and insurance of the admission nearest each study), race
 * grouping, a data set without admissions reported as not available, and the synthetic generator's
 * admissions table and missing-not-at-random option (off by default: every other file keeps its bytes).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { admissionAttributes, generateSynthetic, loadDataset, raceGroup, studyAttributes } from '../../src/data/index.ts';
import { readAdmissions } from '../../src/data/readers/admissions.ts';
import { cohortOf } from '../../src/data/studies.ts';
import type { StudyRec } from '../../src/data/studies.ts';
import { rejects } from '../util/harness.ts';

const root = mkdtempSync(join(tmpdir(), 'rf-subgroups-'));
const T = (s: string) => Date.parse(`${s}Z`);

test('readAdmissions: the admission nearest each study; ties to the earlier, then the smaller hadm_id; other subjects skipped', async () => {
  const rec = (subject: number, study: number, time: number): StudyRec => ({ subject, study, time, dicom: '', rank: 99, stay: -1 });
  const cohort = cohortOf(new Map([
    [1, rec(10, 1, T('2150-01-10T12:00:00'))], [2, rec(10, 2, T('2150-06-01T00:00:00'))], [3, rec(11, 3, T('2150-03-01T00:00:00'))],
    [4, rec(12, 4, NaN)], [5, rec(13, 5, T('2150-01-01T00:00:00'))],
  ]));
  const file = join(root, 'admissions.csv');
  writeFileSync(file, [
    'subject_id,hadm_id,admittime,dischtime,insurance,race',
    '10,101,2150-01-09 12:00:00,2150-01-12 00:00:00,Medicaid,BLACK/AFRICAN AMERICAN', // 1 day before study 1
    '10,102,2150-01-11 12:00:00,2150-01-13 00:00:00,Private,WHITE', // 1 day after study 1: as near, later -> not chosen
    '10,103,2150-05-20 00:00:00,2150-05-25 00:00:00,Medicare,ASIAN - CHINESE', // nearest study 2
    '11,105,2150-03-05 00:00:00,2150-03-06 00:00:00,Other,HISPANIC OR LATINO', // 4 days after
    '11,104,2150-02-25 00:00:00,2150-02-26 00:00:00,Private,UNKNOWN', // 4 days before: as near, earlier -> chosen
    '12,106,2150-01-01 00:00:00,2150-01-02 00:00:00,Private,WHITE', // study time unknown: still the only one
    '99,107,2150-01-01 00:00:00,2150-01-02 00:00:00,Private,WHITE', // not in the cohort
    '13,108,not a time,,Private,WHITE',
  ].join('\n') + '\n');
  const a = await readAdmissions(file, cohort);
  assert.equal(a.insurance, ['Medicaid', 'Medicare', 'Private', 'Private', null]);
  assert.equal(a.race, ['BLACK/AFRICAN AMERICAN', 'ASIAN - CHINESE', 'UNKNOWN', 'WHITE', null]);
  assert.is(a.badTime, 1);
  assert.is(a.rows, 7);
});

test('race groups as in Seyyed-Kalantari 2021; unknown and declined are unknown', () => {
  assert.equal(['WHITE - OTHER EUROPEAN', 'BLACK/CAPE VERDEAN', 'HISPANIC/LATINO - PUERTO RICAN', 'ASIAN - CHINESE', 'AMERICAN INDIAN/ALASKA NATIVE', 'MULTIPLE RACE/ETHNICITY', 'UNKNOWN', 'PATIENT DECLINED TO ANSWER', 'UNABLE TO OBTAIN', null].map(raceGroup),
    ['White', 'Black', 'Hispanic', 'Asian', 'American Indian', 'Other', null, null, null, null]);
  const na = admissionAttributes({}, [0, 1]);
  assert.equal(na.map((x) => [x.name, x.values]), [['race', null], ['insurance', null]]);
  assert.match(na[0].reason!, /no hosp\/admissions table/);
  // Sex and age come from hosp/patients for every study, with or without a table row.
});

test('synthetic data: an admissions table read into race and insurance per study; without it, not available', async () => {
  const dir = join(root, 'syn');
  const s = await generateSynthetic({ out: dir, patients: 120, seed: 5, imageSize: 32 });
  assert.ok(s.admissions > 50, `${s.admissions} admissions`);
  const ds = await loadDataset(dir, { imageSize: 16, threads: 1, decoder: 'jpeg-js' });
  const rows = Int32Array.from({ length: ds.n }, (_, i) => i);
  const [sex, age, race, ins] = studyAttributes(ds, rows);
  assert.ok(sex.values && age.values && race.values && ins.values);
  assert.ok(sex.values.every((v) => v === 'F' || v === 'M'), 'sex of every study (hosp/patients), table or not');
  assert.ok(age.values.every((v) => v !== null));
  const known = ins.values.filter((v) => v !== null);
  assert.ok(known.length > ds.n / 3, `${known.length} of ${ds.n} studies with an admission`);
  assert.ok(new Set(known).size >= 3);
  assert.ok(race.values.includes('White') && race.values.includes('Black'));
  // Medicare is for 65 and over in the generator: every Medicare study's age band is 60-80 or 80+.
  ins.values.forEach((v, i) => { if (v === 'Medicare' && age.values![i] !== null) assert.ok(['60-80', '80+'].includes(age.values![i]!), `Medicare at ${age.values![i]}`); });
  rmSync(join(dir, 'mimic-iv', 'hosp', 'admissions.csv.gz'));
  const ds2 = await loadDataset(dir, { imageSize: 16, threads: 1, decoder: 'jpeg-js' });
  assert.is(ds2.demographics?.race, undefined);
  assert.ok(ds2.demographics?.sex, 'sex still from hosp/patients');
  assert.is(studyAttributes(ds2, rows)[2].values, null);
});

test('synthetic missing-not-at-random: labs of healthy studies left out; every other file keeps its bytes; off by default', async () => {
  const a = join(root, 'mnar0'), b = join(root, 'mnar1');
  const s0 = await generateSynthetic({ out: a, patients: 150, seed: 6, imageSize: 32 });
  const s1 = await generateSynthetic({ out: b, patients: 150, seed: 6, imageSize: 32, mnar: 0.9 });
  assert.is(s0.mnarDropped, 0);
  assert.ok(s1.mnarDropped > 20, `${s1.mnarDropped} dropped`);
  assert.is(s1.labRows, s0.labRows - s1.mnarDropped);
  const files = (d: string) => readdirSync(d, { recursive: true }).map(String).filter((f) => /\.(csv\.gz|csv|jpg)$/.test(f)).sort();
  assert.equal(files(a), files(b));
  for (const f of files(a)) {
    const same = readFileSync(join(a, f)).equals(readFileSync(join(b, f)));
    assert.is(same, !f.includes('labevents'), f);
  }
  const labs = (d: string) => gunzipSync(readFileSync(join(d, 'mimic-iv', 'hosp', 'labevents.csv.gz'))).toString().trim().split('\n').slice(1);
  assert.ok(labs(b).length < labs(a).length);
  // Only subjects with a healthy study (no latent finding, truth.csv) lose labs; the others keep every row.
  const truth = readFileSync(join(a, 'truth.csv'), 'utf8').trim().split('\n');
  const head = truth[0].split(',');
  const cols = ['cardiomegaly', 'ecm', 'edema', 'effusion', 'pneumonia', 'other_opacity', 'atelectasis', 'pneumothorax', 'lesion', 'fracture', 'pleural_other'].map((c) => head.indexOf(c));
  const healthySubjects = new Set(truth.slice(1).map((l) => l.split(',')).filter((f) => cols.every((k) => f[k] === '0')).map((f) => f[0]));
  const perSubject = (rows: string[]) => { const m = new Map<string, number>(); for (const r of rows) { const s = r.split(',')[1]; m.set(s, (m.get(s) ?? 0) + 1); } return m; };
  const [ca, cb] = [perSubject(labs(a)), perSubject(labs(b))];
  let lost = 0;
  for (const [subj, k] of ca) {
    if (!healthySubjects.has(subj)) assert.is(cb.get(subj) ?? 0, k, `subject ${subj} has no healthy study but lost labs`);
    else if ((cb.get(subj) ?? 0) < k) lost++;
  }
  assert.ok(lost > 5, `${lost} subjects with a healthy study lost labs`);
  await rejects(generateSynthetic({ out: join(root, 'bad'), patients: 2, seed: 0, mnar: 2 }), /mnar must be a probability in \[0, 1\] \(got 2\)/);
  assert.not.ok(existsSync(join(root, 'bad')), 'a bad option touches nothing');
});

test.run();
