/**
 * Parameter offsets: where each tensor of the layout (layout.ts) sits in a flat buffer. The same `Weights`
 * shape names the parameters and, at the gradient buffer's base, their gradients (llm.c's one layout for
 * parameters, gradients and optimizer moments).
 */
import type { Ptr } from '../engine/types.ts';
import type { ModelConfig } from './config.ts';
import type { LayoutEntry } from './layout.ts';
import type { BlockWeights } from './layers.ts';

/** Arena offsets of every tensor of the model (parameters or gradients). */
export interface Weights {
  patchW: Ptr; patchB: Ptr; pos: Ptr; vBlocks: BlockWeights[]; vNormW: Ptr; vNormB: Ptr;
  numW: Ptr; numB: Ptr; embed: Ptr; catB: Ptr; tBlocks: BlockWeights[]; tNormW: Ptr; tNormB: Ptr;
  vScale: Ptr; vShift: Ptr; tScale: Ptr; tShift: Ptr; cls: Ptr; fBlocks: BlockWeights[]; fNormW: Ptr; fNormB: Ptr;
  headW: Ptr; headB: Ptr;
}

/** The offsets of a flat buffer at `base` laid out as `byName` (built from config `c`). */
export function weightsAt(base: Ptr, byName: Map<string, LayoutEntry>, c: ModelConfig): Weights {
  const at = (n: string) => {
    const e = byName.get(n);
    if (!e) throw new Error(`layout has no tensor '${n}'`);
    return base + e.offset;
  };
  const blocks = (prefix: string, depth: number): BlockWeights[] => Array.from({ length: depth }, (_, i) => {
    const p = `${prefix}.blocks.${i}.`;
    return {
      ln1w: at(p + 'ln1.weight'), ln1b: at(p + 'ln1.bias'), qkvw: at(p + 'attn.qkv.weight'), qkvb: at(p + 'attn.qkv.bias'),
      projw: at(p + 'attn.proj.weight'), projb: at(p + 'attn.proj.bias'), ln2w: at(p + 'ln2.weight'), ln2b: at(p + 'ln2.bias'),
      fc1w: at(p + 'mlp.fc1.weight'), fc1b: at(p + 'mlp.fc1.bias'), fc2w: at(p + 'mlp.fc2.weight'), fc2b: at(p + 'mlp.fc2.bias'),
    };
  });
  return {
    patchW: at('vision.patch.weight'), patchB: at('vision.patch.bias'), pos: at('vision.pos'),
    vBlocks: blocks('vision', c.visionDepth), vNormW: at('vision.norm.weight'), vNormB: at('vision.norm.bias'),
    numW: at('tabular.num.weight'), numB: at('tabular.num.bias'), embed: at('tabular.cat.embed'), catB: at('tabular.cat.bias'),
    tBlocks: blocks('tabular', c.tabularDepth), tNormW: at('tabular.norm.weight'), tNormB: at('tabular.norm.bias'),
    vScale: at('fusion.modality.vision.scale'), vShift: at('fusion.modality.vision.shift'),
    tScale: at('fusion.modality.tabular.scale'), tShift: at('fusion.modality.tabular.shift'), cls: at('fusion.cls'),
    fBlocks: blocks('fusion', c.fusionDepth), fNormW: at('fusion.norm.weight'), fNormB: at('fusion.norm.bias'),
    headW: at('head.weight'), headB: at('head.bias'),
  };
}
