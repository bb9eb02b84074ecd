/**
 * A queue worker process (`npm run worker`) for the queue tests: its output collected, `saw(re)` resolving
 * once the output matches (rejecting if the worker exits first, or after `waitMs`, so a test fails instead of
 * hanging CI), and `stopProcess` to end it.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

export interface WorkerProcess {
  child: ChildProcess;
  text: () => string;
  saw: (re: RegExp) => Promise<void>;
}

/** Start `src/cli/worker.ts ARGS` in `cwd` (the repository root). */
export function spawnWorkerProcess(cwd: string, args: string[], waitMs = 180_000): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/worker.ts', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const onData = (b: Buffer) => {
    text += b.toString();
    for (const w of waiters) if (w.re.test(text)) w.resolve();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  return {
    child, text: () => text,
    saw: (re) => new Promise((resolve, reject) => {
      if (re.test(text)) return resolve();
      waiters.push({ re, resolve });
      child.once('exit', (c) => reject(new Error(`worker exited (${c}) before ${re}: ${text}`)));
      setTimeout(() => reject(new Error(`no ${re} in the worker's output after ${waitMs / 1000} s: ${text}`)), waitMs).unref();
    }),
  };
}

/** End a child process with `signal` and wait for its exit (at once if it has exited). */
export function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}
