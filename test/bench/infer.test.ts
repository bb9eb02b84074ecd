/**
 * `npm run bench -- infer --quick --json` (bench/infer.ts) runs end to end and its rows parse: every runtime
 * (this engine and onnxruntime-node in Node; the edge bundle and onnxruntime-web in headless Chromium, where
 * /usr/bin/chromium exists) at batch 1 and 64, each onnxruntime row verified against the engine (maxRel) and
 * carrying the speed ratio. The quick run's times are not measurements (a loaded machine, a few runs).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = process.env.RF_CHROMIUM || '/usr/bin/chromium';

interface Row { bench: string; build: string; shape: string; medianMs: number | null; samplesPerSec?: number; threads?: number; engineSpeedup?: number; maxRel?: string; where?: string; skipped?: string }

test('bench infer --quick --json: rows for every runtime and batch, verified and with their ratio', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'bench/index.ts'), 'infer', '--quick', '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
  assert.is(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Row[];
  assert.ok(Array.isArray(rows) && rows.length > 0, 'a JSON list of rows');
  const key = (x: Row) => `${x.build}/${x.threads}/${x.shape}`;
  const seen = new Set(rows.map(key));
  for (const B of [1, 64]) {
    assert.ok(seen.has(`engine/1/tiny B=${B}`), `engine row at B=${B}`);
    assert.ok(seen.has(`ort-node/1/tiny B=${B}`), `onnxruntime-node 1-thread row at B=${B}`);
    if (existsSync(CHROMIUM)) {
      assert.ok(seen.has(`edge/1/tiny B=${B}`), `edge bundle row at B=${B}`);
      assert.ok(seen.has(`ort-web/1/tiny B=${B}`), `onnxruntime-web 1-thread row at B=${B}`);
    }
  }
  if (!existsSync(CHROMIUM)) assert.ok(rows.some((x) => x.build === 'edge' && x.skipped), 'a row saying why the browser was skipped');
  for (const x of rows) {
    if (x.skipped) continue;
    assert.is(x.bench, 'infer');
    assert.ok(['engine', 'ort-node', 'edge', 'ort-web'].includes(x.build), `runtime ${x.build}`);
    const m = /^tiny B=(\d+)$/.exec(x.shape);
    assert.ok(m, `shape ${x.shape}`);
    assert.ok(typeof x.medianMs === 'number' && x.medianMs > 0 && Number.isFinite(x.medianMs), `${key(x)}: medianMs ${x.medianMs}`);
    assert.ok(Math.abs(x.samplesPerSec! - Number(m![1]) / (x.medianMs! / 1e3)) < 1e-6 * x.samplesPerSec!, `${key(x)}: samples/s = B / median`);
    assert.ok(Number.isInteger(x.threads) && x.threads! >= 1, `${key(x)}: threads`);
    if (x.build.startsWith('ort-')) {
      assert.ok(Number.isFinite(x.engineSpeedup) && x.engineSpeedup! > 0, `${key(x)}: engineSpeedup ${x.engineSpeedup}`);
      assert.ok(Number(x.maxRel) <= 1e-5, `${key(x)}: maxRel ${x.maxRel}`);
    }
  }
});

test.run();
