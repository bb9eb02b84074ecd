/**
 * `npm run train -- [--config file.json] [--key value ...]`: train the model (default: the `small` preset on
 * the built-in synthetic data set, generated on first use) and report test metrics. `--help` lists every
 * option with its default.
 */
import { readFileSync } from 'node:fs';
import { TRAIN_DEFAULTS, applyOverrides, helpText, optionComments, parseFlags } from '../train/config.ts';
import { train } from '../train/trainer.ts';

async function main(): Promise<number> {
  const { overrides, config, help } = parseFlags(process.argv.slice(2));
  if (help) {
    console.log(helpText(optionComments()));
    return 0;
  }
  let cfg = { ...TRAIN_DEFAULTS };
  if (config) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(config, 'utf8'));
    } catch (e) {
      throw new Error(`--config ${config}: ${(e as Error).message}`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`--config ${config}: expected a JSON object`);
    cfg = applyOverrides(cfg, json as Record<string, unknown>, config);
  }
  cfg = applyOverrides(cfg, overrides, 'command line');
  const r = await train(cfg);
  return r.interrupted ? 130 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`train: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
