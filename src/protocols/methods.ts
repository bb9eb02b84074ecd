/**
 * The methods of the stress-test protocols (issue 6) as configurations of the one trainer, and the plan that
 * maps a protocol cell (method, protocol, train level, seed) to the training runs ("jobs") it needs.
 *
 * A job is identified by its effective trainer overrides, so cells that need the same model share one run:
 * train level 0 is the same run for both protocols, the no-dropout ablation at level 0 is the dropout grid's
 * rate-0 run, and a unimodal baseline whose other modality is removed anyway (tabular-only in the image
 * protocol, image-only in the tabular protocol) is one run for every level. The unimodal baselines are the
 * fusion model (no modality dropout) with the other modality removed everywhere: with it masked out, the
 * fusion sees one modality's tokens only, which is what a unimodal transformer of the same size is.
 *
 * Two-stage training (issue 14): the proposed method and its ablations start from the encoders of the same
 * cell's image-only and tabular-only runs (stage 1) and fine-tune everything jointly (stage 2);
 * frozen-encoders starts from the same encoders and keeps them frozen. So the ablations change one thing
 * each and every pretrained method has had the same training. proposed-scratch is the one-stage model trained
 * from random initialization (the `proposed` of earlier reports).
 */
import type { Protocol } from './results.ts';

/** Every method, in report order (the proposed method first). */
export const METHODS = [
  'proposed', 'no-masking', 'no-dropout', 'no-modality-tokens', 'frozen-encoders', 'proposed-scratch',
  'image-only', 'tabular-only', 'early-fusion', 'late-fusion',
] as const;
export type MethodName = (typeof METHODS)[number];

/** The method the others are compared against. */
export const PROPOSED: MethodName = 'proposed';

/** What each method is, exactly (shown in --help and in the report). */
export const METHOD_DEFINITIONS: Record<MethodName, string> = {
  'proposed': 'vision.* from the image-only model and tabular.* from the tabular-only model of the same cell (stage 1), then everything fine-tuned jointly (stage 2): masked fusion + modality tokens + modality dropout; dropImage = dropTab = d chosen on validation macro AUROC from the grid',
  'no-masking': 'proposed (same pretrained encoders, same d) with attentionMasking false: absent tokens are zero-filled and attended',
  'no-dropout': 'proposed (same pretrained encoders) with dropImage = dropTab = 0 (feature dropout kept)',
  'no-modality-tokens': 'proposed (same pretrained encoders, same d) with fusion.modality.* frozen at their initial values (scale 1, shift 0), i.e. no learned modality tokens',
  'frozen-encoders': 'proposed\'s initialization (encoders of the image-only and tabular-only models) with vision.* and tabular.* frozen; fusion and head trained (same d)',
  'proposed-scratch': 'the proposed model trained in one stage from random initialization (masking, modality tokens, the same d)',
  'image-only': 'the fusion model without modality dropout, trained and tested with the tabular modality removed everywhere (missTab 1); a test study without an image gets the training prevalence',
  'tabular-only': 'the fusion model without modality dropout, trained and tested with the image removed everywhere (missImage 1); a test study without tabular data gets the training prevalence',
  'early-fusion': 'impute true: missing features get training means/modes, a missing image the training mean image; nothing masked; no modality dropout',
  'late-fusion': 'no training of its own: mean of the image-only and tabular-only probabilities over the modalities a study has, training prevalence if neither',
};

/** Methods whose configuration includes the chosen dropout rate d. */
export const USES_DROPOUT_CHOICE: ReadonlySet<MethodName> = new Set(['proposed', 'no-masking', 'no-modality-tokens', 'frozen-encoders', 'proposed-scratch']);

/** Methods whose fusion run starts from the cell's unimodal runs' encoders (two-stage training). */
export const PRETRAINED: ReadonlySet<MethodName> = new Set(['proposed', 'no-masking', 'no-dropout', 'no-modality-tokens', 'frozen-encoders']);

/**
 * A method's total training in epochs of each stage (E = the run's --epochs, an upper bound: each run keeps its
 * best epoch by validation and may stop early), so the compute behind each row is visible in the report.
 */
export function methodTraining(method: MethodName, E: number): string {
  if (PRETRAINED.has(method)) return `stage 1: image-only + tabular-only runs, ${E} epochs each (shared with those rows); stage 2: ${E} epochs${method === 'frozen-encoders' ? ' (encoders frozen)' : ''}; ${3 * E} in all`;
  if (method === 'late-fusion') return `none of its own: the image-only and tabular-only runs, ${E} epochs each; ${2 * E} in all`;
  return `one stage: ${E} epochs`;
}

/** Injected missingness of one modality pair (rates 0..1). */
export interface MissPoint {
  missImage: number;
  missTab: number;
}

/** The protocol's injected missingness at a level: the protocol's modality at `level`, the other at 0. */
export function protocolPoint(protocol: Protocol, level: number): MissPoint {
  return protocol === 'image' ? { missImage: level, missTab: 0 } : { missImage: 0, missTab: level };
}

/** One training run: trainer overrides on top of the run-wide settings, the missingness it trains with, its seed. */
export interface JobSpec {
  /** Readable configuration tag (part of the run folder name). */
  tag: string;
  /** Trainer overrides that define the method (not missImage/missTab/seed, which are fields). */
  overrides: Record<string, string | number | boolean>;
  missImage: number;
  missTab: number;
  seed: number;
  /** Two-stage methods: the unimodal runs whose best checkpoints initialize vision.* and tabular.*. */
  init?: { vision: JobSpec; tabular: JobSpec };
}

/**
 * The identity of a job: equal keys, same training run (and run folder). The tag is part of it, so the two
 * unimodal baselines stay separate runs even where their configurations coincide (both modalities removed).
 */
export function jobKey(j: JobSpec): string {
  const ov = Object.keys(j.overrides).sort().map((k) => [k, j.overrides[k]]);
  return JSON.stringify([j.tag, ov, j.missImage, j.missTab, j.seed, j.init ? [jobKey(j.init.vision), jobKey(j.init.tabular)] : null]);
}

/** The job's run folder name: readable and unique for a key within one output folder. */
export function jobName(j: JobSpec): string {
  return `${j.tag}-img${j.missImage}-tab${j.missTab}-s${j.seed}`;
}

/** A cell's source of predictions at test level t. */
export type Plan =
  | {
    kind: 'model';
    job: JobSpec;
    /** The test-time missingness to predict at for test level t. */
    point: (t: number) => MissPoint;
    /** Unimodal baselines: studies lacking this modality get the training prevalence. */
    only?: 'image' | 'tab';
  }
  | { kind: 'late'; image: ModelPlan; tabular: ModelPlan };
export type ModelPlan = Extract<Plan, { kind: 'model' }>;

function dropTag(d: number): string {
  return `d${d}`;
}

/**
 * The fusion model with modality dropout d and extra overrides (the proposed method and its ablations). Where
 * one modality is removed everywhere (a rate of 1), no sample has both, so modality dropout cannot act: d is
 * then 0, which makes such runs shared (proposed = no-dropout there), bit for bit what d would have given.
 */
function fusionJob(tag: string, extra: JobSpec['overrides'], d: number, miss: MissPoint, seed: number): JobSpec {
  if (miss.missImage >= 1 || miss.missTab >= 1) d = 0;
  return { tag: `${tag}-${dropTag(d)}`, overrides: { dropImage: d, dropTab: d, ...extra }, ...miss, seed };
}

/**
 * The plan of one cell: which job(s) it needs and how a test level maps to their test-time missingness.
 * `drop` is the chosen modality dropout rate (used by the methods in USES_DROPOUT_CHOICE).
 */
export function planCell(method: MethodName, protocol: Protocol, level: number, seed: number, drop: number): Plan {
  const miss = protocolPoint(protocol, level);
  const at = (t: number) => protocolPoint(protocol, t);
  const imageOnly = (): ModelPlan => ({
    kind: 'model',
    job: fusionJob('fusion', {}, 0, { missImage: miss.missImage, missTab: 1 }, seed),
    point: (t) => ({ missImage: at(t).missImage, missTab: 1 }),
    only: 'image',
  });
  const tabularOnly = (): ModelPlan => ({
    kind: 'model',
    job: fusionJob('fusion', {}, 0, { missImage: 1, missTab: miss.missTab }, seed),
    point: (t) => ({ missImage: 1, missTab: at(t).missTab }),
    only: 'tab',
  });
  const model = (job: JobSpec): ModelPlan => ({ kind: 'model', job, point: at });
  // Stage 2 of the two-stage methods: the fusion run initialized from this cell's unimodal runs.
  const pretrained = (j: JobSpec): ModelPlan => model({ ...j, init: { vision: imageOnly().job, tabular: tabularOnly().job } });
  switch (method) {
    case 'proposed': return pretrained(fusionJob('pre', {}, drop, miss, seed));
    case 'no-dropout': return pretrained(fusionJob('pre', {}, 0, miss, seed));
    case 'no-masking': return pretrained(fusionJob('prenomask', { attentionMasking: false }, drop, miss, seed));
    case 'no-modality-tokens': return pretrained(fusionJob('prenotokens', { freeze: 'fusion.modality.' }, drop, miss, seed));
    case 'frozen-encoders': return pretrained(fusionJob('frozenenc', { freeze: 'vision.,tabular.' }, drop, miss, seed));
    case 'proposed-scratch': return model(fusionJob('fusion', {}, drop, miss, seed));
    case 'image-only': return imageOnly();
    case 'tabular-only': return tabularOnly();
    case 'early-fusion': return model({ tag: 'early-fusion', overrides: { impute: true, dropImage: 0, dropTab: 0 }, ...miss, seed });
    case 'late-fusion': return { kind: 'late', image: imageOnly(), tabular: tabularOnly() };
  }
}

/** The model plans a cell reads from (one, or two for late fusion). */
export function modelPlans(p: Plan): ModelPlan[] {
  return p.kind === 'late' ? [p.image, p.tabular] : [p];
}

/** Every job a plan needs, dependencies (the two-stage methods' unimodal runs) first. */
export function planJobs(p: Plan): JobSpec[] {
  const out: JobSpec[] = [];
  for (const m of modelPlans(p)) {
    if (m.job.init) out.push(m.job.init.vision, m.job.init.tabular);
    out.push(m.job);
  }
  return out;
}

/** Parse a comma-separated method list; unknown names are errors that list the known ones. */
export function parseMethods(s: string): MethodName[] {
  const out: MethodName[] = [];
  for (const raw of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    if (!(METHODS as readonly string[]).includes(raw)) throw new Error(`unknown method '${raw}' (methods: ${METHODS.join(', ')})`);
    if (!out.includes(raw as MethodName)) out.push(raw as MethodName);
  }
  if (out.length === 0) throw new Error('no method given');
  return out;
}
