/**
 * Subgroup attributes of a prepared data set's studies for the evaluation's subgroup tables (src/eval/report.ts):
 * sex from the `gender` feature (MIMIC-IV patients), age bands from the derived `age` feature (anchor age at
 * the study), and race and insurance from MIMIC-IV admissions when they were read (readers/admissions.ts). An
 * attribute whose column is not in the data is returned with `values: null` and the reason, so a report says
 * "not available" instead of leaving it out.
 */
import type { PreparedDataset } from './prepared.ts';

/** One attribute per study (null: unknown for the study), or unavailable with a reason. */
export interface StudyAttribute {
  name: string;
  values: (string | null)[] | null;
  reason?: string;
}

/** Age bands of the subgroup tables: [18, 40), [40, 60), [60, 80), 80 and over. */
export function ageBand(age: number): string {
  if (!Number.isFinite(age)) throw new Error(`age ${age} is not a number`);
  return age < 18 ? 'under 18' : age < 40 ? '18-40' : age < 60 ? '40-60' : age < 80 ? '60-80' : '80+';
}

/** Sex of each of `rows` from hosp/patients, else from the categorical feature `gender`, or unavailable. */
export function sexAttribute(ds: Pick<PreparedDataset, 'schema' | 'cat' | 'catPresent' | 'demographics'>, rows: ArrayLike<number>): StudyAttribute {
  const d = ds.demographics?.sex;
  if (d) return { name: 'sex', values: Array.from(rows, (r) => d[r]) };
  const Fc = ds.schema.categorical.length, j = ds.schema.categorical.findIndex((c) => c.name === 'gender');
  if (j < 0) return { name: 'sex', values: null, reason: "no hosp/patients table and no 'gender' feature in the data set" };
  const vocab = ds.schema.categorical[j].vocab;
  return { name: 'sex', values: Array.from(rows, (r) => (ds.catPresent[r * Fc + j] ? vocab[ds.cat[r * Fc + j]] : null)) };
}

/** Age band of each of `rows` from hosp/patients (age at the study), else from the numeric feature `age` (standardized float32 values mapped back to years, rounded to 1/1000 so a whole age lands in its band), or unavailable. */
export function ageAttribute(ds: Pick<PreparedDataset, 'schema' | 'num' | 'numPresent' | 'demographics'>, rows: ArrayLike<number>): StudyAttribute {
  const d = ds.demographics?.age;
  if (d) return { name: 'age', values: Array.from(rows, (r) => (d[r] === null ? null : ageBand(d[r]!))) };
  const Fn = ds.schema.numeric.length, j = ds.schema.numeric.findIndex((c) => c.name === 'age');
  if (j < 0) return { name: 'age', values: null, reason: "no hosp/patients table and no 'age' feature in the data set" };
  const { mean, std } = ds.schema.numeric[j];
  return { name: 'age', values: Array.from(rows, (r) => (ds.numPresent[r * Fn + j] ? ageBand(Math.round((ds.num[r * Fn + j] * std + mean) * 1000) / 1000) : null)) };
}

/** Race and insurance of each of `rows` from MIMIC-IV admissions (the admission nearest the study), or unavailable. */
export function admissionAttributes(ds: Pick<PreparedDataset, 'demographics'>, rows: ArrayLike<number>): StudyAttribute[] {
  const race = ds.demographics?.race, ins = ds.demographics?.insurance;
  if (!race || !ins) {
    const reason = 'no hosp/admissions table in the data set';
    return [{ name: 'race', values: null, reason }, { name: 'insurance', values: null, reason }];
  }
  return [
    { name: 'race', values: Array.from(rows, (r) => raceGroup(race[r])) },
    { name: 'insurance', values: Array.from(rows, (r) => ins[r]) },
  ];
}

/**
 * MIMIC-IV's race strings (33 of them) grouped as in Seyyed-Kalantari et al. 2021: White, Black, Hispanic,
 * Asian, American Indian, Other; unknown, declined and unable to obtain are unknown (null).
 */
export function raceGroup(race: string | null): string | null {
  if (race === null) return null;
  const r = race.toUpperCase();
  if (/^(UNKNOWN|UNABLE TO OBTAIN|PATIENT DECLINED)/.test(r)) return null;
  if (r.startsWith('WHITE') || r === 'PORTUGUESE') return 'White';
  if (r.startsWith('BLACK')) return 'Black';
  if (r.startsWith('HISPANIC') || r === 'SOUTH AMERICAN') return 'Hispanic';
  if (r.startsWith('ASIAN')) return 'Asian';
  if (r.startsWith('AMERICAN INDIAN')) return 'American Indian';
  return 'Other';
}

/** Every subgroup attribute of `rows`: sex, age, race, insurance (each possibly unavailable). */
export function studyAttributes(ds: Pick<PreparedDataset, 'schema' | 'cat' | 'catPresent' | 'num' | 'numPresent' | 'demographics'>, rows: ArrayLike<number>): StudyAttribute[] {
  return [sexAttribute(ds, rows), ageAttribute(ds, rows), ...admissionAttributes(ds, rows)];
}
