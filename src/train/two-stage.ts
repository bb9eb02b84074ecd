/**
 * Two-stage training (issue 14), `npm run train -- --pretrain-encoders`:
 *
 *   stage 1a  <name>-image     the fusion model with the table removed everywhere (missTab 1): an image-only model
 *   stage 1b  <name>-tabular   the image removed everywhere (missImage 1): a tabular-only model
 *   stage 2   <name>           the fusion model, vision.* and tabular.* initialized from 1a's and 1b's best
 *                              checkpoints, fine-tuned jointly (encoderLrScale, encoderWarmupEpochs apply here)
 *
 * The unimodal stages are what the protocols' image-only and tabular-only rows train (no modality dropout,
 * the same epochs). Each stage is an ordinary run folder: rerunning the same command resumes an interrupted
 * stage and skips a finished one, so the whole sequence is resumable.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TrainConfig } from './config.ts';
import { RESUME_FILE } from './run-folder.ts';
import { train } from './trainer.ts';
import type { TrainOptions, TrainResult } from './trainer.ts';

/** The three stages' configs, derived from the user's (deterministically, so a rerun resumes each). */
export function stageConfigs(cfg: TrainConfig): { image: TrainConfig; tabular: TrainConfig; fusion: TrainConfig } {
  if (cfg.resume) throw new Error('--pretrain-encoders: rerun the same command to resume (not --resume)');
  if (cfg.initFrom) throw new Error('--pretrain-encoders sets the fusion run\'s --init-from itself; give one or the other');
  const name = cfg.name || `pretrain-${cfg.preset}-s${cfg.seed}`;
  const unimodal = {
    ...cfg, pretrainEncoders: false, dropImage: 0, dropTab: 0, encoderLrScale: 1, encoderWarmupEpochs: 0, freeze: '', initFrom: '',
  };
  const image: TrainConfig = { ...unimodal, name: `${name}-image`, missTab: 1, testMissTab: -1 };
  const tabular: TrainConfig = { ...unimodal, name: `${name}-tabular`, missImage: 1, testMissImage: -1 };
  const best = (c: TrainConfig) => join(resolve(c.out, c.name), 'model.safetensors');
  const v = best(image), t = best(tabular);
  if (/[;=]/.test(v + t)) throw new Error(`--pretrain-encoders: checkpoint paths may not contain ';' or '=' (${v}, ${t}); use another --out or --name`);
  const fusion: TrainConfig = { ...cfg, pretrainEncoders: false, name, initFrom: `${v}=vision.;${t}=tabular.` };
  return { image, tabular, fusion };
}

/** A stage's config as it runs now: resumed if its folder holds an interrupted or finished run. */
function resumable(c: TrainConfig): TrainConfig {
  const dir = resolve(c.out, c.name);
  return existsSync(join(dir, 'config.json')) && existsSync(join(dir, RESUME_FILE)) ? { ...c, resume: dir } : c;
}

export interface TwoStageResult {
  image: TrainResult;
  tabular: TrainResult;
  /** Absent when a stage 1 run was interrupted. */
  fusion?: TrainResult;
  interrupted: boolean;
}

/** Run stage 1 (image-only, tabular-only) then stage 2; stops after an interrupted stage (rerun to resume). */
export async function trainTwoStage(cfg: TrainConfig, opts: TrainOptions = {}): Promise<TwoStageResult> {
  const log = opts.log ?? console.log;
  const s = stageConfigs(cfg);
  log(`stage 1a: image-only encoder run ${s.image.name}`);
  const image = await train(resumable(s.image), opts);
  if (image.interrupted || image.stop === 'step-limit') return { image, tabular: image, interrupted: true };
  log(`stage 1b: tabular-only encoder run ${s.tabular.name}`);
  const tabular = await train(resumable(s.tabular), opts);
  if (tabular.interrupted || tabular.stop === 'step-limit') return { image, tabular, interrupted: true };
  log(`stage 2: fusion run ${s.fusion.name}, encoders from stage 1 (encoder lr x${cfg.encoderLrScale}, frozen for ${cfg.encoderWarmupEpochs} epoch(s))`);
  const fusion = await train(resumable(s.fusion), opts);
  return { image, tabular, fusion, interrupted: fusion.interrupted };
}
