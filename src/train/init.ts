/**
 * Partial training setups: frozen tensors (`--freeze`), initialization from other checkpoints (`--init-from`) and
 * from ImageNet ViT weights (`--init-vision`).
 */
import { readFileSync } from 'node:fs';
import { IMAGENET_NORM, INCEPTION_NORM, buildLayout, decodeCheckpoint, placeTensors, readTimmVit, timmVisionConfig, timmVisionTensors } from '../model/index.ts';
import type { Model, ModelConfig, TimmVit } from '../model/index.ts';
import type { Backend } from '../engine/index.ts';
import type { PreparedDataset } from '../data/index.ts';
import type { TrainConfig } from './config.ts';
import type { Logger } from './data.ts';
import { modelConfigFor } from './data.ts';

/** Tensors whose names start with one of the comma-separated prefixes (unknown prefixes are errors). */
export function frozenEntries(model: Model<Backend>, spec: string) {
  const prefixes = spec.split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of prefixes) {
    if (!model.layout.some((e) => e.name.startsWith(p))) throw new Error(`--freeze: no parameter name starts with '${p}'`);
  }
  return model.layout.filter((e) => prefixes.some((p) => e.name.startsWith(p)));
}

/** --init-from "path=prefix,prefix;path2=prefix": copy matching tensors (same name and shape) from checkpoints. */
export async function initFromCheckpoints(model: Model<Backend>, spec: string, log: Logger): Promise<void> {
  const flat = Float32Array.from(await model.paramDataAsync());
  for (const part of spec.split(';').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.lastIndexOf('=');
    if (eq <= 0) throw new Error(`--init-from: expected path=prefix[,prefix], got '${part}'`);
    const path = part.slice(0, eq), prefixes = part.slice(eq + 1).split(',').map((p) => p.trim()).filter(Boolean);
    const ck = decodeCheckpoint(new Uint8Array(readFileSync(path)));
    const byName = new Map(buildLayout(ck.config).map((e) => [e.name, e]));
    let copied = 0;
    for (const e of model.layout) {
      if (!prefixes.some((p) => e.name.startsWith(p))) continue;
      const src = byName.get(e.name);
      if (!src || src.shape.join('x') !== e.shape.join('x')) {
        throw new Error(`--init-from ${path}: tensor ${e.name} ${src ? `has shape [${src.shape}] not [${e.shape}]` : 'is missing'}`);
      }
      flat.set(ck.params.subarray(src.offset, src.offset + src.size), e.offset);
      copied++;
    }
    if (copied === 0) throw new Error(`--init-from ${path}: no tensor matches ${prefixes.join(', ')}`);
    log(`initialized ${copied} tensors from ${path} (${prefixes.join(', ')})`);
  }
  model.setParams(flat);
}

/** The --init-vision file, parsed and checked (read on every start, resume included: it shapes the config). */
function timmFile(cfg: TrainConfig): TimmVit {
  return readTimmVit(new Uint8Array(readFileSync(cfg.initVision)), `--init-vision ${cfg.initVision}`);
}

/**
 * The run's model config: the preset's for the data set, with the vision encoder's shape (and gelu 'erf')
 * taken from the --init-vision checkpoint when one is given.
 */
export function initialModelConfig(cfg: TrainConfig, ds: PreparedDataset): ModelConfig {
  const base = modelConfigFor(cfg, ds);
  return cfg.initVision ? timmVisionConfig(timmFile(cfg), base, cfg.initVisionHeads) : base;
}

/**
 * --init-vision: the vision encoder's tensors from a timm ViT, the ImageNet normalization folded into the
 * patch weights for this data set's pixel mean and std (src/model/import-timm.ts).
 */
export async function initVisionFromTimm(model: Model<Backend>, cfg: TrainConfig, ds: PreparedDataset, log: Logger): Promise<void> {
  const vit = timmFile(cfg);
  const norm = cfg.initVisionNorm === 'imagenet' ? IMAGENET_NORM : INCEPTION_NORM;
  const flat = Float32Array.from(await model.paramDataAsync());
  const n = placeTensors(flat, model.layout, timmVisionTensors(vit, model.config, norm, ds.pixelMean, ds.pixelStd));
  model.setParams(flat);
  log(`initialized ${n} vision tensors from ${cfg.initVision} (timm ViT: width ${vit.d}, depth ${vit.depth}, patch ${vit.p}, position grid ${vit.grid} -> ${model.config.imageSize / vit.p}, ${cfg.initVisionNorm} normalization folded in, gelu erf)`);
}
