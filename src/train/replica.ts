/**
 * One model replica over a shared data set: what a worker thread (or the main thread with --threads 1)
 * computes. Tasks name sample indices; the replica builds the batch itself from the shared arrays, applies
 * injection and dropout (pure functions of seed, step and sample id) and returns results. The parameters
 * come from a SharedArrayBuffer written by the main thread; gradients go to this task's slot of a shared
 * gradient buffer, so nothing big is copied through messages.
 */
import { makeBatch } from '../data/index.ts';
import type { PreparedDataset } from '../data/index.ts';
import { createModel } from '../model/index.ts';
import type { Model, ModelConfig } from '../model/index.ts';
import type { BackendKind } from '../engine/index.ts';
import { applyDropout, imputeBatch, injectMissing } from './missing.ts';
import type { DropoutRates } from './missing.ts';

/** The arrays of a PreparedDataset that workers need (all on SharedArrayBuffers), plus its scalars. */
export type SharedDataset = Pick<PreparedDataset,
  'S' | 'n' | 'labelNames' | 'split' | 'subjectId' | 'studyId' | 'pixels' | 'hasImage' | 'num' | 'numPresent' |
  'cat' | 'catPresent' | 'labels' | 'schema' | 'pixelMean' | 'pixelStd'>;

export interface ReplicaInit {
  model: ModelConfig;
  backend: BackendKind;
  data: SharedDataset;
  /** Float32 [P]: the current parameters, written by the main thread between steps. */
  params: SharedArrayBuffer;
  /** Float32 [slots * P]: one gradient slot per chunk of a batch. */
  grads: SharedArrayBuffer;
  /** The early-fusion baseline: training mean image [S*S] (normalized) and categorical modes. */
  impute?: { meanImage: Float32Array; catModes: Int32Array };
}

export interface GradTask {
  kind: 'grad';
  /** Bumped by the main thread each time it writes new parameters. */
  version: number;
  slot: number;
  indices: Int32Array;
  /** Observed-label count of the whole batch: chunk gradients then sum to the batch gradient. */
  normalizer: number;
  step: number;
  seed: number;
  dropout: DropoutRates;
  missImage: number;
  missTab: number;
}

export interface PredictTask {
  kind: 'predict';
  version: number;
  indices: Int32Array;
  seed: number;
  missImage: number;
  missTab: number;
}

export type Task = GradTask | PredictTask;

export class Replica {
  readonly model: Model;
  private version = -1;
  private readonly params: Float32Array;
  private readonly grads: Float32Array;

  constructor(readonly init: ReplicaInit) {
    this.model = createModel(init.model, { backend: init.backend });
    this.params = new Float32Array(init.params);
    this.grads = new Float32Array(init.grads);
  }

  private sync(version: number): void {
    if (version === this.version) return;
    this.model.setParams(this.params);
    this.version = version;
  }

  grad(t: GradTask): { loss: number; droppedImage: number; droppedTab: number } {
    this.sync(t.version);
    const b = makeBatch(this.init.data as PreparedDataset, t.indices);
    injectMissing(b, t.indices, t.seed, t.missImage, t.missTab);
    const d = applyDropout(b, t.indices, t.seed, t.step, t.dropout);
    if (this.init.impute) imputeBatch(b, this.init.impute.meanImage, this.init.impute.catModes);
    const { loss } = this.model.lossAndGrad(b, { normalizer: t.normalizer });
    const P = this.model.numParams;
    const g = this.model.gradData();
    const out = this.grads.subarray(t.slot * P, (t.slot + 1) * P);
    out.set(g);
    return { loss, droppedImage: d.image, droppedTab: d.tab };
  }

  predict(t: PredictTask): Float32Array {
    this.sync(t.version);
    const b = makeBatch(this.init.data as PreparedDataset, t.indices);
    injectMissing(b, t.indices, t.seed, t.missImage, t.missTab);
    if (this.init.impute) imputeBatch(b, this.init.impute.meanImage, this.init.impute.catModes);
    const logits = this.model.forward(b);
    const probs = new Float32Array(logits.length);
    for (let i = 0; i < logits.length; i++) probs[i] = 1 / (1 + Math.exp(-logits[i]));
    return probs;
  }

  run(t: Task): unknown {
    return t.kind === 'grad' ? this.grad(t) : this.predict(t);
  }
}
