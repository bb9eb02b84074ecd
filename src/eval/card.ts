/**
 * The model card of a training run or an evaluation, in Markdown (HTML through render.ts), with each section
 * tagged by the TRIPOD+AI items it covers (Collins et al., BMJ 2024;385:e078378; item numbers and topics as
 * in the statement's checklist). The card ends with the list of items it covers; a test checks that every
 * item listed is a TRIPOD+AI item and is tagged on a section that exists, and the other way round.
 * No Node.js API.
 */
import type { SplitReport } from './report.ts';
import { fmt, fmtCI, groupsMd, mdTable, splitReportMd } from './render.ts';

/** The TRIPOD+AI 2024 items (number -> topic) a card may tag. */
export const TRIPOD_AI_ITEMS: Readonly<Record<string, string>> = {
  '3b': 'Background: target population, intended purpose and users',
  '3c': 'Background: known health inequalities between sociodemographic groups',
  '5a': 'Data: sources of data',
  '6b': 'Participants: eligibility criteria',
  '7': 'Data preparation',
  '8a': 'Outcome: definition and how assessed',
  '8b': 'Outcome: subjective interpretation by the outcome assessors',
  '9b': 'Predictors: definition',
  '11': 'Missing data: how handled',
  '12a': 'Analytical methods: how the data were used (partitioning)',
  '12b': 'Analytical methods: handling of predictors',
  '12c': 'Analytical methods: type of model and model building steps',
  '12e': 'Analytical methods: performance measures',
  '12f': 'Analytical methods: model updating (recalibration)',
  '12g': 'Analytical methods: how predictions were calculated',
  '14': 'Fairness',
  '15': 'Model output and thresholds',
  '18f': 'Code sharing',
  '20a': 'Participants: flow',
  '20b': 'Participants: characteristics, including missing data',
  '21': 'Number of participants and outcome events in each analysis',
  '22': 'Model specification',
  '23a': 'Model performance with confidence intervals, including subgroups',
  '24': 'Model updating: results',
  '26': 'Limitations',
  '27a': 'Handling of poor quality or unavailable input data',
};

/** Characteristics of one split of the data set read. */
export interface SplitCharacteristics {
  split: string;
  studies: number;
  patients: number;
  imageMissing: number;
  tableMissing: number;
  /** Fraction of studies missing each table feature. */
  featureMissing: { name: string; missing: number }[];
  /** Positives among observed labels, per finding. */
  labels: { name: string; positive: number; observed: number }[];
  /** Per subgroup attribute: counts and modality missingness per value, or not available. */
  subgroups: { attribute: string; available: boolean; reason?: string; values: { value: string; studies: number; imageMissing: number; tableMissing: number }[] }[];
}

/** Per-study facts of the whole data set read, for `characteristics`. */
export interface CharacteristicsInput {
  splitNames: readonly string[];
  /** Split index of each study. */
  split: ArrayLike<number>;
  patients: ArrayLike<number>;
  hasImage: ArrayLike<number>;
  hasTab: ArrayLike<number>;
  featureNames: readonly string[];
  /** Whether study i has feature f. */
  present: (i: number, f: number) => boolean;
  labelNames: readonly string[];
  /** [n, L] labels as read (1, 0, -1, NaN). */
  labels: ArrayLike<number>;
  attributes: { name: string; values: (string | null)[] | null; reason?: string }[];
}

/** Characteristics by split (TRIPOD+AI 20b): sizes, missingness per modality, feature and subgroup, label prevalence. */
export function characteristics(c: CharacteristicsInput): SplitCharacteristics[] {
  const n = c.patients.length, L = c.labelNames.length;
  return c.splitNames.map((name, s) => {
    const idx: number[] = [];
    for (let i = 0; i < n; i++) if (c.split[i] === s) idx.push(i);
    const pats = new Set<number>();
    let im = 0, tb = 0;
    for (const i of idx) { pats.add(c.patients[i]); if (!c.hasImage[i]) im++; if (!c.hasTab[i]) tb++; }
    const featureMissing = c.featureNames.map((f, j) => {
      let m = 0;
      for (const i of idx) if (!c.present(i, j)) m++;
      return { name: f, missing: idx.length ? m / idx.length : NaN };
    });
    const labels = c.labelNames.map((l, j) => {
      let pos = 0, obs = 0;
      for (const i of idx) { const v = c.labels[i * L + j]; if (v === 0 || v === 1) { obs++; pos += v; } }
      return { name: l, positive: pos, observed: obs };
    });
    const subgroups = c.attributes.map((a) => {
      if (!a.values) return { attribute: a.name, available: false, reason: a.reason, values: [] };
      const by = new Map<string, { studies: number; im: number; tb: number }>();
      for (const i of idx) {
        const v = a.values[i] ?? 'unknown';
        const e = by.get(v) ?? { studies: 0, im: 0, tb: 0 };
        e.studies++; if (!c.hasImage[i]) e.im++; if (!c.hasTab[i]) e.tb++;
        by.set(v, e);
      }
      const values = [...by.entries()].sort(([x], [y]) => (x === 'unknown' ? 1 : y === 'unknown' ? -1 : x < y ? -1 : x > y ? 1 : 0))
        .map(([value, e]) => ({ value, studies: e.studies, imageMissing: e.im / e.studies, tableMissing: e.tb / e.studies }));
      return { attribute: a.name, available: true, values };
    });
    return { split: name, studies: idx.length, patients: pats.size, imageMissing: idx.length ? im / idx.length : NaN, tableMissing: idx.length ? tb / idx.length : NaN, featureMissing, labels, subgroups };
  });
}

/** Everything a model card states. */
export interface CardInput {
  /** 'training run' (written by the trainer) or 'evaluation' (npm run evaluate). */
  kind: 'training run' | 'evaluation';
  modelPath: string;
  model: { preset?: string; parameters: number; config: Record<string, unknown>; trainingConfig?: Record<string, unknown>; seed?: number; commit?: string };
  data: { dir: string; sources: string[]; flow: string[] };
  characteristics: SplitCharacteristics[];
  thresholds: { values: number[]; rule: string } | null;
  temperatures?: number[];
  /** Mean validation NLL per label before and after the temperatures (training runs). */
  validationNll?: { before: number[]; after: number[] };
  split: string;
  missImage: number;
  missTab: number;
  uncertain: string;
  report: SplitReport;
  /** File name of the reliability diagram next to the card, if written. */
  reliabilityImage?: string;
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '-');

/** The card as Markdown, and the TRIPOD+AI items it tags (in order of first tag). */
export function modelCard(c: CardInput): { markdown: string; items: string[] } {
  const items: string[] = [];
  const sec = (title: string, tags: string[]) => {
    for (const t of tags) {
      if (!(t in TRIPOD_AI_ITEMS)) throw new Error(`model card: '${t}' is not a TRIPOD+AI item`);
      if (!items.includes(t)) items.push(t);
    }
    return `## ${title} [TRIPOD+AI ${tags.join(', ')}]`;
  };
  const r = c.report, labels = r.labels;
  const md: string[] = [
    `# Model card: ${c.modelPath} (${c.kind})`,
    '',
    sec('Intended use', ['3b']),
    '',
    'For research use only. Not a medical device; not for diagnosis, triage or any clinical decision.',
    `The model estimates, for one chest X-ray study (frontal image) and/or the patient's tabular clinical data (triage vitals, laboratory values, demographics), the probability of each of ${labels.length} CheXpert findings (${labels.join(', ')}). Intended users: researchers studying multimodal models under missing inputs.`,
    '',
    sec('Data sources', ['5a', '6b']),
    '',
    `Data set folder: \`${c.data.dir}\`. Sources read (with the versions found in their folder names):`,
    '',
    ...c.data.sources.map((s) => `- ${s}`),
    '',
    'Eligibility: every study with a label row and an image or a table (studies with neither are dropped); adults as recorded in MIMIC-IV.',
    '',
    sec('Cohort flow', ['20a', '21']),
    '',
    ...c.data.flow.map((s) => `- ${s}`),
    '',
    sec('Characteristics by split', ['20b', '3c']),
    '',
    ...mdTable(['split', 'studies', 'patients', 'image missing', 'table missing'],
      c.characteristics.map((s) => [s.split, s.studies, s.patients, pct(s.imageMissing), pct(s.tableMissing)]), [false, true, true, true, true]),
    '',
    '**Missingness per table feature**',
    '',
    ...mdTable(['feature', ...c.characteristics.map((s) => s.split)],
      (c.characteristics[0]?.featureMissing ?? []).map((f, j) => [f.name, ...c.characteristics.map((s) => pct(s.featureMissing[j].missing))]),
      [false, ...c.characteristics.map(() => true)]),
    '',
    '**Outcome events (positive / observed) per finding**',
    '',
    ...mdTable(['finding', ...c.characteristics.map((s) => s.split)],
      labels.map((l, j) => [l, ...c.characteristics.map((s) => `${s.labels[j]?.positive ?? '-'} / ${s.labels[j]?.observed ?? '-'}`)]),
      [false, ...c.characteristics.map(() => true)]),
    '',
    ...subgroupCharacteristics(c.characteristics),
    sec('Outcome and predictors', ['8a', '8b', '9b', '7', '12b']),
    '',
    `Outcomes: the ${labels.length} CheXpert findings of MIMIC-CXR-JPG, extracted from the radiology reports by an NLP labeller (CheXpert or NegBio), not read by a radiologist for this purpose; a label is 1, 0, -1 (uncertain) or blank. Uncertain-label policy in training: \`${c.uncertain}\`. Evaluation scores certain labels (1/0) only.`,
    'Predictors: the frontal image (grey, resized to the model\'s side, normalized with the training split\'s pixel mean and std) and the table features of the feature spec (numeric ones converted, range-checked and standardized with the training split\'s statistics; categorical ones by vocabulary).',
    '',
    sec('Model', ['12c', '22', '12a', '18f']),
    '',
    `Vision transformer + FT-Transformer with masked fusion (resilient-fusion). Preset ${c.model.preset ?? '(not recorded)'}, ${c.model.parameters} parameters, seed ${c.model.seed ?? '(not recorded)'}, commit ${c.model.commit ?? '(not recorded)'}. Data partitioned by patient into train / validate / test. The full model is the checkpoint \`${c.modelPath}\` (safetensors with its preprocessing in the metadata); code: this repository.`,
    '',
    `Model config: \`${JSON.stringify(c.model.config)}\``,
    '',
    ...(c.model.trainingConfig ? [`Training config: \`${JSON.stringify(c.model.trainingConfig)}\``, ''] : []),
    sec('Output, thresholds and recalibration', ['15', '12f', '12g', '24']),
    '',
    c.thresholds
      ? `Output: a probability per finding and a positive/negative call at a threshold per finding. Thresholds: ${c.thresholds.rule}. Values: ${labels.map((l, j) => `${l} ${fmt(c.thresholds!.values[j], 4)}`).join('; ')}.`
      : 'Output: a probability per finding. The checkpoint stores no thresholds (written before they were stored); calls here use 0.5.',
    '',
    c.temperatures
      ? `Recalibration: temperature scaling fitted on the validation split per finding (probability = sigmoid(logit / T), T minimizing the NLL on observed labels). Temperatures: ${labels.map((l, j) => `${l} ${fmt(c.temperatures![j], 3)}`).join('; ')}.${c.validationNll ? ` Mean validation NLL before / after: ${fmt(mean(c.validationNll.before), 4)} / ${fmt(mean(c.validationNll.after), 4)}.` : ''} The map is monotone: AUROC and AUPRC do not change.`
      : 'Recalibration: none (no temperatures in the checkpoint, or trained with --calibrate false).',
    '',
    'Predictions are computed by the engine of this repository (`npm run predict`, `npm run evaluate`, the edge bundle), from the checkpoint alone.',
    '',
    sec(`Performance on the ${c.split} split`, ['12e', '23a', '14']),
    '',
    `Injected missingness at evaluation: image ${c.missImage}, table ${c.missTab}. Headline: macro AUROC ${fmtCI(r.macroAurocCI)}, macro AUPRC ${fmt(r.discrimination.macroAuprc)}, macro Brier ${fmt(r.calibration.macro.brier, 4)}, macro ECE ${fmt(r.calibration.macro.ece, 4)}.`,
    '',
    ...splitReportMd(r, c.reliabilityImage).map((l) => l.replace(/^### /, '#### ')),
    sec('Unavailable inputs at deployment', ['27a', '11']),
    '',
    'Missing inputs are masked, not imputed: a study without an image runs the fusion transformer on its table tokens alone (and the reverse); inside a present table, a missing or invalid feature is a masked token with zero attention weight; a study with neither runs on the CLS token alone. Invalid or out-of-range values are reported and treated as missing; values beyond the valid range but within the outlier range are clipped. Measured performance per availability pattern:',
    '',
    ...groupsMd('availability pattern', r.availability),
    '',
    sec('Caveats and limitations', ['26']),
    '',
    `- The labels come from an automatic NLP labeller of the reports, with its errors; uncertain mentions are ${c.uncertain === 'ignore' ? 'left out of the loss' : `counted as ${c.uncertain === 'ones' ? 'positive' : 'negative'} in the loss`} and out of every metric.`,
    '- One hospital system (Beth Israel Deaconess, Boston): performance elsewhere is unknown.',
    '- Natural missingness is not at random (a study has no ED vitals when the patient did not come through the ED); the availability table above shows its effect here, not elsewhere.',
    '- Subgroups with fewer studies than the minimum are withheld; the others have wide intervals when small.',
    '',
    '## TRIPOD+AI items covered',
    '',
    ...items.map((t) => `- ${t}: ${TRIPOD_AI_ITEMS[t]}`),
    '',
  ];
  return { markdown: md.join('\n'), items };
}

function mean(v: number[]): number {
  const d = v.filter((x) => Number.isFinite(x));
  return d.length ? d.reduce((a, b) => a + b, 0) / d.length : NaN;
}

function subgroupCharacteristics(cs: SplitCharacteristics[]): string[] {
  const out: string[] = [];
  const attrs = cs[0]?.subgroups ?? [];
  attrs.forEach((a, k) => {
    if (!a.available) { out.push(`**${a.attribute}**: not available (${a.reason ?? 'not in the data'}).`, ''); return; }
    const values = [...new Set(cs.flatMap((s) => s.subgroups[k].values.map((v) => v.value)))];
    out.push(`**${a.attribute}** (studies; image missing, table missing)`, '');
    out.push(...mdTable(['value', ...cs.map((s) => s.split)], values.map((v) => [v, ...cs.map((s) => {
      const e = s.subgroups[k].values.find((x) => x.value === v);
      return e ? `${e.studies} (${pct(e.imageMissing)}, ${pct(e.tableMissing)})` : '0';
    })]), [false, ...cs.map(() => true)]), '');
  });
  return out;
}
