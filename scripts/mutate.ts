/**
 * A small mutation tester: do the tests notice when the code's behaviour changes?
 *
 *   npx tsx scripts/mutate.ts --src src/eval/metrics.ts,src/eval/bootstrap.ts --tests "eval-metrics|behaviour-metrics" \
 *     [--max 60] [--seed 1] [--lines 20-80] [--filter "cmp|bool"] [--timeout 120] [--json] [--list]
 *
 * `--src` takes comma-separated source files; a file may carry its own line range (`src/model/model.ts:420-470`).
 * `--tests` is the uvu pattern of the test files to run for them (as in `uvu test "<pattern>"`).
 * The mutants come from the TypeScript syntax tree (so a type's `<` or a string's `+` is never touched):
 *   cmp      < <= > >= flipped to their neighbour, === !== (and == !=) swapped
 *   logic    && <-> ||, ?? -> ||
 *   arith    + <-> -, * <-> /, += <-> -=, *= <-> /=
 *   num      0 -> 1, 1 -> 0, any other number -> 0
 *   bool     true <-> false
 *   negate   an if/while/for/?: condition c -> !(c); a `!x` -> x; a unary `-x` -> x
 *   ternary  c ? a : b -> c ? b : a
 *   minmax   Math.min <-> Math.max
 *   stmt     an expression statement (a call, an assignment, x++) removed
 * Nothing inside a `throw` (error messages) or a template literal (log text) is mutated.
 * `--patch 'FILE|FROM|TO'` (repeatable) adds a hand-written mutant: FROM, which must occur exactly once in FILE,
 * becomes TO. The three bugs issue 11 names, each of which a test must catch:
 *   npx tsx scripts/mutate.ts --tests "behaviour-" \
 *     --patch 'src/model/model.ts|fmask[r + j] = masking ? tpresent[Bt * k.Ft + j] : 1|fmask[r + j] = 1' \
 *     --patch "src/model/model.ts|if (policy === 'ones') { target = 1;|if (policy === 'ones') { target = 0;" \
 *     --patch "src/train/trainer.ts|injectedMissing(cfg.seed, 'tab', r, tp.missTab)|injectedMissing(cfg.seed, 'image', r, tp.missTab)"
 * `--max N` samples N mutants (a seeded shuffle, `--seed`); `--lines a-b` keeps mutants on those lines;
 * `--filter RE` keeps mutants whose operator or change matches; `--list` prints the mutants without running.
 * Per file it prints killed / survived / timed out, the survivors and hangs (file:line, the change) and the
 * score (killed + timed out) / mutants: a mutant that makes the tests hang never gives a green run, so, as
 * in Stryker, it counts as detected (timed-out mutants are still listed). `--json` prints one JSON object.
 *
 * Why a copy of the tree and not mutation in place: other work (an editor, a test run, another helper's
 * merge) may read the worktree while a run lasts minutes, and a killed process could leave a mutated file
 * behind. So the files git knows (tracked and untracked-not-ignored) are copied into a temporary folder,
 * node_modules and build/ are symlinked into it, each mutant is written into the COPY, its tests run there
 * (in their own process group, killed whole at the timeout), and the copy's file is restored before the
 * next mutant. The worktree is only read; the temporary folder is removed at the end and on Ctrl-C.
 * Before any mutant, the unmutated tests must pass in the copy (else the run stops: a red baseline kills
 * every mutant and proves nothing); the per-mutant timeout defaults to 3x the baseline's time + 10 s.
 * Run one mutation run at a time: each mutant runs the given test files in a fresh process.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';

interface Mutant {
  file: string;
  line: number;
  /** 1-based column of the change. */
  col: number;
  op: string;
  /** Character range [start, end) of the original text and its replacement. */
  start: number;
  end: number;
  from: string;
  to: string;
}

type Outcome = 'killed' | 'survived' | 'timeout';

const SWAP: Partial<Record<ts.SyntaxKind, [string, string]>> = {
  [ts.SyntaxKind.LessThanToken]: ['cmp', '<='],
  [ts.SyntaxKind.LessThanEqualsToken]: ['cmp', '<'],
  [ts.SyntaxKind.GreaterThanToken]: ['cmp', '>='],
  [ts.SyntaxKind.GreaterThanEqualsToken]: ['cmp', '>'],
  [ts.SyntaxKind.EqualsEqualsEqualsToken]: ['cmp', '!=='],
  [ts.SyntaxKind.ExclamationEqualsEqualsToken]: ['cmp', '==='],
  [ts.SyntaxKind.EqualsEqualsToken]: ['cmp', '!='],
  [ts.SyntaxKind.ExclamationEqualsToken]: ['cmp', '=='],
  [ts.SyntaxKind.AmpersandAmpersandToken]: ['logic', '||'],
  [ts.SyntaxKind.BarBarToken]: ['logic', '&&'],
  [ts.SyntaxKind.QuestionQuestionToken]: ['logic', '||'],
  [ts.SyntaxKind.PlusToken]: ['arith', '-'],
  [ts.SyntaxKind.MinusToken]: ['arith', '+'],
  [ts.SyntaxKind.AsteriskToken]: ['arith', '/'],
  [ts.SyntaxKind.SlashToken]: ['arith', '*'],
  [ts.SyntaxKind.PlusEqualsToken]: ['arith', '-='],
  [ts.SyntaxKind.MinusEqualsToken]: ['arith', '+='],
  [ts.SyntaxKind.AsteriskEqualsToken]: ['arith', '/='],
  [ts.SyntaxKind.SlashEqualsToken]: ['arith', '*='],
};

const isStringy = (n: ts.Node): boolean =>
  ts.isStringLiteral(n) || ts.isTemplateExpression(n) || ts.isNoSubstitutionTemplateLiteral(n) ||
  (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.PlusToken && (isStringy(n.left) || isStringy(n.right)));

/** Every mutant of one file's text (`file` is the repository-relative path, for reporting). */
function mutantsOf(file: string, text: string): Mutant[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: Mutant[] = [];
  const add = (op: string, start: number, end: number, to: string) => {
    const at = sf.getLineAndCharacterOfPosition(start);
    out.push({ file, line: at.line + 1, col: at.character + 1, op, start, end, from: text.slice(start, end), to });
  };
  const negate = (e: ts.Expression) => add('negate', e.getStart(sf), e.end, `!(${e.getText(sf)})`);
  const visit = (n: ts.Node): void => {
    // Error messages and log text: a mutant there is noise, not behaviour.
    if (ts.isThrowStatement(n) || ts.isTemplateExpression(n)) return;
    // Types hold no behaviour (and their `<` are not operators).
    if (ts.isTypeNode(n) || ts.isInterfaceDeclaration(n) || ts.isTypeAliasDeclaration(n) || ts.isImportDeclaration(n)) return;
    if (ts.isBinaryExpression(n)) {
      const s = SWAP[n.operatorToken.kind];
      if (s && !(s[0] === 'arith' && n.operatorToken.kind === ts.SyntaxKind.PlusToken && isStringy(n))) {
        add(s[0], n.operatorToken.getStart(sf), n.operatorToken.end, s[1]);
      }
    } else if (ts.isNumericLiteral(n)) {
      const v = Number(n.text);
      add('num', n.getStart(sf), n.end, v === 0 ? '1' : v === 1 ? '0' : '0');
    } else if (n.kind === ts.SyntaxKind.TrueKeyword || n.kind === ts.SyntaxKind.FalseKeyword) {
      add('bool', n.getStart(sf), n.end, n.kind === ts.SyntaxKind.TrueKeyword ? 'false' : 'true');
    } else if (ts.isPrefixUnaryExpression(n) && (n.operator === ts.SyntaxKind.ExclamationToken || n.operator === ts.SyntaxKind.MinusToken)) {
      if (!(n.operator === ts.SyntaxKind.MinusToken && ts.isNumericLiteral(n.operand))) add('negate', n.getStart(sf), n.end, `(${n.operand.getText(sf)})`);
    } else if (ts.isConditionalExpression(n)) {
      negate(n.condition);
      add('ternary', n.getStart(sf), n.end, `(${n.condition.getText(sf)}) ? (${n.whenFalse.getText(sf)}) : (${n.whenTrue.getText(sf)})`);
    } else if (ts.isIfStatement(n) || ts.isWhileStatement(n)) {
      negate(n.expression);
    } else if (ts.isForStatement(n) && n.condition) {
      negate(n.condition);
    } else if (ts.isPropertyAccessExpression(n) && n.expression.getText(sf) === 'Math' && (n.name.text === 'min' || n.name.text === 'max')) {
      add('minmax', n.name.getStart(sf), n.name.end, n.name.text === 'min' ? 'max' : 'min');
    } else if (ts.isExpressionStatement(n)) {
      const e = n.expression;
      const effect = ts.isCallExpression(e) || ts.isPostfixUnaryExpression(e) || ts.isPrefixUnaryExpression(e) ||
        (ts.isBinaryExpression(e) && e.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && e.operatorToken.kind <= ts.SyntaxKind.LastAssignment);
      if (effect && !(ts.isCallExpression(e) && e.expression.getText(sf) === 'super')) add('stmt', n.getStart(sf), n.end, ';');
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

function apply(text: string, m: Mutant): string {
  return text.slice(0, m.start) + m.to + text.slice(m.end);
}

/** mulberry32: a seeded shuffle, so `--max` samples the same mutants each run. */
function shuffle<T>(a: T[], seed: number): T[] {
  let s = seed >>> 0;
  const r = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...a];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** A copy of the repository's git-visible files in a temporary folder, node_modules and build/ linked. */
function copyTree(repo: string): string {
  const ls = spawnSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: repo, encoding: 'utf8' });
  if (ls.status !== 0) throw new Error(`mutate: git ls-files failed in ${repo}: ${ls.stderr}`);
  const dir = mkdtempSync(join(tmpdir(), 'rf-mutate-'));
  for (const f of ls.stdout.split('\0').filter(Boolean)) {
    if (!existsSync(join(repo, f))) continue; // deleted but not yet staged
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(join(repo, f), join(dir, f));
  }
  for (const l of ['node_modules', 'build']) if (existsSync(join(repo, l))) symlinkSync(join(repo, l), join(dir, l));
  return dir;
}

/** The process group of the test run in flight (killed on Ctrl-C: it runs detached, so the signal would miss it). */
let inFlight: number | undefined;

/** Run the tests in `cwd`; 'killed' on a failure, 'timeout' past `ms` (the whole process group is killed). */
function runTests(cwd: string, pattern: string, ms: number): Promise<{ outcome: Outcome; ms: number; tail: string }> {
  return new Promise((done) => {
    const t0 = Date.now();
    const tsx = join(cwd, 'node_modules', '.bin', 'tsx');
    const p = spawn(tsx, ['node_modules/uvu/bin.js', 'test', pattern, '--bail', '--color', 'false'], {
      cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' },
    });
    inFlight = p.pid;
    let tail = '';
    const keep = (b: Buffer) => { tail = (tail + b.toString()).slice(-4000); };
    p.stdout.on('data', keep);
    p.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* already gone */ }
    }, ms);
    p.on('close', (code) => {
      clearTimeout(timer);
      inFlight = undefined;
      done({ outcome: timedOut ? 'timeout' : code === 0 ? 'survived' : 'killed', ms: Date.now() - t0, tail });
    });
  });
}

interface Args {
  src: { file: string; lines?: [number, number] }[];
  tests: string;
  patches: { file: string; from: string; to: string }[];
  max: number;
  seed: number;
  lines?: [number, number];
  filter?: RegExp;
  timeout?: number;
  json: boolean;
  list: boolean;
}

function parseRange(s: string, what: string): [number, number] {
  const m = /^(\d+)-(\d+)$/.exec(s);
  if (!m) throw new Error(`mutate: ${what} must be a-b (line numbers), got '${s}'`);
  return [Number(m[1]), Number(m[2])];
}

function parseArgs(argv: string[]): Args {
  const a: Args = { src: [], tests: '', patches: [], max: Infinity, seed: 1, json: false, list: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i], v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`mutate: ${k} needs a value`);
      return x;
    };
    if (k === '--src') {
      for (const part of v().split(',').filter(Boolean)) {
        const m = /^(.*?):(\d+-\d+)$/.exec(part);
        a.src.push(m ? { file: m[1], lines: parseRange(m[2], part) } : { file: part });
      }
    } else if (k === '--patch') {
      const parts = v().split('|');
      if (parts.length !== 3 || !parts[1]) throw new Error(`mutate: --patch must be 'FILE|FROM|TO', got '${parts.join('|')}'`);
      a.patches.push({ file: parts[0], from: parts[1], to: parts[2] });
    } else if (k === '--tests') a.tests = v();
    else if (k === '--max') a.max = Number(v());
    else if (k === '--seed') a.seed = Number(v());
    else if (k === '--lines') a.lines = parseRange(v(), '--lines');
    else if (k === '--filter') a.filter = new RegExp(v());
    else if (k === '--timeout') a.timeout = Number(v()) * 1000;
    else if (k === '--json') a.json = true;
    else if (k === '--list') a.list = true;
    else throw new Error(`mutate: unknown option '${k}' (see the comment at the top of scripts/mutate.ts)`);
  }
  if ((a.src.length === 0 && a.patches.length === 0) || (!a.tests && !a.list)) throw new Error('mutate: --src FILES (or --patch) and --tests PATTERN are required');
  if (!(a.max > 0)) throw new Error(`mutate: --max must be a positive number, got ${a.max}`);
  return a;
}

/** The mutants the arguments select, in file then position order. */
function select(repo: string, a: Args): Mutant[] {
  let all: Mutant[] = [];
  for (const s of a.src) {
    const path = resolve(repo, s.file);
    if (!existsSync(path)) throw new Error(`mutate: no such source file ${s.file}`);
    const range = s.lines ?? a.lines;
    all.push(...mutantsOf(s.file, readFileSync(path, 'utf8')).filter((m) => !range || (m.line >= range[0] && m.line <= range[1])));
  }
  if (a.filter) all = all.filter((m) => a.filter!.test(`${m.op} ${m.from} -> ${m.to}`));
  const picked = Number.isFinite(a.max) ? shuffle(all, a.seed).slice(0, a.max) : all;
  const order = new Map(all.map((m, i) => [m, i]));
  return [...picked.sort((x, y) => order.get(x)! - order.get(y)!), ...a.patches.map((p) => patchMutant(repo, p))];
}

/** A hand-written mutant: the one occurrence of `from` in `file` replaced by `to`. */
function patchMutant(repo: string, p: { file: string; from: string; to: string }): Mutant {
  const path = resolve(repo, p.file);
  if (!existsSync(path)) throw new Error(`mutate: --patch: no such file ${p.file}`);
  const text = readFileSync(path, 'utf8'), start = text.indexOf(p.from);
  if (start < 0 || text.indexOf(p.from, start + 1) >= 0) {
    throw new Error(`mutate: --patch: '${p.from}' occurs ${start < 0 ? 'nowhere' : 'more than once'} in ${p.file}`);
  }
  const before = text.slice(0, start).split('\n');
  return { file: p.file, line: before.length, col: before[before.length - 1].length + 1, op: 'patch', start, end: start + p.from.length, from: p.from, to: p.to };
}

const show = (m: Mutant) => `${m.file}:${m.line}:${m.col} [${m.op}] ${m.from.replace(/\s+/g, ' ').slice(0, 70)} -> ${m.to.replace(/\s+/g, ' ').slice(0, 70)}`;

async function main(): Promise<void> {
  const repo = resolve(dirname(new URL(import.meta.url).pathname), '..');
  const a = parseArgs(process.argv.slice(2));
  const mutants = select(repo, a);
  if (a.list) {
    for (const m of mutants) console.log(show(m));
    console.log(`${mutants.length} mutants`);
    return;
  }
  const dir = copyTree(repo);
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  process.on('SIGINT', () => {
    if (inFlight) try { process.kill(-inFlight, 'SIGKILL'); } catch { /* already gone */ }
    cleanup();
    process.exit(130);
  });
  try {
    const base = await runTests(dir, a.tests, a.timeout ?? 600_000);
    if (base.outcome !== 'survived') throw new Error(`mutate: the unmutated tests do not pass (${base.outcome}); fix them first:\n${base.tail}`);
    const limit = a.timeout ?? 3 * base.ms + 10_000;
    if (!a.json) console.log(`baseline green in ${(base.ms / 1000).toFixed(1)} s; ${mutants.length} mutants, timeout ${(limit / 1000).toFixed(0)} s each`);
    const results: (Mutant & { outcome: Outcome })[] = [];
    const originals = new Map<string, string>();
    for (const m of mutants) {
      const path = join(dir, m.file);
      if (!originals.has(m.file)) originals.set(m.file, readFileSync(path, 'utf8'));
      const orig = originals.get(m.file)!;
      writeFileSync(path, apply(orig, m));
      try {
        const r = await runTests(dir, a.tests, limit);
        results.push({ ...m, outcome: r.outcome });
        if (!a.json) console.log(`${r.outcome.padEnd(8)} ${show(m)}`);
      } finally {
        writeFileSync(path, orig);
      }
    }
    report(results, a.json);
  } finally {
    cleanup();
  }
}

function report(results: (Mutant & { outcome: Outcome })[], json: boolean): void {
  const files = [...new Set(results.map((r) => r.file))];
  const per = files.map((f) => {
    const rs = results.filter((r) => r.file === f);
    const n = (o: Outcome) => rs.filter((r) => r.outcome === o).length;
    const killed = n('killed'), survived = n('survived'), timeout = n('timeout');
    return {
      file: f, killed, survived, timeout, score: rs.length ? (killed + timeout) / rs.length : NaN,
      survivors: rs.filter((r) => r.outcome !== 'killed').map((r) => ({ line: r.line, col: r.col, op: r.op, from: r.from, to: r.to, outcome: r.outcome })),
    };
  });
  const killed = per.reduce((s, p) => s + p.killed, 0), timeout = per.reduce((s, p) => s + p.timeout, 0);
  const total = { killed, timeout, mutants: results.length, score: results.length ? (killed + timeout) / results.length : NaN };
  if (json) {
    console.log(JSON.stringify({ files: per, total }, null, 2));
    return;
  }
  console.log('');
  for (const p of per) {
    console.log(`${p.file}: killed ${p.killed}, survived ${p.survived}, timed out ${p.timeout}, score ${(100 * p.score).toFixed(1)}%`);
    for (const s of p.survivors) console.log(`  ${s.outcome === 'timeout' ? 'TIMEOUT ' : 'SURVIVED'} ${show({ ...s, file: p.file, start: 0, end: 0 })}`);
  }
  console.log(`total: ${total.killed} killed + ${total.timeout} timed out of ${total.mutants}, score ${(100 * total.score).toFixed(1)}%`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
