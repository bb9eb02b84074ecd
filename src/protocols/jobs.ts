/**
 * Jobs of a protocol run: each distinct training configuration is one trainer run under runs/<job>/, trained
 * once (dependencies first), its test predictions at every test point it can serve stored next to it. A job
 * whose predictions file exists is never retrained; one interrupted in training continues through the
 * trainer's own resume. The run counts and the overall ETA are kept here.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TRAIN_DEFAULTS, applyOverrides } from '../train/config.ts';
import type { TrainConfig } from '../train/config.ts';
import { formatSeconds } from '../train/evaluation.ts';
import { readJsonFile } from '../train/run-folder.ts';
import { testPointPredictions, train } from '../train/trainer.ts';
import type { TestPoint, TestPointOutputs } from '../train/trainer.ts';
import { JOB_FILE, checkTestSet, readJob, writeJob } from './job-files.ts';
import type { JobResult, Settings, TestSet } from './job-files.ts';
import { METHODS, jobKey, jobName, modelPlans, planCell } from './methods.ts';
import type { JobSpec, MissPoint, Plan } from './methods.ts';
import { fixed } from './plot.ts';
import { PROTOCOLS } from './results.ts';

/** Thrown inside the runner when a training run was interrupted (Ctrl-C or the abort signal). */
export class Interrupted extends Error {}

export const samePoint = (a: MissPoint, b: MissPoint) => a.missImage === b.missImage && a.missTab === b.missTab;

/**
 * The test points of a job: every test-time missingness any cell of either protocol (at any level, with any
 * grid rate) could read from it. A function of the job and the folder's settings only, so a job trained for one
 * invocation serves a later one with more protocols or methods.
 */
export function jobPoints(job: JobSpec, levels: readonly number[], grid: readonly number[]): TestPoint[] {
  const key = jobKey(job), pts: MissPoint[] = [];
  const trainLevels = [...new Set([0, ...levels])];
  for (const d of grid) for (const m of METHODS) for (const p of PROTOCOLS) for (const r of trainLevels) {
    for (const mp of modelPlans(planCell(m, p, r, job.seed, d))) {
      if (jobKey(mp.job) !== key) continue;
      for (const t of levels) {
        const pt = mp.point(t);
        if (!pts.some((q) => samePoint(q, pt))) pts.push(pt);
      }
    }
  }
  return pts.sort((a, b) => a.missImage - b.missImage || a.missTab - b.missTab);
}

/**
 * The trainer overrides of a job: the folder's settings, the job's own overrides, and where its run folder
 * and its dependencies' checkpoints are (under runsDir). The queue coordinator resolves the same overrides
 * into the configuration a job carries.
 */
export function jobOverrides(job: JobSpec, s: Settings, runsDir: string, o: JobOptions): Record<string, unknown> {
  const over: Record<string, unknown> = {
    data: s.data, out: runsDir, name: jobName(job), preset: s.preset, epochs: s.epochs, seed: job.seed,
    threads: o.threads ?? 0, progress: o.verbose ? 'lines' : 'none',
    missImage: job.missImage, missTab: job.missTab, ...s.train, ...job.overrides,
  };
  if (o.synthDir) over.synthDir = o.synthDir;
  if (job.init) {
    const v = join(runsDir, jobName(job.init.vision), 'model.safetensors'), t = join(runsDir, jobName(job.init.tabular), 'model.safetensors');
    if (/[;=]/.test(v + t)) throw new Error(`run ${jobName(job)}: checkpoint paths may not contain ';' or '=' (${v}, ${t}); use another --out`);
    over.initFrom = `${v}=vision.;${t}=tabular.`;
  }
  return over;
}

/** The runner's options that shape its training runs (a subset of StressOptions). */
export interface JobOptions {
  threads?: number;
  synthDir?: string;
  verbose?: boolean;
  signal?: AbortSignal;
  onTrain?: (job: string) => void;
}

export class Jobs {
  private readonly done = new Map<string, JobResult>();
  readonly known: { ts?: TestSet } = {};
  /** Training runs started by this call, and the seconds each finished one took. */
  trained = 0;
  private readonly seconds: number[] = [];
  /** Training runs this call expects to start in all (see planRuns); shown as "run k/total" with an ETA. */
  total = 0;
  private readonly t0 = performance.now();
  readonly runsDir: string;

  constructor(private readonly o: JobOptions, private readonly settings: Settings, private readonly out: string, private readonly log: (s: string) => void) {
    this.runsDir = join(out, 'runs');
  }

  dir(job: JobSpec): string {
    return join(this.runsDir, jobName(job));
  }

  get(job: JobSpec): JobResult {
    const r = this.done.get(jobKey(job));
    if (!r) throw new Error(`internal: job ${jobName(job)} has not run`);
    return r;
  }

  /** Whether the job still has to be trained (not loaded, no predictions file). */
  pending(job: JobSpec): boolean {
    return !this.done.has(jobKey(job)) && !existsSync(join(this.dir(job), JOB_FILE));
  }

  /** The distinct jobs the plans need that are still to be trained, dependencies included. */
  planRuns(plans: readonly Plan[]): number {
    const keys = new Set<string>();
    const visit = (j: JobSpec) => {
      if (keys.has(jobKey(j)) || !this.pending(j)) return;
      keys.add(jobKey(j));
      if (j.init) { visit(j.init.vision); visit(j.init.tabular); }
    };
    for (const p of plans) for (const m of modelPlans(p)) visit(m.job);
    return keys.size;
  }

  /** The job's predictions: from its file, or by training it (dependencies first). */
  async ensure(job: JobSpec, why: string): Promise<JobResult> {
    const key = jobKey(job);
    const have = this.done.get(key);
    if (have) return have;
    const file = join(this.dir(job), JOB_FILE);
    if (existsSync(file)) {
      const r = readJob(file);
      if (r.key !== key) throw new Error(`${file} belongs to another configuration (${r.key}, expected ${key}); use another --out`);
      checkTestSet(this.out, r, this.known);
      this.done.set(key, r);
      return r;
    }
    if (job.init) {
      await this.ensure(job.init.vision, `${why} (its image encoder)`);
      await this.ensure(job.init.tabular, `${why} (its tabular encoder)`);
    }
    if (this.o.signal?.aborted) throw new Interrupted();
    return this.trainJob(job, why);
  }

  /** The trainer config of a job: the folder's settings, the job's own overrides, resume if it was interrupted. */
  private jobConfig(job: JobSpec): { cfg: TrainConfig; resumed: boolean } {
    const name = jobName(job), dir = this.dir(job);
    const over = jobOverrides(job, this.settings, this.runsDir, this.o);
    let resumed = false;
    if (existsSync(join(dir, 'state.json'))) {
      const st = readJsonFile(join(dir, 'state.json'), 'state file') as { finished?: boolean } | null;
      if (st?.finished === true) {
        this.log(`run ${name} finished before its predictions were saved: training it again`);
        rmSync(dir, { recursive: true, force: true });
      } else {
        over.resume = dir;
        resumed = true;
      }
    }
    return { cfg: applyOverrides(TRAIN_DEFAULTS, over, `stress run ${name}`), resumed };
  }

  private async trainJob(job: JobSpec, why: string): Promise<JobResult> {
    const key = jobKey(job), name = jobName(job), dir = this.dir(job);
    const { cfg, resumed } = this.jobConfig(job);
    const points = jobPoints(job, this.settings.levels, this.settings.grid);
    this.trained++;
    this.total = Math.max(this.total, this.trained);
    this.o.onTrain?.(name);
    this.log(`[run ${this.trained}/${this.total}] ${resumed ? 'resuming' : 'training'} ${name} for ${why}`);
    const t0 = performance.now();
    let extra: TestPointOutputs | undefined;
    const r = await train(cfg, {
      log: this.o.verbose ? (l) => this.log(`  ${name}: ${l}`) : () => {},
      signal: this.o.signal,
      afterTest: async (ctx) => { extra = await testPointPredictions(ctx, points); },
    });
    if (r.interrupted) throw new Interrupted();
    if (!extra || !r.validation) throw new Error(`run ${name}: the trainer returned no test predictions (stopped: ${r.stop})`);
    const res: JobResult = {
      key, name,
      validation: { macroAuroc: r.validation.macroAuroc, thresholds: r.validation.thresholds },
      bestEpoch: r.state.bestEpoch,
      seconds: (performance.now() - t0) / 1000,
      trainPrevalence: Array.from(extra.trainPrevalence),
      testTargets: extra.targets, testPatients: Array.from(extra.patients),
      points: extra.predictions.map((p) => ({ missImage: p.missImage, missTab: p.missTab, probs: p.probs, hasImage: p.hasImage, hasTab: p.hasTab })),
    };
    checkTestSet(this.out, res, this.known);
    writeJob(dir, res);
    // Read back what was stored, so a cell built now equals one built from the file after a resume.
    const stored = readJob(join(dir, JOB_FILE));
    this.done.set(key, stored);
    this.seconds.push(res.seconds);
    this.log(`         ${name}: ${res.seconds.toFixed(1)} s, best epoch ${res.bestEpoch}, validation macro AUROC ${fixed(res.validation.macroAuroc, 4)}; ${this.eta()}`);
    return stored;
  }

  /** Runs done of the total, elapsed time and the ETA (mean time of this call's runs times the runs left). */
  eta(): string {
    const done = this.seconds.length, left = Math.max(0, this.total - this.trained);
    const mean = this.seconds.reduce((a, b) => a + b, 0) / Math.max(1, done);
    const elapsed = (performance.now() - this.t0) / 1000;
    return `${this.trained}/${this.total} runs, elapsed ${formatSeconds(elapsed)}, ETA ${left === 0 ? '0 s' : formatSeconds(mean * left)}`;
  }
}
