/**
 * A MIMIC-size world for the data-scale benchmark (not the test suite): metadata with the real row counts of
 * MIMIC-CXR-JPG 2.x and MIMIC-IV (377,110 image rows, 227,827 studies, 65,379 patients, 425,087 ED stays
 * and triage rows, 20 million labevents rows) times `scale`, and every image path a hard link to one of a
 * handful of small JPEGs, so the file count is real while the disk holds a few kilobytes of pixels.
 */
import { closeSync, existsSync, linkSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LABEL_NAMES } from '../src/engine/batch.ts';
import { encodeGrayJpeg } from '../src/data/jpeg.ts';
import { Rng } from '../src/engine/rng.ts';

/** MIMIC's row counts (issue 13). */
export const MIMIC_COUNTS = { images: 377_110, studies: 227_827, patients: 65_379, stays: 425_087, labevents: 20_000_000 };

/** A CSV written through a 1 MB buffer (20 million rows never sit in memory as strings). */
class CsvOut {
  private fd: number;
  private buf: string[] = [];
  private len = 0;
  rows = 0;
  constructor(path: string, header: string) {
    this.fd = openSync(path, 'w');
    this.line(header);
    this.rows = 0;
  }
  line(s: string): void {
    this.buf.push(s);
    this.len += s.length + 1;
    this.rows++;
    if (this.len > 1 << 20) this.flush();
  }
  private flush(): void {
    writeSync(this.fd, this.buf.join('\n') + '\n');
    this.buf = [];
    this.len = 0;
  }
  close(): void {
    if (this.buf.length) this.flush();
    closeSync(this.fd);
  }
}

const pad2 = (n: number) => String(n).padStart(2, '0');
function fmtTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
}
const HOUR = 3600_000;
const T0 = Date.UTC(2150, 0, 1);

export interface WorldSummary {
  dir: string;
  images: number;
  studies: number;
  patients: number;
  stays: number;
  labevents: number;
  seconds: number;
}

/**
 * Write the world into `dir` (replaced). Study k belongs to patient k mod P; its first image is frontal (PA or
 * AP), any others lateral; 60% of studies fall inside an ED stay of their patient (with a triage row); the
 * other stays lie years earlier; labevents rows are spread over patients, mostly itemids the default spec
 * does not read (as in MIMIC, where the four wanted labs are a small share).
 */
export function writeWorld(dir: string, scale = 1, log: (s: string) => void = () => {}): WorldSummary {
  const t0 = performance.now();
  const n = (x: number) => Math.max(1, Math.round(x * scale));
  const P = n(MIMIC_COUNTS.patients), ST = Math.max(P, n(MIMIC_COUNTS.studies)), IM = Math.max(ST, n(MIMIC_COUNTS.images));
  const SY = n(MIMIC_COUNTS.stays), LB = n(MIMIC_COUNTS.labevents);
  rmSync(dir, { recursive: true, force: true });
  const cxr = join(dir, 'mimic-cxr-jpg'), hosp = join(dir, 'mimic-iv', 'hosp'), ed = join(dir, 'mimic-iv', 'ed');
  for (const d of [cxr, hosp, ed, join(dir, 'jpeg-sources')]) mkdirSync(d, { recursive: true });
  const rng = new Rng(13);
  // a handful of small JPEGs (varied so the image pass is not one cached file)
  const sources = Array.from({ length: 6 }, (_, k) => {
    const W = 320, H = 384, px = new Uint8Array(W * H);
    for (let i = 0; i < px.length; i++) px[i] = (40 + ((i % W) * (k + 1)) / 4 + Math.floor(i / W) / 3 + rng.next() * 30) & 255;
    const p = join(dir, 'jpeg-sources', `src${k}.jpg`);
    writeFileSync(p, encodeGrayJpeg(px, W, H, 90));
    return p;
  });
  const subject = (p: number) => 10_000_000 + p;
  const studyTime = (k: number) => T0 + k * 37 * 60_000;
  const meta = new CsvOut(join(cxr, 'mimic-cxr-2.0.0-metadata.csv'), 'dicom_id,subject_id,study_id,ViewPosition,Rows,Columns,StudyDate,StudyTime');
  const split = new CsvOut(join(cxr, 'mimic-cxr-2.0.0-split.csv'), 'dicom_id,study_id,subject_id,split');
  const chex = new CsvOut(join(cxr, 'mimic-cxr-2.0.0-chexpert.csv'), ['subject_id', 'study_id', ...LABEL_NAMES].join(','));
  const made = new Set<string>();
  for (let j = 0; j < IM; j++) {
    const k = j % ST, p = k % P, sub = subject(p), study = 50_000_000 + k;
    const dicom = `${j.toString(16).padStart(8, '0')}-5a1b2c3d-4e5f6a7b-8c9d0e1f-2a3b4c5d`;
    const t = new Date(studyTime(k));
    const date = `${t.getUTCFullYear()}${pad2(t.getUTCMonth() + 1)}${pad2(t.getUTCDate())}`;
    const time = `${t.getUTCHours()}${pad2(t.getUTCMinutes())}${pad2(t.getUTCSeconds())}.000`;
    meta.line(`${dicom},${sub},${study},${j < ST ? (k % 3 ? 'PA' : 'AP') : 'LATERAL'},384,320,${date},${time}`);
    split.line(`${dicom},${study},${sub},${p % 50 === 0 ? 'test' : p % 50 === 1 ? 'validate' : 'train'}`);
    const folder = join(cxr, 'files', `p${String(sub).slice(0, 2)}`, `p${sub}`, `s${study}`);
    if (!made.has(folder)) {
      mkdirSync(folder, { recursive: true });
      made.add(folder);
    }
    linkSync(sources[j % sources.length], join(folder, `${dicom}.jpg`));
    if (j < ST) chex.line(`${sub},${study},${LABEL_NAMES.map(() => rng.pick(['', '', '1.0', '0.0', '-1.0'])).join(',')}`);
    if ((j & 0xffff) === 0) log(`world: ${j}/${IM} image rows`);
  }
  made.clear();
  meta.close();
  split.close();
  chex.close();
  const pat = new CsvOut(join(hosp, 'patients.csv'), 'subject_id,gender,anchor_age,anchor_year,anchor_year_group,dod');
  for (let p = 0; p < P; p++) pat.line(`${subject(p)},${p % 2 ? 'F' : 'M'},${20 + (p % 70)},2150,2017 - 2019,`);
  pat.close();
  const stays = new CsvOut(join(ed, 'edstays.csv'), 'subject_id,hadm_id,stay_id,intime,outtime,gender,race,arrival_transport,disposition');
  const triage = new CsvOut(join(ed, 'triage.csv'), 'subject_id,stay_id,temperature,heartrate,resprate,o2sat,sbp,dbp,pain,acuity,chiefcomplaint');
  for (let s = 0; s < SY; s++) {
    // stays 0..0.6*ST hold study s; the rest are earlier visits of patient s mod P
    const inStudy = s < Math.floor(0.6 * ST);
    const p = inStudy ? s % P : s % P, tin = inStudy ? studyTime(s) - 2 * HOUR : T0 - (1 + (s % 900)) * 24 * HOUR;
    stays.line(`${subject(p)},,${30_000_000 + s},${fmtTime(tin)},${fmtTime(tin + 6 * HOUR)},${p % 2 ? 'F' : 'M'},WHITE,WALK IN,HOME`);
    triage.line(`${subject(p)},${30_000_000 + s},${(97 + rng.next() * 4).toFixed(1)},${60 + (s % 60)},16,98,${100 + (s % 60)},${60 + (s % 30)},${s % 11},${1 + (s % 5)},Chest pain`);
  }
  stays.close();
  triage.close();
  const labs = new CsvOut(join(hosp, 'labevents.csv'), 'labevent_id,subject_id,hadm_id,specimen_id,itemid,charttime,value,valuenum,valueuom,flag');
  const items = [51301, 50813, 50963, 50912, 50868, 50882, 50902, 50931, 50960, 50970, 50971, 50983, 51006, 51221, 51222, 51248, 51249, 51250, 51265, 51277];
  for (let r = 0; r < LB; r++) {
    const p = r % P, k = (r * 7919) % ST;
    const v = (1 + (r % 97) / 10).toFixed(1);
    labs.line(`${r + 1},${subject(p)},,${r >> 2},${items[r % items.length]},${fmtTime(studyTime(k) - (r % 20) * HOUR)},${v},${v},mg/dL,`);
    if ((r & 0xfffff) === 0) log(`world: ${r}/${LB} labevents rows`);
  }
  labs.close();
  if (!existsSync(join(cxr, 'files'))) throw new Error('world: no image folder written');
  return { dir, images: IM, studies: ST, patients: P, stays: SY, labevents: LB, seconds: (performance.now() - t0) / 1000 };
}
