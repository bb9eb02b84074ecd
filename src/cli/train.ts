/**
 * `npm run train -- [--config file.json] [--key value ...]`: train the model (default: the `small` preset on
 * the built-in synthetic data set, generated on first use) and report test metrics. `--help` lists every
 * option with its default.
 */
import { TRAIN_SPEC } from '../train/config.ts';
import { train } from '../train/trainer.ts';
import { trainTwoStage } from '../train/two-stage.ts';
import { UsageError } from '../options/schema.ts';
import { helpText, parseArgs } from '../options/command-line.ts';
import { runMain } from './main.ts';
import { DATA_FOLDER_HINT, requirePath } from './paths.ts';

runMain('train', async () => {
  const { cfg, given, help } = parseArgs(TRAIN_SPEC, process.argv.slice(2));
  if (help) {
    console.log(helpText(TRAIN_SPEC));
    return 0;
  }
  if (cfg.data) requirePath('--data', cfg.data, 'folder', DATA_FOLDER_HINT);
  // `--resume "$RUN"` with RUN unset must not start a fresh run
  if (given.has('resume') && !cfg.resume) throw new UsageError('--resume needs a run folder, got an empty value');
  if (cfg.resume) requirePath('--resume', cfg.resume, 'folder', 'a run folder holds config.json and last.state.safetensors');
  if (cfg.continue) requirePath('--continue', cfg.continue, 'folder', 'a finished run folder holds config.json, state.json and last.state.safetensors');
  // A resumed run keeps its folder: a --name beside --resume would be ignored without a word.
  if (cfg.resume && given.has('name')) throw new UsageError('--name and --resume together: a resumed run keeps its folder and name; leave --name out');
  if (cfg.initVision) requirePath('--init-vision', cfg.initVision, 'file');
  const r = cfg.pretrainEncoders ? await trainTwoStage(cfg, { given }) : await train(cfg, { given });
  return r.interrupted ? 130 : 0;
});
