/**
 * The one option schema of every command, config file, resumed run folder and queue job (nanoGPT style, with
 * the checks written beside each default): an option declares its default (whose type is the option's type),
 * its doc line, and what it may hold -- choices, integer, range, special values outside the range, and whether
 * it is a path or a single path segment. `checkOption` applies a declaration to a value wherever it enters;
 * `applyObject` applies a JSON object of overrides (a `--config` file, a run's config.json, a queue job's
 * settings); `checkCommand` runs a command's cross-option checks on the resolved values. Messages name the
 * option as the user spelled it in that place: `--lr`, or `exp.json: option 'lr'`.
 *
 * This module sits below cli/, train/, protocols/ and queue/ (docs/design.md section 1) and imports nothing
 * of the project.
 */

/** A default's value: an option's type is its default's type. Lists are given as comma-separated text. */
export type FlagValue = string | number | boolean | readonly number[] | readonly string[];

/** What a value of an option may be, beside its default and doc line. */
export interface OptionDecl<V extends FlagValue = FlagValue> {
  default: V;
  /** One line, shown by --help. */
  doc: string;
  /** The values a string option (or each element of a list of names) may take. */
  choices?: readonly string[];
  /** Number (or each list element): an integer. */
  integer?: boolean;
  /** Inclusive lower and upper bounds (numbers and each element of a number list). */
  min?: number;
  max?: number;
  /** Exclusive lower bound (a learning rate is > 0). */
  above?: number;
  /** Values allowed outside the range, each with its meaning (`-1`: same as the train rate). */
  also?: readonly number[];
  /** A filesystem path (checked: no NUL byte, bounded length), or one path segment (no `/`, `\`, `.`, `..`). */
  path?: 'path' | 'segment';
  /** A list of numbers (set by `nums`; an empty default list is otherwise a list of names). */
  numbers?: boolean;
}

/** The declarations of a command, by key. */
export type OptionDecls = Record<string, OptionDecl>;
/** The values of a command's options. */
export type Values<O extends OptionDecls> = { -readonly [K in keyof O]: O[K]['default'] };

type Range = Pick<OptionDecl, 'min' | 'max' | 'above' | 'also' | 'integer'>;

/** Declaration helpers: `lr: num(1e-3, 'Peak learning rate.', { above: 0, max: 1 })`. */
export const num = (def: number, doc: string, r: Omit<Range, 'integer'> = {}): OptionDecl<number> => ({ default: def, doc, ...r });
export const int = (def: number, doc: string, r: Omit<Range, 'integer'> = {}): OptionDecl<number> => ({ default: def, doc, integer: true, ...r });
export const str = (def: string, doc: string): OptionDecl<string> => ({ default: def, doc });
export const choice = (def: string, choices: readonly string[], doc: string): OptionDecl<string> => ({ default: def, doc, choices });
export const bool = (def: boolean, doc: string): OptionDecl<boolean> => ({ default: def, doc });
export const path = (def: string, doc: string): OptionDecl<string> => ({ default: def, doc, path: 'path' });
export const segment = (def: string, doc: string): OptionDecl<string> => ({ default: def, doc, path: 'segment' });
export const nums = (def: readonly number[], doc: string, r: Range = {}): OptionDecl<number[]> => ({ default: [...def], doc, numbers: true, ...r });
export const names = (def: readonly string[], choices: readonly string[] | undefined, doc: string): OptionDecl<string[]> => ({ default: [...def], doc, ...(choices ? { choices } : {}) });

/** The defaults of a set of declarations, as a plain object (a fresh copy each call). */
export function defaultsOf<O extends OptionDecls>(options: O): Values<O> {
  const out: Record<string, FlagValue> = {};
  for (const [k, d] of Object.entries(options)) out[k] = Array.isArray(d.default) ? [...d.default] : d.default;
  return out as Values<O>;
}

/** Keys declared as paths or path segments (a queue job's settings may hold none of them). */
export function pathKeys(options: OptionDecls): string[] {
  return Object.keys(options).filter((k) => options[k].path !== undefined);
}

/** A bad command line, config file or job: the message is one line meant for the user, no stack needed. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A config key as its flag is spelled: dropImage -> drop-image. */
export const kebab = (k: string): string => k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
export const camel = (k: string): string => k.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Edit distance (Levenshtein; an adjacent swap costs 1 as in Damerau's variant), for "did you mean". */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The closest of `known` to `word`, if close enough to be a likely typo (a third of its length, at least 2). */
export function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined, bestD = Infinity;
  const w = word.toLowerCase();
  for (const k of known) {
    const d = editDistance(w, k.toLowerCase());
    if (d < bestD) { best = k; bestD = d; }
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** One line naming an unknown word (flag, subcommand, benchmark) with the closest known one and the list. */
export function unknownName(what: string, word: string, known: readonly string[]): string {
  const shown = word.length > 60 ? `${word.slice(0, 57)}...` : word;
  const near = closest(word, known);
  return `unknown ${what} '${shown}'${near ? ` (did you mean ${near}?)` : ''}; known: ${known.join(', ')}`;
}

/** A value as the user would recognise it in a message (JSON writes Infinity and NaN as null: named as they are). */
export function show(v: unknown): string {
  const s = typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** The range of a number option in words: "an integer in 1..65536", "a number > 0 and <= 1", "-1 or a number in [0, 1]". */
export function rangeText(d: Range): string {
  const kind = d.integer ? 'an integer' : 'a number';
  const lo = d.above !== undefined ? `> ${d.above}` : d.min !== undefined ? `>= ${d.min}` : undefined;
  const hi = d.max !== undefined ? `<= ${d.max}` : undefined;
  let r: string;
  if (d.integer && d.min !== undefined && d.max !== undefined) r = `${kind} in ${d.min}..${d.max}`;
  else if (d.min !== undefined && d.max !== undefined) r = `${kind} in [${d.min}, ${d.max}]`;
  else if (d.integer && d.min === 0 && hi === undefined) r = 'a non-negative integer';
  else if (d.integer && d.min === 1 && hi === undefined) r = 'a positive integer';
  else r = [kind, [lo, hi].filter(Boolean).join(' and ')].filter(Boolean).join(' ');
  return d.also?.length ? `${d.also.join(' or ')} or ${r}` : r;
}

function inRange(d: Range, x: number): boolean {
  if (d.also?.includes(x)) return true;
  if (d.integer && !Number.isSafeInteger(x)) return false;
  if (d.above !== undefined && !(x > d.above)) return false;
  if (d.min !== undefined && x < d.min) return false;
  if (d.max !== undefined && x > d.max) return false;
  return true;
}

const MAX_PATH = 4096;

/** A path option's value: `name` is the option as typed. Empty means "not given" and passes. */
export function checkPath(name: string, v: string, kind: 'path' | 'segment'): void {
  if (v.includes('\0')) throw new UsageError(`${name} is a path and cannot hold a NUL byte, got ${show(v)}`);
  if (v.length > MAX_PATH) throw new UsageError(`${name}: a path of ${v.length} characters is longer than ${MAX_PATH}`);
  if (kind === 'segment' && v !== '' && (v === '.' || v === '..' || /[/\\]/.test(v) || v.length > 255)) {
    throw new UsageError(`${name} must be one folder name (no '/', '\\', '.' or '..', at most 255 characters), got ${show(v)}`);
  }
}

/**
 * Check one value (already typed: a JSON value, or a flag's text converted by `fromText`) against its
 * declaration. `name` is the option as the user spelled it (`--lr`, `exp.json: option 'lr'`); `raw` is what
 * they wrote, echoed in the message. Returns the value (lists copied).
 */
export function checkOption(d: OptionDecl, v: unknown, name: string, raw: unknown = v, key = 'value'): FlagValue {
  const def = d.default;
  if (Array.isArray(def)) {
    const numeric = d.numbers === true || typeof def[0] === 'number';
    if (!Array.isArray(v) || v.length === 0) throw new UsageError(`${name} expects a non-empty list of ${numeric ? 'numbers' : 'names'}, got ${show(raw)}`);
    for (const x of v) {
      if (numeric ? typeof x !== 'number' || !Number.isFinite(x) : typeof x !== 'string') throw new UsageError(`${name} expects a list of ${numeric ? 'numbers' : 'names'}, got ${show(raw)}`);
      if (numeric && !inRange(d, x as number)) throw new UsageError(`${name}: each value must be ${rangeText(d)}, got ${show(x)}`);
      // An element of a list of names (`--methods a,b`): named as one of them (`unknown method 'x'`).
      if (!numeric && d.choices && !d.choices.includes(x as string)) throw new UsageError(`${name}: ${unknownName(key.replace(/s$/, ''), x as string, d.choices)}`);
    }
    return [...v] as FlagValue;
  }
  if (typeof def === 'number') {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new UsageError(`${name} expects a number, got ${show(raw)}`);
    if (!inRange(d, v)) throw new UsageError(`${name} expects ${rangeText(d)}, got ${show(raw)}`);
    return v;
  }
  if (typeof def === 'boolean') {
    if (typeof v !== 'boolean') throw new UsageError(`${name} expects true or false, got ${show(raw)}`);
    return v;
  }
  if (typeof v !== 'string') throw new UsageError(`${name} expects a string, got ${show(raw)}`);
  if (d.choices && !d.choices.includes(v)) throw new UsageError(`${name} must be one of ${d.choices.join(', ')}, got ${show(v)}`);
  if (d.path) checkPath(name, v, d.path);
  return v;
}

/** Keys by every spelling (kebab-case and the key itself), in a Map: no prototype lookups. */
export function keyMap(options: OptionDecls): Map<string, string> {
  const m = new Map<string, string>();
  for (const k of Object.keys(options)) {
    m.set(k, k);
    m.set(kebab(k), k);
  }
  return m;
}

/** How each resolved key was given, for naming it in a cross-option message: `--lr`, `exp.json: lr`, or `lr` (default). */
export type Origins = Map<string, string>;

/**
 * Apply an object of overrides (a JSON config file, a run's config.json, a queue job's settings, or a
 * program's own object) onto `base`: keys are the declarations' keys (or their kebab-case), values of the
 * default's JSON type. Unknown keys are errors. `source` names where they came from
 * (`exp.json: option 'epochs' expects a number, got "ten"`). `origins`, when given, records each key's source.
 */
export function applyObject<O extends OptionDecls>(options: O, base: Values<O>, over: Record<string, unknown>, source: string, origins?: Origins): Values<O> {
  if (typeof over !== 'object' || over === null || Array.isArray(over)) throw new UsageError(`${source}: expected a JSON object of options`);
  const keys = keyMap(options);
  const out: Record<string, FlagValue> = { ...base };
  for (const rawKey of Object.keys(over)) {
    if (rawKey === '__proto__' || rawKey === 'constructor' || rawKey === 'prototype') throw new UsageError(`${source}: key '${rawKey}' is not allowed`);
    const key = keys.get(rawKey) ?? keys.get(camel(rawKey));
    if (key === undefined) {
      const near = closest(rawKey, Object.keys(options));
      throw new UsageError(`${source}: unknown option '${rawKey.slice(0, 60)}'${near ? ` (did you mean '${near}'?)` : ''} (see --help)`);
    }
    const raw = over[rawKey];
    if (raw === undefined) continue;
    out[key] = checkOption(options[key], raw, `${source}: option '${rawKey}'`, raw, key);
    origins?.set(key, `${source}: ${rawKey}`);
  }
  return out as Values<O>;
}

/**
 * A check across options (`--min-lr` at most `--lr`): returns a message, or undefined when the values agree.
 * `name(key)` spells a key as the user gave it (`--min-lr`, `exp.json: minLr`, or `minLr (default)`).
 */
export type CrossCheck<V> = (cfg: V, name: (key: keyof V & string) => string) => string | undefined;

/** The spelling of a key for a cross-option message, from where it was given. */
export function originName(origins: Origins | undefined, key: string): string {
  return origins?.get(key) ?? `${key} (default)`;
}

/** Run cross-option checks on resolved values; the first failure throws a UsageError. */
export function checkCrossOptions<V>(checks: readonly CrossCheck<V>[] | undefined, cfg: V, origins?: Origins): void {
  for (const c of checks ?? []) {
    const msg = c(cfg, (k) => originName(origins, k));
    if (msg) throw new UsageError(msg);
  }
}
