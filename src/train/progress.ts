/**
 * Training progress: a one-line bar with loss, samples/s and ETA redrawn in place on a terminal, plain log
 * lines (about every 5% of the run) otherwise.
 */
export class Progress {
  private readonly mode: 'bar' | 'lines' | 'none';
  private readonly t0 = performance.now();
  private startStep = -1;
  private lastLine = -1;
  /** The bar is drawn and its line not yet ended: the next message must start on a new line. */
  private open = false;

  constructor(mode: string, private readonly total: number, private readonly log: (s: string) => void) {
    this.mode = mode === 'auto' ? (process.stderr.isTTY ? 'bar' : 'lines') : (mode as 'bar' | 'lines' | 'none');
  }

  update(step: number, s: { epoch: number; loss: number; lr: number; sps: number }): void {
    if (this.startStep < 0) this.startStep = step - 1;
    const elapsed = (performance.now() - this.t0) / 1000;
    const rate = (step - this.startStep) / elapsed;
    const eta = rate > 0 ? (this.total - step) / rate : 0;
    const text = `epoch ${s.epoch} step ${step}/${this.total} loss ${s.loss.toFixed(4)} lr ${s.lr.toExponential(2)} ${s.sps.toFixed(1)} samples/s ETA ${fmt(eta)}`;
    if (this.mode === 'bar') {
      const width = 24, fill = Math.round((width * step) / this.total);
      process.stderr.write(`\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${text}\x1b[K`);
      this.open = true;
    } else if (this.mode === 'lines') {
      const every = Math.max(1, Math.floor(this.total / 20));
      if (step - this.lastLine >= every || step === this.total) {
        this.lastLine = step;
        this.log(text);
      }
    }
  }

  /** End the bar's line (if one is drawn), so what is printed next starts on its own line. */
  done(): void {
    if (this.open) process.stderr.write('\n');
    this.open = false;
  }
}

function fmt(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  const m = Math.floor(sec / 60), s = Math.round(sec % 60);
  return m > 0 ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}
