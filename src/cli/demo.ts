/**
 * `npm run demo -- [--model RUN/model.safetensors] [--port 8080]`: serve the demo page on localhost. Load a
 * checkpoint (file picker, or --model at start), drop an X-ray JPEG, fill in any of the clinical fields, and
 * see the 14 probabilities with the modalities and features used. Inference runs in the browser (the edge
 * bundle in a Web Worker); the server only serves files.
 */
import { helpLines, parseDataFlags } from '../data/cli-args.ts';
import { startDemo } from '../infer/demo-server.ts';

const DEFAULTS = {
  model: '',
  port: 8080,
  host: '127.0.0.1',
};
const DOCS: Record<keyof typeof DEFAULTS, string> = {
  model: 'checkpoint the page loads at start (empty: pick one in the page)',
  port: 'port to listen on (0: any free port)',
  host: 'interface to listen on (127.0.0.1: this machine only)',
};

async function main(): Promise<void> {
  const { cfg, help, positional } = parseDataFlags(process.argv.slice(2), DEFAULTS);
  if (help || positional.length) {
    console.log(`usage: npm run demo -- [options]\n${helpLines(DEFAULTS, DOCS)}`);
    process.exitCode = help ? 0 : 1;
    return;
  }
  console.log(`demo: ${JSON.stringify(cfg)}`);
  const demo = await startDemo({ port: cfg.port, host: cfg.host, model: cfg.model || undefined });
  console.log(`demo: serving ${demo.url}  (Ctrl-C stops)`);
  const stop = () => {
    demo.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(`demo: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
