/** Peak benchmark: the register-only multiply-add loops of each build, one core (see measurePeak). */
import { wasmBuildSupported } from '../src/engine/index.ts';
import { peakLoops, row } from './util.ts';
import type { BenchMain } from './util.ts';

export const main: BenchMain = (args, emit) => {
  for (const build of args.builds) {
    if (!wasmBuildSupported(build)) continue;
    for (const p of peakLoops(build)) emit(row('peak', build, p.name, p.timing, p.flops));
  }
};
