/**
 * The edge bundle tests' fixture (edge-browser, edge-webgpu): a small model over real feature names with its
 * parameters moved away from the initialization, so probabilities spread out and tight comparisons mean
 * something; a grayscale JPEG and its decoded RGBA pixels; the prediction cases; everything as plain data
 * for a page (bytes as base64).
 */
import { decodeGray, encodeGrayJpeg } from '../../src/data/index.ts';
import { createModel, encodeCheckpoint, presetConfig } from '../../src/model/index.ts';
import { rng } from './harness.ts';

export const config = { ...presetConfig('tiny'), imageSize: 32, numFeatures: 4, catCardinalities: [2, 3] };
export const metadata = {
  schema: {
    numeric: [
      { name: 'temperature', mean: 37.2, std: 0.8, unit: 'C' }, { name: 'heartrate', mean: 90, std: 18, unit: 'bpm' },
      { name: 'pain', mean: 4, std: 3, unit: '0-10' }, { name: 'age', mean: 60, std: 17, unit: 'years' },
    ],
    categorical: [{ name: 'gender', vocab: ['F', 'M'] }, { name: 'arrival_transport', vocab: ['AMBULANCE', 'OTHER', 'WALK IN'] }],
  },
  normalization: { pixelMean: 0.4, pixelStd: 0.22, imageSize: 32 },
};

function checkpoint(): Uint8Array {
  const m = createModel(config, { seed: 3, metadata, backend: 'reference' });
  const p = Float32Array.from(m.paramData());
  const r = rng(21);
  for (let i = 0; i < p.length; i++) p[i] += 0.2 * (2 * r() - 1);
  return encodeCheckpoint(m.config, m.layout, p, metadata);
}
export const ckpt = checkpoint();

const W = 45, H = 52;
const pixels = Uint8Array.from({ length: W * H }, (_, i) => Math.round(128 + 100 * Math.sin(i / 7) * Math.cos(i / 53)));
export const jpeg = encodeGrayJpeg(pixels, W, H, 85);
export const gray = decodeGray(jpeg);
export const rgba = new Uint8Array(gray.data.length * 4);
gray.data.forEach((v, i) => rgba.set([v, v, v, 255], i * 4));

export const CASES = [
  { name: 'image + table', jpeg: true, table: { temperature: 101.2, heartrate: 120, pain: '4-5', gender: 'F', arrival_transport: 'WALK IN' } },
  { name: 'table only', table: { temperature: 97.9, heartrate: 64, age: 71, gender: 'M' } },
  { name: 'image only', jpeg: true },
  { name: 'decoded RGBA pixels + partial table', rgba: true, table: { pain: 8 } },
  { name: 'nothing', table: {} },
];
export type Case = (typeof CASES)[number];

const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');
/** The fixture as plain data for a page. */
export function pageData() {
  return { ckpt: b64(ckpt), jpeg: b64(jpeg), rgba: b64(rgba), w: gray.width, h: gray.height, cases: CASES };
}
