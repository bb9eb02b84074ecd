/**
 * Flags for the data commands: one defaults object with a comment per key; `--key value` (kebab-case or the
 * key itself) overrides it, checked against the default's type; an unknown key is an error.
 */
export interface FlagDoc {
  [key: string]: string;
}

export function parseDataFlags<T extends Record<string, string | number | boolean>>(argv: string[], defaults: T): { cfg: T; help: boolean; positional: string[] } {
  const cfg: Record<string, string | number | boolean> = { ...defaults };
  const positional: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    let key = a.slice(2);
    let val: string | undefined;
    const eq = key.indexOf('=');
    if (eq >= 0) {
      val = key.slice(eq + 1);
      key = key.slice(0, eq);
    }
    key = key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (!(key in defaults)) throw new Error(`unknown option --${a.slice(2)} (known: ${Object.keys(defaults).join(', ')})`);
    const d = defaults[key];
    if (typeof d === 'boolean') {
      if (val === undefined && (argv[i + 1] === 'true' || argv[i + 1] === 'false')) val = argv[++i];
      cfg[key] = val === undefined ? true : val === 'true';
      continue;
    }
    if (val === undefined) val = argv[++i];
    if (val === undefined) throw new Error(`--${key} needs a value`);
    if (typeof d === 'number') {
      const v = Number(val);
      if (!Number.isFinite(v)) throw new Error(`--${key}: expected a number, got '${val}'`);
      cfg[key] = v;
    } else cfg[key] = val;
  }
  return { cfg: cfg as T, help, positional };
}

export function helpLines<T extends Record<string, unknown>>(defaults: T, docs: Record<keyof T, string>): string {
  return Object.keys(defaults)
    .map((k) => `  --${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).padEnd(18)} ${docs[k as keyof T]} (default: ${JSON.stringify(defaults[k])})`)
    .join('\n');
}
