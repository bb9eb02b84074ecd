/**
 * The one command-line parser of every CLI and benchmark (nanoGPT style): a command declares one defaults
 * object (plain data, a doc line per key); `--key value`, `--key=value` and bare booleans override it, and so
 * may a JSON file (`--config exp.json`) where the command allows one. Every override is checked against the
 * default's type (and a key's choices or integer minimum); an unknown key is an error that suggests the
 * closest flag. Flags are kebab-case (`--table-file`) or the key itself (`--tableFile`); errors name a flag
 * as it was typed. Keys are looked up in a Map, so `--constructor` or `--__proto__` are unknown flags, not
 * prototype members.
 */
import { readFileSync } from 'node:fs';

/** A default's value: a flag's type is its default's type. Arrays are given as comma-separated lists. */
export type FlagValue = string | number | boolean | readonly number[] | readonly string[];
/** A command's defaults object. */
export type FlagDefaults = Record<string, FlagValue>;

/** What a command declares. */
export interface CommandSpec<T extends FlagDefaults> {
  /** The usage lines at the top of --help (the options list follows). */
  usage: string;
  defaults: T;
  /** One line per key, shown by --help. */
  docs: Readonly<Record<string, string>>;
  /** The values a string key (or each element of a string list) may take. */
  choices?: { readonly [K in keyof T]?: readonly string[] };
  /** Integer-valued number keys and their minimum (`threads: 0`: a non-negative integer). */
  integers?: { readonly [K in keyof T]?: number };
  /** Words that are not flags: subcommands or names (bench names). Absent: any word is an error. */
  positional?: { what: string; choices: readonly string[]; max?: number };
  /** Accept `--config file.json` (applied before the flags, through the same checks). */
  config?: boolean;
  /** Text after the options list (methods, notes). */
  epilog?: string;
}

/** The parsed command line. */
export interface Parsed<T extends FlagDefaults> {
  /** Defaults, then the config file, then the flags. */
  cfg: T;
  /** Keys set by the config file or a flag (so a command can tell a default from a given value). */
  given: Set<keyof T & string>;
  /** Positional words, checked against `positional.choices`. */
  positional: string[];
  help: boolean;
  /** The `--config` file, if one was given. */
  config?: string;
}

/** A bad command line or config file: the message is one line meant for the user, no stack needed. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A config key as its flag is spelled: dropImage -> drop-image. */
export const kebab = (k: string): string => k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
const camel = (k: string): string => k.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Keys by every spelling (kebab-case and the key itself), in a Map: no prototype lookups. */
function keyMap(defaults: FlagDefaults): Map<string, string> {
  const m = new Map<string, string>();
  for (const k of Object.keys(defaults)) {
    m.set(k, k);
    m.set(kebab(k), k);
  }
  return m;
}

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

/** A decimal number as a person writes it: no hex, binary, octal, empty string or whitespace (Number() takes them all). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function show(v: unknown): string {
  // JSON writes Infinity and NaN (a config's 1e400) as null: name them as they are
  const s = typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Check one value (already typed) against its key's default, choices and integer minimum. */
function checkValue<T extends FlagDefaults>(spec: CommandSpec<T>, key: string, v: unknown, name: string, raw: unknown): FlagValue {
  const def = spec.defaults[key];
  const allowed = spec.choices?.[key as keyof T];
  const oneOf = (s: string) => {
    if (allowed && !allowed.includes(s)) throw new UsageError(`${name} must be one of ${allowed.join(', ')}, got ${show(s)}`);
  };
  if (Array.isArray(def)) {
    const numeric = typeof def[0] === 'number'; // an empty default is a list of names
    if (!Array.isArray(v) || v.length === 0) throw new UsageError(`${name} expects a non-empty list of ${numeric ? 'numbers' : 'names'}, got ${show(raw)}`);
    for (const x of v) {
      if (numeric ? typeof x !== 'number' || !Number.isFinite(x) : typeof x !== 'string') throw new UsageError(`${name} expects a list of ${numeric ? 'numbers' : 'names'}, got ${show(raw)}`);
      // An element of a list of names (`--methods a,b`): named as one of them (`unknown method 'x'`).
      if (!numeric && allowed && !allowed.includes(x as string)) throw new UsageError(`${name}: ${unknownName(key.replace(/s$/, ''), x as string, allowed)}`);
    }
    return [...v] as FlagValue;
  }
  if (typeof def === 'number') {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new UsageError(`${name} expects a number, got ${show(raw)}`);
    const min = spec.integers?.[key as keyof T];
    if (min !== undefined && (!Number.isSafeInteger(v) || v < min)) {
      throw new UsageError(`${name} expects ${min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer >= ${min}`}, got ${show(raw)}`);
    }
    return v;
  }
  if (typeof def === 'boolean') {
    if (typeof v !== 'boolean') throw new UsageError(`${name} expects true or false, got ${show(raw)}`);
    return v;
  }
  if (typeof v !== 'string') throw new UsageError(`${name} expects a string, got ${show(raw)}`);
  oneOf(v);
  return v;
}

/** A flag's text to its default's type (numbers strictly decimal, lists comma-separated). */
function fromText(def: FlagValue, text: string): unknown {
  // Text that is not a decimal number stays text, so the type check names it as given.
  const num = (s: string) => (DECIMAL.test(s.trim()) ? Number(s) : s);
  if (Array.isArray(def)) {
    const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
    return typeof def[0] === 'number' ? parts.map(num) : parts;
  }
  if (typeof def === 'number') return num(text);
  if (typeof def === 'boolean') return text === 'true' ? true : text === 'false' ? false : text;
  return text;
}

/**
 * Apply an object of overrides (a JSON config file, or a program's own object) onto `base`: keys are the
 * defaults' keys (or their kebab-case), values of the default's JSON type. `source` names where they came
 * from in errors (`exp.json: option 'epochs' expects a number, got "ten"`).
 */
export function applyObject<T extends FlagDefaults>(spec: CommandSpec<T>, base: T, over: Record<string, unknown>, source: string, given?: Set<keyof T & string>): T {
  if (typeof over !== 'object' || over === null || Array.isArray(over)) throw new UsageError(`${source}: expected a JSON object of options`);
  const keys = keyMap(spec.defaults);
  const out: Record<string, FlagValue> = { ...base };
  for (const rawKey of Object.keys(over)) {
    if (rawKey === '__proto__' || rawKey === 'constructor' || rawKey === 'prototype') throw new UsageError(`${source}: key '${rawKey}' is not allowed`);
    const key = keys.get(rawKey) ?? keys.get(camel(rawKey));
    if (key === undefined) {
      const near = closest(rawKey, Object.keys(spec.defaults));
      throw new UsageError(`${source}: unknown option '${rawKey.slice(0, 60)}'${near ? ` (did you mean '${near}'?)` : ''} (see --help)`);
    }
    const raw = over[rawKey];
    if (raw === undefined) continue;
    out[key] = checkValue(spec, key, raw, `${source}: option '${rawKey}'`, raw);
    given?.add(key as keyof T & string);
  }
  return out as T;
}

/** Read `--config file.json` as an object (errors name the file). */
export function readConfigFile(path: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`--config ${path}: ${code === 'ENOENT' ? 'no such file' : code ? `cannot read (${code})` : (e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UsageError(`--config ${path}: expected a JSON object`);
  return json as Record<string, unknown>;
}

/** One flag as typed: `--name` (with `=value` split off). */
interface RawFlag { typed: string; key: string; value: string | undefined }

/**
 * Split argv into flags and positional words, resolving each flag's key (an unknown one is an error with the
 * closest suggestion) and taking its value from `=value` or the next word (a boolean takes the next word
 * only when it is true or false).
 */
function scan<T extends FlagDefaults>(spec: CommandSpec<T>, argv: readonly string[]): { flags: RawFlag[]; positional: string[]; config?: string } {
  const keys = keyMap(spec.defaults);
  const flags: RawFlag[] = [];
  const positional: string[] = [];
  let config: string | undefined;
  const known = () => [...Object.keys(spec.defaults).map(kebab), ...(spec.config ? ['config'] : []), 'help'];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--') || a === '--') {
      if (!spec.positional) throw new UsageError(`unexpected argument '${a.slice(0, 60)}' (options are --key value; see --help)`);
      positional.push(a);
      continue;
    }
    let typed = a, value: string | undefined;
    const eq = a.indexOf('=');
    if (eq >= 0) { typed = a.slice(0, eq); value = a.slice(eq + 1); }
    const name = typed.slice(2);
    const takeValue = (): string => {
      if (value !== undefined) return value;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${typed} needs a value`);
      i++;
      return next;
    };
    if (spec.config && name === 'config') {
      if (config !== undefined) throw new UsageError(`${typed} given twice`);
      config = takeValue();
      continue;
    }
    const key = keys.get(name);
    if (key === undefined) {
      const near = closest(name, known());
      throw new UsageError(`unknown option ${typed.length > 62 ? `${typed.slice(0, 59)}...` : typed}${near ? ` (did you mean --${near}?)` : ''}; see --help`);
    }
    if (flags.some((f) => f.key === key)) throw new UsageError(`${typed} given twice`);
    if (typeof spec.defaults[key] === 'boolean' && value === undefined) {
      const next = argv[i + 1];
      value = next === 'true' || next === 'false' ? argv[++i] : 'true';
    }
    flags.push({ typed, key, value: takeValue() });
  }
  return { flags, positional, config };
}

/** The command line, checked, before the config file is read. */
export interface CommandLine<T extends FlagDefaults> {
  /** The flags given, typed and checked (keys as in the defaults). */
  overrides: Partial<T>;
  /** Positional words, checked against `spec.positional`. */
  positional: string[];
  help: boolean;
  /** The `--config` path (not read here). */
  config?: string;
}

/**
 * Check a command line: each flag against its default's type, choices and integer minimum, positional words
 * against `spec.positional` (an unknown one: one line naming it and the list). Reads no file.
 */
export function parseCommandLine<T extends FlagDefaults>(spec: CommandSpec<T>, argv: readonly string[]): CommandLine<T> {
  const overrides: Record<string, FlagValue> = {};
  // --help anywhere wins, even over a mistyped flag: the user is asking what the flags are.
  if (argv.includes('--help') || argv.includes('-h')) return { overrides: overrides as Partial<T>, positional: [], help: true };
  const { flags, positional, config } = scan(spec, argv);
  if (spec.positional) {
    const { what, choices, max } = spec.positional;
    for (const p of positional) if (!choices.includes(p)) throw new UsageError(unknownName(what, p, choices));
    if (max !== undefined && positional.length > max) throw new UsageError(`one ${what} at most, got ${positional.join(' ')}`);
  }
  for (const f of flags) overrides[f.key] = checkValue(spec, f.key, fromText(spec.defaults[f.key], f.value!), f.typed, f.value);
  return { overrides: overrides as Partial<T>, positional, help: false, config };
}

/** Parse a command line into the resolved config: defaults, then `--config` (if allowed and given), then the flags. */
export function parseArgs<T extends FlagDefaults>(spec: CommandSpec<T>, argv: readonly string[]): Parsed<T> {
  const { overrides, positional, help, config } = parseCommandLine(spec, argv);
  const given = new Set<keyof T & string>();
  let cfg: T = { ...spec.defaults };
  if (help) return { cfg, given, positional, help, config };
  if (config !== undefined) cfg = applyObject(spec, cfg, readConfigFile(config), config, given);
  for (const k of Object.keys(overrides)) given.add(k as keyof T & string);
  return { cfg: { ...cfg, ...overrides }, given, positional, help, config };
}

/** How a default reads on the command line. */
function shown(v: FlagValue): string {
  return Array.isArray(v) ? (v.length ? v.join(',') : "''") : JSON.stringify(v);
}

/** `--help`: the usage, then every option with its default and doc line, then the epilog. */
export function helpText<T extends FlagDefaults>(spec: CommandSpec<T>): string {
  const lines = [spec.usage, '', 'options (default):'];
  for (const [k, v] of Object.entries(spec.defaults)) {
    const head = `  --${kebab(k)} ${shown(v)}`, doc = spec.docs[k] ?? '';
    lines.push(head.length < 34 ? head.padEnd(34) + doc : `${head}\n${' '.repeat(34)}${doc}`);
  }
  if (spec.epilog) lines.push('', spec.epilog);
  return lines.join('\n');
}

/**
 * Run a CLI's main: its exit code on success; on failure one line `name: message` on stderr and exit 1 (a
 * usage error or any other Error: the message, no stack; RF_DEBUG=1 prints the stack too).
 */
export function runMain(name: string, main: () => Promise<number | void>, exit: (code: number) => void = (c) => process.exit(c)): void {
  main().then(
    (code) => exit(code ?? 0),
    (e: unknown) => {
      console.error(`${name}: ${e instanceof Error ? e.message : String(e)}`);
      if (process.env.RF_DEBUG && e instanceof Error && e.stack) console.error(e.stack);
      exit(1);
    },
  );
}
