/**
 * A demo server in its own process, for tests that must see whether a request kills it: argv[2] is a
 * stand-in edge folder; prints the URL as one line and serves until killed.
 */
import { startDemo } from '../../src/infer/demo-server.ts';

const demo = await startDemo({ port: 0, host: '127.0.0.1', edgeDir: process.argv[2] });
console.log(demo.url);
