/**
 * The one command-line parser of every CLI and benchmark: a command declares its options (src/options/schema.ts:
 * default, doc line and checks side by side); `--key value`, `--key=value` and bare booleans override them,
 * and so may a JSON file (`--config exp.json`) where the command allows one. Every value is checked by its
 * declaration wherever it comes from; an unknown key is an error that suggests the closest flag. Flags are
 * kebab-case (`--table-file`) or the key itself (`--tableFile`); errors name a flag as it was typed. Keys are
 * looked up in a Map, so `--constructor` or `--__proto__` are unknown flags, not prototype members.
 */
import { readFileSync } from 'node:fs';
import { applyObject, checkCrossOptions, checkOption, closest, defaultsOf, kebab, keyMap, UsageError, unknownName } from './schema.ts';
import type { CrossCheck, FlagValue, OptionDecls, Origins, Values } from './schema.ts';

/** What a command declares. */
export interface CommandSpec<O extends OptionDecls> {
  /** The usage lines at the top of --help (the options list follows). */
  usage: string;
  options: O;
  /** Checks across options, run on the resolved values (`--min-lr` at most `--lr`). */
  checks?: readonly CrossCheck<Values<O>>[];
  /** Words that are not flags: subcommands or names (bench names). Absent: any word is an error. */
  positional?: { what: string; choices: readonly string[]; max?: number };
  /** Accept `--config file.json` (applied before the flags, through the same checks). */
  config?: boolean;
  /** Text after the options list (methods, notes). */
  epilog?: string;
}

/** The parsed command line. */
export interface Parsed<O extends OptionDecls> {
  /** Defaults, then the config file, then the flags. */
  cfg: Values<O>;
  /** Keys set by the config file or a flag (so a command can tell a default from a given value). */
  given: Set<keyof O & string>;
  /** How each given key was spelled (`--lr`, `exp.json: lr`), for messages about it. */
  origins: Origins;
  /** Positional words, checked against `positional.choices`. */
  positional: string[];
  help: boolean;
  /** The `--config` file, if one was given. */
  config?: string;
}

/** A decimal number as a person writes it: no hex, binary, octal, empty string or whitespace (Number() takes them all). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A flag's text to its default's type (numbers strictly decimal, lists comma-separated). */
function fromText(def: FlagValue, text: string, numericList: boolean): unknown {
  // Text that is not a decimal number stays text, so the type check names it as given.
  const num = (s: string) => (DECIMAL.test(s.trim()) ? Number(s) : s);
  if (Array.isArray(def)) {
    const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
    return numericList ? parts.map(num) : parts;
  }
  if (typeof def === 'number') return num(text);
  if (typeof def === 'boolean') return text === 'true' ? true : text === 'false' ? false : text;
  return text;
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
function scan<O extends OptionDecls>(spec: CommandSpec<O>, argv: readonly string[]): { flags: RawFlag[]; positional: string[]; config?: string } {
  const keys = keyMap(spec.options);
  const flags: RawFlag[] = [];
  const positional: string[] = [];
  let config: string | undefined;
  const known = () => [...Object.keys(spec.options).map(kebab), ...(spec.config ? ['config'] : []), 'help'];
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
    if (typeof spec.options[key].default === 'boolean' && value === undefined) {
      const next = argv[i + 1];
      value = next === 'true' || next === 'false' ? argv[++i] : 'true';
    }
    flags.push({ typed, key, value: takeValue() });
  }
  return { flags, positional, config };
}

/** The command line, checked, before the config file is read. */
export interface CommandLine<O extends OptionDecls> {
  /** The flags given, typed and checked (keys as declared). */
  overrides: Partial<Values<O>>;
  /** How each flag was typed (`--drop-image`). */
  origins: Origins;
  /** Positional words, checked against `spec.positional`. */
  positional: string[];
  help: boolean;
  /** The `--config` path (not read here). */
  config?: string;
}

/**
 * Check a command line: each flag against its declaration, positional words against `spec.positional` (an
 * unknown one: one line naming it and the list). Reads no file; cross-option checks wait for the resolved
 * values (parseArgs).
 */
export function parseCommandLine<O extends OptionDecls>(spec: CommandSpec<O>, argv: readonly string[]): CommandLine<O> {
  const overrides: Record<string, FlagValue> = {};
  const origins: Origins = new Map();
  // --help anywhere wins, even over a mistyped flag: the user is asking what the flags are.
  if (argv.includes('--help') || argv.includes('-h')) return { overrides: overrides as Partial<Values<O>>, origins, positional: [], help: true };
  const { flags, positional, config } = scan(spec, argv);
  if (spec.positional) {
    const { what, choices, max } = spec.positional;
    for (const p of positional) if (!choices.includes(p)) throw new UsageError(unknownName(what, p, choices));
    if (max !== undefined && positional.length > max) throw new UsageError(`one ${what} at most, got ${positional.join(' ')}`);
  }
  for (const f of flags) {
    const d = spec.options[f.key];
    const numericList = Array.isArray(d.default) && (d.numbers === true || typeof d.default[0] === 'number');
    overrides[f.key] = checkOption(d, fromText(d.default, f.value!, numericList), f.typed, f.value, f.key);
    origins.set(f.key, f.typed);
  }
  return { overrides: overrides as Partial<Values<O>>, origins, positional, help: false, config };
}

/**
 * Parse a command line into the resolved config: defaults, then `--config` (if allowed and given), then the
 * flags; then the command's cross-option checks.
 */
export function parseArgs<O extends OptionDecls>(spec: CommandSpec<O>, argv: readonly string[]): Parsed<O> {
  const { overrides, origins: flagOrigins, positional, help, config } = parseCommandLine(spec, argv);
  const given = new Set<keyof O & string>();
  const origins: Origins = new Map();
  let cfg = defaultsOf(spec.options);
  if (help) return { cfg, given, origins, positional, help, config };
  if (config !== undefined) cfg = applyObject(spec.options, cfg, readConfigFile(config), config, origins);
  for (const k of origins.keys()) given.add(k as keyof O & string);
  for (const [k, o] of flagOrigins) { given.add(k as keyof O & string); origins.set(k, o); }
  cfg = { ...cfg, ...overrides };
  checkCrossOptions(spec.checks, cfg, origins);
  return { cfg, given, origins, positional, help, config };
}

/** How a default reads on the command line. */
function shown(v: FlagValue): string {
  return Array.isArray(v) ? (v.length ? v.join(',') : "''") : JSON.stringify(v);
}

/** `--help`: the usage, then every option with its default and doc line, then the epilog. */
export function helpText<O extends OptionDecls>(spec: CommandSpec<O>): string {
  const lines = [spec.usage, '', 'options (default):'];
  for (const [k, d] of Object.entries(spec.options)) {
    const head = `  --${kebab(k)} ${shown(d.default)}`;
    lines.push(head.length < 34 ? head.padEnd(34) + d.doc : `${head}\n${' '.repeat(34)}${d.doc}`);
  }
  if (spec.epilog) lines.push('', spec.epilog);
  return lines.join('\n');
}
