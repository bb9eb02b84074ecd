/**
 * Rendering of an evaluation: Markdown tables of a SplitReport, the reliability diagram as SVG, and the small
 * Markdown-to-HTML conversion the reports and the model card use (headings, paragraphs, bullet lists, pipe
 * tables, `code`, **bold**; every text escaped, so a feature or group name from the data cannot inject
 * markup). No Node.js API.
 */
import type { Interval } from './bootstrap.ts';
import type { CalibrationResult } from './calibration.ts';
import { ECE_BINS } from './calibration.ts';
import type { GroupRow, SplitReport } from './report.ts';

/** A number with d decimals, '-' when undefined. */
export function fmt(x: number | undefined, d = 3): string {
  return x !== undefined && Number.isFinite(x) ? x.toFixed(d) : '-';
}

/** "0.812 (0.790-0.833)". */
export function fmtCI(i: Interval | undefined, d = 3): string {
  return i ? `${fmt(i.estimate, d)} (${fmt(i.lo, d)}-${fmt(i.hi, d)})` : '-';
}

/** Escape a table cell: a pipe would split it, and markup from the data (a feature or group name) is entities. */
function cell(s: string | number): string {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** A Markdown pipe table; text columns (all but numbers) left-aligned, number columns right-aligned. */
export function mdTable(head: string[], rows: (string | number)[][], numeric: boolean[] = head.map(() => false)): string[] {
  return [
    `| ${head.map(cell).join(' | ')} |`,
    `| ${numeric.map((n) => (n ? '---:' : ':---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
}

function groupRows(rows: GroupRow[]): (string | number)[][] {
  return rows.map((g) => g.status === 'ok'
    ? [g.group, g.studies, g.patients, fmtCI(g.macroAuroc), fmt(g.macroAuprc), fmt(g.brier), g.underdiagnosis ? fmtCI(g.underdiagnosis) : '-']
    : [g.group, g.studies, g.patients, `withheld: too small (< minimum)`, '', '', '']);
}

const GROUP_HEAD = ['group', 'studies', 'patients', 'macro AUROC (95% CI)', 'macro AUPRC', 'macro Brier', 'underdiagnosis rate (95% CI)'];
const GROUP_NUM = [false, true, true, true, true, true, true];

/** The discrimination section: per-label and macro, with CIs. */
export function discriminationMd(r: SplitReport): string[] {
  const d = r.discrimination;
  const rows = r.labels.map((l, j) => [l, d.count[j], d.positives[j], fmtCI(r.aurocCI[j]), fmt(d.auprc[j]), fmt(d.f1[j]), fmt(d.thresholds[j], 4)]);
  rows.push(['macro', '', '', fmtCI(r.macroAurocCI), fmt(d.macroAuprc), fmt(d.macroF1), '']);
  return mdTable(['finding', 'observed', 'positive', 'AUROC (95% CI)', 'AUPRC', 'F1', 'threshold'], rows, [false, true, true, true, true, true, true]);
}

/** The calibration section: per label and macro, after and (when calibrated) before temperature scaling. */
export function calibrationMd(r: SplitReport): string[] {
  const one = (c: CalibrationResult, j: number) => {
    const x = c.perLabel[j];
    return [fmt(x.brier, 4), fmt(x.ece, 4), fmt(x.intercept), fmt(x.slope)];
  };
  const before = r.calibrationBefore;
  const head = ['finding', 'Brier', 'ECE', 'intercept', 'slope', ...(before ? ['Brier before', 'ECE before', 'intercept before', 'slope before'] : [])];
  const rows = r.labels.map((l, j) => [l, ...one(r.calibration, j), ...(before ? one(before, j) : [])]);
  const m = (c: CalibrationResult) => [fmt(c.macro.brier, 4), fmt(c.macro.ece, 4), fmt(c.macro.intercept), fmt(c.macro.slope)];
  rows.push(['macro', ...m(r.calibration), ...(before ? m(before) : [])]);
  return mdTable(head, rows, head.map((_, k) => k > 0));
}

/** Group tables: availability pattern, table-feature quartiles, each subgroup attribute. */
export function groupsMd(title: string, rows: GroupRow[]): string[] {
  return [`**${title}**`, '', ...mdTable(GROUP_HEAD, groupRows(rows), GROUP_NUM)];
}

/** The subgroup section: one table per attribute, or "not available" with the reason. */
export function subgroupsMd(r: SplitReport): string[] {
  const out: string[] = [];
  for (const s of r.subgroups) {
    if (!s.available) out.push(`**${s.attribute}**: not available (${s.reason ?? 'not in the data'}).`, '');
    else out.push(...groupsMd(s.attribute, s.rows), '');
  }
  return out;
}

/** The whole evaluation of one split as Markdown (without a title: the caller adds its own). */
export function splitReportMd(r: SplitReport, reliabilityImage?: string): string[] {
  const b = r.bootstrap;
  return [
    `${r.studies} studies of ${r.patients} patients. 95% confidence intervals are percentile intervals of ${b.replicates} patient-level bootstrap replicates (seed ${b.seed}); groups with fewer than ${b.minGroup} studies are withheld.`,
    '',
    '### Discrimination',
    '',
    ...discriminationMd(r),
    '',
    '### Calibration',
    '',
    `Brier score; ECE over ${ECE_BINS} equal-mass bins; calibration intercept = calibration-in-the-large (logistic model with logit(p) as offset; ideal 0); calibration slope = coefficient of logit(p) in a logistic regression of the label on logit(p) (ideal 1) (Van Calster et al. 2019).${r.calibrationBefore ? ' "before" columns: the probabilities before temperature scaling.' : ' The probabilities are not temperature-scaled (the checkpoint has no temperatures).'}`,
    '',
    ...calibrationMd(r),
    '',
    ...(reliabilityImage ? [`![Reliability diagram](${reliabilityImage})`, ''] : []),
    '### By availability of the inputs',
    '',
    ...groupsMd('availability pattern (as the data came, after any injected missingness)', r.availability),
    '',
    ...groupsMd('number of table features present (quartiles)', r.tableFeatures),
    '',
    '### Subgroups',
    '',
    'Underdiagnosis rate: among studies with a finding (No Finding observed negative), the fraction called "No Finding" at its validation threshold (the false-positive rate of No Finding; Seyyed-Kalantari et al. 2021).',
    '',
    ...subgroupsMd(r),
  ];
}

/** Escape text for HTML; the entities the Markdown already holds (its escaped cells) are kept as they are. */
function esc(s: string): string {
  return s.replace(/&(?!(?:amp|lt|gt|quot);)/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Inline Markdown (after escaping): `code`, **bold**, and images/links whose target is a plain file name. */
function inline(s: string): string {
  return esc(s)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/!\[([^\]]*)\]\(([\w.-]+)\)/g, '<img alt="$1" src="$2">');
}

function splitRow(line: string): string[] {
  const inner = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  const out: string[] = [];
  let cur = '';
  for (let k = 0; k < inner.length; k++) {
    if (inner[k] === '\\' && inner[k + 1] === '|') { cur += '|'; k++; } else if (inner[k] === '|') { out.push(cur.trim()); cur = ''; } else cur += inner[k];
  }
  out.push(cur.trim());
  return out;
}

/** The Markdown subset these reports write, as an HTML document with `title`. */
export function markdownToHtml(md: string, title: string): string {
  const lines = md.split('\n'), out: string[] = [];
  let k = 0;
  while (k < lines.length) {
    const l = lines[k];
    const h = /^(#{1,4}) (.*)$/.exec(l);
    if (h) { out.push(`<h${h[1].length}>${inline(h[2])}</h${h[1].length}>`); k++; continue; }
    if (l.startsWith('|')) {
      const rows: string[][] = [];
      let align: string[] = [];
      while (k < lines.length && lines[k].startsWith('|')) {
        const r = splitRow(lines[k]);
        if (rows.length === 1 && r.every((c) => /^:?-+:?$/.test(c))) align = r.map((c) => (c.endsWith(':') && !c.startsWith(':') ? 'right' : 'left'));
        else rows.push(r);
        k++;
      }
      const td = (t: string, c: string, j: number) => `<${t} style="text-align:${align[j] ?? 'left'}">${inline(c)}</${t}>`;
      out.push('<table>', `<tr>${rows[0].map((c, j) => td('th', c, j)).join('')}</tr>`, ...rows.slice(1).map((r) => `<tr>${r.map((c, j) => td('td', c, j)).join('')}</tr>`), '</table>');
      continue;
    }
    if (/^- /.test(l)) {
      out.push('<ul>');
      while (k < lines.length && /^- /.test(lines[k])) out.push(`<li>${inline(lines[k++].slice(2))}</li>`);
      out.push('</ul>');
      continue;
    }
    if (l.startsWith('<svg') ) { // an SVG this module rendered (reliabilitySvg), embedded as is
      const a = k;
      while (k < lines.length && !lines[k].startsWith('</svg>')) k++;
      out.push(...lines.slice(a, ++k));
      continue;
    }
    if (l.trim() === '') { k++; continue; }
    const para: string[] = [];
    while (k < lines.length && lines[k].trim() !== '' && !/^(#{1,4} |\||- |<svg)/.test(lines[k])) para.push(lines[k++]);
    out.push(`<p>${inline(para.join(' '))}</p>`);
  }
  return ['<!doctype html>', '<html lang="en"><head><meta charset="utf-8">', `<title>${esc(title)}</title>`,
    '<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}table{border-collapse:collapse;margin:0.5em 0}th,td{border:1px solid #ccc;padding:2px 6px;font-size:13px}code{background:#f3f3f3}</style>',
    '</head><body>', ...out, '</body></html>', ''].join('\n');
}

/**
 * The reliability diagram of every label as SVG small multiples: each equal-mass bin a point at (mean predicted,
 * observed fraction) with its count printed beside it, the diagonal for reference; one panel per finding.
 */
export function reliabilitySvg(c: CalibrationResult, caption: string): string {
  const cols = 5, W = 200, H = 200, pad = 30, rowsN = Math.ceil(c.labels.length / cols);
  const w = cols * W, h = rowsN * H + 40;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="9">`];
  parts.push(`<rect width="${w}" height="${h}" fill="white"/>`);
  c.labels.forEach((label, j) => {
    const ox = (j % cols) * W + pad, oy = Math.floor(j / cols) * H + 15, s = W - pad - 10;
    const X = (p: number) => (ox + p * s).toFixed(1), Y = (p: number) => (oy + s - p * s).toFixed(1);
    parts.push(`<text x="${ox}" y="${oy - 3}" font-size="10" text-anchor="start">${esc(label)}</text>`);
    parts.push(`<rect x="${ox}" y="${oy}" width="${s}" height="${s}" fill="none" stroke="#999"/>`);
    parts.push(`<line x1="${X(0)}" y1="${Y(0)}" x2="${X(1)}" y2="${Y(1)}" stroke="#bbb" stroke-dasharray="3,3"/>`);
    const bins = c.perLabel[j].bins;
    if (bins.length) parts.push(`<polyline fill="none" stroke="#0072B2" points="${bins.map((b) => `${X(b.meanPredicted)},${Y(b.observed)}`).join(' ')}"/>`);
    for (const b of bins) {
      parts.push(`<circle cx="${X(b.meanPredicted)}" cy="${Y(b.observed)}" r="2.5" fill="#0072B2"/>`);
      parts.push(`<text x="${X(b.meanPredicted)}" y="${(Number(Y(b.observed)) - 4).toFixed(1)}" font-size="7" fill="#555" text-anchor="middle">${b.count}</text>`);
    }
    parts.push(`<text x="${ox}" y="${oy + s + 10}" font-size="8" text-anchor="start">predicted 0-1 (x), observed (y)</text>`);
  });
  parts.push(`<text x="10" y="${h - 12}" font-size="10" text-anchor="start">${esc(caption)}</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}
