/**
 * The shared split evaluation (src/eval/report.ts), the model card and the rendering: subgroup CIs are the
 * patient-level bootstrap's, groups under the minimum are withheld, an unavailable attribute is reported as
 * such, the underdiagnosis rate is the FPR of No Finding at its threshold, the card contains every TRIPOD+AI
 * item it tags, and text from the data cannot inject markup into the HTML.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LABEL_NAMES } from '../../src/engine/batch.ts';
import {
  characteristics, crossAttributes, evaluate, markdownToHtml, modelCard, predictionsCsv, readPredictionsCsv, scoreSplit,
  TRIPOD_AI_ITEMS, weightedBootstrap, weightedMacroAuroc,
} from '../../src/eval/index.ts';
import type { ScoreInput } from '../../src/eval/index.ts';
import { mulberry32 } from '../../src/engine/rng.ts';

const L = LABEL_NAMES.length, NF = LABEL_NAMES.indexOf('No Finding');

/** n studies of n/2 patients; sex alternates by patient, group C is small; No Finding informative. */
function fixture(n = 240): ScoreInput & { observed: Float64Array } {
  const rand = mulberry32(3);
  const probs = new Float64Array(n * L), targets = new Float64Array(n * L), observed = new Float64Array(n * L);
  const patients = Int32Array.from({ length: n }, (_, i) => 1000 + (i >> 1));
  const hasImage = new Uint8Array(n), hasTab = new Uint8Array(n), tabPresent = new Uint16Array(n);
  const sex: (string | null)[] = [], race: (string | null)[] = [];
  for (let i = 0; i < n; i++) {
    const p = i >> 1;
    sex.push(p % 2 ? 'F' : 'M');
    race.push(p % 10 === 0 ? 'C' : p % 3 === 0 ? 'A' : 'B');
    hasImage[i] = i % 7 === 0 ? 0 : 1;
    hasTab[i] = i % 5 === 0 ? 0 : 1;
    tabPresent[i] = hasTab[i] ? 1 + (i % 16) : 0;
    for (let j = 0; j < L; j++) {
      const y = rand() < 0.4 ? 1 : 0;
      probs[i * L + j] = Math.min(0.99, Math.max(0.01, 0.3 * y + 0.7 * rand()));
      const u = rand();
      observed[i * L + j] = u < 0.1 ? NaN : u < 0.15 ? -1 : y;
      targets[i * L + j] = u < 0.15 ? NaN : y;
    }
  }
  return {
    labels: LABEL_NAMES, probs, targets, observed, patients, hasImage, hasTab, tabPresent, numFeatures: 16,
    thresholds: LABEL_NAMES.map(() => 0.45),
    subgroups: [{ name: 'sex', values: sex }, { name: 'race', values: race }, { name: 'insurance', values: null, reason: 'no admissions table' }],
  };
}

const opts = { replicates: 200, seed: 9, minGroup: 30 };

test('scoreSplit: discrimination as evaluate(), macro AUROC CI from the patient-level bootstrap', () => {
  const inp = fixture(), r = scoreSplit(inp, opts);
  const ev = evaluate(inp.probs, inp.targets, LABEL_NAMES, [...inp.thresholds]);
  assert.is(r.discrimination.macroAuroc, ev.macroAuroc);
  assert.ok(Math.abs(r.macroAurocCI.estimate - ev.macroAuroc) < 1e-12);
  const want = weightedBootstrap(inp.patients, weightedMacroAuroc(inp.probs, inp.targets, 240), { replicates: 200, seed: 9 });
  assert.equal(r.macroAurocCI, want);
  assert.ok(r.macroAurocCI.lo < r.macroAurocCI.estimate && r.macroAurocCI.estimate < r.macroAurocCI.hi);
  assert.is(r.studies, 240);
  assert.is(r.patients, 120);
});

test('subgroups: CIs of each group from its own patients; small groups withheld; unavailable attribute named', () => {
  const inp = fixture(), r = scoreSplit(inp, opts);
  const sex = r.subgroups.find((s) => s.attribute === 'sex')!;
  assert.equal(sex.rows.map((g) => [g.group, g.studies, g.patients, g.status]), [['F', 120, 60, 'ok'], ['M', 120, 60, 'ok']]);
  // The F group's interval is the bootstrap over F's patients only.
  const idx = [...Array(240).keys()].filter((i) => ((i >> 1) % 2) === 1);
  const p = new Float64Array(idx.length * L), t = new Float64Array(idx.length * L);
  idx.forEach((i, k) => { for (let j = 0; j < L; j++) { p[k * L + j] = inp.probs[i * L + j]; t[k * L + j] = inp.targets[i * L + j]; } });
  const pats = idx.map((i) => inp.patients[i]);
  assert.equal(sex.rows[0].macroAuroc, weightedBootstrap(pats, weightedMacroAuroc(p, t, idx.length), { replicates: 200, seed: 9 }));
  // Underdiagnosis: FPR of No Finding at its threshold among studies with a finding, counted by hand.
  let den = 0, num = 0;
  for (let k = 0; k < idx.length; k++) if (t[k * L + NF] === 0) { den++; if (p[k * L + NF] >= 0.45) num++; }
  assert.ok(den > 10);
  assert.ok(Math.abs(sex.rows[0].underdiagnosis!.estimate - num / den) < 1e-15);
  const u = sex.rows[0].underdiagnosis!;
  assert.ok(u.lo <= u.estimate && u.estimate <= u.hi && u.hi > u.lo);
  // Race C (patients with p % 10 == 0: 12 patients, 24 studies) is under the minimum of 30: withheld.
  const race = r.subgroups.find((s) => s.attribute === 'race')!;
  const c = race.rows.find((g) => g.group === 'C')!;
  assert.is(c.studies, 24);
  assert.is(c.status, 'too small');
  assert.is(c.macroAuroc, undefined);
  assert.is(c.underdiagnosis, undefined);
  const ins = r.subgroups.find((s) => s.attribute === 'insurance')!;
  assert.equal([ins.available, ins.reason, ins.rows.length], [false, 'no admissions table', 0]);
  // sex x race, and a crossing with an unavailable attribute is unavailable.
  const x = crossAttributes(inp.subgroups![0], inp.subgroups![1]);
  assert.is(x.values![0], 'M, C');
  assert.is(crossAttributes(inp.subgroups![0], inp.subgroups![2]).values, null);
});

test('availability patterns and table-feature quartiles partition the studies', () => {
  const r = scoreSplit(fixture(), opts);
  assert.equal(r.availability.map((g) => g.group), ['both', 'image only', 'table only', 'neither']);
  assert.is(r.availability.reduce((a, g) => a + g.studies, 0), 240);
  assert.is(r.tableFeatures.reduce((a, g) => a + g.studies, 0), 240);
  assert.ok(r.tableFeatures.length >= 3);
  assert.ok(r.tableFeatures[0].group.startsWith('Q1: 0-'), r.tableFeatures[0].group);
});

test('predictions.csv read back gives the same report', () => {
  const inp = fixture(), r = scoreSplit(inp, opts);
  const csv = predictionsCsv({ ...inp, studyIds: Int32Array.from({ length: 240 }, (_, i) => 5e7 + i), split: 'test', observed: inp.observed, probs: Float32Array.from(inp.probs) });
  const back = readPredictionsCsv(csv);
  // The CSV holds float32 probabilities: score those and compare with a report on the same float32 values.
  const r32 = scoreSplit({ ...inp, probs: Float32Array.from(inp.probs) }, opts);
  const rb = scoreSplit({ ...inp, probs: back.probs, targets: back.targets, patients: back.patients, hasImage: back.hasImage, hasTab: back.hasTab, tabPresent: back.tabPresent }, opts);
  assert.equal(JSON.parse(JSON.stringify({ ...rb, subgroups: [] })), JSON.parse(JSON.stringify({ ...r32, subgroups: [] })));
  assert.ok(r.discrimination.macroAuroc > 0.5);
  back.calls.forEach((c, k) => assert.is(c, back.probs[k] >= 0.45 ? 1 : 0));
  assert.ok(Number.isNaN(back.observed[back.observed.findIndex((v) => Number.isNaN(v))]));
  assert.ok(back.observed.includes(-1));
});

function card() {
  const inp = fixture(), r = scoreSplit(inp, opts);
  const ch = characteristics({
    splitNames: ['test'], split: new Uint8Array(240), patients: inp.patients, hasImage: inp.hasImage, hasTab: inp.hasTab,
    featureNames: ['age', '<script>x</script>'], present: (i, f) => (i + f) % 3 !== 0, labelNames: LABEL_NAMES, labels: inp.observed,
    attributes: inp.subgroups!,
  });
  return modelCard({
    kind: 'evaluation', modelPath: 'run/model.safetensors', model: { preset: 'tiny', parameters: 42, config: { dim: 32 }, seed: 0, commit: 'abc' },
    data: { dir: 'data/x', sources: ['images: mimic-cxr-jpg 2.1.0'], flow: ['studies kept: 240'] }, characteristics: ch,
    thresholds: { values: [...inp.thresholds], rule: 'max F1' }, temperatures: LABEL_NAMES.map(() => 1.5), split: 'test', missImage: 0, missTab: 0,
    uncertain: 'ignore', report: r,
  });
}

test('model card: every TRIPOD+AI item it tags is a real item, tagged on a section, and listed; the card states what the issue asks', () => {
  const { markdown, items } = card();
  const tagged = new Set<string>();
  for (const m of markdown.matchAll(/^## .*\[TRIPOD\+AI ([^\]]+)\]$/gm)) for (const t of m[1].split(', ')) tagged.add(t);
  const listed = [...markdown.split('## TRIPOD+AI items covered')[1].matchAll(/^- (\w+): /gm)].map((m) => m[1]);
  assert.equal([...tagged].sort(), [...items].sort());
  assert.equal([...listed].sort(), [...items].sort());
  for (const t of items) assert.ok(t in TRIPOD_AI_ITEMS, `${t} is a TRIPOD+AI item`);
  for (const t of ['3b', '5a', '20a', '20b', '12c', '15', '23a', '27a', '26', '12f']) assert.ok(items.includes(t), `tags ${t}`);
  for (const s of ['research use', 'Cohort flow', 'Missingness per table feature', 'NLP labeller', 'Uncertain-label policy', 'masked', 'underdiagnosis', 'Temperatures', 'insurance**: not available']) {
    assert.ok(markdown.toLowerCase().includes(s.toLowerCase()), `card mentions ${s}`);
  }
});

test('HTML: text from the data is escaped, tables keep their alignment', () => {
  const md = card().markdown;
  assert.not.ok(md.includes('<script>'), 'the Markdown holds no raw markup from the data');
  assert.ok(md.includes('| &lt;script&gt;x&lt;/script&gt; |'));
  const html = markdownToHtml(md, 'card <b>');
  assert.not.ok(html.includes('<script>x'));
  assert.ok(html.includes('&lt;script&gt;x&lt;/script&gt;'));
  assert.ok(html.includes('<title>card &lt;b&gt;</title>'));
  assert.ok(/<th style="text-align:left">split<\/th>/.test(html));
  assert.ok(/<td style="text-align:right">240<\/td>/.test(html));
});

test.run();
