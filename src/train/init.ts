/**
 * Partial training setups: frozen tensors (`--freeze`) and initialization from other checkpoints (`--init-from`).
 */
import { readFileSync } from 'node:fs';
import { buildLayout, decodeCheckpoint } from '../model/index.ts';
import type { Model } from '../model/index.ts';
import type { Backend } from '../engine/index.ts';
import type { Logger } from './data.ts';

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
