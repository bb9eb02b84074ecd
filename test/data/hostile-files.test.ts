/**
 * Hostile tables (issue 16): an unclosed quote costs linear time and stops at the line it opened on; caps on a
 * record's lines and characters; a file that is one huge line (a small gzip inflating to it) stops in bounded
 * memory with file and line; line ends across chunk boundaries; numbers written as 0x1, 0b11, 0o7 or 1e are
 * text; a label file with no rows, or no observed label in the training split, is an error naming the file.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DataError, numericValue, parseNumber, readCsv } from '../../src/data/index.ts';
import type { CsvLimits, NumericFeature } from '../../src/data/index.ts';
import { rejects as rejectsWith } from '../util/harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'rf-data-hostile-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

async function read(file: string, limits?: Partial<CsvLimits>): Promise<{ rows: string[][]; lines: number[] }> {
  const rows: string[][] = [], lines: number[] = [];
  await readCsv(file, [], () => (f, line) => {
    rows.push(f);
    lines.push(line);
  }, limits);
  return { rows, lines };
}

const rejects = (p: Promise<unknown>, re: RegExp) => rejectsWith(p, re, DataError);

test('an unclosed quote: linear time without caps, the line it opened on; caps on lines and characters', async () => {
  const rows = ['a,b,c'];
  for (let i = 0; i < 40_000; i++) rows.push(i === 5 ? `${i},"open,x` : `${i},some text here,${i * 3}`);
  const file = join(dir, 'open.csv');
  writeFileSync(file, rows.join('\n') + '\n');
  const t0 = performance.now();
  // Re-scanning the record per line took 276 s at this size; linear scanning takes well under a second.
  await rejects(read(file, { maxRecordLines: 1e9, maxRecordChars: 1e9 }), /open\.csv:7: bad quoting: a quoted field is never closed/);
  assert.ok(performance.now() - t0 < 20_000, `took ${performance.now() - t0} ms`);
  await rejects(read(file), /open\.csv:7: bad quoting: a quoted field opened on this line is still open after 1000 lines/);
  await rejects(read(file, { maxRecordLines: 3 }), /open\.csv:7: .*still open after 3 lines/);
  await rejects(read(file, { maxRecordChars: 200 }), /open\.csv:7: .*still open after \d+ lines \(2\d\d characters\)/);
  // the quote that stays open opened on the record's second line
  writeFileSync(file, 'a,b\n"x\ny","z\n1\n2\n3\n');
  await rejects(read(file, { maxRecordLines: 3 }), /open\.csv:3: .*still open after 3 lines/);
  // within the caps a multi-line field is fine
  writeFileSync(file, 'a,b\n"x\ny","z\n1"\n2,3\n');
  assert.equal((await read(file, { maxRecordLines: 3 })).rows, [['x\ny', 'z\n1'], ['2', '3']]);
});

test('one huge line (a small gzip inflating to it) stops with file and line, in bounded memory', async () => {
  const cap = 4096;
  const huge = Buffer.alloc(3 << 20, 0x61); // 3 MiB of 'a' on one line, compressing to a few KB
  const gz = join(dir, 'huge.csv.gz');
  writeFileSync(gz, gzipSync(Buffer.concat([Buffer.from('a,b\n1,2\n'), huge, Buffer.from('\n3,4\n')])));
  await rejects(read(gz, { maxRecordChars: cap }), /huge\.csv\.gz:3: line longer than 4096 characters/);
  // the last line of a file without a final newline, and a header line, are capped the same way
  writeFileSync(join(dir, 'tail.csv'), 'a,b\n1,2\n' + 'x'.repeat(cap + 1));
  await rejects(read(join(dir, 'tail.csv'), { maxRecordChars: cap }), /tail\.csv:3: line longer than/);
  writeFileSync(join(dir, 'head.csv'), 'y'.repeat(cap + 1) + '\n1\n');
  await rejects(read(join(dir, 'head.csv'), { maxRecordChars: cap }), /head\.csv:1: line longer than/);
  // exactly at the cap is accepted
  writeFileSync(join(dir, 'edge.csv'), 'a\n' + 'z'.repeat(cap) + '\n');
  assert.is((await read(join(dir, 'edge.csv'), { maxRecordChars: cap })).rows[0][0].length, cap);
});

test('line ends and UTF-8 characters split across read chunks; a lone CR ends a line', async () => {
  // The file is read in 1 MiB chunks: put a CRLF, then a 3-byte character, across the first boundary.
  const M = 1 << 20;
  const pad = (n: number) => 'p'.repeat(n);
  const head = 'k,v\r\n';
  const first = `1,${pad(M - head.length - 3)}\r\n`; // its \r is the chunk's last byte, \n the next chunk's first
  const second = `2,${pad(M - 2 - 1)}\u20ac\n`; // the euro sign's bytes straddle the second boundary
  const text = head + first + second + '3,x\r4,y\r\n5,z';
  const file = join(dir, 'chunks.csv');
  writeFileSync(file, text);
  assert.is(Buffer.byteLength(head + first), M + 1);
  const { rows, lines } = await read(file, { maxRecordChars: 2 * M });
  assert.equal(rows.map((r) => r[0]), ['1', '2', '3', '4', '5']);
  assert.is(rows[1][1].slice(-2), 'p\u20ac');
  assert.equal(lines, [2, 3, 4, 5, 6]);
  // gzip gives other chunk sizes: same rows
  writeFileSync(join(dir, 'chunks.csv.gz'), gzipSync(Buffer.from(text)));
  assert.equal((await read(join(dir, 'chunks.csv.gz'), { maxRecordChars: 2 * M })).rows, rows);
});

test('numbers: decimals only; 0x1, 0b11, 0o7, 1e, Infinity and 1_000 are text', () => {
  for (const s of ['0x1', '0b11', '0o7', '1e', '1e+', 'Infinity', '-Infinity', '1_000', '.', '-', '+', 'e5', '1.2.3', '0x', '1 2']) {
    assert.ok(Number.isNaN(parseNumber(s)), s);
  }
  const ok: [string, number][] = [['1', 1], ['-1.0', -1], ['+2', 2], ['.5', 0.5], ['5.', 5], ['1e3', 1000], ['1E-3', 0.001], ['1.5e+2', 150], [' 98.6 ', 98.6], ['007', 7]];
  for (const [s, v] of ok) assert.is(parseNumber(s), v, s);
  const hr: NumericFeature = { name: 'hr', kind: 'numeric', source: 'triage', column: 'heartrate', valid: [0, 350] };
  assert.equal(numericValue(hr, '0x50'), [NaN, 1], 'unparsed, not 80');
});

test.run();
