/**
 * Where the MIMIC tables are: the flat layout (`mimic-cxr-jpg/`, `mimic-iv/hosp/`, `mimic-iv/ed/`), the trees
 * PhysioNet's downloads create (`physionet.org/files/mimic-cxr-jpg/2.1.0/`, `.../mimiciv/3.1/hosp/`,
 * `.../mimic-iv-ed/2.2/ed/`, with or without the `physionet.org/files` prefix, any version folder), or
 * folders given explicitly (cxrDir, mimicIvDir, mimicIvEdDir). A source found in two places is an error
 * rather than a silent choice, since the two may be different releases.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { DataError, findCsv } from './csv.ts';
import type { TableFiles } from './table.ts';
import type { DataSources, SourceInfo } from './report.ts';

/** Explicit source folders (LoadOptions); each overrides the search under the data set folder. */
export interface LayoutOptions {
  /** MIMIC-CXR-JPG: the folder holding mimic-cxr-2.0.0-metadata.csv[.gz] and files/ (or a parent of version folders). */
  cxrDir?: string;
  /** MIMIC-IV: the folder holding hosp/ (or hosp/ itself, or a parent of version folders). */
  mimicIvDir?: string;
  /** MIMIC-IV-ED: the folder holding ed/ (or ed/ itself, or a parent of version folders). */
  mimicIvEdDir?: string;
}

/** The located sources: the folders, what they are, and the table files found in them. */
export interface DataLayout {
  /** The data set folder (the default cache folder and the report's `dir`). */
  root: string;
  cxrDir: string;
  sources: DataSources;
  tables: TableFiles;
}

const VERSION = /^\d+(\.\d+)*$/;
const PROJECTS = ['mimic-cxr-jpg', 'mimic-iv', 'mimiciv', 'mimic-iv-ed'];
const CXR_PROBE = 'mimic-cxr-2.0.0-metadata';
const HOSP_TABLES = ['patients', 'labevents'];
const ED_TABLES = ['edstays', 'triage'];

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The version folders (names like 2.1.0) directly under `dir`. */
function versionDirs(dir: string): string[] {
  if (!isDir(dir)) return [];
  return readdirSync(dir).filter((n) => VERSION.test(n) && isDir(join(dir, n))).sort();
}

/** `dir` and each of its version folders, each joined with `sub`. */
function withVersions(dir: string, sub: string): string[] {
  return [join(dir, sub), ...versionDirs(dir).map((v) => join(dir, v, sub))];
}

const holdsAny = (dir: string, tables: string[]) => tables.some((t) => findCsv(join(dir, t)) !== undefined);

/** Describe a found folder: the project and version read off its path. */
function describe(dir: string, layout: SourceInfo['layout'], fallback: string): SourceInfo {
  let d = dir;
  if (basename(d) === 'hosp' || basename(d) === 'ed') d = dirname(d);
  const v = basename(d);
  if (VERSION.test(v)) return { dir, project: basename(dirname(d)) || fallback, version: v, layout };
  return { dir, project: PROJECTS.includes(basename(d)) ? basename(d) : fallback, version: null, layout };
}

/** One source's folder: the single candidate that passes `ok`; two or more is an error naming them. */
function pick(what: string, candidates: [string, SourceInfo['layout']][], ok: (d: string) => boolean, hint: string): [string, SourceInfo['layout']] | undefined {
  const seen = new Set<string>();
  const found = candidates.filter(([d]) => !seen.has(resolve(d)) && (seen.add(resolve(d)), ok(d)));
  if (found.length > 1) throw new DataError(found[0][0], 0, `${what} found in ${found.length} places (${found.map(([d]) => d).join(', ')}): choose one with ${hint}`);
  return found[0];
}

/** Folder prefixes under which PhysioNet project folders may sit. */
function prefixes(root: string): [string, SourceInfo['layout']][] {
  return [[root, 'flat'], [join(root, 'physionet.org', 'files'), 'physionet'], [join(root, 'files'), 'physionet']];
}

/** Locate the MIMIC-CXR-JPG folder (required) and the MIMIC-IV hosp and ED folders (optional). */
export function locateSources(dir: string, opts: LayoutOptions = {}): DataLayout {
  const given = dir ? resolve(dir) : undefined;
  if (given && !isDir(given)) throw new DataError(given, 0, existsSync(given) ? 'the data set path is not a folder' : 'the data set folder does not exist');
  if (!given && !opts.cxrDir) throw new Error('no data set folder: give one, or cxrDir (--cxr-dir)');
  const cxr = locateCxr(given, opts.cxrDir);
  const root = given ?? cxr.dir;
  const hosp = locateTables(given, opts.mimicIvDir, 'hosp', HOSP_TABLES, ['mimic-iv', 'mimiciv'], 'mimicIvDir (--mimic-iv-dir)');
  const ed = locateTables(given, opts.mimicIvEdDir, 'ed', ED_TABLES, ['mimic-iv', 'mimic-iv-ed'], 'mimicIvEdDir (--mimic-iv-ed-dir)');
  const t = (s: SourceInfo | null, name: string) => (s ? findCsv(join(s.dir, name)) : undefined);
  return {
    root, cxrDir: cxr.dir, sources: { cxr, hosp, ed },
    tables: { patients: t(hosp, 'patients'), labevents: t(hosp, 'labevents'), edstays: t(ed, 'edstays'), triage: t(ed, 'triage') },
  };
}

function locateCxr(root: string | undefined, explicit: string | undefined): SourceInfo {
  const ok = (d: string) => findCsv(join(d, CXR_PROBE)) !== undefined;
  if (explicit) {
    const d = resolve(explicit);
    const hit = pick('MIMIC-CXR-JPG', withVersions(d, '').map((c) => [c, 'explicit']), ok, 'a version folder in cxrDir (--cxr-dir)');
    if (!hit) throw new DataError(join(d, `${CXR_PROBE}.csv[.gz]`), 0, 'file not found (cxrDir, --cxr-dir)');
    return describe(hit[0], 'explicit', 'mimic-cxr-jpg');
  }
  const cands: [string, SourceInfo['layout']][] = [[root!, 'flat']];
  for (const [p, layout] of prefixes(root!)) for (const c of withVersions(join(p, 'mimic-cxr-jpg'), '')) cands.push([c, c === join(p, 'mimic-cxr-jpg', '') && layout === 'flat' ? 'flat' : 'physionet']);
  const hit = pick('MIMIC-CXR-JPG', cands, ok, 'cxrDir (--cxr-dir)');
  if (!hit) throw new DataError(join(root!, 'mimic-cxr-jpg', `${CXR_PROBE}.csv[.gz]`), 0, 'file not found (nor under physionet.org/files/mimic-cxr-jpg/VERSION/; or give cxrDir, --cxr-dir)');
  return describe(hit[0], hit[1], 'mimic-cxr-jpg');
}

/** Locate a MIMIC-IV module folder (`hosp` or `ed`) holding at least one of `tables`; null when absent. */
function locateTables(root: string | undefined, explicit: string | undefined, sub: string, tables: string[], projects: string[], hint: string): SourceInfo | null {
  const ok = (d: string) => holdsAny(d, tables);
  if (explicit) {
    const d = resolve(explicit);
    const hit = pick(`MIMIC-IV ${sub}`, [[d, 'explicit'], ...withVersions(d, sub).map((c): [string, 'explicit'] => [c, 'explicit'])], ok, `a version folder in ${hint}`);
    if (!hit) throw new DataError(d, 0, `no ${tables.map((t) => `${t}.csv[.gz]`).join(' or ')} here nor in ${sub}/ (${hint})`);
    return describe(hit[0], 'explicit', projects[projects.length - 1]);
  }
  if (!root) return null;
  const cands: [string, SourceInfo['layout']][] = [];
  for (const [p, layout] of prefixes(root)) {
    for (const proj of projects) {
      const base = join(p, proj);
      cands.push([join(base, sub), layout]);
      for (const v of versionDirs(base)) cands.push([join(base, v, sub), 'physionet']);
    }
  }
  const hit = pick(`MIMIC-IV ${sub}`, cands, ok, hint);
  return hit ? describe(hit[0], hit[1], projects[projects.length - 1]) : null;
}
