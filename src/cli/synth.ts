/**
 * `npm run synth -- --out DIR [--patients N] [--seed S] [--gzip true|false] [--image-size PX]`: write the
 * synthetic data set (MIMIC-CXR-JPG + MIMIC-IV layout, docs/synthetic-data.md). Same seed, same bytes.
 */
import { generateSynthetic, SYNTH_DEFAULT_PATIENTS } from '../data/index.ts';
import { helpText, parseArgs, runMain } from './flags.ts';

const DEFAULTS = {
  out: 'data/synthetic',
  patients: SYNTH_DEFAULT_PATIENTS,
  seed: 0,
  gzip: true,
  imageSize: 256,
  splitFile: true,
  quality: 90,
  mnar: 0,
};
const DOCS: Record<keyof typeof DEFAULTS, string> = {
  out: 'output folder (its mimic-cxr-jpg/ and mimic-iv/ are replaced)',
  patients: 'patients; about 1.5 studies each',
  seed: 'seed of everything',
  gzip: 'write .csv.gz (true) or plain .csv (false)',
  imageSize: 'JPEG height in pixels (width 87.5-100% of it)',
  splitFile: 'write mimic-cxr-2.0.0-split (false: the reader stratifies)',
  quality: 'JPEG quality 1..100',
  mnar: 'missing not at random: probability in [0, 1] that each lab value of a study with no finding is left out (0: off; docs/synthetic-data.md)',
};

const SPEC = {
  usage: 'usage: npm run synth -- [options]',
  defaults: DEFAULTS, docs: DOCS,
  integers: { patients: 1, seed: 0, imageSize: 1, quality: 1 },
};

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
