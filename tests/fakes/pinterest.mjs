// pinterest.mjs - a fake Pinterest API v5 (boards, pins) that follows
// tests/specs/pinterest-v5-openapi.json.gz.  Owned by pinterest_sync.
//
// It does not run its own server: it mounts on the fake OAuth server of
// tests/fakes/oauth.mjs (under /pinterest/v5, where that fake's
// pinterest_api_base points) and shares its access tokens, so a token the
// OAuth fake issued (or refreshed) is what this API accepts.
//
//   import { createFakeOAuth } from '../fakes/oauth.mjs';
//   import { attachFakePinterest } from '../fakes/pinterest.mjs';
//   const oauth = await createFakeOAuth();
//   const pin = attachFakePinterest(oauth);
//   pin.boards / pin.pins        -> Map id -> object (the account's state)
//   pin.images                   -> Map pin id -> media_source.url it was made from
//   pin.push({ status: 429, retryAfter: 1 })     // next API request only
//   pin.push({ status: 429, reset: 1 })          // x-ratelimit-reset only
//   pin.push({ status: 500 })
//   pin.trialAccess = true   // the app has Trial access: POST /pins -> 403
//                            // code 29 (boards, lists and deletes still work)
//   oauth.expireAccess(token)                    // -> 401 until refreshed
//   pin.requests -> [{method, path, status, body?, at}]
//   pin.invalidRequests / pin.invalidResponses   // must stay []
//
// Every JSON request body is validated with ajv against the operation's
// requestBody schema (BoardCreate, PinCreate); a violation answers 400
// with Pinterest's {code, message} and is recorded.  Every answer is
// validated against the operation's response schema for its status
// (Board, Pin, list pages, Pinterest.Lib.Error); a mismatch is a bug of the
// fake and is recorded in invalidResponses.
//
// Endpoints: GET/POST /boards, GET /boards/{id}/pins, POST /pins,
// GET/DELETE /pins/{id}.  Lists page with page_size (1..250, default 25)
// and an opaque bookmark.  Auth: "Authorization: Bearer <access token>"
// issued by the OAuth fake and not expired, else 401 {code: 2,
// message: "Authentication failed."}.  The token must carry every scope
// the spec's security names for the operation (boards:read for GET
// /boards, ... pins:write for POST /pins), else 401 {code: 3, "Your token
// does not have sufficient permissions ..."} as Pinterest answers.  An app
// with Trial access "may not create Pins in production" (Pinterest's
// access tiers; the 403 code 29 answer below is Pinterest's words).
// 429s carry Retry-After (when given) and x-ratelimit-limit/remaining/reset.
import Ajv from 'ajv';
import { normalize as normalizeSpec, readSpec } from './lib/spec.mjs';

const SPEC = process.env.PINTEREST_SPEC;
const PREFIX = '/pinterest/v5';

// OpenAPI 3.0 -> what ajv (draft-07) understands: nullable, readOnly
// dropped, discriminators left to oneOf, boolean exclusiveMinimum/Maximum
// to the numeric form (lib/spec.mjs).
const normalize = (n) => normalizeSpec(n, { drop: ['example', 'discriminator'], booleanExclusive: true });

let cache = null;
function loadSpec() {
  if (cache) return cache;
  const spec = readSpec(SPEC, 'pinterest-v5-openapi.json.gz');
  const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false });
  ajv.addSchema({ $id: 'pinterest', components: normalize(spec.components) });
  const rewrite = (s) => JSON.parse(JSON.stringify(normalize(s)).replaceAll('"#/components/', '"pinterest#/components/'));
  const ops = {};
  for (const [p, item] of Object.entries(spec.paths)) {
    for (const [m, op] of Object.entries(item)) {
      if (!op || !op.operationId) continue;
      const req = op.requestBody?.content?.['application/json']?.schema;
      const res = {};
      for (const [st, r] of Object.entries(op.responses || {})) {
        const sch = r.content?.['application/json']?.schema;
        res[st] = sch ? ajv.compile(rewrite(sch)) : null;
      }
      const scopes = (op.security ?? []).find((x) => x.pinterest_oauth2)?.pinterest_oauth2 ?? [];
      ops[`${m.toUpperCase()} ${p}`] = { id: op.operationId, request: req ? ajv.compile(rewrite(req)) : null, res, scopes };
    }
  }
  cache = { ops };
  return cache;
}

let idSeq = 549755885175n;
const nextId = () => String(idSeq++);

export function attachFakePinterest(oauth, { username = 'acme_prints' } = {}) {
  const { ops } = loadSpec();
  const fake = {
    boards: new Map(), pins: new Map(), images: new Map(), queue: [],
    requests: [], invalidRequests: [], invalidResponses: [], trialAccess: false,
    limits: { limit: 1000, remaining: 999 },
    push(m) { fake.queue.push(m); return fake; },
    reset() {
      fake.queue = []; fake.requests = []; fake.invalidRequests = []; fake.invalidResponses = [];
    },
    boardPins(boardId) { return [...fake.pins.values()].filter((p) => p.board_id === boardId); },
    boardByName(name) { return [...fake.boards.values()].filter((b) => b.name === name); },
    count(pred = () => true) { return fake.requests.filter(pred).length; },
  };

  function send(res, rec, op, status, body, headers = {}) {
    rec.status = status;
    if (op) {
      const check = op.res[String(status)] ?? op.res.default;
      if (body !== undefined && check && !check(body))
        fake.invalidResponses.push({ op: op.id, status, errors: check.errors, body });
      if (body !== undefined && check === undefined)
        fake.invalidResponses.push({ op: op.id, status, errors: 'status not in the spec' });
    }
    const h = {
      'x-ratelimit-limit': String(fake.limits.limit),
      'x-ratelimit-remaining': String(fake.limits.remaining),
      ...headers,
    };
    if (body === undefined) {
      res.writeHead(status, { ...h, 'Content-Length': 0 });
      return res.end();
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { ...h, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }
  const perr = (code, message) => ({ code, message });

  function readBody(req) {
    return new Promise((resolve, reject) => {
      const chunks = [];
      let n = 0;
      req.on('data', (c) => { n += c.length; if (n > 1 << 20) { req.destroy(); reject(new Error('too large')); } else chunks.push(c); });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  function page(items, q) {
    const size = q.has('page_size') ? Number(q.get('page_size')) : 25;
    if (!Number.isInteger(size) || size < 1 || size > 250) return null;
    let start = 0;
    if (q.get('bookmark')) {
      start = Number(Buffer.from(q.get('bookmark'), 'base64').toString('utf8').replace(/^off:/, ''));
      if (!Number.isInteger(start) || start < 0) return null;
    }
    const slice = items.slice(start, start + size);
    const more = start + size < items.length;
    return { items: slice, bookmark: more ? Buffer.from(`off:${start + size}`).toString('base64') : null };
  }

  function route(method, p) {
    let m;
    if (p === '/boards') return { key: `${method} /boards` };
    if ((m = /^\/boards\/(\d+)\/pins$/.exec(p))) return { key: `${method} /boards/{board_id}/pins`, id: m[1] };
    if (p === '/pins') return { key: `${method} /pins` };
    if ((m = /^\/pins\/(\d+)$/.exec(p))) return { key: `${method} /pins/{pin_id}`, id: m[1] };
    return null;
  }

  async function handle(req, res, u) {
    if (!u.pathname.startsWith(PREFIX + '/') || u.pathname === `${PREFIX}/oauth/token`) return false;
    const p = u.pathname.slice(PREFIX.length);
    const rec = { method: req.method, path: p, query: u.search, at: Date.now() };
    fake.requests.push(rec);
    const r = route(req.method, p);
    const op = r ? ops[r.key] : null;
    const raw = await readBody(req);
    if (!op) return send(res, rec, null, 404, perr(404, 'Not found')), true;

    const auth = req.headers.authorization || '';
    const tok = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    const a = oauth.accessToken(tok);
    rec.token = tok;
    if (!a || a.provider !== 'pinterest' || (a.exp !== undefined && a.exp <= Date.now()))
      return send(res, rec, op, 401, perr(2, 'Authentication failed.')), true;
    const granted = new Set(String(a.scope ?? '').split(',').filter(Boolean));
    if (op.scopes.some((x) => !granted.has(x)))
      return send(res, rec, op, 401, perr(3, 'Your token does not have sufficient permissions to perform this operation. Please ensure your token is authorized with the correct set of scopes.')), true;

    const m = fake.queue.shift();
    if (m) {
      rec.mode = m;
      const st = m.status;
      const headers = {};
      if (st === 429) {
        if (m.retryAfter !== undefined) headers['Retry-After'] = String(m.retryAfter);
        headers['x-ratelimit-remaining'] = '0';
        headers['x-ratelimit-reset'] = String(m.reset ?? m.retryAfter ?? 1);
        return send(res, rec, op, 429, perr(8, 'You have exceeded your rate limit. Try again later.'), headers), true;
      }
      return send(res, rec, op, st, perr(st >= 500 ? 1 : 2, st >= 500 ? 'Internal Server Error' : 'Bad request'), headers), true;
    }

    let body;
    if (op.request) {
      if (!(req.headers['content-type'] || '').startsWith('application/json'))
        return send(res, rec, op, 400, perr(1, 'Content-Type must be application/json')), true;
      try { body = JSON.parse(raw); } catch {
        return send(res, rec, op, 400, perr(1, 'Invalid JSON body')), true;
      }
      rec.body = body;
      if (!op.request(body)) {
        fake.invalidRequests.push({ op: op.id, errors: op.request.errors, body });
        return send(res, rec, op, 400, perr(1, `Invalid request body: ${op.request.errors?.[0]?.instancePath} ${op.request.errors?.[0]?.message}`)), true;
      }
    }
    const q = u.searchParams;
    const now = new Date().toISOString().replace(/\.\d+Z$/, '');
    switch (r.key) {
      case 'GET /boards': {
        const pg = page([...fake.boards.values()], q);
        if (!pg) return send(res, rec, op, 400, perr(1, 'Invalid page_size or bookmark')), true;
        return send(res, rec, op, 200, pg), true;
      }
      case 'POST /boards': {
        const b = { id: nextId(), name: body.name, description: body.description ?? '',
          privacy: body.privacy ?? 'PUBLIC', owner: { username }, created_at: now,
          board_pins_modified_at: now, pin_count: 0, follower_count: 0, collaborator_count: 0 };
        fake.boards.set(b.id, b);
        return send(res, rec, op, 201, b), true;
      }
      case 'GET /boards/{board_id}/pins': {
        if (!fake.boards.has(r.id)) return send(res, rec, op, 404, perr(404, 'Board not found.')), true;
        const pg = page(fake.boardPins(r.id), q);
        if (!pg) return send(res, rec, op, 400, perr(1, 'Invalid page_size or bookmark')), true;
        return send(res, rec, op, 200, pg), true;
      }
      case 'POST /pins': {
        if (fake.trialAccess)
          return send(res, rec, op, 403, perr(29, 'Apps with Trial access may not create Pins in production https://api.pinterest.com - use API Sandbox https://api-sandbox.pinterest.com instead.')), true;
        const b = fake.boards.get(body.board_id);
        if (!b) return send(res, rec, op, 404, perr(404, 'Board not found.')), true;
        if (body.media_source?.source_type !== 'image_url' || !/^https?:\/\//.test(body.media_source.url))
          return send(res, rec, op, 400, perr(1, 'Invalid media source')), true;
        const pin = { id: nextId(), board_id: b.id, board_section_id: null, title: body.title ?? null,
          description: body.description ?? null, alt_text: body.alt_text ?? null, link: body.link ?? null,
          dominant_color: null, parent_pin_id: null, created_at: now, creative_type: 'REGULAR',
          board_owner: { username }, is_owner: true, is_standard: true, has_been_promoted: false };
        fake.pins.set(pin.id, pin);
        fake.images.set(pin.id, body.media_source.url);
        b.pin_count += 1;
        return send(res, rec, op, 201, pin), true;
      }
      case 'GET /pins/{pin_id}': {
        const pin = fake.pins.get(r.id);
        if (!pin) return send(res, rec, op, 404, perr(404, 'Pin not found.')), true;
        return send(res, rec, op, 200, pin), true;
      }
      case 'DELETE /pins/{pin_id}': {
        const pin = fake.pins.get(r.id);
        if (!pin) return send(res, rec, op, 404, perr(404, 'Pin not found.')), true;
        fake.pins.delete(r.id);
        const b = fake.boards.get(pin.board_id);
        if (b) b.pin_count -= 1;
        return send(res, rec, op, 204, undefined), true;
      }
      default:
        return send(res, rec, op, 405, perr(405, 'Method not allowed')), true;
    }
  }

  oauth.use(handle);
  return fake;
}
