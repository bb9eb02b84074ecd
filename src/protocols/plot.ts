/**
 * Hand-written SVG plots of protocol results, no dependencies: degradation curves (one line per method with a
 * mean ± std band) and a train-level x test-level heatmap. Output is deterministic (same input, same bytes):
 * coordinates are written with fixed decimals, colours come from a fixed palette, series keep input order.
 * Each method's line is the only <path> it draws (bands are <polygon>s), which tests rely on.
 */
import type { Protocol } from './results.ts';
import type { SummaryRow } from './stats.ts';

/** Escape text for XML/HTML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Fixed-decimal number text without "-0.00". */
export function fixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

const f2 = (x: number) => fixed(x, 2);

/** Colour-blind-safe categorical palette (Okabe–Ito), cycled. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442', '#999999'];

/** Point markers, cycled alongside the palette. */
export const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'cross', 'triangle-down'] as const;
export type Marker = (typeof MARKERS)[number];

/** Line dash patterns (SVG stroke-dasharray; '' is solid), cycled alongside the palette. */
export const DASHES = ['', '6 3', '2 3', '8 3 2 3', '12 4'];

/** How series i is drawn: colour, marker and dash. */
export interface SeriesStyle {
  colour: string;
  marker: Marker;
  dash: string;
}

/**
 * The style of the i-th series: palette, markers and dashes each cycled (9, 6 and 5 long), so the triple is
 * unique for the first lcm(9, 6, 5) = 90 series and even two series of one colour differ in marker and dash.
 */
export function seriesStyle(i: number): SeriesStyle {
  return { colour: PALETTE[i % PALETTE.length], marker: MARKERS[i % MARKERS.length], dash: DASHES[i % DASHES.length] };
}

/** A marker shape centred at (x, y); never a <path> (each series' line is its only path). */
export function markerSvg(m: Marker, x: number, y: number, colour: string, r = 3.5): string {
  const pts = (p: [number, number][]) => `<polygon points="${p.map(([a, b]) => `${f2(x + a)},${f2(y + b)}`).join(' ')}" fill="${colour}"/>`;
  switch (m) {
    case 'circle': return `<circle cx="${f2(x)}" cy="${f2(y)}" r="${f2(r * 0.85)}" fill="${colour}"/>`;
    case 'square': return `<rect x="${f2(x - r * 0.8)}" y="${f2(y - r * 0.8)}" width="${f2(1.6 * r)}" height="${f2(1.6 * r)}" fill="${colour}"/>`;
    case 'triangle': return pts([[0, -r], [r, r * 0.8], [-r, r * 0.8]]);
    case 'triangle-down': return pts([[0, r], [r, -r * 0.8], [-r, -r * 0.8]]);
    case 'diamond': return pts([[0, -r], [r, 0], [0, r], [-r, 0]]);
    case 'cross': return `<g stroke="${colour}" stroke-width="2"><line x1="${f2(x - r)}" y1="${f2(y - r)}" x2="${f2(x + r)}" y2="${f2(y + r)}"/><line x1="${f2(x - r)}" y1="${f2(y + r)}" x2="${f2(x + r)}" y2="${f2(y - r)}"/></g>`;
  }
}

/** Round step for about `target` ticks over [lo, hi]: 1, 2, 2.5 or 5 times a power of ten. */
function niceStep(lo: number, hi: number, target: number): number {
  const raw = (hi - lo) / Math.max(1, target);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

/** Decimals that show a tick step exactly (0.05 -> 2, 0.25 -> 2, 1 -> 0). */
function stepDecimals(step: number): number {
  for (let d = 0; d < 6; d++) if (Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) < 1e-9) return d;
  return 6;
}

/** One series of a line plot. */
export interface LineSeries {
  name: string;
  points: { x: number; mean: number; std: number }[];
}

export interface LinePlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  /** x domain (default [0, 1], the missing rate). */
  xDomain?: [number, number];
  /** y domain; by default the data's mean ± std range, padded and rounded to ticks. */
  yDomain?: [number, number];
  width?: number;
  height?: number;
  /** Prefix of the ids inside the SVG (default 'plot'): give each plot in one HTML page its own. */
  idPrefix?: string;
  /** A caption line under the plot (e.g. what the band is). */
  caption?: string;
  /** Draw the legend (default true). */
  legend?: boolean;
}

/**
 * A line plot: one polyline per series through its means (points sorted by x; NaN means skipped), with a
 * shaded band mean ± std (a NaN std draws no band there), axes with ticks and labels, legend and title.
 */
export function linePlotSvg(o: LinePlotOptions): string {
  const f = lineFrame(o);
  const { W, H, m, pw, ph } = f;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<title>${escapeXml(o.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${f2(m.l + pw / 2)}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(o.title)}</text>`);
  lineAxes(f, out);
  out.push(`<text x="${f2(m.l + pw / 2)}" y="${f2(m.t + ph + 40)}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  if (o.caption) out.push(`<text class="caption" x="${f2(m.l)}" y="${f2(H - 8)}" text-anchor="start" font-size="11">${escapeXml(o.caption)}</text>`);
  out.push(`<text x="16" y="${f2(m.t + ph / 2)}" text-anchor="middle" transform="rotate(-90 16 ${f2(m.t + ph / 2)})">${escapeXml(o.yLabel)}</text>`);
  // Bands first so every line draws over every band.
  const clip = `${o.idPrefix ?? 'plot'}-area`;
  out.push(`<defs><clipPath id="${escapeXml(clip)}"><rect x="${f2(m.l)}" y="${f2(m.t)}" width="${f2(pw)}" height="${f2(ph)}"/></clipPath></defs>`);
  lineBands(f, clip, out);
  out.push('<g class="lines">');
  f.series.forEach((s, i) => {
    const st = seriesStyle(i), c = st.colour;
    const d = s.pts.map((p, k) => `${k ? 'L' : 'M'}${f2(f.X(p.x))} ${f2(f.Y(p.mean))}`).join(' ');
    out.push(`<path d="${d || 'M0 0'}" fill="none" stroke="${c}" stroke-width="2"${st.dash ? ` stroke-dasharray="${st.dash}"` : ''}><title>${escapeXml(s.name)}</title></path>`);
    for (const p of s.pts) out.push(markerSvg(st.marker, f.X(p.x), f.Y(p.mean), c));
  });
  out.push('</g>');
  if (o.legend ?? true) {
    const lx = m.l + pw + 16;
    out.push('<g class="legend">');
    f.series.forEach((s, i) => {
      const st = seriesStyle(i), c = st.colour, y = m.t + 8 + i * 18;
      out.push(`<rect x="${f2(lx)}" y="${f2(y - 6)}" width="26" height="12" fill="${c}" fill-opacity="0.18"/>`);
      out.push(`<line x1="${f2(lx)}" y1="${f2(y)}" x2="${f2(lx + 26)}" y2="${f2(y)}" stroke="${c}" stroke-width="2"${st.dash ? ` stroke-dasharray="${st.dash}"` : ''}/>`);
      out.push(markerSvg(st.marker, lx + 13, y, c));
      out.push(`<text x="${f2(lx + 32)}" y="${f2(y + 4)}" text-anchor="start">${escapeXml(s.name)}</text>`);
    });
    out.push('</g>');
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** A line plot's geometry: size, margins, the series' defined points, the (rounded) domains and the scales. */
interface LineFrame {
  W: number;
  H: number;
  m: { l: number; r: number; t: number; b: number };
  pw: number;
  ph: number;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  xStep: number;
  yStep: number;
  series: { name: string; pts: LineSeries['points'] }[];
  X: (x: number) => number;
  Y: (y: number) => number;
}

function lineFrame(o: LinePlotOptions): LineFrame {
  const W = o.width ?? 640, H = (o.height ?? 400) + (o.caption ? 18 : 0);
  const legendW = (o.legend ?? true) ? 170 : 0;
  const m = { l: 64, r: 16 + legendW, t: 40, b: 52 + (o.caption ? 18 : 0) };
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const [x0, x1] = o.xDomain ?? [0, 1];
  const series = o.series.map((s) => ({
    name: s.name,
    pts: s.points.filter((p) => !Number.isNaN(p.mean)).sort((a, b) => a.x - b.x),
  }));
  let [y0, y1] = o.yDomain ?? [Infinity, -Infinity];
  if (!o.yDomain) {
    for (const s of series) for (const p of s.pts) {
      const e = Number.isNaN(p.std) ? 0 : p.std;
      y0 = Math.min(y0, p.mean - e);
      y1 = Math.max(y1, p.mean + e);
    }
    if (!Number.isFinite(y0)) { y0 = 0; y1 = 1; }
    if (y1 - y0 < 1e-6) { y0 -= 0.05; y1 += 0.05; }
  }
  const yStep = niceStep(y0, y1, 5);
  if (!o.yDomain) {
    y0 = Math.floor(y0 / yStep + 1e-9) * yStep;
    y1 = Math.ceil(y1 / yStep - 1e-9) * yStep;
  }
  const xStep = niceStep(x0, x1, 5);
  const X = (x: number) => m.l + ((x - x0) / (x1 - x0)) * pw;
  const Y = (y: number) => m.t + ph - ((y - y0) / (y1 - y0)) * ph;
  return { W, H, m, pw, ph, x0, x1, y0, y1, xStep, yStep, series, X, Y };
}

/** Grid, ticks and tick labels. */
function lineAxes(f: LineFrame, out: string[]): void {
  const { m, pw, ph, x0, x1, y0, y1, xStep, yStep, X, Y } = f;
  const xd = stepDecimals(xStep), yd = stepDecimals(yStep);
  out.push('<g class="axes" stroke="#000000" stroke-width="1">');
  for (let k = 0; x0 + k * xStep <= x1 + 1e-9; k++) {
    const x = X(x0 + k * xStep);
    out.push(`<line x1="${f2(x)}" y1="${f2(m.t + ph)}" x2="${f2(x)}" y2="${f2(m.t + ph + 5)}"/>`);
  }
  for (let k = 0; y0 + k * yStep <= y1 + 1e-9; k++) {
    const y = Y(y0 + k * yStep);
    out.push(`<line x1="${f2(m.l - 5)}" y1="${f2(y)}" x2="${f2(m.l)}" y2="${f2(y)}"/>`);
    out.push(`<line x1="${f2(m.l)}" y1="${f2(y)}" x2="${f2(m.l + pw)}" y2="${f2(y)}" stroke="#e0e0e0"/>`);
  }
  out.push(`<line x1="${f2(m.l)}" y1="${f2(m.t + ph)}" x2="${f2(m.l + pw)}" y2="${f2(m.t + ph)}"/>`);
  out.push(`<line x1="${f2(m.l)}" y1="${f2(m.t)}" x2="${f2(m.l)}" y2="${f2(m.t + ph)}"/>`);
  out.push('</g>');
  out.push('<g class="tick-labels">');
  for (let k = 0; x0 + k * xStep <= x1 + 1e-9; k++) {
    const v = x0 + k * xStep;
    out.push(`<text x="${f2(X(v))}" y="${f2(m.t + ph + 18)}" text-anchor="middle">${fixed(v, xd)}</text>`);
  }
  for (let k = 0; y0 + k * yStep <= y1 + 1e-9; k++) {
    const v = y0 + k * yStep;
    out.push(`<text x="${f2(m.l - 8)}" y="${f2(Y(v) + 4)}" text-anchor="end">${fixed(v, yd)}</text>`);
  }
  out.push('</g>');
}

/** Mean ± std bands: one polygon per run of points with a defined std. */
function lineBands(f: LineFrame, clip: string, out: string[]): void {
  const { X, Y } = f;
  out.push('<g class="bands">');
  f.series.forEach((s, i) => {
    const c = seriesStyle(i).colour;
    let run: typeof s.pts = [];
    const flush = () => {
      if (run.length >= 2) {
        const upper = run.map((p) => `${f2(X(p.x))},${f2(Y(p.mean + p.std))}`);
        const lower = [...run].reverse().map((p) => `${f2(X(p.x))},${f2(Y(p.mean - p.std))}`);
        out.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${c}" fill-opacity="0.18" stroke="none" clip-path="url(#${escapeXml(clip)})"/>`);
      }
      run = [];
    };
    for (const p of s.pts) {
      if (Number.isNaN(p.std)) flush();
      else run.push(p);
    }
    flush();
  });
  out.push('</g>');
}

/** Viridis at 9 stops; colours are interpolated linearly in RGB between them. */
const VIRIDIS = ['#440154', '#472d7b', '#3b528b', '#2c728e', '#21918c', '#28ae80', '#5ec962', '#addc30', '#fde725'];

function viridis(t: number): string {
  const u = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(u)), f = u - i;
  const a = parseInt(VIRIDIS[i].slice(1), 16), b = parseInt(VIRIDIS[i + 1].slice(1), 16);
  const ch = (sh: number) => Math.round(((a >> sh) & 255) * (1 - f) + ((b >> sh) & 255) * f);
  return '#' + [16, 8, 0].map((sh) => ch(sh).toString(16).padStart(2, '0')).join('');
}

export interface HeatmapOptions {
  title: string;
  /** Row levels (train) top to bottom, column levels (test) left to right. */
  rowLevels: number[];
  colLevels: number[];
  /** values[r][c]; NaN cells are drawn grey with "n/a". */
  values: number[][];
  rowLabel?: string;
  colLabel?: string;
  /** Colour scale domain; by default the values' min and max. */
  domain?: [number, number];
  cell?: number;
}

/** A heatmap of a train-level x test-level matrix, with each cell's value written in it and a colour bar. */
export function heatmapSvg(o: HeatmapOptions): string {
  const R = o.rowLevels.length, C = o.colLevels.length, cs = o.cell ?? 44;
  if (o.values.length !== R || o.values.some((r) => r.length !== C)) throw new Error(`heatmapSvg: values must be ${R} x ${C}`);
  let [v0, v1] = o.domain ?? [Infinity, -Infinity];
  if (!o.domain) for (const r of o.values) for (const v of r) if (!Number.isNaN(v)) { v0 = Math.min(v0, v); v1 = Math.max(v1, v); }
  if (!Number.isFinite(v0)) { v0 = 0; v1 = 1; }
  const span = v1 - v0 || 1;
  const m = { l: 80, t: 44, r: 90, b: 56 };
  const W = m.l + C * cs + m.r, H = m.t + R * cs + m.b;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<title>${escapeXml(o.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${f2(m.l + (C * cs) / 2)}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(o.title)}</text>`);
  out.push('<g class="cells">');
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) {
    const v = o.values[r][c], x = m.l + c * cs, y = m.t + r * cs;
    const t = (v - v0) / span;
    const fill = Number.isNaN(v) ? '#cccccc' : viridis(t);
    const ink = Number.isNaN(v) || t > 0.6 ? '#000000' : '#ffffff';
    out.push(`<rect x="${x}" y="${y}" width="${cs}" height="${cs}" fill="${fill}"/>`);
    out.push(`<text x="${f2(x + cs / 2)}" y="${f2(y + cs / 2 + 4)}" text-anchor="middle" fill="${ink}">${Number.isNaN(v) ? 'n/a' : fixed(v, 3)}</text>`);
  }
  out.push('</g>');
  out.push('<g class="tick-labels">');
  o.colLevels.forEach((l, c) => out.push(`<text x="${f2(m.l + c * cs + cs / 2)}" y="${f2(m.t + R * cs + 16)}" text-anchor="middle">${fixed(l, 2)}</text>`));
  o.rowLevels.forEach((l, r) => out.push(`<text x="${f2(m.l - 6)}" y="${f2(m.t + r * cs + cs / 2 + 4)}" text-anchor="end">${fixed(l, 2)}</text>`));
  out.push('</g>');
  out.push(`<text x="${f2(m.l + (C * cs) / 2)}" y="${f2(H - 12)}" text-anchor="middle">${escapeXml(o.colLabel ?? 'test missing rate')}</text>`);
  const cy = m.t + (R * cs) / 2;
  out.push(`<text x="18" y="${f2(cy)}" text-anchor="middle" transform="rotate(-90 18 ${f2(cy)})">${escapeXml(o.rowLabel ?? 'train missing rate')}</text>`);
  // Colour bar: 20 steps, top = max.
  const bx = m.l + C * cs + 20, bh = R * cs, steps = 20;
  out.push('<g class="colorbar">');
  for (let k = 0; k < steps; k++) {
    out.push(`<rect x="${bx}" y="${f2(m.t + (k * bh) / steps)}" width="14" height="${f2(bh / steps + 0.5)}" fill="${viridis(1 - (k + 0.5) / steps)}"/>`);
  }
  out.push(`<text x="${bx + 18}" y="${f2(m.t + 8)}">${fixed(v1, 3)}</text>`);
  out.push(`<text x="${bx + 18}" y="${f2(m.t + bh)}">${fixed(v0, 3)}</text>`);
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Name of the modality whose missing rate a protocol raises, for axis labels. */
export function protocolModality(p: Protocol): string {
  return p === 'image' ? 'image' : 'tabular';
}

/**
 * Degradation curves of one protocol from a summary (diagonal cells): one line per method in `methods` order
 * (default: order of first appearance), y = the summarized metric.
 */
export function protocolPlotSvg(summary: readonly SummaryRow[], protocol: Protocol, opts: { methods?: string[]; metricLabel?: string; title?: string; idPrefix?: string; legend?: boolean; caption?: boolean; width?: number; height?: number } = {}): string {
  const diag = summary.filter((s) => s.protocol === protocol && s.trainLevel === s.testLevel);
  const methods = opts.methods ?? [...new Set(diag.map((s) => s.method))];
  const series = methods.map((name) => ({
    name,
    points: diag.filter((s) => s.method === name).map((s) => ({ x: s.testLevel, mean: s.mean, std: s.std })),
  }));
  const mod = protocolModality(protocol);
  return linePlotSvg({
    title: opts.title ?? `Protocol "${protocol}": ${mod} missing in training and test`,
    xLabel: `${mod} missing rate`,
    yLabel: opts.metricLabel ?? 'macro AUROC',
    series,
    idPrefix: opts.idPrefix ?? `plot-${protocol}`,
    caption: opts.caption === false ? undefined : bandCaption(diag),
    legend: opts.legend, width: opts.width, height: opts.height,
  });
}

/** The caption of a plot's bands: what they are and over how many seeds. */
export function bandCaption(rows: readonly SummaryRow[]): string {
  const n = rows.map((r) => r.n);
  const lo = Math.min(...n), hi = Math.max(...n);
  const seeds = n.length === 0 ? '0 seeds' : lo === hi ? `${lo} seed${lo === 1 ? '' : 's'}` : `${lo}-${hi} seeds`;
  return `Lines: mean over seeds; shaded band: mean ± 1 standard deviation over ${seeds} (none with one seed).`;
}

/** A legend alone (a panel of a small-multiples figure): each name with its line, dash and marker. */
export function legendSvg(names: readonly string[], width = 330, height = 240): string {
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`];
  names.forEach((n, i) => {
    const st = seriesStyle(i), y = 40 + i * 18;
    out.push(`<line x1="20" y1="${y}" x2="46" y2="${y}" stroke="${st.colour}" stroke-width="2"${st.dash ? ` stroke-dasharray="${st.dash}"` : ''}/>`);
    out.push(markerSvg(st.marker, 33, y, st.colour));
    out.push(`<text x="52" y="${y + 4}" text-anchor="start">${escapeXml(n)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/**
 * Small multiples of several plots in one SVG (e.g. one per finding): each panel an SVG of its own placed on a
 * grid of `cols` columns, with a title and a caption line.
 */
export function panelsSvg(title: string, panels: string[], cols: number, caption: string): string {
  const sizes = panels.map((p) => /viewBox="0 0 (\d+) (\d+)"/.exec(p)).map((m) => (m ? [Number(m[1]), Number(m[2])] : [0, 0]));
  const pw = Math.max(0, ...sizes.map((s) => s[0])), ph = Math.max(0, ...sizes.map((s) => s[1]));
  const rows = Math.ceil(panels.length / cols), W = cols * pw, H = rows * ph + 60;
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`, `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${f2(W / 2)}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`];
  panels.forEach((p, k) => {
    const x = (k % cols) * pw, y = 30 + Math.floor(k / cols) * ph;
    out.push(p.trim().replace(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" /, `<svg x="${x}" y="${y}" `));
  });
  out.push(`<text class="caption" x="10" y="${f2(H - 10)}" text-anchor="start" font-size="11">${escapeXml(caption)}</text>`, '</svg>');
  return out.join('\n') + '\n';
}

/** The train-level x test-level matrix of means of one method in one protocol, rows and columns ascending. */
export function levelMatrix(summary: readonly SummaryRow[], method: string, protocol: Protocol): { rowLevels: number[]; colLevels: number[]; values: number[][] } {
  const cells = summary.filter((s) => s.method === method && s.protocol === protocol);
  const rowLevels = [...new Set(cells.map((s) => s.trainLevel))].sort((a, b) => a - b);
  const colLevels = [...new Set(cells.map((s) => s.testLevel))].sort((a, b) => a - b);
  const values = rowLevels.map(() => colLevels.map(() => NaN));
  for (const s of cells) values[rowLevels.indexOf(s.trainLevel)][colLevels.indexOf(s.testLevel)] = s.mean;
  return { rowLevels, colLevels, values };
}

/** Heatmap of one method's train x test matrix in one protocol. */
export function matrixHeatmapSvg(summary: readonly SummaryRow[], method: string, protocol: Protocol, opts: { metricLabel?: string } = {}): string {
  const mx = levelMatrix(summary, method, protocol);
  const mod = protocolModality(protocol);
  return heatmapSvg({
    title: `${method}: ${opts.metricLabel ?? 'macro AUROC'}, protocol "${protocol}"`,
    ...mx,
    rowLabel: `train ${mod} missing rate`,
    colLabel: `test ${mod} missing rate`,
  });
}
