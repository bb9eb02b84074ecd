/**
 * Reading a feature spec from a JSON file: the Node-only half of src/data/features.ts (which checks specs
 * and parses values without file I/O, so the edge bundle takes it as it is).
 */
import { readFileSync } from 'node:fs';
import { checkFeatureSpec } from './features.ts';
import type { FeatureSpec } from './features.ts';

/** Load and check a spec: an object, a path to a JSON file, or undefined for the default. */
export function resolveFeatureSpec(spec: FeatureSpec | string | undefined): FeatureSpec {
  if (typeof spec !== 'string') return checkFeatureSpec(spec);
  let text: string;
  try {
    text = readFileSync(spec, 'utf8');
  } catch (e) {
    throw new Error(`${spec}: cannot read the feature spec: ${(e as Error).message}`);
  }
  let parsed: FeatureSpec;
  try {
    parsed = JSON.parse(text) as FeatureSpec;
  } catch (e) {
    throw new Error(`${spec}: not JSON: ${(e as Error).message}`);
  }
  return checkFeatureSpec(parsed, spec);
}
