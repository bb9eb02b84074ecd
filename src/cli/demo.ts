/**
 * `npm run demo -- [--model RUN/model.safetensors] [--port 8080]`: serve the demo page on localhost. Load a
 * checkpoint (file picker, or --model at start), drop an X-ray JPEG, fill in any of the clinical fields, and
 * see the 14 probabilities with the modalities and features used. Inference runs in the browser (the edge
 * bundle in a Web Worker); the server only serves files, and only to requests whose Host header names this
 * machine (localhost, 127.0.0.1, [::1], the --host given, or a name added with --allow-host).
 */
import { startDemo } from '../infer/demo-server.ts';
import { helpText, parseArgs } from '../options/command-line.ts';
import { DEMO_SPEC as SPEC } from './specs.ts';


async function main(): Promise<void> {
  const { cfg, help } = parseArgs(SPEC, process.argv.slice(2));
  if (help) {
    console.log(helpText(SPEC));
    return;
  }
  console.log(`demo: ${JSON.stringify(cfg)}`);
  const demo = await startDemo({ port: cfg.port, host: cfg.host, model: cfg.model || undefined, allowHosts: cfg.allowHost });
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
