import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { METHODS } from '../../src/protocols/methods.ts';
import { LABEL_NAMES } from '../../src/engine/batch.ts';
import {
  CellStore, appendCell, atFloor, fileSafe, heatmapSvg, seriesStyle, writeFigurePngs, pText, htmlReport, linePlotSvg, markdownReport, parseCells, parseResultsCsv, protocolPlotSvg,
  readCells, readResultsCsv, repairCellStore, reportArtifacts, resultsToCsv, summarize, writeReportArtifacts, writeResultsCsv,
  type Comparison, type ResultRow, type StoredCell,
} from '../../src/protocols/index.ts';
import { mulberry32 } from '../../src/engine/rng.ts';

const tmp = mkdtempSync(join(tmpdir(), 'rf-protocols-'));
const L = LABEL_NAMES.length;

/** Rows of a small fake protocol run: methods x levels (full train x test matrix) x seeds. */
function fakeRows(methods = ['proposed', 'late fusion', 'image-only'], levels = [0, 0.5, 1], seeds = [0, 1, 2]): ResultRow[] {
  const r = mulberry32(1);
  const rows: ResultRow[] = [];
  for (const protocol of ['image', 'tabular'] as const) {
    methods.forEach((method, mi) => {
      for (const trainLevel of levels) for (const testLevel of levels) for (const seed of seeds) {
        const base = 0.85 - 0.05 * mi - 0.1 * testLevel * (mi + 1) - 0.02 * Math.abs(trainLevel - testLevel);
        const per = Array.from({ length: L }, () => base + (r() - 0.5) * 0.1);
        per[5] = NaN; // a label with one class in the test set
        rows.push({ method, protocol, trainLevel, testLevel, seed, macroAuroc: base + (r() - 0.5) * 0.01, macroAuprc: r(), macroF1: r(), perLabelAuroc: per });
      }
    });
  }
  return rows;
}

function sameRows(a: ResultRow[], b: ResultRow[]): void {
  assert.is(a.length, b.length);
  a.forEach((x, i) => {
    const y = b[i];
    for (const k of ['method', 'protocol', 'trainLevel', 'testLevel', 'seed', 'macroAuroc', 'macroAuprc', 'macroF1'] as const) {
      assert.ok(Object.is(x[k], y[k]), `row ${i} ${k}: ${x[k]} vs ${y[k]}`);
    }
    x.perLabelAuroc.forEach((v, j) => assert.ok(Object.is(v, y.perLabelAuroc[j]), `row ${i} label ${j}: ${v} vs ${y.perLabelAuroc[j]}`));
  });
}

// ---------------------------------------------------------------------------------------------------------
// CSV

test('CSV round trip is exact (NaN as empty, awkward numbers, quoted method names)', () => {
  const rows = fakeRows();
  rows[0] = { ...rows[0], method: 'early, "imputed"', macroAuroc: 0.1 + 0.2, macroAuprc: 1e-300, macroF1: NaN };
  rows[1] = { ...rows[1], macroAuroc: 5e-324, macroAuprc: -0, perLabelAuroc: rows[1].perLabelAuroc.map((_, j) => (j % 2 ? NaN : 1 / 3)) };
  const text = resultsToCsv(rows);
  const header = text.split('\n')[0];
  assert.ok(header.startsWith('method,protocol,train_level,test_level,seed,macro_auroc,macro_auprc,macro_f1,auroc_Atelectasis,'));
  assert.ok(header.includes('auroc_Enlarged Cardiomediastinum'));
  assert.ok(text.includes('"early, ""imputed"""'));
  const back = parseResultsCsv(text, 'x.csv');
  assert.equal(back.labels, [...LABEL_NAMES]);
  sameRows(back.rows, rows);
  // Through a file, and CRLF line ends read the same.
  const p = join(tmp, 'results.csv');
  writeResultsCsv(p, rows);
  sameRows(readResultsCsv(p).rows, rows);
  sameRows(parseResultsCsv(text.replace(/\n/g, '\r\n')).rows, rows);
  // Columns are found by name: a reordered file reads the same.
  const lines = text.trimEnd().split('\n').map((l) => l);
  const swapped = lines.slice(2).map((l) => { const f = l.split(','); [f[0], f[1]] = [f[1], f[0]]; return f.join(','); });
  const h = lines[0].split(',');
  [h[0], h[1]] = [h[1], h[0]];
  sameRows(parseResultsCsv([h.join(','), ...swapped].join('\n') + '\n').rows, rows.slice(1));
});

test('CSV reader errors name the file and the line', () => {
  const rows = fakeRows(['m'], [0], [0]);
  const good = resultsToCsv(rows).trimEnd().split('\n');
  const bad = (lines: string[], re: RegExp) => {
    try {
      parseResultsCsv(lines.join('\n') + '\n', 'res.csv');
    } catch (e) {
      assert.match((e as Error).message, re);
      return;
    }
    assert.unreachable(`no error for ${re}`);
  };
  bad([good[0], good[1], good[1].replace('image', 'audio')], /^res\.csv:3: protocol/);
  bad([good[0], good[1], good[1] + ',0.5'], /^res\.csv:3: \d+ fields, header has \d+/);
  bad([good[0], good[1], good[1].replace(',0,0,0,', ',0,zero,0,')], /^res\.csv:3: column (train_level|test_level|seed): not a number/);
  bad([good[0], '', good[1]], /^res\.csv:2: empty line/);
  bad([good[0].replace('seed', 'sed'), good[1]], /^res\.csv:1: missing column "seed"/);
  bad([good[0] + ',extra', good[1] + ',1'], /^res\.csv:1: unknown column "extra"/);
  bad([good[0], good[1], '"unterminated,image'], /^res\.csv:3: unterminated quoted field/);
  bad([good[0], good[1], good[1].replace(',0,0,0,', ',1.5,0,0,')], /^res\.csv:3: trainLevel must be in \[0, 1\]/);
  // A quoted field spanning lines: the next record's error reports its own physical line.
  const multi = [good[0], good[1].replace(/^m,/, '"a\nb",'), good[1].replace('image', 'x')];
  bad(multi, /^res\.csv:4: protocol/);
  assert.throws(() => readResultsCsv(join(tmp, 'nope.csv')), /ENOENT/);
  assert.throws(() => parseResultsCsv('', 'e.csv'), /^e\.csv:1: empty file/);
});

// ---------------------------------------------------------------------------------------------------------
// Cell store

function cellOf(rows: ResultRow[], method: string, trainLevel: number, seed: number, protocol: 'image' | 'tabular' = 'image'): StoredCell {
  return {
    method, protocol, trainLevel, seed,
    rows: rows.filter((r) => r.method === method && r.protocol === protocol && r.trainLevel === trainLevel && r.seed === seed),
    predictions: [{ testLevel: trainLevel, probs: [0.25, 0.5, 1 / 3] }],
    meta: { epochs: 2, note: 'x' },
  };
}

test('cell store: append, resume in a new store, exact round trip, NaN kept', () => {
  const rows = fakeRows();
  const path = join(tmp, 'cells.jsonl');
  const s = new CellStore(path);
  assert.equal(s.cells(), []);
  const c1 = cellOf(rows, 'proposed', 0, 0), c2 = cellOf(rows, 'late fusion', 0.5, 1);
  assert.ok(!s.has(c1));
  s.append(c1);
  assert.ok(s.has(c1));
  assert.throws(() => s.append(c1), /already stored/);
  // An interrupted run: a fresh store sees what was stored and continues.
  const resumed = new CellStore(path);
  assert.ok(resumed.has({ method: 'proposed', protocol: 'image', trainLevel: 0, seed: 0 }));
  assert.ok(!resumed.has(c2));
  resumed.append(c2);
  const back = readCells(path);
  assert.is(back.length, 2);
  sameRows(back[0].rows, c1.rows);
  sameRows(back[1].rows, c2.rows);
  assert.ok(back[0].rows.every((r) => Number.isNaN(r.perLabelAuroc[5])));
  assert.equal(back[0].predictions, c1.predictions);
  assert.equal(back[0].meta, c1.meta);
  sameRows(new CellStore(path).rows(), [...c1.rows, ...c2.rows]);
});

test('cell store: corrupt, duplicate and torn lines are errors naming the line; repair removes a torn tail', () => {
  const rows = fakeRows();
  const path = join(tmp, 'bad.jsonl');
  writeFileSync(path, '');
  appendCell(path, cellOf(rows, 'proposed', 0, 0));
  appendCell(path, cellOf(rows, 'proposed', 0.5, 0));
  const good = readFileSync(path, 'utf8');
  const lines = good.trimEnd().split('\n');
  assert.throws(() => parseCells(`${lines[0]}\n{"method":\n${lines[1]}\n`, 'c.jsonl'), /^c\.jsonl:2: corrupt cell/);
  assert.throws(() => parseCells(`${lines[0]}\n\n${lines[1]}\n`, 'c.jsonl'), /^c\.jsonl:2: corrupt cell/);
  assert.throws(() => parseCells(`${lines[0]}\n${lines[1]}\n${lines[0]}\n`, 'c.jsonl'), /^c\.jsonl:3: duplicate cell .* first stored at line 1/);
  assert.throws(() => parseCells(`${lines[0]}\n${lines[1].replace('"protocol":"image"', '"protocol":"audio"')}\n`, 'c.jsonl'), /^c\.jsonl:2: corrupt cell: protocol/);
  // A row of another cell inside a cell.
  const wrong = JSON.parse(lines[1]);
  wrong.rows[0].seed = 7;
  assert.throws(() => parseCells(`${lines[0]}\n${JSON.stringify(wrong)}\n`, 'c.jsonl'), /^c\.jsonl:2: corrupt cell: rows\[0\] belongs to cell/);
  // An interrupted append: a torn last line is reported, appending after it refused, repair removes it.
  appendFileSync(path, lines[1].slice(0, 40));
  assert.throws(() => readCells(path), new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3: torn last line`));
  assert.throws(() => new CellStore(path), /torn last line/);
  assert.throws(() => appendCell(path, cellOf(rows, 'proposed', 1, 0)), /torn last line/);
  assert.equal(repairCellStore(path), { line: 3, text: lines[1].slice(0, 40) });
  assert.is(repairCellStore(path), null);
  assert.is(readCells(path).length, 2);
  // The store never writes what it could not read back.
  assert.throws(() => appendCell(path, { ...cellOf(rows, 'proposed', 1, 0), seed: 3 }), /belongs to cell/);
  assert.is(readFileSync(path, 'utf8'), good);
});

// ---------------------------------------------------------------------------------------------------------
// Markdown, SVG, HTML

const comparisons: Comparison[] = [
  { protocol: 'image', level: 0, proposed: 'proposed', method: 'late fusion', diff: 0.05, lo: 0.02, hi: 0.08, p: 0.004 },
  { protocol: 'image', level: 1, proposed: 'proposed', method: 'late fusion', diff: 0.2, lo: 0.1, hi: 0.3, p: 0.001 },
  { protocol: 'image', level: 0, proposed: 'proposed', method: 'image-only', diff: 0.01, lo: -0.02, hi: 0.04, p: 0.4 },
];

test('Markdown: level table with mean ± std, best per level in bold; AUC; Holm-adjusted significance', () => {
  const rows = fakeRows();
  const md = markdownReport({ rows, proposed: 'proposed', comparisons, title: 'Run' });
  assert.ok(md.startsWith('# Run\n'));
  const sect = md.split('## ')[1];
  assert.match(sect, /^Protocol "image"/);
  const table = sect.split('\n').filter((l) => l.startsWith('| '));
  assert.equal(table[0], '| method | 0.00 | 0.50 | 1.00 |');
  const s = summarize(rows).filter((x) => x.protocol === 'image' && x.trainLevel === x.testLevel);
  for (const level of [0, 0.5, 1]) {
    const at = s.filter((x) => x.testLevel === level);
    const best = at.reduce((a, b) => (b.mean > a.mean ? b : a));
    const col = [0, 0.5, 1].indexOf(level) + 2;
    assert.match(table[1], /^\| :--- \| ---: \|/); // text column left, numbers right
    for (const line of table.slice(2, 5)) {
      const cells = line.split(' | ').map((c) => c.replace(/^\| /, '').replace(/ \|$/, ''));
      const method = cells[0];
      const m = at.find((x) => x.method === method)!;
      const cell = line.split('|')[col].trim();
      assert.is(cell.startsWith('**'), method === best.method, `level ${level} ${method}: ${cell}`);
      assert.ok(cell.replace(/\*/g, '') === `${m.mean.toFixed(3)} ± ${m.std.toFixed(3)}`, cell);
    }
  }
  assert.match(md, /Area under the degradation curve/);
  assert.match(md, /\| proposed \| \d\.\d{3} ± \d\.\d{3} \|/);
  // Holm over the 3 image comparisons: 0.001*3 = 0.003, 0.004*2 = 0.008, 0.4*1 = 0.4
  assert.match(md, /\| late fusion \| 1\.00 \| 0\.200 \| \[0\.100, 0\.300\] \| 0\.001 \| \*\*0\.003\*\* \|/);
  assert.match(md, /\| late fusion \| 0\.00 \| 0\.050 \| \[0\.020, 0\.080\] \| 0\.004 \| \*\*0\.008\*\* \|/);
  assert.match(md, /\| image-only \| 0\.00 \| 0\.010 \| \[-0\.020, 0\.040\] \| 0\.400 \| 0\.400 \|/);
  assert.match(md, /\| train \\\\ test \| 0\.00 \| 0\.50 \| 1\.00 \|/);
  assert.match(md, /## Protocol "tabular"/);
});

test('Markdown escapes method names; ties at the shown precision are all bold', () => {
  const rows = fakeRows(['a|b', 'c'], [0], [0]).map((r) => ({ ...r, macroAuroc: 0.8 }));
  const md = markdownReport({ rows, proposed: 'c', protocols: ['image'] });
  assert.match(md, /\| c \| \*\*0\.800\*\* \|/);
  assert.match(md, /\| a\\\|b \| \*\*0\.800\*\* \|/);
});

/** Tiny XML well-formedness check: balanced tags, attributes quoted, one root. Returns the tag names seen. */
function checkXml(s: string): string[] {
  const stack: string[] = [], names: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->|<(?![/A-Za-z!])/g;
  let m: RegExpExecArray | null, roots = 0, last = 0;
  while ((m = re.exec(s))) {
    const between = s.slice(last, m.index);
    assert.not.match(between, /[<>]/, `stray markup near ${JSON.stringify(s.slice(last, last + 60))}`);
    last = re.lastIndex;
    if (!m[2]) assert.unreachable(`bare '<' at ${m.index}`);
    if (m[1]) {
      assert.is(stack.pop(), m[2], `closing </${m[2]}>`);
    } else {
      names.push(m[2]);
      if (stack.length === 0) roots++;
      if (!m[4]) stack.push(m[2]);
    }
  }
  assert.not.match(s.slice(last), /[<>]/);
  assert.equal(stack, [], 'unclosed tags');
  assert.is(roots, 1);
  return names;
}

test('line plot SVG: well-formed, viewBox, one path per method, bands, legend, deterministic', () => {
  const rows = fakeRows();
  const svg = protocolPlotSvg(summarize(rows), 'image');
  const names = checkXml(svg.trim());
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 \d+ \d+"/);
  assert.is(names.filter((n) => n === 'path').length, 3);
  assert.is((svg.split('<g class="bands">')[1].split('</g>')[0].match(/<polygon /g) ?? []).length, 3);
  // The band is captioned: what it is, over how many seeds.
  assert.match(svg, /<text class="caption"[^>]*>Lines: mean over seeds; shaded band: mean ± 1 standard deviation over 3 seeds/);
  assert.match(svg, /image missing rate/);
  assert.match(svg, />macro AUROC</);
  for (const m of ['proposed', 'late fusion', 'image-only']) assert.ok(svg.includes(`>${m}<`), m);
  assert.is(protocolPlotSvg(summarize(fakeRows()), 'image'), svg);
  // Every coordinate in the drawing is written with two decimals.
  for (const d of svg.match(/ d="[^"]*"/g)!) assert.match(d, /^ d="M\d+\.\d\d \d+\.\d\d( L\d+\.\d\d \d+\.\d\d)*"$/);
  // Escaped names, NaN points skipped, a lone point with no std.
  const odd = linePlotSvg({
    title: 'a <b> & "c"', xLabel: 'x', yLabel: 'y',
    series: [{ name: '<script>alert(1)</script>', points: [{ x: 0, mean: 0.7, std: NaN }, { x: 0.5, mean: NaN, std: 0.1 }] }, { name: 'flat', points: [{ x: 0, mean: 0.6, std: 0 }, { x: 1, mean: 0.6, std: 0 }] }],
  });
  checkXml(odd.trim());
  assert.not.match(odd, /<script>/);
  assert.ok(odd.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
});

test('heatmap SVG: well-formed, one cell per matrix entry with its value, deterministic', () => {
  const o = { title: 'P & Q', rowLevels: [0, 0.5, 1], colLevels: [0, 0.5, 1], values: [[0.9, 0.8, 0.7], [0.85, 0.82, 0.75], [0.8, 0.79, NaN]] };
  const svg = heatmapSvg(o);
  const names = checkXml(svg.trim());
  assert.match(svg, /viewBox="0 0 \d+ \d+"/);
  assert.ok(names.filter((n) => n === 'rect').length >= 9);
  for (const v of ['0.900', '0.820', '0.790', 'n/a']) assert.ok(svg.includes(`>${v}<`), v);
  assert.ok(svg.includes('P &amp; Q'));
  assert.is(heatmapSvg(o), svg);
  assert.throws(() => heatmapSvg({ ...o, values: [[1]] }), /values must be 3 x 3/);
});

test('HTML report: self-contained, holds tables and plots, escapes text; artefacts written', () => {
  const rows = fakeRows(['proposed', '<script>alert("x")</script>']);
  const html = htmlReport({ rows, proposed: 'proposed', comparisons: comparisons.slice(0, 1).map((c) => ({ ...c, method: rows[30].method })), notes: ['npm run stress -- --quick & <b>'], tables: [{ title: 'Dropout grid', header: ['p_image', 'val AUROC'], rows: [['0.25', '0.81']] }] });
  assert.match(html, /^<!DOCTYPE html>/);
  assert.not.match(html, /<script/i);
  assert.not.match(html, /\b(src|href)=/);
  assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'));
  assert.ok(html.includes('npm run stress -- --quick &amp; &lt;b&gt;'));
  // Per protocol: levels, AUC, and each of the 2 methods' train x test matrix; significance for image only; the grid.
  assert.is((html.match(/<table>/g) ?? []).length, 2 * (2 + 2) + 1 + 1);
  // Per protocol: AUROC and AUPRC curves, 14 per-label panels and a legend panel in one figure, a heatmap per method (2).
  assert.is((html.match(/<svg /g) ?? []).length, 2 * (2 + 1 + 15 + 2));
  assert.is((html.match(/<figcaption>/g) ?? []).length, 2 * (2 + 1 + 2));
  assert.match(html, /<figcaption>Macro AUROC as the image missing rate rises in training and test\. Lines: mean over seeds; shaded band: mean ± 1 standard deviation over 3 seeds/);
  // Text columns left-aligned (no class), number columns right-aligned (class num).
  assert.match(html, /<thead><tr><th>method<\/th><th class="num">0\.00<\/th>/);
  assert.match(html, /<strong>\d\.\d{3} ± \d\.\d{3}<\/strong>/);
  assert.ok(html.includes('<caption>Dropout grid</caption>'));
  // The body (after the doctype) is well-formed apart from void elements, which checkXml does not know.
  checkXml(html.replace('<!DOCTYPE html>\n', '').replace('<meta charset="utf-8">', '<meta charset="utf-8"/>'));
  assert.is(htmlReport({ rows, proposed: 'proposed' }), htmlReport({ rows, proposed: 'proposed' }));
  // Artefacts.
  const dir = join(tmp, 'out');
  const written = writeReportArtifacts(dir, { rows, proposed: 'proposed' });
  const evil = fileSafe(rows[30].method);
  assert.is(evil, '_script_alert__x____script_');
  assert.equal(written.map((p) => p.slice(dir.length + 1)), ['results.csv', 'summary.md', 'report.html',
    ...['image', 'tabular'].flatMap((p) => [`plot-${p}.svg`, `plot-${p}-auprc.svg`, `labels-${p}.svg`, `heatmap-${p}-proposed.svg`, `heatmap-${p}-${evil}.svg`])]);
  sameRows(readResultsCsv(join(dir, 'results.csv')).rows, rows);
  assert.is(readFileSync(join(dir, 'plot-image.svg'), 'utf8'), reportArtifacts({ rows, proposed: 'proposed' })[3].text);
});

test('every method has its own (colour, marker, dash); the ten methods of the protocols all differ', () => {
  const key = (i: number) => JSON.stringify(seriesStyle(i));
  assert.is(new Set(Array.from({ length: 90 }, (_, i) => key(i))).size, 90);
  assert.is(new Set(METHODS.map((_, i) => key(i))).size, METHODS.length);
  // The series drawn with the first colour again (the tenth) differs in marker and dash.
  const [a, b] = [seriesStyle(0), seriesStyle(9)];
  assert.is(a.colour, b.colour);
  assert.ok(a.marker !== b.marker && a.dash !== b.dash);
  const svg = protocolPlotSvg(summarize(fakeRows(METHODS as unknown as string[], [0, 1], [0, 1])), 'image');
  const dashes = [...svg.split('<g class="lines">')[1].split('<g class="legend">')[0].matchAll(/<path [^>]*>/g)].map((m) => /stroke-dasharray="([^"]*)"/.exec(m[0])?.[1] ?? '');
  assert.is(dashes.length, METHODS.length);
  assert.equal(dashes, METHODS.map((_, i) => seriesStyle(i).dash));
});

test('p-values at the bootstrap floor print as a bound, and their Holm adjustment too', () => {
  const B = 1999, floor = 2 / (B + 1);
  assert.ok(atFloor(floor, B));
  assert.not.ok(atFloor(floor * 1.5, B));
  assert.not.ok(atFloor(floor, undefined));
  const comps: Comparison[] = [
    { protocol: 'image', level: 0, proposed: 'proposed', method: 'late fusion', diff: 0.2, lo: 0.1, hi: 0.3, p: floor, replicates: B },
    { protocol: 'image', level: 1, proposed: 'proposed', method: 'late fusion', diff: 0.1, lo: 0.02, hi: 0.2, p: 0.02, replicates: B },
    { protocol: 'image', level: 0, proposed: 'proposed', method: 'image-only', diff: 0.2, lo: 0.1, hi: 0.3, p: floor, replicates: B },
  ];
  const md = markdownReport({ rows: fakeRows(), proposed: 'proposed', comparisons: comps });
  // Holm over 3: the two floor values 2/2000 = 0.001 -> 3 x 0.001 = 0.003 (then the max so far: 0.003; both
  // bounds), 0.02 -> max(0.003, 1 x 0.02) = 0.02, an estimate.
  assert.match(md, /\| late fusion \| 0\.00 \| 0\.200 \| \[0\.100, 0\.300\] \| ≤ 0\.001 \| \*\*≤ 0\.003\*\* \|/);
  assert.match(md, /\| image-only \| 0\.00 \| 0\.200 \| \[0\.100, 0\.300\] \| ≤ 0\.001 \| \*\*≤ 0\.003\*\* \|/);
  assert.match(md, /\| late fusion \| 1\.00 \| 0\.100 \| \[0\.020, 0\.200\] \| 0\.020 \| \*\*0\.020\*\* \|/);
  assert.match(md, /bootstrap floor 2\/\(B\+1\) with B = 1999 replicates/);
  assert.is(pText(0.5), '0.500');
  assert.is(pText(NaN), 'n/a');
});

test('figures: AUPRC curves and per-finding panels; each SVG also a 300-dpi PNG', async () => {
  const rows = fakeRows();
  const files = reportArtifacts({ rows, proposed: 'proposed' });
  const pr = files.find((f) => f.name === 'plot-image-auprc.svg')!.text;
  assert.match(pr, />macro AUPRC</);
  const panels = files.find((f) => f.name === 'labels-image.svg')!.text;
  checkXml(panels.trim());
  for (const l of LABEL_NAMES) assert.ok(panels.includes(`>${l}<`), l);
  const dir = join(tmp, 'png');
  const svgs = writeReportArtifacts(dir, { rows, proposed: 'proposed', protocols: ['image'] }).filter((p) => p.endsWith('.svg'));
  const { written, error } = await writeFigurePngs(dir, svgs);
  assert.is(error, undefined);
  assert.is(written.length, svgs.length);
  const sharp = createRequire(import.meta.url)('sharp') as (b: Buffer) => { metadata(): Promise<{ width: number; height: number; format: string; density?: number }> };
  const meta = await sharp(readFileSync(join(dir, 'plot-image.png'))).metadata();
  const vb = /viewBox="0 0 (\d+) (\d+)"/.exec(readFileSync(join(dir, 'plot-image.svg'), 'utf8'))!;
  assert.is(meta.format, 'png');
  assert.is(meta.density, 300);
  assert.is(meta.width, Math.round((Number(vb[1]) * 300) / 96));
  assert.is(meta.height, Math.round((Number(vb[2]) * 300) / 96));
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
