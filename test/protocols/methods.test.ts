/**
 * The methods' plans (issue 14): the two-stage methods start from exactly the cell's image-only and tabular-only
 * runs, each ablation changes one thing against proposed, frozen-encoders differs from proposed only by the
 * freeze, proposed-scratch is the one-stage model (the earlier proposed's run), and the report's training column.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { METHODS, PRETRAINED, jobKey, methodTraining, planCell, planJobs } from '../../src/protocols/methods.ts';
import type { JobSpec, MethodName, ModelPlan } from '../../src/protocols/methods.ts';

const job = (m: MethodName, protocol: 'image' | 'tabular', level: number, d = 0.2) => (planCell(m, protocol, level, 1, d) as ModelPlan).job;

test('two-stage methods are initialized from the same cell\'s unimodal runs, and their plans train those first', () => {
  for (const protocol of ['image', 'tabular'] as const) for (const level of [0, 0.5, 1]) {
    const io = job('image-only', protocol, level), to = job('tabular-only', protocol, level);
    for (const m of PRETRAINED) {
      const j = job(m, protocol, level);
      assert.ok(j.init, `${m} has no init`);
      assert.is(jobKey(j.init!.vision), jobKey(io), `${m} ${protocol} ${level}: vision from the image-only run`);
      assert.is(jobKey(j.init!.tabular), jobKey(to), `${m} ${protocol} ${level}: tabular from the tabular-only run`);
      const order = planJobs(planCell(m, protocol, level, 1, 0.2)).map(jobKey);
      assert.equal(order, [jobKey(io), jobKey(to), jobKey(j)]);
    }
    assert.is(job('proposed-scratch', protocol, level).init, undefined);
  }
});

test('each ablation differs from proposed in one thing; frozen-encoders only by freezing the encoders', () => {
  const p = job('proposed', 'image', 0.5);
  const diff = (j: JobSpec) => Object.keys({ ...p.overrides, ...j.overrides }).filter((k) => p.overrides[k] !== j.overrides[k]).sort();
  assert.equal(diff(job('no-masking', 'image', 0.5)), ['attentionMasking']);
  assert.equal(diff(job('no-dropout', 'image', 0.5)), ['dropImage', 'dropTab']);
  assert.equal(diff(job('no-modality-tokens', 'image', 0.5)), ['freeze']);
  assert.equal(diff(job('frozen-encoders', 'image', 0.5)), ['freeze']);
  assert.is(job('frozen-encoders', 'image', 0.5).overrides.freeze, 'vision.,tabular.');
  // proposed-scratch: same overrides, no init, a run of its own (its key is the earlier one-stage proposed's).
  const s = job('proposed-scratch', 'image', 0.5);
  assert.equal(s.overrides, p.overrides);
  assert.not.equal(jobKey(s), jobKey(p));
  assert.is(s.tag, 'fusion-d0.2');
});

test('the report states every method\'s training per stage', () => {
  for (const m of METHODS) assert.ok(methodTraining(m, 7).length > 10, m);
  assert.match(methodTraining('proposed', 7), /stage 1: image-only \+ tabular-only runs, 7 epochs each .*stage 2: 7 epochs; 21 in all/);
  assert.match(methodTraining('frozen-encoders', 7), /stage 2: 7 epochs \(encoders frozen\)/);
  assert.is(methodTraining('proposed-scratch', 7), 'one stage: 7 epochs');
  assert.match(methodTraining('late-fusion', 7), /14 in all/);
});

test.run();
