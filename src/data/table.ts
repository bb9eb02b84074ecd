/**
 * The tabular side of a load: which spec features can be read (their source table exists), the raw value of
 * each feature for each study as the table readers find it, and those values parsed, range-checked and counted.
 */
import { categoricalValue, numericValue, ParseStatus } from './features.ts';
import type { CategoricalFeature, FeatureDef, FeatureSource, FeatureSpec, NumericFeature } from './features.ts';
import type { FeatureReport } from './report.ts';
import type { StudyRec } from './studies.ts';

/** The MIMIC-IV tables a load can read (undefined: absent). */
export interface TableFiles {
  patients?: string;
  edstays?: string;
  triage?: string;
  labevents?: string;
}

/** A raw value: table text, a derived number (age) or undefined (no row). */
export type RawValue = string | number | undefined;

/** The features that will be read, numeric ones first (the model's token order), and their raw values. */
export interface FeatureTable {
  ordered: FeatureDef[];
  numFeats: NumericFeature[];
  catFeats: CategoricalFeature[];
  /** [F][N] raw values, filled by the table readers. */
  raw: RawValue[][];
  /** Spec features left out because their source table is absent. */
  featuresLeftOut: string[];
}

/** Keep the spec's features whose source tables exist (triage needs edstays to reach it; age needs patients). */
export function featureTable(spec: FeatureSpec, files: TableFiles, N: number): FeatureTable {
  const featuresLeftOut: string[] = [];
  const avail = (f: FeatureDef): boolean => {
    if (f.source === 'derived') return !!files.patients;
    if (f.source === 'triage') return !!files.triage && !!files.edstays;
    return !!files[f.source];
  };
  const feats = spec.features.filter((f) => {
    if (avail(f)) return true;
    featuresLeftOut.push(f.name);
    return false;
  });
  const numFeats = feats.filter((f): f is NumericFeature => f.kind === 'numeric');
  const catFeats = feats.filter((f): f is CategoricalFeature => f.kind === 'categorical');
  const ordered: FeatureDef[] = [...numFeats, ...catFeats];
  const raw: RawValue[][] = Array.from({ length: ordered.length }, () => new Array(N));
  return { ordered, numFeats, catFeats, raw, featuresLeftOut };
}

/** The distinct columns the table's features read from one source table. */
export function columnsOf(t: FeatureTable, source: FeatureSource): string[] {
  return [...new Set(t.ordered.filter((f) => f.source === source).map((f) => f.column!))];
}

/** Parsed feature values before normalization, per study, with per-feature counts. */
export interface FeatureValues {
  /** [N*Fn] numbers in the feature's unit, NaN where missing. */
  numRaw: Float64Array;
  /** [N*Fc] categories, '' where missing. */
  catRaw: string[];
  freports: FeatureReport[];
  /** [N] 1 where the study has at least one tabular value. */
  anyTable: Uint8Array;
}

/**
 * Parse every raw value (unit conversion, valid and outlier ranges, category groups). With `needStay`, a study
 * without a matched ED stay has no tabular values at all (FeatureSpec.tableRequiresStay).
 */
export function featureValues(t: FeatureTable, recs: StudyRec[], needStay: boolean): FeatureValues {
  const N = recs.length, F = t.ordered.length;
  const Fn = t.numFeats.length, Fc = t.catFeats.length;
  const numRaw = new Float64Array(N * Fn).fill(NaN);
  const catRaw: string[] = new Array(N * Fc).fill('');
  const freports: FeatureReport[] = t.ordered.map((f) => ({ name: f.name, kind: f.kind, unit: f.kind === 'numeric' ? f.unit : undefined, present: 0, missing: 0, unparsed: 0, dropped: 0, clipped: 0, unseen: 0 }));
  const anyTable = new Uint8Array(N);
  for (let j = 0; j < F; j++) {
    const f = t.ordered[j], fr = freports[j];
    for (let i = 0; i < N; i++) {
      if (needStay && recs[i].stay < 0) continue;
      const r = t.raw[j][i];
      if (r === undefined) continue;
      if (f.kind === 'numeric') {
        if (typeof r === 'string' && r.trim() === '') continue;
        const [v, st] = numericValue(f, r);
        if (st === ParseStatus.Unparsed) fr.unparsed++;
        else if (st === ParseStatus.Dropped) fr.dropped++;
        else if (st === ParseStatus.Clipped) fr.clipped++;
        if (!Number.isNaN(v)) {
          numRaw[i * Fn + j] = v;
          anyTable[i] = 1;
        }
      } else {
        const c = categoricalValue(f, String(r));
        if (c) {
          catRaw[i * Fc + (j - Fn)] = c;
          anyTable[i] = 1;
        }
      }
    }
  }
  return { numRaw, catRaw, freports, anyTable };
}
