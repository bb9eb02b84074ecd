/**
 * The runner behind `npm test`: uvu over every `*.test.ts` under test/ (folders included), or the files whose
 * path matches the pattern given (`npm test -- train/`), then exit with uvu's status. A test that leaves a
 * handle open (a server, a browser, a child process, a worker) would keep the process alive after uvu's totals
 * and hang CI; here the kinds of handle still open are named on stderr and the process exits anyway.
 */
import { parse } from 'uvu/parse';
import { run } from 'uvu/run';

const pattern = process.argv[2] ?? '\\.test\\.ts$';
const ctx = await parse('test', pattern.endsWith('$') ? pattern : `(${pattern}).*\\.test\\.ts$`, {});
if (ctx.suites.length === 0) {
  console.error(`npm test: no test file under test/ matches ${JSON.stringify(pattern)}`);
  process.exit(1);
}
process.env.FORCE_COLOR ??= '1';
await run(ctx.suites, { bail: false });
const stdio = new Set(['TTYWrap', 'PipeWrap', 'FSReqCallback', 'Timeout']);
const left = process.getActiveResourcesInfo().filter((r) => !stdio.has(r));
if (left.length) console.error(`npm test: handles still open after the last test (exiting anyway): ${[...new Set(left)].join(', ')}`);
const code = process.exitCode ?? 0;
process.stdout.write('', () => process.exit(typeof code === 'number' ? code : 1));
