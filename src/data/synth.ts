/**
 * The synthetic data set: a folder in the MIMIC-CXR-JPG + MIMIC-IV layout with a known ground truth
 * (docs/synthetic-data.md). Latent conditions per study drive what the image shows (cardiac silhouette
 * width, blunted costophrenic angles, collapsed regions, line devices, patchy opacities) and what the table
 * shows (fever, tachycardia, low saturation, age, acuity, labs); labels come from the latent conditions
 * through a noisy CheXpert-style labeler (uncertain and blank entries). Same seed, same bytes: one seeded
 * PRNG stream per patient and per image, no clock, fixed gzip level.
 */
import { mkdirSync, readdirSync, renameSync, rmdirSync, statSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { LABEL_NAMES } from '../engine/batch.ts';
import { csvLine } from './csv.ts';
import { encodeGrayJpeg } from './jpeg.ts';
import { Rng } from '../engine/rng.ts';

/** Options of the generator. */
export interface SynthOptions {
  /**
   * Output folder (created; an existing data set in it is replaced, anything else in it is kept). The set
   * is written into a temporary sibling folder and moved in when complete, its marker file last.
   */
  out: string;
  /** Patients (each has 1-4 studies, about 1.5 on average). Default 1200 (about 1800 studies). */
  patients?: number;
  /** Seed of everything. */
  seed: number;
  /** Write `.csv.gz` (default, as PhysioNet ships them) or plain `.csv`. */
  gzip?: boolean;
  /** Image height in pixels (width is 0.875-1 of it). Default 256. */
  imageSize?: number;
  /** Write the official-style split file (default true); without it the reader stratifies. */
  splitFile?: boolean;
  /** JPEG quality 1..100 (default 90). */
  quality?: number;
  /**
   * Missing not at random (docs/synthetic-data.md): the probability, in [0, 1], that each lab value of a study
   * with no finding (No Finding positive in the latent state) is left out, on top of the usual missingness.
   * 0 (default): off, and the data set keeps its bytes.
   */
  mnar?: number;
}

/** What was written. */
export interface SynthSummary {
  out: string;
  patients: number;
  studies: number;
  images: number;
  lateralOnlyStudies: number;
  edStays: number;
  /** Studies whose time falls inside one of the subject's ED stays. */
  studiesWithStay: number;
  labRows: number;
  /** Rows of hosp/admissions, and lab values left out by the missing-not-at-random option. */
  admissions: number;
  mnarDropped: number;
  /** Fraction of studies whose latent finding is present, per label. */
  prevalence: Record<string, number>;
}

export const SYNTH_DEFAULT_PATIENTS = 1200;

/** 32-bit hash of (seed, a, b): independent PRNG streams per patient / image. */
function mix(seed: number, a: number, b = 0): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const v of [a, b]) {
    h = Math.imul(h ^ (v >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const sq = (x: number) => x * x;
const pad2 = (n: number) => String(n).padStart(2, '0');
function fmtTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
}
const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** Latent state of one study (the ground truth). */
export interface Latent {
  chf: boolean; cardiomegaly: boolean; ecm: boolean; edema: boolean; effusion: boolean; pneumonia: boolean;
  otherOpacity: boolean; otherInfection: boolean; atelectasis: boolean; pneumothorax: boolean; lesion: boolean;
  fracture: boolean; trauma: boolean; icu: boolean; devices: boolean; pleuralOther: boolean;
  /** Cardiothoracic ratio drawn into the image. */
  ctr: number;
}

/** Which labels each latent finding gives (Lung Opacity and No Finding are derived). */
function findings(l: Latent): boolean[] {
  const f: Record<string, boolean> = {
    Atelectasis: l.atelectasis,
    Cardiomegaly: l.cardiomegaly,
    Consolidation: l.pneumonia || l.otherOpacity,
    Edema: l.edema,
    'Enlarged Cardiomediastinum': l.ecm,
    Fracture: l.fracture,
    'Lung Lesion': l.lesion,
    'Lung Opacity': l.pneumonia || l.otherOpacity || l.edema || l.atelectasis || l.lesion,
    'No Finding': false,
    'Pleural Effusion': l.effusion,
    'Pleural Other': l.pleuralOther,
    Pneumonia: l.pneumonia,
    Pneumothorax: l.pneumothorax,
    'Support Devices': l.devices,
  };
  f['No Finding'] = !LABEL_NAMES.some((n) => n !== 'No Finding' && n !== 'Support Devices' && f[n]);
  return LABEL_NAMES.map((n) => f[n]);
}

/** Probability that an absent finding is mentioned as negative (0.0) in the report. */
const NEG_MENTION: Record<string, number> = {
  Pneumonia: 0.6, Edema: 0.6, 'Pleural Effusion': 0.65, Pneumothorax: 0.65, Consolidation: 0.6, Cardiomegaly: 0.5,
  Atelectasis: 0.45, 'Lung Opacity': 0.45, 'Enlarged Cardiomediastinum': 0.45, 'Support Devices': 0.35,
  'Lung Lesion': 0.35, Fracture: 0.35, 'Pleural Other': 0.3,
};

/** The CheXpert-style labeler: present -> 1 (some -1, few blank); absent -> 0 when mentioned, else blank. */
function labelRow(rng: Rng, found: boolean[], allBlank: boolean): string[] {
  return LABEL_NAMES.map((name, k) => {
    if (allBlank) return '';
    const u = rng.next();
    if (name === 'No Finding') return found[k] ? (u < 0.9 ? '1.0' : '') : u < 0.4 ? '0.0' : '';
    if (found[k]) {
      const unc = name === 'Pneumonia' ? 0.25 : name === 'Atelectasis' || name === 'Edema' ? 0.15 : 0.08;
      return u < unc ? '-1.0' : u < 0.96 ? '1.0' : '';
    }
    const neg = NEG_MENTION[name] ?? 0.4;
    return u < neg ? '0.0' : u < neg + 0.015 ? '-1.0' : '';
  });
}

// ---------------------------------------------------------------------------------------------------------
// Image rendering. Coordinates u (left-right) and v (top-bottom) in [0, 1] of the image.

interface ImageParams {
  view: 'PA' | 'AP' | 'LATERAL';
  width: number;
  height: number;
}

/** Render one chest radiograph for a study's latent state (grayscale, row-major). */
export function renderImage(l: Latent, p: ImageParams, rng: Rng): Uint8Array {
  const { width: W, height: H } = p;
  const img = new Float32Array(W * H);
  const dx = rng.normal(0, 0.015), dy = rng.normal(0, 0.015), sc = 1 + rng.normal(0, 0.03);
  const bright = rng.normal(0, 8), contrast = 1 + rng.normal(0, 0.07);
  const X = (u: number) => (u - 0.5 - dx) / sc + 0.5;
  const Y = (v: number) => (v - 0.5 - dy) / sc + 0.5;
  const ph = [rng.uniform(0, 6.3), rng.uniform(0, 6.3), rng.uniform(0, 6.3)];
  if (p.view === 'LATERAL') {
    for (let y = 0; y < H; y++) {
      const v = Y((y + 0.5) / H);
      for (let x = 0; x < W; x++) {
        const u = X((x + 0.5) / W);
        let val = 20;
        const body = sq((u - 0.5) / 0.44) + sq((v - 0.55) / 0.5);
        if (body < 1) val = 140;
        const lung = sq((u - 0.5) / 0.3) + sq((v - 0.45) / 0.32);
        const floor = 0.7 + (l.effusion ? -0.06 * Math.max(0, (u - 0.5) / 0.3) : 0);
        if (lung < 1 && v < floor) val = 65 + 6 * Math.sin(u * 40 + ph[0]) * Math.sin(v * 33 + ph[1]);
        const heart = ((u - 0.4) / (0.12 + (l.cardiomegaly ? 0.05 : 0))) ** 2 + sq((v - 0.6) / 0.13);
        if (heart < 1) val = Math.max(val, 165);
        if (u > 0.74 && u < 0.84 && body < 1) val = 200 + 15 * Math.sin(v * 60);
        img[y * W + x] = val;
      }
    }
  } else {
    const ap = p.view === 'AP';
    const hx = 0.53, hy = 0.63;
    const hrx = (l.ctr * 0.84) / 2 * (ap ? 1.08 : 1), hry = 0.13 * (ap ? 1.05 : 1);
    const medW = l.ecm ? 0.1 : 0.06;
    const lungs = [
      { cx: 0.31, side: -1 }, { cx: 0.69, side: 1 },
    ].map((g) => ({ ...g, rx: 0.16, cy: 0.46, ry: 0.31, dome: 0.76 }));
    // which side the one-sided findings are on
    const atelSide = rng.int(0, 1), ptxSide = rng.int(0, 1), effBoth = rng.bernoulli(0.5), effSide = rng.int(0, 1);
    if (l.atelectasis) lungs[atelSide].dome -= 0.04; // volume loss: elevated hemidiaphragm
    const effH = l.effusion ? rng.uniform(0.06, 0.12) : 0;
    // patchy opacities: gaussian blobs in one lung's mid/lower zone
    const blobs: { u: number; v: number; r: number; a: number }[] = [];
    if (l.pneumonia || l.otherOpacity) {
      const g = lungs[rng.int(0, 1)];
      const k = rng.int(3, 6);
      const cu = g.cx + rng.uniform(-0.06, 0.06), cv = rng.uniform(0.5, 0.66);
      for (let i = 0; i < k; i++) blobs.push({ u: cu + rng.normal(0, 0.04), v: cv + rng.normal(0, 0.04), r: rng.uniform(0.025, 0.06), a: rng.uniform(35, 60) });
    }
    if (l.lesion) {
      const g = lungs[rng.int(0, 1)];
      blobs.push({ u: g.cx + rng.uniform(-0.08, 0.08), v: rng.uniform(0.28, 0.6), r: rng.uniform(0.012, 0.022), a: rng.uniform(70, 95) });
    }
    const atel = { u0: lungs[atelSide].cx - 0.1, u1: lungs[atelSide].cx + 0.1, v0: rng.uniform(0.58, 0.66), slope: rng.uniform(-0.25, 0.25) };
    const ptx = lungs[ptxSide];
    const ptxDepth = rng.uniform(0.18, 0.3);
    const fracRib = rng.int(2, 6), fracSide = rng.int(0, 1), fracU = rng.uniform(0.2, 0.8);
    const uCol = new Float64Array(W), texU = new Float64Array(W);
    for (let x = 0; x < W; x++) {
      uCol[x] = X((x + 0.5) / W);
      texU[x] = Math.sin(uCol[x] * 47 + ph[0]);
    }
    for (let y = 0; y < H; y++) {
      const v = Y((y + 0.5) / H);
      const texV = 7 * Math.sin(v * 39 + ph[1]);
      for (let x = 0; x < W; x++) {
        const u = uCol[x];
        let val = 18;
        const body = sq((u - 0.5) / 0.46) + sq((v - 0.56) / 0.52);
        if (body < 1) val = 145 - 25 * body;
        // lungs
        for (let s = 0; s < 2; s++) {
          const g = lungs[s];
          const lu = (u - g.cx) / g.rx;
          if (lu <= -1 || lu >= 1) continue;
          const lv = (v - g.cy) / g.ry;
          const e = lu * lu + lv * lv;
          const domeY = g.dome - 0.05 * (1 - Math.min(1, lu * lu));
          if (e < 1 && v < domeY) {
            // lung field with faint vascular texture
            let lv2 = 58 + texU[x] * texV + 10 * (1 - e);
            // ribs: bright arcs
            const lat = (u - g.cx) * g.side;
            const curve = 0.19 + (0.09 * lat * lat) / (g.rx * g.rx) - (0.02 * lat) / g.rx;
            const r = Math.round((v - curve) / 0.062);
            if (r >= 0 && r < 9) {
              const d = Math.abs(v - curve - r * 0.062);
              if (d < 0.011) {
                const gap = l.fracture && r === fracRib && s === fracSide && Math.abs(u - (g.cx + (fracU - 0.5) * g.rx)) < 0.012;
                lv2 += gap ? -6 : 22 * (1 - d / 0.011);
              }
            }
            // pneumothorax: the apical-lateral rim has no lung markings, edged by a thin pleural line
            if (l.pneumothorax && s === ptxSide) {
              const iu = (u - ptx.cx + 0.03 * ptx.side) / (ptx.rx * (1 - ptxDepth)), iv = (v - ptx.cy - 0.06) / (ptx.ry * (1 - ptxDepth * 0.6));
              const ie = iu * iu + iv * iv;
              if (ie > 1 && v < ptx.cy + 0.08) lv2 = 30;
              else if (Math.abs(ie - 1) < 0.06 && v < ptx.cy + 0.08) lv2 += 40;
            }
            // effusion: fluid with a meniscus rising laterally, blunting the costophrenic angle
            if (effH > 0 && (effBoth || s === effSide)) {
              const lateral = Math.max(0, Math.min(1, lat / g.rx));
              if (v > domeY - effH * (0.35 + 0.65 * lateral)) lv2 = 140 + 10 * lateral;
            }
            // atelectasis: a dense plate-like band in the lower zone
            if (l.atelectasis && s === atelSide && u > atel.u0 && u < atel.u1) {
              const bv = atel.v0 + atel.slope * (u - g.cx);
              const d = Math.abs(v - bv);
              if (d < 0.02) lv2 += 70 * (1 - d / 0.02);
            }
            // pleural thickening along the lateral wall
            if (l.pleuralOther && s === 1 && e > 0.82) lv2 += 35;
            val = lv2;
          }
        }
        // mediastinum and heart
        if (Math.abs(u - 0.5) < medW && v > 0.12 && v < 0.58) val = Math.max(val, 170 - 300 * Math.max(0, Math.abs(u - 0.5) - medW + 0.02));
        const he = sq((u - hx) / hrx) + sq((v - hy) / hry);
        if (he < 1) val = Math.max(val, 172 - 20 * he);
        // edema: bilateral perihilar haze (subtle)
        if (l.edema && v > 0.25 && v < 0.7 && u > 0.15 && u < 0.85) val += 20 * (Math.exp(-((sq(u - 0.38) + sq(v - 0.47)) / 0.012)) + Math.exp(-((sq(u - 0.62) + sq(v - 0.47)) / 0.012)));
        for (const b of blobs) {
          if (Math.abs(u - b.u) > 3 * b.r || Math.abs(v - b.v) > 3 * b.r) continue;
          const d2 = (sq(u - b.u) + sq(v - b.v)) / (b.r * b.r);
          if (d2 < 9) val += b.a * Math.exp(-d2 / 2) * (0.75 + 0.25 * Math.sin(u * 90 + v * 70 + ph[2]));
        }
        img[y * W + x] = val;
      }
    }
    if (l.devices) drawDevices(img, W, H, rng, X, Y);
  }
  const out = new Uint8Array(W * H);
  for (let i = 0; i < W * H; i++) {
    const v = (img[i] - 128) * contrast + 128 + bright + 8 * (rng.next() + rng.next() - 1); // triangular noise, sd 3.3
    out[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
  }
  return out;
}

/** Support devices: an endotracheal tube, a central line, ECG lead buttons (bright, thin). */
function drawDevices(img: Float32Array, W: number, H: number, rng: Rng, X: (u: number) => number, Y: (v: number) => number): void {
  const line = (u0: number, v0: number, u1: number, v1: number, wpx: number) => {
    const steps = Math.ceil(Math.hypot((u1 - u0) * W, (v1 - v0) * H) * 2);
    for (let i = 0; i <= steps; i++) {
      const t = i / steps;
      const cx = (u0 + (u1 - u0) * t) * W, cy = (v0 + (v1 - v0) * t) * H;
      for (let yy = Math.floor(cy - wpx); yy <= Math.ceil(cy + wpx); yy++) {
        for (let xx = Math.floor(cx - wpx); xx <= Math.ceil(cx + wpx); xx++) {
          if (xx < 0 || yy < 0 || xx >= W || yy >= H) continue;
          if (sq(xx - cx) + sq(yy - cy) <= wpx * wpx) img[yy * W + xx] = 245;
        }
      }
    }
  };
  void X; void Y;
  const kinds = rng.int(1, 3);
  if (kinds >= 1) line(0.5 + rng.normal(0, 0.01), 0, 0.5 + rng.normal(0, 0.01), rng.uniform(0.25, 0.33), 1.6);
  if (kinds >= 2) {
    const s = rng.bernoulli(0.5) ? 1 : -1;
    const u0 = 0.5 + s * 0.32, v0 = 0.12, um = 0.5 + s * 0.08, vm = 0.3, u1 = 0.5 + s * 0.02, v1 = rng.uniform(0.42, 0.5);
    line(u0, v0, um, vm, 1.1);
    line(um, vm, u1, v1, 1.1);
  }
  for (let k = 0; k < (kinds >= 3 ? 3 : 1); k++) {
    const cu = rng.uniform(0.15, 0.85), cv = rng.uniform(0.15, 0.4);
    line(cu, cv, cu + 0.001, cv, 3.2);
  }
}

// ---------------------------------------------------------------------------------------------------------

const RACES = ['WHITE', 'BLACK/AFRICAN AMERICAN', 'HISPANIC/LATINO - PUERTO RICAN', 'HISPANIC OR LATINO', 'ASIAN - CHINESE', 'ASIAN', 'OTHER', 'UNKNOWN', 'UNABLE TO OBTAIN', 'WHITE - OTHER EUROPEAN', 'PORTUGUESE'];
/** Stream tags of the draws added after the data set's bytes were fixed (admissions, missing not at random). */
const ADMISSION_STREAM = 0x41444d, MNAR_STREAM = 0x4d4e4152;

/**
 * Insurance at an admission: Medicare for most at 65 and over; under 65, Medicaid more often for Black and
 * Hispanic patients (an association as in MIMIC-IV, which the report's subgroup tables can show).
 */
function insuranceOf(r: Rng, age: number, race: string): string {
  if (age >= 65) return r.pick(['Medicare', 'Private', 'Other'], [0.85, 0.1, 0.05]);
  const minority = race.startsWith('BLACK') || race.startsWith('HISPANIC');
  return minority ? r.pick(['Medicaid', 'Private', 'Other'], [0.4, 0.45, 0.15]) : r.pick(['Medicaid', 'Private', 'Other'], [0.15, 0.7, 0.15]);
}

const RACE_W = [0.58, 0.17, 0.04, 0.03, 0.02, 0.02, 0.04, 0.06, 0.01, 0.02, 0.01];
const PAIN_TEXT = ['UTA', 'unable', 'Critical', 'crit', 'pt sleeping', 'denies'];

function hexId(rng: Rng): string {
  const g = () => Math.floor(rng.next() * 0x100000000).toString(16).padStart(8, '0');
  return `${g()}-${g()}-${g()}-${g()}-${g()}`;
}

/** Format a number the way pandas writes a float column (1 decimal at least). */
function f1(v: number): string {
  const s = String(Math.round(v * 10) / 10);
  return s.includes('.') ? s : `${s}.0`;
}

/**
 * The file a complete synthetic data set ends with: its options and summary (JSON, no path or time, so the
 * same seed still gives the same bytes). Written last, so a folder without it is incomplete.
 */
export const SYNTH_MARKER = 'synthetic.json';
/** What a synthetic data set consists of, besides the marker. */
const SYNTH_ENTRIES = ['mimic-cxr-jpg', 'mimic-iv', 'truth.csv'];

/** Whether `dir` holds a complete synthetic data set (its marker, written last, is there). */
export function syntheticSetComplete(dir: string): boolean {
  return existsSync(join(dir, SYNTH_MARKER)) && SYNTH_ENTRIES.every((e) => existsSync(join(dir, e)));
}

const errCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/**
 * Create `dir` and its missing parents one level at a time. Why not mkdirSync(recursive): in a folder that
 * refuses new entries without saying EACCES (/proc answers ENOENT) Node's recursive mkdir retries forever;
 * one level at a time fails at once, here with one line naming the folder.
 */
function makeFolders(dir: string, shown: string): void {
  const missing: string[] = [];
  let d = dir;
  while (!existsSync(d)) {
    missing.unshift(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  if (existsSync(d) && !statSync(d).isDirectory()) throw new Error(`${shown}: ${d} is not a folder`);
  for (const m of missing) {
    try {
      mkdirSync(m);
    } catch (e) {
      if (errCode(e) !== 'EEXIST') throw new Error(`${shown}: cannot create the folder ${m} (${errCode(e)})`);
    }
  }
}

/** Is a process with this pid running (a staging folder's owner)? */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errCode(e) === 'EPERM';
  }
}

/**
 * A fresh staging folder beside `out` (`.NAME.partial-PID-RANDOM`, same file system, so the final moves are
 * renames), after removing the staging folders of generators that died (a killed `synth`).
 */
function stagingFolder(out: string, shown: string): string {
  const parent = dirname(out), prefix = `.${basename(out)}.partial-`;
  makeFolders(parent, shown);
  if (existsSync(out) && !statSync(out).isDirectory()) throw new Error(`${shown} exists and is not a folder`);
  for (const e of readdirSync(parent)) {
    const pid = e.startsWith(prefix) ? Number(e.slice(prefix.length).split('-')[0]) : NaN;
    if (Number.isInteger(pid) && pid > 0 && !alive(pid)) rmSync(join(parent, e), { recursive: true, force: true });
  }
  // mkdirSync, not mkdtempSync: the folder becomes `out`, so it gets the usual mode (mkdtemp's is 0700).
  const tmp = join(parent, `${prefix}${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    mkdirSync(tmp);
    return tmp;
  } catch (e) {
    throw new Error(`${shown}: cannot create a folder in ${parent} (${errCode(e)})`);
  }
}

/**
 * Move a complete staged set to `out`: one rename where `out` does not exist; otherwise the marker of the
 * old set goes first, then each entry is replaced, and the new marker comes last, so an interruption
 * leaves a folder that syntheticSetComplete calls incomplete (and other files in `out` are kept).
 */
function commitStaged(tmp: string, out: string): void {
  if (!existsSync(out)) {
    try {
      renameSync(tmp, out);
      return;
    } catch (e) {
      if (!existsSync(out)) throw e; // created meanwhile: replace entry by entry
    }
  }
  rmSync(join(out, SYNTH_MARKER), { force: true });
  for (const e of SYNTH_ENTRIES) {
    rmSync(join(out, e), { recursive: true, force: true });
    renameSync(join(tmp, e), join(out, e));
  }
  renameSync(join(tmp, SYNTH_MARKER), join(out, SYNTH_MARKER));
  rmdirSync(tmp);
}

/**
 * Write a synthetic data set to `opts.out` and return what was written. Deterministic in (seed, patients,
 * imageSize, gzip, quality). Written into a staging folder beside `out` and moved in when complete.
 */
export async function generateSynthetic(opts: SynthOptions): Promise<SynthSummary> {
  const nPat = opts.patients ?? SYNTH_DEFAULT_PATIENTS;
  const seed = opts.seed >>> 0;
  const gzip = opts.gzip ?? true;
  const size = opts.imageSize ?? 256;
  const quality = opts.quality ?? 90;
  if (!(nPat >= 1)) throw new Error(`patients must be >= 1 (got ${nPat})`);
  const mnar = opts.mnar ?? 0;
  if (!(mnar >= 0 && mnar <= 1)) throw new Error(`mnar must be a probability in [0, 1] (got ${mnar})`);
  const out = resolve(opts.out);
  const root = stagingFolder(out, opts.out);
  try {
    const summary = writeSet(root, { nPat, seed, gzip, size, quality, splitFile: opts.splitFile ?? true, mnar });
    writeFileSync(join(root, SYNTH_MARKER), `${JSON.stringify({ seed, imageSize: size, gzip, quality, splitFile: opts.splitFile ?? true, mnar, ...summary }, null, 2)}\n`);
    commitStaged(root, out);
    return { out: opts.out, ...summary };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** The set's files, written into `root` (a fresh staging folder). */
function writeSet(root: string, o: { nPat: number; seed: number; gzip: boolean; size: number; quality: number; splitFile: boolean; mnar: number }): Omit<SynthSummary, 'out'> {
  const { nPat, seed, gzip, size, quality, mnar } = o;
  const cxr = join(root, 'mimic-cxr-jpg');
  mkdirSync(join(root, 'mimic-iv', 'hosp'), { recursive: true });
  mkdirSync(join(root, 'mimic-iv', 'ed'), { recursive: true });
  mkdirSync(join(cxr, 'files'), { recursive: true });

  const meta = [csvLine(['dicom_id', 'subject_id', 'study_id', 'PerformedProcedureStepDescription', 'ViewPosition', 'Rows', 'Columns', 'StudyDate', 'StudyTime', 'ProcedureCodeSequence_CodeMeaning', 'ViewCodeSequence_CodeMeaning', 'PatientOrientationCodeSequence_CodeMeaning'])];
  const chex = [csvLine(['subject_id', 'study_id', ...LABEL_NAMES])];
  const split = [csvLine(['dicom_id', 'study_id', 'subject_id', 'split'])];
  const patients = [csvLine(['subject_id', 'gender', 'anchor_age', 'anchor_year', 'anchor_year_group', 'dod'])];
  const edstays = [csvLine(['subject_id', 'hadm_id', 'stay_id', 'intime', 'outtime', 'gender', 'race', 'arrival_transport', 'disposition'])];
  const triage = [csvLine(['subject_id', 'stay_id', 'temperature', 'heartrate', 'resprate', 'o2sat', 'sbp', 'dbp', 'pain', 'acuity', 'chiefcomplaint'])];
  const labs = [csvLine(['labevent_id', 'subject_id', 'hadm_id', 'specimen_id', 'itemid', 'charttime', 'value', 'valuenum', 'valueuom', 'flag'])];
  const truth = [csvLine(['subject_id', 'study_id', 'has_stay', 'ctr', 'chf', 'cardiomegaly', 'ecm', 'edema', 'effusion', 'pneumonia', 'other_opacity', 'other_infection', 'atelectasis', 'pneumothorax', 'lesion', 'fracture', 'trauma', 'icu', 'devices', 'pleural_other'])];
  const admissions = [csvLine(['subject_id', 'hadm_id', 'admittime', 'dischtime', 'admission_type', 'insurance', 'race'])];
  let mnarDropped = 0, admHadm = 25_000_000;
  const positives = new Float64Array(LABEL_NAMES.length);
  let studies = 0, images = 0, lateralOnly = 0, nStays = 0, withStay = 0, labRows = 0;
  let stayId = 30000000, hadmId = 20000000, labId = 1, specimen = 1000000;
  const step = Math.max(1, Math.floor(9_000_000 / nPat));
  const usedStudy = new Set<number>();

  for (let pi = 0; pi < nPat; pi++) {
    const rng = new Rng(mix(seed, pi));
    const subject = 10_000_000 + pi * step + rng.int(0, step - 1);
    const gender = rng.bernoulli(0.52) ? 'F' : 'M';
    const anchorAge = Math.round(Math.min(91, Math.max(18, rng.normal(58, 18))));
    const anchorYear = rng.int(2110, 2185);
    patients.push(csvLine([subject, gender, anchorAge, anchorYear, rng.pick(['2008 - 2010', '2011 - 2013', '2014 - 2016', '2017 - 2019']), '']));
    const race = rng.pick(RACES, RACE_W);
    const heartRisk = rng.bernoulli(sigmoid((anchorAge - 68) / 8));
    const split01 = rng.next();
    const splitName = split01 < 0.8 ? 'train' : split01 < 0.9 ? 'validate' : 'test';
    const nStudies = rng.pick([1, 2, 3, 4], [0.65, 0.22, 0.09, 0.04]);
    let t = Date.UTC(anchorYear, 0, 1) + rng.uniform(0, 2 * 365) * DAY;
    // an ED stay that matches no study (tests the time join)
    if (rng.bernoulli(0.25)) {
      const tin = t - rng.uniform(20, 200) * DAY;
      edstays.push(csvLine([subject, '', stayId++, fmtTime(tin), fmtTime(tin + rng.uniform(2, 10) * HOUR), gender, race, 'WALK IN', 'HOME']));
      nStays++;
    }
    const studyTimes: number[] = [];
    for (let si = 0; si < nStudies; si++) {
      if (si > 0) t += rng.uniform(3, 300) * DAY;
      t = Math.floor(t / 1000) * 1000 + rng.int(0, 999);
      let study = 50_000_000 + rng.int(0, 9_999_999);
      while (usedStudy.has(study)) study = 50_000_000 + rng.int(0, 9_999_999);
      usedStudy.add(study);
      studyTimes.push(t);
      studies++;
      const age = anchorAge + (new Date(t).getUTCFullYear() - anchorYear);
      // latent conditions
      const chf = heartRisk ? rng.bernoulli(0.7) : rng.bernoulli(0.03);
      const trauma = rng.bernoulli(0.08), icu = rng.bernoulli(0.12);
      const pneumonia = rng.bernoulli(0.13 + 0.002 * Math.max(0, age - 50));
      const effusion = chf ? rng.bernoulli(0.5) : rng.bernoulli(0.07);
      const cardiomegaly = chf ? rng.bernoulli(0.75) : rng.bernoulli(0.04 + 0.001 * Math.max(0, age - 40));
      const l: Latent = {
        chf, cardiomegaly, ecm: cardiomegaly ? rng.bernoulli(0.35) : rng.bernoulli(0.04),
        edema: chf ? rng.bernoulli(0.45) : rng.bernoulli(0.03), effusion, pneumonia,
        otherOpacity: rng.bernoulli(0.1), otherInfection: rng.bernoulli(0.12),
        atelectasis: rng.bernoulli(0.1 + 0.15 * +pneumonia + 0.15 * +effusion), pneumothorax: rng.bernoulli(trauma ? 0.25 : 0.03),
        lesion: rng.bernoulli(0.04 + 0.001 * Math.max(0, age - 50)), fracture: trauma ? rng.bernoulli(0.5) : rng.bernoulli(0.01),
        trauma, icu, devices: icu ? rng.bernoulli(0.8) : rng.bernoulli(0.06), pleuralOther: rng.bernoulli(0.02),
        ctr: cardiomegaly ? rng.normal(0.6, 0.035) : rng.normal(0.44, 0.03),
      };
      const found = findings(l);
      found.forEach((f, k) => (positives[k] += +f));
      chex.push(csvLine([subject, study, ...labelRow(rng, found, rng.bernoulli(0.03))]));

      // images: one or two frontal views (AP for the sick), often a lateral; a few lateral-only studies
      const sick = l.icu || l.pneumothorax || l.trauma || l.edema;
      const views: ('PA' | 'AP' | 'LATERAL')[] = [];
      const latOnly = rng.bernoulli(0.015);
      if (!latOnly) {
        const frontal = sick ? (rng.bernoulli(0.75) ? 'AP' : 'PA') : rng.bernoulli(0.25) ? 'AP' : 'PA';
        views.push(frontal);
        if (frontal === 'AP' && rng.bernoulli(0.06)) views.push('AP');
        if (frontal === 'PA' ? rng.bernoulli(0.4) : rng.bernoulli(0.1)) views.push('LATERAL');
      } else {
        views.push('LATERAL');
        lateralOnly++;
      }
      const d = new Date(t);
      const studyDate = `${d.getUTCFullYear()}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}`;
      const hhmmss = d.getUTCHours() * 10000 + d.getUTCMinutes() * 100 + d.getUTCSeconds();
      // StudyTime as a float with its leading zeros lost (as in the real metadata)
      const studyTime = String(Number(`${hhmmss}.${String(d.getUTCMilliseconds()).padStart(3, '0')}`));
      const dir = join(cxr, 'files', `p${String(subject).slice(0, 2)}`, `p${subject}`, `s${study}`);
      mkdirSync(dir, { recursive: true });
      for (let vi = 0; vi < views.length; vi++) {
        const view = views[vi];
        const irng = new Rng(mix(seed, study, vi + 1));
        const H = size, W = Math.round((size * irng.pick([0.875, 0.9375, 1])) / 8) * 8;
        const px = renderImage(l, { view, width: W, height: H }, irng);
        const dicom = hexId(rng);
        writeFileSync(join(dir, `${dicom}.jpg`), encodeGrayJpeg(px, W, H, quality));
        images++;
        const proc = view === 'LATERAL' || views.includes('LATERAL') ? 'CHEST (PA AND LAT)' : 'CHEST (PORTABLE AP)';
        const vcm = view === 'PA' ? 'postero-anterior' : view === 'AP' ? 'antero-posterior' : 'lateral';
        meta.push(csvLine([dicom, subject, study, proc, view === 'LATERAL' ? (rng.bernoulli(0.8) ? 'LATERAL' : 'LL') : view, H, W, studyDate, studyTime, 'Chest 2 Views', vcm, 'Erect']));
        split.push(csvLine([dicom, study, subject, splitName]));
      }

      // the ED stay around the study (about half of the studies), its triage row and labs
      const pStay = 0.38 + 0.3 * +(l.pneumonia || l.pneumothorax || l.edema || l.trauma || l.otherInfection);
      const fever = l.pneumonia || l.otherInfection;
      const truthStay = rng.bernoulli(pStay);
      if (truthStay) {
        withStay++;
        nStays++;
        const tin = t - rng.uniform(0.3, 5) * HOUR, tout = t + rng.uniform(0.5, 12) * HOUR;
        const sev = 0.6 * +l.pneumonia + 0.9 * +l.pneumothorax + 0.5 * +l.edema + 0.7 * +l.icu + 0.4 * +l.trauma + 0.2 * +l.effusion + rng.normal(0, 0.25);
        const acuity = sev > 1.2 ? 1 : sev > 0.6 ? 2 : sev > 0.1 ? 3 : rng.pick([2, 3, 4, 5], [0.15, 0.5, 0.3, 0.05]);
        const arrival = l.icu || l.trauma || acuity <= 2 ? rng.pick(['AMBULANCE', 'HELICOPTER', 'WALK IN', 'UNKNOWN'], [0.75, 0.05, 0.15, 0.05]) : rng.pick(['WALK IN', 'AMBULANCE', 'OTHER', 'UNKNOWN'], [0.7, 0.2, 0.05, 0.05]);
        const admitted = acuity <= 2 || rng.bernoulli(0.3);
        const hadm = admitted ? hadmId++ : '';
        edstays.push(csvLine([subject, hadm, stayId, fmtTime(tin), fmtTime(tout), gender, race, arrival, admitted ? 'ADMITTED' : 'HOME']));
        const miss = (p: number) => rng.bernoulli(p);
        let temp: string = miss(0.04) ? '' : f1(98.2 + rng.normal(0, 0.6) + (fever ? 2.6 + rng.normal(0, 0.8) : 0));
        if (temp && rng.bernoulli(0.005)) temp = f1(36.4 + rng.normal(0, 0.5)); // entered in Celsius: dropped by the range check
        const hr = miss(0.04) ? '' : f1(Math.round(78 + rng.normal(0, 11) + 24 * +fever + 18 * +l.pneumothorax + 12 * +l.edema + 10 * +l.trauma));
        const rr = miss(0.05) ? '' : f1(Math.round(16 + rng.normal(0, 2) + 5 * +l.pneumonia + 8 * +l.pneumothorax + 7 * +l.edema));
        let o2: string = miss(0.05) ? '' : f1(Math.min(100, Math.round(98 - Math.abs(rng.normal(0, 1.2)) - 5 * +l.pneumonia - 8 * +l.pneumothorax - 7 * +l.edema - 2 * +l.effusion + rng.normal(0, 1))));
        if (o2 && rng.bernoulli(0.003)) o2 = '970.0'; // typo outlier: dropped
        const sbpMiss = miss(0.04);
        const sbp = sbpMiss ? '' : f1(Math.round(128 + 0.4 * (age - 55) + rng.normal(0, 17) - 10 * +l.pneumonia));
        const dbp = sbpMiss ? '' : f1(Math.round(76 + rng.normal(0, 11)));
        let pain: string;
        const pu = rng.next();
        const painVal = l.fracture || l.trauma ? rng.int(6, 10) : l.pneumothorax ? rng.int(3, 9) : rng.pick([0, 0, 0, 2, 3, 4, 5, 6, 7, 8]);
        if (pu < 0.03) pain = '';
        else if (pu < 0.11) pain = rng.pick(PAIN_TEXT);
        else if (pu < 0.14) pain = `${Math.max(0, painVal - 1)}-${painVal}`;
        else if (pu < 0.15) pain = '10+';
        else pain = String(painVal);
        const cc = l.trauma ? rng.pick(['Fall', 's/p Fall', 'MVC', 'Chest wall pain, s/p fall']) : fever ? rng.pick(['Fever', 'Fever, Cough', 'Cough', 'SOB, Fever']) : l.edema ? rng.pick(['Dyspnea', 'SOB', 'Leg swelling, Dyspnea']) : rng.pick(['Chest pain', 'Abd pain', 'Dizziness', 'Weakness', 'Transfer', '"Not feeling well"']);
        triage.push(csvLine([subject, stayId, temp, hr, rr, o2, sbp, dbp, pain, miss(0.015) ? '' : f1(acuity), cc]));
        // labs joined on subject and time (a few without hadm_id)
        if (rng.bernoulli(0.75)) {
          const ct = t + rng.uniform(-1, 3) * HOUR;
          const spec = specimen++;
          // Missing not at random: its own stream per study, so the other draws (and files) are unchanged.
          const mrng = mnar > 0 ? new Rng(mix(seed, study, MNAR_STREAM)) : undefined;
          const healthy = found[LABEL_NAMES.indexOf('No Finding')];
          const add = (itemid: number, v: number, uom: string, digits: number) => {
            const noHadm = rng.bernoulli(0.02); // drawn first: a dropped value leaves the main stream as it was
            if (mrng && healthy && mrng.bernoulli(mnar)) { mnarDropped++; return; }
            const s = v.toFixed(digits);
            labs.push(csvLine([labId++, subject, noHadm ? '' : hadm, spec, itemid, fmtTime(ct), s, s, uom, '']));
            labRows++;
          };
          if (!miss(0.12)) add(51301, Math.max(0.5, 7.5 + rng.normal(0, 2) + 8 * +fever + rng.normal(0, 1.5) * +fever), 'K/uL', 1);
          if (!miss(0.45)) add(50813, Math.max(0.3, 1.2 + Math.abs(rng.normal(0, 0.5)) + 1.3 * +(fever && rng.bernoulli(0.5)) + 1.0 * +l.icu), 'mmol/L', 1);
          if (!miss(0.55)) add(50963, Math.exp(l.chf || l.edema ? rng.normal(8.4, 0.7) : rng.normal(5.2, 1)), 'pg/mL', 0);
          if (!miss(0.15)) add(50912, Math.max(0.3, 0.9 + Math.abs(rng.normal(0, 0.25)) + 0.6 * +l.chf), 'mg/dL', 1);
          if (!miss(0.15)) add(50971, 4.1 + rng.normal(0, 0.4), 'mEq/L', 1); // potassium: not in the default spec
        }
        stayId++;
      } else if (rng.bernoulli(0.08)) {
        // a stay that ended a few hours before the study: only a wider window recovers it
        const tout = t - rng.uniform(1, 5) * HOUR;
        edstays.push(csvLine([subject, '', stayId, fmtTime(tout - rng.uniform(2, 8) * HOUR), fmtTime(tout), gender, race, 'WALK IN', 'HOME']));
        triage.push(csvLine([subject, stayId, f1(98.4 + rng.normal(0, 0.5)), '80.0', '16.0', '98.0', '125.0', '75.0', '0', '3.0', 'Follow up']));
        stayId++;
        nStays++;
      }
      truth.push(csvLine([subject, study, +truthStay, l.ctr.toFixed(4), ...[l.chf, l.cardiomegaly, l.ecm, l.edema, l.effusion, l.pneumonia, l.otherOpacity, l.otherInfection, l.atelectasis, l.pneumothorax, l.lesion, l.fracture, l.trauma, l.icu, l.devices, l.pleuralOther].map((b) => +b)]));
    }
    // hosp/admissions from a separate stream per patient, so every other file keeps its bytes.
    const arng = new Rng(mix(seed, pi, ADMISSION_STREAM));
    for (const st of studyTimes) {
      if (!arng.bernoulli(0.6)) continue;
      const admit = Math.floor((st - arng.uniform(0, 2) * DAY) / 1000) * 1000;
      const ageThen = anchorAge + (new Date(st).getUTCFullYear() - anchorYear);
      const recorded = arng.bernoulli(0.05) ? arng.pick(RACES, RACE_W) : race;
      admissions.push(csvLine([subject, admHadm++, fmtTime(admit), fmtTime(admit + arng.uniform(1, 10) * DAY),
        arng.pick(['EW EMER.', 'URGENT', 'ELECTIVE', 'OBSERVATION ADMIT'], [0.55, 0.2, 0.15, 0.1]), insuranceOf(arng, ageThen, race), recorded]));
    }
  }

  const write = (base: string, lines: string[]) => {
    const text = Buffer.from(lines.join('\n') + '\n', 'utf8');
    if (gzip) writeFileSync(`${base}.csv.gz`, gzipSync(text, { level: 6 }));
    else writeFileSync(`${base}.csv`, text);
  };
  write(join(cxr, 'mimic-cxr-2.0.0-metadata'), meta);
  write(join(cxr, 'mimic-cxr-2.0.0-chexpert'), chex);
  if (o.splitFile) write(join(cxr, 'mimic-cxr-2.0.0-split'), split);
  write(join(root, 'mimic-iv', 'hosp', 'patients'), patients);
  write(join(root, 'mimic-iv', 'hosp', 'labevents'), labs);
  write(join(root, 'mimic-iv', 'hosp', 'admissions'), admissions);
  write(join(root, 'mimic-iv', 'ed', 'edstays'), edstays);
  write(join(root, 'mimic-iv', 'ed', 'triage'), triage);
  writeFileSync(join(root, 'truth.csv'), truth.join('\n') + '\n');
  const prevalence: Record<string, number> = {};
  LABEL_NAMES.forEach((n, k) => (prevalence[n] = positives[k] / studies));
  return { patients: nPat, studies, images, lateralOnlyStudies: lateralOnly, edStays: nStays, studiesWithStay: withStay, labRows, admissions: admissions.length - 1, mnarDropped, prevalence };
}
