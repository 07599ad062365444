// spec.mjs - what the fakes that validate with ajv against an OpenAPI
// document of tests/specs share: reading the (gzipped) document and
// turning OpenAPI 3.0 schema dialect into JSON Schema ajv understands.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const fakes = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// The specs the repository carries (tests/specs/README.md says where each
// came from and how to refresh it).
export const SPECS_DIR = path.resolve(fakes, '..', 'specs');

// The parsed document: file (an environment override) when given, else
// tests/specs/<name>.
export function readSpec(file, name) {
  return JSON.parse(gunzipSync(readFileSync(file ?? path.join(SPECS_DIR, name))));
}

// OpenAPI 3.0's `nullable` to JSON Schema; with drop, those keys are left
// out; with booleanExclusive, 3.0's boolean exclusiveMinimum/Maximum
// become the numeric form.
export function normalize(n, { drop = [], booleanExclusive = false } = {}) {
  const opts = { drop, booleanExclusive };
  if (Array.isArray(n)) return n.map((x) => normalize(x, opts));
  if (!n || typeof n !== 'object') return n;
  const o = {};
  for (const [k, v] of Object.entries(n)) {
    if (drop.includes(k)) continue;
    o[k] = normalize(v, opts);
  }
  if (booleanExclusive) {
    for (const [ex, lim] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']]) {
      if (typeof o[ex] === 'boolean') {
        if (o[ex] && typeof o[lim] === 'number') { o[ex] = o[lim]; delete o[lim]; } else delete o[ex];
      }
    }
  }
  if (o.nullable === true) {
    delete o.nullable;
    if (typeof o.type === 'string') {
      o.type = [o.type, 'null'];
      if (o.enum && !o.enum.includes(null)) o.enum = [...o.enum, null];
      return o;
    }
    return { anyOf: [o, { type: 'null' }] };
  }
  delete o.nullable;
  return o;
}
