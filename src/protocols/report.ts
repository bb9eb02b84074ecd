/**
 * Reports of protocol results: a Markdown summary and one self-contained HTML page (tables and inline SVG
 * plots, every text escaped, no external asset), plus the list of artefact files a protocol run writes.
 * Pure functions of the stored rows and the significance tests; `writeReportArtifacts` is the thin writer.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { LABEL_NAMES } from '../engine/batch.ts';
import { writeFileAtomic } from '../node/files.ts';
import { bandCaption, escapeXml, fixed, legendSvg, levelMatrix, matrixHeatmapSvg, panelsSvg, protocolModality, protocolPlotSvg } from './plot.ts';
import { resultsToCsv, type Protocol, type ResultRow } from './results.ts';
import { degradationAucs, summarize, withHolm, type Comparison, type CurveAuc, type SummaryRow } from './stats.ts';

export interface ReportInput {
  rows: readonly ResultRow[];
  /** The proposed method: compared against the others, its train x test matrix shown. */
  proposed: string;
  /** Significance tests (proposed vs another method at a level), raw p-values; Holm is applied here per protocol. */
  comparisons?: readonly Comparison[];
  /** Method display order (default: proposed first, then order of first appearance). */
  methods?: string[];
  /** Protocols to report (default: those present, image first). */
  protocols?: Protocol[];
  title?: string;
  /** Decimals of metric values (default 3). */
  digits?: number;
  /** Confidence level of the comparisons' intervals, for the column header (default 95). */
  ciPercent?: number;
  /** Further tables, e.g. the validation grid that chose the dropout rates; shown after the protocols. */
  tables?: ReportTable[];
  /** Paragraphs of plain text shown under the title (e.g. the command that made the run). */
  notes?: string[];
  /** Label names of the per-label CSV columns (default the 14 CheXpert findings). */
  labels?: readonly string[];
}

/** A free table: plain-text header and cells (escaped when rendered). */
export interface ReportTable {
  title: string;
  header: string[];
  rows: string[][];
}

// ---------------------------------------------------------------------------------------------------------
// The model of a report, shared by the Markdown and HTML renderers

/** A table cell: text, and whether it is emphasized (best per level). */
interface Cell {
  text: string;
  bold?: boolean;
}

interface Table {
  title: string;
  header: string[];
  rows: Cell[][];
}

/** One figure of a report: its file name (without .svg), the SVG, and its caption. */
export interface Figure {
  name: string;
  svg: string;
  caption: string;
}

interface ProtocolSection {
  protocol: Protocol;
  heading: string;
  tables: Table[];
  /** Macro AUROC curves, macro AUPRC curves, per-label AUROC panels, then each method's train x test heatmap. */
  figures: Figure[];
}

const PM = '±';

function levelText(l: number): string {
  return fixed(l, 2);
}

function meanStdText(s: { mean: number; std: number } | undefined, d: number): string {
  if (!s || Number.isNaN(s.mean)) return 'n/a';
  return Number.isNaN(s.std) ? fixed(s.mean, d) : `${fixed(s.mean, d)} ${PM} ${fixed(s.std, d)}`;
}

/** Whether p is the bootstrap floor 2/(B+1) of B replicates (no replicate difference crossed 0). */
export function atFloor(p: number, replicates: number | undefined): boolean {
  return replicates !== undefined && replicates > 0 && p <= (2 / (replicates + 1)) * (1 + 1e-9);
}

/**
 * A p-value as text. One at the bootstrap floor (the smallest p the test can give, 2/(B+1)) is a bound, not an
 * estimate: printed as `≤ 2/(B+1)` (e.g. `≤ 0.0010`); `bound` (a Holm-adjusted value whose raw p was at the
 * floor) prints the same way, as the bound it is.
 */
export function pText(p: number | undefined, bound = false): string {
  if (p === undefined || Number.isNaN(p)) return 'n/a';
  const v = p < 0.001 ? p.toExponential(1) : fixed(p, 3);
  return bound ? `≤ ${v}` : v;
}

function methodOrder(inp: ReportInput): string[] {
  if (inp.methods) return inp.methods;
  const seen = [...new Set(inp.rows.map((r) => r.method))];
  return seen.includes(inp.proposed) ? [inp.proposed, ...seen.filter((m) => m !== inp.proposed)] : seen;
}

function protocolSections(inp: ReportInput): ProtocolSection[] {
  const d = inp.digits ?? 3;
  const summary = summarize(inp.rows);
  const aucs = degradationAucs(inp.rows);
  const comps = withHolm(inp.comparisons ?? []);
  const present = new Set(inp.rows.map((r) => r.protocol));
  const protocols = inp.protocols ?? (['image', 'tabular'] as Protocol[]).filter((p) => present.has(p));
  const methods = methodOrder(inp);
  return protocols.map((protocol) => {
    const diag = summary.filter((s) => s.protocol === protocol && s.trainLevel === s.testLevel);
    const levels = [...new Set(diag.map((s) => s.testLevel))].sort((a, b) => a - b);
    const pm = methods.filter((m) => diag.some((s) => s.method === m));
    const get = (m: string, l: number): SummaryRow | undefined => diag.find((s) => s.method === m && s.testLevel === l);
    const seeds = Math.max(0, ...diag.map((s) => s.seeds.length));
    // Best per level: highest mean as displayed (ties at the shown precision are all marked).
    const best = levels.map((l) => {
      const shown = pm.map((m) => get(m, l)).filter((s) => s && !Number.isNaN(s.mean)).map((s) => fixed(s!.mean, d));
      return shown.length ? Math.max(...shown.map(Number)) : NaN;
    });
    const mod = protocolModality(protocol);
    const main: Table = {
      title: `Macro AUROC, mean ${PM} std over ${seeds} seed${seeds === 1 ? '' : 's'}, ${mod} missing rate in training = in test (best per level in bold)`,
      header: ['method', ...levels.map(levelText)],
      rows: pm.map((m) => [
        { text: m },
        ...levels.map((l, k) => {
          const s = get(m, l);
          return { text: meanStdText(s, d), bold: !!s && !Number.isNaN(s.mean) && Number(fixed(s.mean, d)) === best[k] };
        }),
      ]),
    };
    const pa = aucs.filter((a) => a.protocol === protocol);
    const aucTable: Table = {
      title: `Area under the degradation curve (trapezoid over levels ${levels.length ? `${levelText(levels[0])}..${levelText(levels[levels.length - 1])}` : ''}, divided by the span; mean ${PM} std over seeds)`,
      header: ['method', 'AUC'],
      rows: pm.map((m) => {
        const a: CurveAuc | undefined = pa.find((x) => x.method === m);
        return [{ text: m }, { text: meanStdText(a, d) }];
      }),
    };
    const tables = [main, aucTable];
    const pc = comps.filter((c) => c.protocol === protocol)
      .sort((a, b) => methods.indexOf(a.method) - methods.indexOf(b.method) || a.level - b.level);
    if (pc.length) {
      const ci = inp.ciPercent ?? 95;
      tables.push({
        title: `${inp.proposed} vs each method: paired patient-level bootstrap of the macro AUROC difference; p-values Holm-adjusted over the ${pc.length} comparisons of this protocol`,
        header: ['method', 'level', `difference (${inp.proposed} - method)`, `${ci}% CI`, 'p', 'p (Holm)'],
        rows: pc.map((c) => {
          const floor = atFloor(c.p, c.replicates);
          return [
            { text: c.method }, { text: levelText(c.level) }, { text: fixed(c.diff, d) },
            { text: `[${fixed(c.lo, d)}, ${fixed(c.hi, d)}]` }, { text: pText(c.p, floor) }, { text: pText(c.pHolm, floor), bold: (c.pHolm ?? 1) < 0.05 },
          ];
        }),
      });
      const B = [...new Set(pc.map((c) => c.replicates).filter((b) => b !== undefined))];
      if (B.length) tables[tables.length - 1].title += `; "≤" marks the bootstrap floor 2/(B+1) with B = ${B.join(', ')} replicates (no replicate difference crossed 0): the p-value is at most that, and its Holm adjustment at most the value shown`;
    }
    const figures: Figure[] = [];
    const caption = bandCaption(diag);
    figures.push({ name: `plot-${protocol}`, svg: protocolPlotSvg(summary, protocol, { methods: pm }), caption: `Macro AUROC as the ${mod} missing rate rises in training and test. ${caption}` });
    const summaryPr = summarize(inp.rows, 'macroAuprc');
    figures.push({
      name: `plot-${protocol}-auprc`, svg: protocolPlotSvg(summaryPr, protocol, { methods: pm, metricLabel: 'macro AUPRC', idPrefix: `plot-${protocol}-auprc`, title: `Protocol "${protocol}": macro AUPRC` }),
      caption: `Macro AUPRC as the ${mod} missing rate rises in training and test. ${caption}`,
    });
    const labels = inp.labels ?? LABEL_NAMES;
    const panels = labels.map((label, j) => {
      const perLabel = summarize(inp.rows.map((r) => ({ ...r, macroAuroc: r.perLabelAuroc[j] ?? NaN })));
      return protocolPlotSvg(perLabel, protocol, { methods: pm, metricLabel: 'AUROC', title: label, idPrefix: `labels-${protocol}-${j}`, legend: false, caption: false, width: 330, height: 240 });
    });
    figures.push({
      name: `labels-${protocol}`, svg: panelsSvg(`Protocol "${protocol}": AUROC per finding`, [...panels, legendSvg(pm)], 4, `Per-finding AUROC. ${caption}`),
      caption: `AUROC of each finding as the ${mod} missing rate rises. ${caption}`,
    });
    for (const m of pm) {
      const mx = levelMatrix(summary, m, protocol);
      if (!mx.rowLevels.length) continue;
      tables.push({
        title: `${m}: macro AUROC by train level (rows) and test level (columns), mean over seeds`,
        header: ['train \\ test', ...mx.colLevels.map(levelText)],
        rows: mx.rowLevels.map((l, r) => [{ text: levelText(l) }, ...mx.values[r].map((v) => ({ text: Number.isNaN(v) ? 'n/a' : fixed(v, d) }))]),
      });
      figures.push({
        name: `heatmap-${protocol}-${fileSafe(m)}`, svg: matrixHeatmapSvg(summary, m, protocol),
        caption: `${m}: macro AUROC (mean over seeds) by the ${mod} missing rate in training (rows) and in test (columns).`,
      });
    }
    return {
      protocol,
      heading: `Protocol "${protocol}": ${mod} missing rate raised in training and test`,
      tables,
      figures,
    };
  });
}

/** A method name as part of a file name: anything but letters, digits, '-' and '_' becomes '_'. */
export function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** Whether a column's body cells are all numbers (or n/a, intervals, bounds, ±): numbers right, text left. */
function numericColumn(t: Table, j: number): boolean {
  return t.rows.length > 0 && t.rows.every((r) => /^(n\/a|[-+]?\d|≤ |\[[-\d])/.test(r[j]?.text ?? ''));
}

function extraTables(inp: ReportInput): Table[] {
  return (inp.tables ?? []).map((t) => ({ title: t.title, header: t.header, rows: t.rows.map((r) => r.map((text) => ({ text }))) }));
}

// ---------------------------------------------------------------------------------------------------------
// Markdown

/** Escape text for a Markdown table cell: Markdown punctuation with backslashes, HTML with entities. */
export function escapeMarkdown(s: string): string {
  return s
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/([\\`*_|#])/g, '\\$1')
    .replace(/\](?=[(\[:])/g, '\\]') // `[a](b)`, `[a][b]`, `[a]: b` would be links: break them
    .replace(/\r?\n/g, ' ');
}

function mdTable(t: Table): string {
  const cell = (c: Cell) => (c.bold ? `**${escapeMarkdown(c.text)}**` : escapeMarkdown(c.text));
  const lines = [
    `**${escapeMarkdown(t.title)}**`,
    '',
    `| ${t.header.map(escapeMarkdown).join(' | ')} |`,
    `|${t.header.map((_, j) => (numericColumn(t, j) ? ' ---: ' : ' :--- ')).join('|')}|`,
    ...t.rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
  return lines.join('\n');
}

/** The Markdown summary: per protocol the level table, the curve AUCs, significance and the train x test matrix. */
export function markdownReport(inp: ReportInput): string {
  const out: string[] = [`# ${escapeMarkdown(inp.title ?? 'Stress-test protocols')}`, ''];
  for (const n of inp.notes ?? []) out.push(escapeMarkdown(n), '');
  for (const s of protocolSections(inp)) {
    out.push(`## ${escapeMarkdown(s.heading)}`, '');
    for (const t of s.tables) out.push(mdTable(t), '');
    for (const f of s.figures) out.push(`![${escapeMarkdown(f.caption)}](${f.name}.svg)`, '', `*${escapeMarkdown(f.caption)}*`, '');
  }
  for (const t of extraTables(inp)) out.push(mdTable(t), '');
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// HTML

function htmlTable(t: Table): string {
  const num = t.header.map((_, j) => numericColumn(t, j));
  const cls = (j: number) => (num[j] ? ' class="num"' : '');
  const cell = (c: Cell, tag: string, j: number) => `<${tag}${cls(j)}>${c.bold ? `<strong>${escapeXml(c.text)}</strong>` : escapeXml(c.text)}</${tag}>`;
  return [
    '<table>',
    `<caption>${escapeXml(t.title)}</caption>`,
    `<thead><tr>${t.header.map((h, j) => `<th${cls(j)}>${escapeXml(h)}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...t.rows.map((r) => `<tr>${r.map((c, j) => cell(c, j === 0 ? 'th' : 'td', j)).join('')}</tr>`),
    '</tbody>',
    '</table>',
  ].join('\n');
}

const CSS = `body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#111}
table{border-collapse:collapse;margin:1em 0 2em}caption{text-align:left;font-weight:bold;padding:0.3em 0}
th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:left}th.num,td.num{text-align:right;font-variant-numeric:tabular-nums}
tbody th{font-weight:normal}figure{margin:1em 0}figcaption{font-size:0.9em;color:#333}svg{max-width:100%;height:auto}`;

/**
 * One self-contained HTML page: the same tables as the Markdown summary, with each protocol's degradation
 * plot and the proposed method's heatmap inline as SVG. No script, no external stylesheet, font or image.
 */
export function htmlReport(inp: ReportInput): string {
  const title = escapeXml(inp.title ?? 'Stress-test protocols');
  const out: string[] = [
    '<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">', `<title>${title}</title>`,
    `<style>${CSS}</style>`, '</head>', '<body>', `<h1>${title}</h1>`,
  ];
  for (const n of inp.notes ?? []) out.push(`<p>${escapeXml(n)}</p>`);
  for (const s of protocolSections(inp)) {
    out.push(`<section id="protocol-${s.protocol}">`, `<h2>${escapeXml(s.heading)}</h2>`);
    const fig = (f: Figure) => `<figure>\n${f.svg}<figcaption>${escapeXml(f.caption)}</figcaption>\n</figure>`;
    const [curves, ...rest] = s.figures;
    if (curves) out.push(fig(curves));
    for (const t of s.tables) out.push(htmlTable(t));
    for (const f of rest) out.push(fig(f));
    out.push('</section>');
  }
  for (const t of extraTables(inp)) out.push(htmlTable(t));
  out.push('</body>', '</html>');
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------------
// Artefacts

/**
 * Every artefact of a protocol run as (file name, text): results.csv, summary.md, report.html, and per
 * protocol plot-<protocol>.svg (macro AUROC), plot-<protocol>-auprc.svg, labels-<protocol>.svg (AUROC per
 * finding) and heatmap-<protocol>-<method>.svg (each method's train x test matrix).
 */
export function reportArtifacts(inp: ReportInput): { name: string; text: string }[] {
  const files = [
    { name: 'results.csv', text: resultsToCsv(inp.rows, inp.labels ?? LABEL_NAMES) },
    { name: 'summary.md', text: markdownReport(inp) },
    { name: 'report.html', text: htmlReport(inp) },
  ];
  for (const s of protocolSections(inp)) for (const f of s.figures) files.push({ name: `${f.name}.svg`, text: f.svg });
  return files;
}

/** sharp's SVG rasterizer, as far as this file uses it. */
type SharpSvg = (input: Buffer, o: { density: number }) => { png(): { withMetadata(o: { density: number }): { toBuffer(): Promise<Buffer> } } };

/**
 * Each SVG artefact also as a PNG rendered at `dpi` (default 300; an SVG pixel is 1/96 inch) by sharp
 * (librsvg), written atomically beside it. Returns the paths written; none (and the reason) where sharp cannot
 * load.
 */
export async function writeFigurePngs(dir: string, svgPaths: readonly string[], dpi = 300): Promise<{ written: string[]; error?: string }> {
  let sharp: SharpSvg;
  try {
    sharp = createRequire(import.meta.url)('sharp') as SharpSvg;
  } catch (e) {
    return { written: [], error: `sharp cannot load (${(e as Error).message.split('\n')[0]}): no PNG figures` };
  }
  const written: string[] = [];
  for (const p of svgPaths) {
    if (!p.endsWith('.svg')) continue;
    // sharp's density counts an SVG unit as 1/72 inch; the figures are sized in CSS pixels (1/96 inch).
    const png = await sharp(readFileSync(p), { density: (dpi * 72) / 96 }).png().withMetadata({ density: dpi }).toBuffer();
    const out = join(dir, `${basename(p, '.svg')}.png`);
    writeFileAtomic(out, png);
    written.push(out);
  }
  return { written };
}

/** Write every artefact into `dir` (created if needed), each file atomically. Returns the paths written. */
export function writeReportArtifacts(dir: string, inp: ReportInput): string[] {
  mkdirSync(dir, { recursive: true });
  return reportArtifacts(inp).map(({ name, text }) => {
    const p = join(dir, name);
    writeFileAtomic(p, text);
    return p;
  });
}
