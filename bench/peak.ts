/** Peak benchmark: the register-only multiply-add loop of each build, one core. */
import { WasmBackend, wasmBuildSupported } from '../src/engine/index.ts';
import { measure, row } from './util.ts';
import type { BenchMain } from './util.ts';

export const main: BenchMain = (args, emit) => {
  for (const build of args.builds) {
    if (!wasmBuildSupported(build)) continue;
    const be = new WasmBackend(build, 1 << 24);
    const iters = 2_000_000;
    const t = measure(() => be.x.f32_peak_madd(iters), { minRuns: 9, minSeconds: 0.5 });
    emit(row('peak', build, `12 acc x ${iters} iters`, t, iters * 96));
  }
};
