/**
 * A diverged checkpoint for the non-finite-loss tests: `src`'s tensors with head.weight set to 3e38 (finite,
 * so the checkpoint loads, but the logits overflow), written to `dst`. Used as `--init-from dst=head.`; the
 * learning rate cannot make a run diverge by itself since it is capped at 1.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { readSafetensors, writeSafetensors } from '../../src/model/index.ts';

export function writeDivergedCheckpoint(src: string, dst: string): string {
  const file = readSafetensors(readFileSync(src));
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [n, t] of Object.entries(file.tensors)) tensors[n] = { shape: t.shape, data: n === 'head.weight' ? new Float32Array(t.data.length).fill(3e38) : Float32Array.from(t.data) };
  writeFileSync(dst, writeSafetensors(tensors, file.metadata));
  return dst;
}
