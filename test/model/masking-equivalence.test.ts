/**
 * Attention masking as behaviour, through the public model API: a missing feature must be exactly what a
 * model without that feature computes (same logits, same gradients of the shared tensors), and the
 * "no masking" ablation must attend the zero-filled tokens of whatever is missing. Forcing any mask entry
 * to "present" (or dropping one from the plan) breaks the first equality.
 *
 * Mutants of scripts/mutate.ts argued equivalent (lines of src/model/model.ts at commit 2f9718b, Model.plan):
 *   model.ts:441:67 `tab = g.tab && hasTab(b)` -> `||`: with masking a group with tab holds only samples with a table; in the
 *                   ablation a table-less sample then runs the tabular encoder over all-absent (zero-filled) tokens, but its
 *                   fusion rows keep fpresent 0, so maskRows zeroes them forward and their gradient backward: same logits, same grads.
 *   model.ts:467:58 absent code `0` -> `1`: the token of an absent feature is zero-filled (maskRows) whatever row it gathered, and
 *                   featureTokensBackward skips absent codes (catPresent).
 *   model.ts:471:29 `j < k.Ft` -> `<=`: the extra write lands on the next sample's first tabular slot / CLS row, which that sample
 *                   overwrites afterwards, or past the range sent to the backend (subarray(0, Bt*Ft) / (0, rows)).
 *   model.ts:605:14 (backward) `p.Bt > 0` -> `>=`: with Bt = 0 the tabular encoder's backward runs over 0 rows, a no-op.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createModel, presetConfig } from '../../src/model/index.ts';
import type { Model, ModelConfig } from '../../src/model/index.ts';
import type { Batch } from '../../src/engine/index.ts';
import { NUM_LABELS } from '../../src/engine/index.ts';
import { close, rng } from '../util/harness.ts';

// Two fusion blocks, so both the full block and the CLS-only last block see the masks.
const BIG: ModelConfig = { ...presetConfig('tiny'), imageSize: 16, numFeatures: 3, catCardinalities: [3, 4], fusionDepth: 2, tabularDepth: 2 };
/** BIG without numeric feature 1 and categorical feature 0. */
const SMALL: ModelConfig = { ...BIG, numFeatures: 2, catCardinalities: [4] };
const KEEP_NUM = [0, 2], KEEP_CAT = [1];

/** A model off the symmetric init (so no parameter is a special value), on the float64 reference backend. */
function bigModel(seed: number): Model {
  const m = createModel(BIG, { seed, backend: 'reference' });
  const r = rng(seed + 100), p = Float64Array.from(m.paramData());
  for (let i = 0; i < p.length; i++) p[i] += 0.2 * (2 * r() - 1);
  m.setParams(p);
  return m;
}

/** SMALL with BIG's parameters: every tensor copied, the dropped features' rows left out. */
function smallTwin(big: Model): Model {
  const s = createModel(SMALL, { backend: 'reference' });
  const bp = big.parameters(), sp = s.parameters(), d = BIG.dim;
  for (const [name, v] of Object.entries(sp)) {
    const src = bp[name];
    if (name === 'tabular.num.weight' || name === 'tabular.num.bias') KEEP_NUM.forEach((f, i) => v.set(src.subarray(f * d, (f + 1) * d), i * d));
    else if (name === 'tabular.cat.bias') KEEP_CAT.forEach((f, i) => v.set(src.subarray(f * d, (f + 1) * d), i * d));
    else if (name === 'tabular.cat.embed') v.set(src.subarray(3 * d, (3 + 4) * d)); // feature 1's codes follow feature 0's 3
    else v.set(src);
  }
  return s;
}

const imageless = new Set([1, 4]);
/**
 * B samples for BIG where numeric feature 1 and categorical feature 0 are missing (holding garbage), and the
 * same samples for SMALL. Samples 1 and 4 have no image; sample 3 keeps only its categorical feature 1.
 */
function pair(B: number, seed: number): { big: Batch; small: Batch } {
  const r = rng(seed), S = BIG.imageSize;
  const mk = (Fn: number, Fc: number): Batch => ({
    B, S, image: new Float32Array(B * S * S), hasImage: new Uint8Array(B), num: new Float32Array(B * Fn), numPresent: new Uint8Array(B * Fn),
    cat: new Int32Array(B * Fc), catPresent: new Uint8Array(B * Fc), labels: new Float32Array(B * NUM_LABELS),
  });
  const big = mk(3, 2), small = mk(2, 1);
  for (let b = 0; b < B; b++) {
    const img = !imageless.has(b);
    big.hasImage[b] = small.hasImage[b] = img ? 1 : 0;
    for (let j = 0; j < S * S; j++) big.image[b * S * S + j] = small.image[b * S * S + j] = img ? 2 * r() - 1 : 0;
    for (let f = 0; f < 3; f++) {
      const present = f !== 1 && b !== 3;
      big.numPresent[b * 3 + f] = present ? 1 : 0;
      big.num[b * 3 + f] = present ? 2 * r() - 1 : 1e3 * r();
    }
    KEEP_NUM.forEach((f, i) => { small.num[b * 2 + i] = big.num[b * 3 + f]; small.numPresent[b * 2 + i] = big.numPresent[b * 3 + f]; });
    big.cat[b * 2] = 2;
    big.catPresent[b * 2] = 0;
    big.cat[b * 2 + 1] = small.cat[b] = Math.floor(4 * r());
    big.catPresent[b * 2 + 1] = small.catPresent[b] = 1;
    for (let j = 0; j < NUM_LABELS; j++) big.labels[b * NUM_LABELS + j] = small.labels[b * NUM_LABELS + j] = r() < 0.5 ? 1 : 0;
  }
  return { big, small };
}

test('a missing feature is exactly a feature the model does not have (logits, both encoders and fusion)', () => {
  const big = bigModel(1), small = smallTwin(big);
  const { big: bb, small: sb } = pair(6, 7);
  const lb = big.forward(bb), ls = small.forward(sb);
  close('logits, missing features vs no such features', lb, ls, 1e-7, 1e-6);
  // The features matter when present: a mask forced to "absent" would also pass the equality above.
  const full = pair(6, 7).big;
  full.numPresent.fill(1);
  full.catPresent.fill(1);
  const lf = big.forward(full);
  for (let b = 0; b < 6; b++) {
    let diff = 0;
    for (let j = 0; j < NUM_LABELS; j++) diff = Math.max(diff, Math.abs(lf[b * NUM_LABELS + j] - lb[b * NUM_LABELS + j]));
    assert.ok(diff > 1e-4, `sample ${b}: its present features change nothing (${diff})`);
  }
});

test('a missing feature gives the shared tensors exactly the gradients of a model without it, and its own none', () => {
  const big = bigModel(2), small = smallTwin(big);
  const { big: bb, small: sb } = pair(6, 8);
  const rb = big.lossAndGrad(bb), rs = small.lossAndGrad(sb);
  close('loss', [rb.loss], [rs.loss], 1e-12, 1e-9);
  const gb = rb.grads, gs = rs.grads, d = BIG.dim;
  for (const [name, g] of Object.entries(gs)) {
    if (name.startsWith('tabular.num.') || name === 'tabular.cat.bias' || name === 'tabular.cat.embed') continue;
    close(`grad ${name}`, gb[name], g, 1e-12, 1e-7);
  }
  close('grad of the missing numeric feature', gb['tabular.num.weight'].subarray(d, 2 * d), new Float64Array(d), 0);
  close('grad of the missing numeric feature bias', gb['tabular.num.bias'].subarray(d, 2 * d), new Float64Array(d), 0);
  close('grad of the missing categorical feature bias', gb['tabular.cat.bias'].subarray(0, d), new Float64Array(d), 0);
  close('grad of the present numeric features', gb['tabular.num.weight'].subarray(2 * d, 3 * d), gs['tabular.num.weight'].subarray(d, 2 * d), 1e-12, 1e-7);
});

test('masking off (the ablation) attends the zero tokens of a missing image, table or feature; masking on does not', () => {
  const on = bigModel(3);
  const off = createModel({ ...BIG, attentionMasking: false }, { backend: 'reference' });
  off.setParams(on.paramData());
  const { big: b } = pair(6, 9);
  // Sample 5 loses its table entirely, sample 1 (no image) keeps a partial table.
  b.numPresent.fill(0, 15, 18);
  b.catPresent.fill(0, 10, 12);
  const a = on.forward(b), z = off.forward(b);
  for (let s = 0; s < 6; s++) {
    let diff = 0;
    for (let j = 0; j < NUM_LABELS; j++) diff = Math.max(diff, Math.abs(a[s * NUM_LABELS + j] - z[s * NUM_LABELS + j]));
    assert.ok(diff > 1e-6, `sample ${s}: masking on and off agree (${diff}) though it lacks something`);
  }
  // Masking off still gives the same logits alone and in a batch, and present values drive them.
  for (const s of [1, 5]) {
    const one: Batch = {
      B: 1, S: b.S, image: b.image.subarray(s * b.S * b.S, (s + 1) * b.S * b.S), hasImage: b.hasImage.subarray(s, s + 1),
      num: b.num.subarray(s * 3, s * 3 + 3), numPresent: b.numPresent.subarray(s * 3, s * 3 + 3), cat: b.cat.subarray(s * 2, s * 2 + 2),
      catPresent: b.catPresent.subarray(s * 2, s * 2 + 2), labels: b.labels.subarray(s * NUM_LABELS, (s + 1) * NUM_LABELS),
    };
    close(`masking off, sample ${s} alone`, off.forward(one), z.subarray(s * NUM_LABELS, (s + 1) * NUM_LABELS), 1e-6, 1e-6);
    close(`masking on, sample ${s} alone`, on.forward(one), a.subarray(s * NUM_LABELS, (s + 1) * NUM_LABELS), 1e-6, 1e-6);
  }
});

test('every present input drives the logits: a pixel, each numeric value, each categorical code', () => {
  const m = bigModel(7);
  const base = pair(2, 15).big;
  base.catPresent.fill(1);
  base.numPresent.fill(1);
  const l0 = m.forward(base);
  const moved = (what: string, edit: (b: Batch) => void) => {
    const b = pair(2, 15).big;
    b.catPresent.fill(1);
    b.numPresent.fill(1);
    edit(b);
    const l = m.forward(b);
    let d0 = 0, d1 = 0;
    for (let j = 0; j < NUM_LABELS; j++) {
      d0 = Math.max(d0, Math.abs(l[j] - l0[j]));
      d1 = Math.max(d1, Math.abs(l[NUM_LABELS + j] - l0[NUM_LABELS + j]));
    }
    assert.ok(d0 > 1e-6, `${what} of sample 0 changes nothing`);
    assert.is(d1, 0, `${what} of sample 0 changes sample 1`);
  };
  moved('a pixel', (b) => { b.image[5] += 1; });
  for (let f = 0; f < 3; f++) moved(`numeric feature ${f}`, (b) => { b.num[f] += 1; });
  moved('categorical feature 0', (b) => { b.cat[0] = (b.cat[0] + 1) % 3; });
  moved('categorical feature 1', (b) => { b.cat[1] = (b.cat[1] + 1) % 4; });
});

test('a sample without a table is exactly that sample in a model with no tabular features at all', () => {
  const big = bigModel(5);
  const noTab = createModel({ ...BIG, numFeatures: 0, catCardinalities: [] }, { backend: 'reference' });
  const bp = big.parameters();
  for (const [name, v] of Object.entries(noTab.parameters())) v.set(bp[name].subarray(0, v.length)); // tabular.num/cat are empty here
  const { big: b } = pair(6, 12);
  for (const s of [0, 2]) { b.numPresent.fill(0, s * 3, s * 3 + 3); b.catPresent.fill(0, s * 2, s * 2 + 2); }
  const l = big.forward(b);
  const S = BIG.imageSize;
  const img: Batch = {
    B: 2, S, image: new Float32Array(2 * S * S), hasImage: Uint8Array.from([1, 1]), num: new Float32Array(0), numPresent: new Uint8Array(0),
    cat: new Int32Array(0), catPresent: new Uint8Array(0), labels: new Float32Array(2 * NUM_LABELS),
  };
  img.image.set(b.image.subarray(0, S * S), 0);
  img.image.set(b.image.subarray(2 * S * S, 3 * S * S), S * S);
  const want = noTab.forward(img);
  close('image-only sample 0', l.subarray(0, NUM_LABELS), want.subarray(0, NUM_LABELS), 1e-7, 1e-6);
  close('image-only sample 2', l.subarray(2 * NUM_LABELS, 3 * NUM_LABELS), want.subarray(NUM_LABELS), 1e-7, 1e-6);
});

test('nothing carries over from the previous call: logits and gradients equal a fresh model\'s (masking on and off)', () => {
  for (const attentionMasking of [true, false]) {
    const used = createModel({ ...BIG, attentionMasking }, { backend: 'reference' });
    used.setParams(bigModel(6).paramData());
    const fresh = createModel({ ...BIG, attentionMasking }, { backend: 'reference' });
    fresh.setParams(used.paramData());
    // First a batch where everything is present with other values, then one with a single image, lost tables and features.
    const first = pair(6, 13).big;
    first.hasImage.fill(1);
    first.numPresent.fill(1);
    first.catPresent.fill(1);
    first.cat.fill(1);
    used.lossAndGrad(first);
    used.forward(first);
    const { big: b } = pair(6, 14);
    b.hasImage.fill(0);
    b.hasImage[2] = 1;
    b.numPresent.fill(0, 0, 6);
    b.catPresent.fill(0, 0, 4);
    b.cat[5 * 2 + 1] = 3;
    const tag = `masking ${attentionMasking ? 'on' : 'off'}`;
    close(`${tag}: logits after another batch`, used.forward(b), fresh.forward(b), 0);
    const gu = used.lossAndGrad(b), gf = fresh.lossAndGrad(b);
    close(`${tag}: loss after another batch`, [gu.loss], [gf.loss], 0);
    for (const [name, g] of Object.entries(gf.grads)) close(`${tag}: grad ${name} after another batch`, gu.grads[name], g, 0);
  }
});

test('a sample without any data gets the logits of the CLS token alone, whatever the batch around it', () => {
  const m = bigModel(4);
  const { big: b } = pair(6, 10);
  b.hasImage[0] = 0;
  b.numPresent.fill(0, 0, 3);
  b.catPresent.fill(0, 0, 2);
  const l = m.forward(b);
  // By hand: fusion blocks over the single CLS row, final norm, head; nothing else may reach it.
  const c = createModel({ ...BIG }, { backend: 'reference' });
  c.setParams(m.paramData());
  const empty = pair(1, 11).big;
  empty.hasImage[0] = 0;
  empty.numPresent.fill(0);
  empty.catPresent.fill(0);
  close('empty sample', l.subarray(0, NUM_LABELS), c.forward(empty), 1e-7, 1e-6);
  // And it differs from a sample with data (the head is not constant).
  let diff = 0;
  for (let j = 0; j < NUM_LABELS; j++) diff = Math.max(diff, Math.abs(l[j] - l[2 * NUM_LABELS + j]));
  assert.ok(diff > 1e-4);
});

test.run();
