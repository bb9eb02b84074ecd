/**
 * The training benchmark's cost model (bench/train.ts stepCosts): from a step profile with known numbers,
 * the unit cost, the wait beyond the busiest task, the hand-out cost per task, the latency per task and the
 * projected step time follow the formulas of its doc comment; each step's % of peak is taken against the
 * peaks measured just before and after it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stepCosts, stepPctOfPeak } from '../../bench/train.ts';
import type { PhaseTiming, StepProfile } from '../../src/train/step.ts';

/** A phase sent at `t0` whose tasks each start 1 ms after hand-out and reply 0.5 ms after they end. */
function phase(t0: number, works: number[], handOutPerTask: number): PhaseTiming {
  const handedOut = t0 + handOutPerTask * works.length;
  const tasks = works.map((w) => ({ start: t0 + 1, end: t0 + 1 + w, work: w, received: t0 + 1.5 + w }));
  return { sent: t0, firstHandedOut: t0 + handOutPerTask, handedOut, tasks, done: Math.max(...tasks.map((t) => t.received)) };
}

test('stepCosts: unit, slowest unit, wait, hand-out, latency and the projected step', () => {
  // 4 units on 2 workers: each step task runs two units (10 ms and 12 ms, then 10 and 10), then its blocks'
  // reduce and update (5 ms of optimizer work each).
  const p: StepProfile = {
    units: 4, unitMs: [10, 10, 12, 10],
    grad: phase(0, [27, 25], 0.1), optimizerMs: [5, 5], mainMs: 0.25,
  };
  const c = stepCosts({ profiles: [p], workers: 2, blocks: 8 });
  assert.is(c.unit, 10);
  assert.is(c.unitMax, 12);
  assert.is(c.reduceUpdate, 10);
  assert.is(c.main, 0.25);
  // done - sent = work of the busiest task + 1.5 ms (start 1 ms after sent, reply 0.5 ms after end).
  assert.ok(Math.abs(c.wait - 1.5) < 1e-9, `wait ${c.wait}`);
  assert.ok(Math.abs(c.handOut - 0.1) < 1e-9, `hand-out ${c.handOut}`);
  assert.ok(Math.abs(c.handOutAll - 0.1) < 1e-9, `hand-out, all tasks ${c.handOutAll}`);
  // The main thread preempted after its first hand-out: h stays the first task's, the mean shows the wait.
  const late = stepCosts({ profiles: [{ ...p, grad: { ...p.grad, handedOut: p.grad.sent + 4.1 } }], workers: 2, blocks: 8 });
  assert.ok(Math.abs(late.handOut - 0.1) < 1e-9 && Math.abs(late.handOutAll - 2.05) < 1e-9, `${late.handOut} ${late.handOutAll}`);
  assert.ok(Math.abs(c.latency - 1.5) < 1e-9, `latency ${c.latency}`);
  // T(W) = (ceil(U/W) - 1) c + c_max + r / min(W, U, blocks) + main + L + min(W, U) h
  const T = (w: number) => (Math.ceil(4 / w) - 1) * 10 + 12 + 10 / Math.min(w, 4, 8) + 0.25 + 1.5 + Math.min(w, 4) * 0.1;
  for (const w of [1, 2, 4, 16]) assert.ok(Math.abs(c.model(w) - T(w)) < 1e-9, `T(${w}) ${c.model(w)} vs ${T(w)}`);
  assert.ok(Math.abs(c.efficiency(4) - T(1) / (4 * T(4))) < 1e-12);
  // The main-thread step (WebGPU, reference): no optimizer work in the workers.
  const whole = stepCosts({ profiles: [{ ...p, optimizerMs: undefined, mainMs: 7 }], workers: 2, blocks: 8 });
  assert.is(whole.reduceUpdate, 0);
  assert.ok(Math.abs(whole.model(2) - (10 + 12 + 7 + 1.5 + 0.2)) < 1e-9, `whole T(2) ${whole.model(2)}`);
});

test('stepPctOfPeak: each step against the mean of the peaks around it, none without peaks', () => {
  // 100 GFLOP per step; steps of 2 s and 1 s; peaks 100, 60, 40 GFLOP/s around them.
  const pct = stepPctOfPeak({ times: [2, 1], peaks: [100, 60, 40] }, 100e9);
  assert.equal(pct.map((x) => +x.toFixed(9)), [62.5, 200]);
  assert.equal(stepPctOfPeak({ times: [2, 1], peaks: [] }, 100e9), []);
});

test.run();
