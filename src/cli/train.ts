/**
 * `npm run train -- [--config file.json] [--key value ...]`: train the model (default: the `small` preset on
 * the built-in synthetic data set, generated on first use) and report test metrics. `--help` lists every
 * option with its default.
 */
import { optionComments, trainSpec } from '../train/config.ts';
import { train } from '../train/trainer.ts';
import { trainTwoStage } from '../train/two-stage.ts';
import { helpText, parseArgs, runMain } from './flags.ts';
import { requirePath } from './paths.ts';

runMain('train', async () => {
  const { cfg, help } = parseArgs(trainSpec(), process.argv.slice(2));
  if (help) {
    console.log(helpText(trainSpec(optionComments())));
    return 0;
  }
  if (cfg.data) requirePath('--data', cfg.data, 'folder');
  if (cfg.resume) requirePath('--resume', cfg.resume, 'folder');
  if (cfg.initVision) requirePath('--init-vision', cfg.initVision, 'file');
  const r = cfg.pretrainEncoders ? await trainTwoStage(cfg) : await train(cfg);
  return r.interrupted ? 130 : 0;
});
