/**
 * `npm run synth -- --out DIR [--patients N] [--seed S] [--gzip true|false] [--image-size PX]`: write the
 * synthetic data set (MIMIC-CXR-JPG + MIMIC-IV layout, docs/synthetic-data.md). Same seed, same bytes.
 */
import { generateSynthetic } from '../data/index.ts';
import { helpText, parseArgs } from '../options/command-line.ts';
import { SYNTH_SPEC as SPEC } from './specs.ts';
import { runMain } from './main.ts';


async function main(): Promise<void> {
  const { cfg, help } = parseArgs(SPEC, process.argv.slice(2));
  if (help) {
    console.log(helpText(SPEC));
    return;
  }
  console.log('resolved config:', JSON.stringify(cfg));
  const t0 = performance.now();
  const s = await generateSynthetic(cfg);
  const prev = Object.entries(s.prevalence).map(([k, v]) => `${k} ${(100 * v).toFixed(1)}%`).join(', ');
  console.log(`wrote ${s.studies} studies (${s.images} images, ${s.lateralOnlyStudies} lateral-only) of ${s.patients} patients, ${s.edStays} ED stays (${s.studiesWithStay} studies inside one), ${s.labRows} lab rows${s.mnarDropped ? ` (${s.mnarDropped} left out not at random)` : ''}, ${s.admissions} admissions to ${s.out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`latent prevalence: ${prev}`);
}

runMain('synth', main);
