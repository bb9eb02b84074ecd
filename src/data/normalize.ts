/**
 * Normalization from the training split: numeric features standardized with its mean and std, categorical
 * features coded by a vocabulary of the categories it holds (at least minCount times); anything else missing.
 */
import type { CategoricalFeature, NumericFeature } from './features.ts';
import type { PreparedDataset } from './prepared.ts';
import type { FeatureReport } from './report.ts';
import { sharedI32, sharedU8, sharedF32 } from './shared.ts';
import type { FeatureValues } from './table.ts';

type Schema = PreparedDataset['schema'];

/** Standardized numeric and coded categorical arrays of the kept samples, and the schema that made them. */
export function normalizeFeatures(
  numFeats: NumericFeature[], catFeats: CategoricalFeature[], v: FeatureValues, keep: number[], split: Uint8Array,
): Pick<PreparedDataset, 'num' | 'numPresent' | 'cat' | 'catPresent'> & { schema: Schema } {
  const n = keep.length, Fn = numFeats.length, Fc = catFeats.length;
  const num = sharedF32(n * Fn), numPresent = sharedU8(n * Fn);
  const numeric = numFeats.map((f, j) => {
    let c = 0, s1 = 0, s2 = 0;
    keep.forEach((i, s) => {
      const x = v.numRaw[i * Fn + j];
      if (split[s] !== 0 || Number.isNaN(x)) return;
      c++;
      s1 += x;
      s2 += x * x;
    });
    const mean = c ? s1 / c : 0;
    const sd = c > 1 ? Math.sqrt(Math.max(0, s2 / c - mean * mean)) : 0;
    return { name: f.name, mean, std: sd > 1e-8 ? sd : 1, unit: f.unit };
  });
  keep.forEach((i, s) => {
    for (let j = 0; j < Fn; j++) {
      const x = v.numRaw[i * Fn + j];
      if (Number.isNaN(x)) continue;
      num[s * Fn + j] = (x - numeric[j].mean) / numeric[j].std;
      numPresent[s * Fn + j] = 1;
    }
  });
  const { cat, catPresent, categorical } = codeCategories(catFeats, v.catRaw, v.freports.slice(Fn), keep, split);
  return { num, numPresent, cat, catPresent, schema: { numeric, categorical } };
}

/** Vocabularies from the training split and the codes of every kept sample (unseen: missing, counted). */
function codeCategories(catFeats: CategoricalFeature[], catRaw: string[], reports: FeatureReport[], keep: number[], split: Uint8Array) {
  const n = keep.length, Fc = catFeats.length;
  const cat = sharedI32(n * Fc), catPresent = sharedU8(n * Fc);
  const categorical = catFeats.map((f, c) => {
    const counts = new Map<string, number>();
    keep.forEach((i, s) => {
      const x = catRaw[i * Fc + c];
      if (split[s] === 0 && x) counts.set(x, (counts.get(x) ?? 0) + 1);
    });
    const minCount = f.minCount ?? 1;
    const vocab = [...counts].filter(([, k]) => k >= minCount).map(([x]) => x).sort();
    return { name: f.name, vocab };
  });
  for (let c = 0; c < Fc; c++) {
    const code = new Map(categorical[c].vocab.map((x, k) => [x, k]));
    keep.forEach((i, s) => {
      const x = catRaw[i * Fc + c];
      if (!x) return;
      const k = code.get(x);
      if (k === undefined) {
        reports[c].unseen++;
        return;
      }
      cat[s * Fc + c] = k;
      catPresent[s * Fc + c] = 1;
    });
  }
  return { cat, catPresent, categorical };
}
