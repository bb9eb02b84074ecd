/**
 * Raw inputs -> the model's batch, exactly as the data readers and makeBatch prepare a study: a table of raw
 * clinical values goes through numericValue / categoricalValue (src/data/features.ts: unit conversion,
 * valid ranges, category groups), then the checkpoint's standardization and vocabularies; an image (JPEG
 * bytes or decoded pixels) through decodeGray / resizeGray (src/data/jpeg.ts) to S x S bytes; makeBatch
 * (src/data/batch.ts) then normalizes pixels. No Node.js API: the edge bundle uses this file.
 */
import { makeBatch } from '../data/batch.ts';
import type { PreparedDataset } from '../data/dataset.ts';
import { categoricalValue, numericValue, ParseStatus } from '../data/features.ts';
import { decodeGray, grayFromColor, resizeGray } from '../data/jpeg.ts';
import type { DecodeLimits } from '../data/jpeg.ts';
import { NUM_LABELS } from '../engine/batch.ts';
import type { Batch } from '../engine/batch.ts';
import type { InferenceSpec } from './spec.ts';
import { inputFields } from './spec.ts';

/** Already-decoded pixels: 1 (gray), 3 (RGB) or 4 (RGBA, e.g. canvas ImageData) interleaved channels. */
export interface DecodedImage {
  width: number;
  height: number;
  data: ArrayLike<number>;
  /** Default: inferred from data.length / (width * height). */
  channels?: 1 | 3 | 4;
}

/** An image: the bytes of a JPEG file, or decoded pixels. */
export type ImageInput = Uint8Array | ArrayBuffer | DecodedImage;

/** A table of raw clinical values by feature name; null, undefined or '' mean "not recorded". */
export type TableInput = Record<string, unknown>;

/** One field that was given but could not be used. */
export interface InvalidField {
  name: string;
  value: unknown;
  reason: string;
}

/** What became of each tabular field of one input. */
export interface FieldReport {
  /** Features that entered the model. */
  used: string[];
  /** Features not given (or given as null / empty). */
  missing: string[];
  /** Features given but unusable (unparsable, out of range, unseen category): treated as missing. */
  invalid: InvalidField[];
  /** Used features whose value was clipped into the valid range. */
  clipped: string[];
}

/** A table encoded for the model: standardized numeric values and category codes, with presence flags. */
export interface EncodedTable {
  num: Float32Array;
  numPresent: Uint8Array;
  cat: Int32Array;
  catPresent: Uint8Array;
  fields: FieldReport;
}

const MAX_TEXT = 1000;
/** A table has at most this many entries (a model has a few dozen fields); more is an error before any work. */
export const MAX_TABLE_FIELDS = 1000;
/** A table given as JSON text (the CLI's --table or --table-file) is at most this long. */
export const MAX_TABLE_BYTES = 1_000_000;
/** Unknown field names an error lists at most (the rest are counted), so a hostile table cannot make a huge message. */
const MAX_LISTED = 10;

function describe(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** A name for a message: quoted, at most 60 characters. */
const quoted = (k: string): string => `'${k.length > 60 ? `${k.slice(0, 57)}...` : k}'`;

/**
 * A range in a numeric field's input unit, rounded to 0.1: the limits of the feature spec are in the unit
 * after conversion (temperature: C), the value a user gives is in the input unit (F), and a message or a
 * listing shows one unit. Identity for fields without a conversion.
 */
export function rangeInInputUnit(def: { convert?: string }, range: readonly [number, number]): [number, number] {
  if (def.convert !== 'f_to_c') return [range[0], range[1]];
  const f = (c: number) => Math.round(((c * 9) / 5 + 32) * 10) / 10;
  return [f(range[0]), f(range[1])];
}

/**
 * A hint for a value impossible in the field's input unit but valid in a common alternative: a temperature
 * given in °C where °F is expected (37.2 is impossible in °F, normal in °C). Empty when there is none.
 */
export function otherUnitHint(def: { convert?: string; valid?: readonly [number, number] }, v: unknown): string {
  const x = typeof v === 'number' ? v : typeof v === 'string' ? Number(v.trim()) : NaN;
  if (def.convert !== 'f_to_c' || !def.valid || !Number.isFinite(x) || x < def.valid[0] || x > def.valid[1]) return '';
  return `; it looks like °C: this field takes °F (${x} °C = ${Math.round((x * 9 / 5 + 32) * 10) / 10} °F)`;
}

/**
 * Encode a table of raw values. Values are in the units of the source tables (temperature in degrees
 * Fahrenheit as in MIMIC-IV-ED triage; pain as text such as "4-5" or a number; categories as text).
 * An unknown field name is an error that lists the known ones; an unusable value is reported and missing.
 */
export function encodeTable(spec: InferenceSpec, table: TableInput | null | undefined): EncodedTable {
  const Fn = spec.numeric.length, Fc = spec.categorical.length;
  const out: EncodedTable = {
    num: new Float32Array(Fn), numPresent: new Uint8Array(Fn), cat: new Int32Array(Fc), catPresent: new Uint8Array(Fc),
    fields: { used: [], missing: [], invalid: [], clipped: [] },
  };
  if (table !== null && table !== undefined && (typeof table !== 'object' || Array.isArray(table))) {
    throw new Error(`table: expected an object of field values, got ${Array.isArray(table) ? 'an array' : typeof table}`);
  }
  const t: TableInput = table ?? {};
  const keys = Object.keys(t);
  if (keys.length > MAX_TABLE_FIELDS) throw new Error(`table: ${keys.length} entries, more than the ${MAX_TABLE_FIELDS} a table may have (this model has ${spec.numeric.length + spec.categorical.length} fields)`);
  const fields = inputFields(spec);
  const known = new Set(fields.map((f) => f.name));
  const unknown = keys.filter((k) => !known.has(k));
  if (unknown.length) {
    const listed = unknown.slice(0, MAX_LISTED).map(quoted).join(', ') + (unknown.length > MAX_LISTED ? ` and ${unknown.length - MAX_LISTED} more` : '');
    throw new Error(`table: unknown field${unknown.length > 1 ? 's' : ''} ${listed} (this model's fields: ${[...known].join(', ') || 'none'})`);
  }
  const r = out.fields;
  for (const f of fields) {
    const v = Object.prototype.hasOwnProperty.call(t, f.name) ? t[f.name] : undefined;
    if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '')) {
      r.missing.push(f.name);
      continue;
    }
    if (typeof v !== 'number' && typeof v !== 'string') {
      // The value is not kept (a nested one could be arbitrarily deep: the report stays flat and printable).
      const kind = Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : typeof v;
      r.invalid.push({ name: f.name, value: `(${kind})`, reason: `expected a number or text, got ${kind}` });
      continue;
    }
    if (f.trained === 0) {
      // No training sample had it: its embedding is untrained, so a value would move the output arbitrarily.
      r.invalid.push({ name: f.name, value: typeof v === 'string' && v.length > 60 ? `${v.slice(0, 57)}...` : v, reason: 'no training sample had this field, so the model never learned it' });
      continue;
    }
    if (typeof v === 'string' && v.length > MAX_TEXT) {
      r.invalid.push({ name: f.name, value: `${v.slice(0, 20)}...`, reason: `text longer than ${MAX_TEXT} characters` });
      continue;
    }
    if (f.kind === 'numeric') {
      const [x, status] = numericValue(f.def, v);
      if (status === ParseStatus.Unparsed) {
        r.invalid.push({ name: f.name, value: v, reason: `${describe(v)} is not a number${f.def.parse === 'pain' ? ' or a pain score such as "4-5"' : ''}` });
        continue;
      }
      if (Number.isNaN(x)) {
        // Value and range in the input unit (temperature: F), as the --fields listing shows them.
        const lim = f.def.outlier ?? f.def.valid;
        const unit = f.inputUnit ? ` ${f.inputUnit}` : '';
        const range = lim ? ` outside [${rangeInInputUnit(f.def, lim).join(', ')}]${unit}` : '';
        r.invalid.push({ name: f.name, value: v, reason: `${describe(v)}${f.inputUnit !== f.unit ? unit : ''} is an impossible value${range}${otherUnitHint(f.def, v)}` });
        continue;
      }
      // The standardization of loadDataset: in float64, rounded once to float32.
      out.num[f.index] = (x - f.mean) / f.std;
      out.numPresent[f.index] = 1;
      r.used.push(f.name);
      if (status === ParseStatus.Clipped) r.clipped.push(f.name);
    } else {
      const c = categoricalValue(f.def, String(v));
      if (c === '') {
        r.missing.push(f.name);
        continue;
      }
      const code = f.vocab.indexOf(c);
      if (code < 0) {
        r.invalid.push({ name: f.name, value: v, reason: `category '${c.slice(0, 60)}' was not seen in training (known: ${f.vocab.join(', ')})` });
        continue;
      }
      out.cat[f.index] = code;
      out.catPresent[f.index] = 1;
      r.used.push(f.name);
    }
  }
  return out;
}

function isDecoded(x: ImageInput): x is DecodedImage {
  return !(x instanceof Uint8Array) && !(x instanceof ArrayBuffer) && typeof x === 'object' && x !== null && 'width' in x;
}

/**
 * An image to S x S gray bytes: JPEG bytes through decodeGray (the data readers' decoder, under its limits),
 * decoded pixels through the same gray conversion; then resizeGray. Errors name the problem.
 */
export function encodeImage(spec: InferenceSpec, image: ImageInput, limits?: DecodeLimits): Uint8Array {
  const S = spec.imageSize;
  const out = new Uint8Array(S * S);
  let gray: { width: number; height: number; data: Uint8Array };
  if (isDecoded(image)) {
    const { width, height, data } = image;
    if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 1 || height < 1) throw new Error(`image: width ${width} and height ${height} must be positive integers`);
    const n = width * height;
    if (n > 50e6) throw new Error(`image: ${width} x ${height} is over 50 megapixels`);
    if (!data || typeof data.length !== 'number') throw new Error('image: data is not an array of pixels');
    const channels = image.channels ?? data.length / n;
    if (channels !== 1 && channels !== 3 && channels !== 4) throw new Error(`image: ${data.length} values for ${width} x ${height} pixels is not 1, 3 or 4 channels`);
    if (data.length !== n * channels) throw new Error(`image: ${data.length} values, expected ${n * channels} (${width} x ${height} x ${channels})`);
    const g = channels === 1 ? (data instanceof Uint8Array ? data : Uint8Array.from(data, (v) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v)))) : grayFromColor(data, n, channels);
    gray = { width, height, data: g };
  } else {
    const bytes = image instanceof ArrayBuffer ? new Uint8Array(image) : image;
    try {
      gray = decodeGray(bytes, limits);
    } catch (e) {
      throw new Error(`image: unreadable JPEG: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  resizeGray(gray.data, gray.width, gray.height, S, out);
  return out;
}

/** One input, encoded: S x S gray bytes or null, and the encoded table. */
export interface EncodedInput {
  pixels: Uint8Array | null;
  table: EncodedTable;
}

/**
 * The batch of encoded inputs, built by makeBatch over a small data set that carries the checkpoint's
 * pixel statistics: the same arithmetic as training-time evaluation. Labels are blank.
 */
export function buildBatch(spec: InferenceSpec, inputs: readonly EncodedInput[]): Batch {
  const n = inputs.length, S = spec.imageSize, SS = S * S;
  const Fn = spec.numeric.length, Fc = spec.categorical.length;
  const ds = {
    S, n,
    pixels: new Uint8Array(n * SS), hasImage: new Uint8Array(n),
    num: new Float32Array(n * Fn), numPresent: new Uint8Array(n * Fn),
    cat: new Int32Array(n * Fc), catPresent: new Uint8Array(n * Fc),
    labels: new Float32Array(n * NUM_LABELS).fill(NaN),
    schema: { numeric: spec.numeric, categorical: spec.categorical },
    pixelMean: spec.pixelMean, pixelStd: spec.pixelStd,
  };
  inputs.forEach((x, i) => {
    if (x.pixels) {
      if (x.pixels.length !== SS) throw new Error(`buildBatch: input ${i} has ${x.pixels.length} pixels, expected ${SS}`);
      ds.pixels.set(x.pixels, i * SS);
      ds.hasImage[i] = 1;
    }
    ds.num.set(x.table.num, i * Fn);
    ds.numPresent.set(x.table.numPresent, i * Fn);
    ds.cat.set(x.table.cat, i * Fc);
    ds.catPresent.set(x.table.catPresent, i * Fc);
  });
  return makeBatch(ds as unknown as PreparedDataset, Array.from({ length: n }, (_, i) => i));
}
