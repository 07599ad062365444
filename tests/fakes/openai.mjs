// openai.mjs - a fake OpenAI Chat Completions API (POST /v1/chat/completions)
// whose requests and answers follow tests/specs/openai-openapi.json.gz.
// Owned by product_optimize.
//
//   import { createFakeOpenAI } from '../fakes/openai.mjs';
//   const ai = await createFakeOpenAI({ key: 'sk-test' });   // 127.0.0.1, port 0
//   // config: openai_api_base = ai.baseUrl ; openai_api_key = sk-test
//   ai.push({ mode: 'rate_limit', retryAfter: 1 });  // next request only
//   ai.setMode({ mode: 'insufficient_quota' });       // every request until setMode(null)
//   ai.push({ mode: 'length' });  // the output hit max_completion_tokens: the
//                                 // JSON is cut off, finish_reason "length"
//   ai.answer = (ctx) => ({ title: ... });            // the model's JSON answer
//   ai.requests -> [{ status, body, mode, answer, content, usage, invalid }]
//   ai.invalidRequests / ai.invalidResponses -> schema violations (must stay [])
//
// Every request body is validated with ajv against the spec's
// CreateChatCompletionRequest (a violation answers 400 invalid_request_error
// and is recorded); every answer the fake sends is validated against
// CreateChatCompletionResponse or ErrorResponse (recorded in
// invalidResponses: a bug of the fake).
//
// Modes: 'rate_limit' (429 rate_limit_exceeded with x-ratelimit-* headers,
// Retry-After: retryAfter seconds, default 1), 'insufficient_quota' (429,
// no Retry-After), 'server_error' (500), 'break_schema' (200, content is
// JSON that does not follow the requested schema), 'script' (200, a valid
// answer whose description_html carries <script> and attributes),
// 'refusal' (200, message.refusal), 'content' (200 with ctx.content as the
// message content, verbatim).  Default: a valid answer from ai.answer().
import Ajv2020 from 'ajv/dist/2020.js';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { normalize, readSpec } from './lib/spec.mjs';

const SPEC = process.env.OPENAI_SPEC;

// OpenAPI 3.0's `nullable` (still used by this 3.1 document) is turned
// into JSON Schema 2020-12 that ajv understands (lib/spec.mjs).
let validators = null;
function loadValidators() {
  if (validators) return validators;
  const spec = readSpec(SPEC, 'openai-openapi.json.gz');
  const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: false });
  ajv.addSchema({ $id: 'openai', components: normalize(spec.components) });
  validators = {
    request: ajv.getSchema('openai#/components/schemas/CreateChatCompletionRequest'),
    response: ajv.getSchema('openai#/components/schemas/CreateChatCompletionResponse'),
    error: ajv.getSchema('openai#/components/schemas/ErrorResponse'),
  };
  return validators;
}

const tokens = (s) => Math.max(1, Math.ceil(String(s).length / 4));

// A plausible valid answer for the requested schema from the product data.
export function defaultAnswer({ schema, product, n }) {
  const props = Object.keys(schema?.properties ?? {});
  const t = product?.title ?? 'Product';
  const all = {
    title: `${t} - Premium Print ${n}`,
    description_html: `<h2>${t}</h2><p>Printed on demand, made for you (${n}).</p><ul><li>Soft</li><li>Bold</li></ul>`,
    tags: ['Print on demand', `gift-${n}`, 'Wall Art'],
    seo_title: `${t} | Print ${n}`.slice(0, 70),
    seo_description: `Buy ${t}: a print-on-demand favourite, number ${n}.`,
  };
  return Object.fromEntries(props.map((k) => [k, all[k] ?? 'x']));
}

export async function createFakeOpenAI({ key = 'sk-test-key', host = '127.0.0.1', port = 0 } = {}) {
  const v = loadValidators();
  const sockets = new Set();
  const fake = {
    url: '', baseUrl: '', key,
    requests: [], invalidRequests: [], invalidResponses: [],
    queue: [], persistent: null,
    answer: defaultAnswer,
    usage: null, // { prompt_tokens, completion_tokens } to force numbers
    limits: { requests: 500, tokens: 200000 },
    push(m) { fake.queue.push(m); return fake; },
    setMode(m) { fake.persistent = m; return fake; },
    reset() {
      fake.requests = []; fake.invalidRequests = []; fake.invalidResponses = [];
      fake.queue = []; fake.persistent = null; fake.answer = defaultAnswer; fake.usage = null;
    },
    count(pred = () => true) { return fake.requests.filter(pred).length; },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };

  function send(res, rec, status, body, headers = {}) {
    const check = status === 200 ? v.response : v.error;
    if (!check(body)) fake.invalidResponses.push({ status, errors: check.errors, body });
    rec.status = status;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json', 'content-length': Buffer.byteLength(text),
      'x-request-id': `req_${randomBytes(8).toString('hex')}`,
      'openai-processing-ms': '42',
      'x-ratelimit-limit-requests': String(fake.limits.requests),
      'x-ratelimit-limit-tokens': String(fake.limits.tokens),
      'x-ratelimit-remaining-requests': String(fake.limits.requests - 1),
      'x-ratelimit-remaining-tokens': String(fake.limits.tokens - 1000),
      'x-ratelimit-reset-requests': '120ms',
      'x-ratelimit-reset-tokens': '300ms',
      ...headers,
    });
    res.end(text);
  }
  const err = (message, type, code, param = null) => ({ error: { message, type, param, code } });

  function handle(req, res, raw) {
    const rec = { method: req.method, path: req.url, at: Date.now() };
    fake.requests.push(rec);
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      return send(res, rec, 404, err(`Invalid URL (${req.method} ${req.url})`, 'invalid_request_error', null));
    }
    if (req.headers.authorization !== `Bearer ${fake.key}`) {
      return send(res, rec, 401, err('Incorrect API key provided: sk-***. You can find your API key at https://platform.openai.com/account/api-keys.',
        'invalid_request_error', 'invalid_api_key'));
    }
    let body;
    try { body = JSON.parse(raw); } catch {
      return send(res, rec, 400, err('We could not parse the JSON body of your request.', 'invalid_request_error', null));
    }
    rec.body = body;
    if (!v.request(body)) {
      rec.invalid = v.request.errors;
      fake.invalidRequests.push({ body, errors: v.request.errors });
      return send(res, rec, 400, err(`Invalid request: ${v.request.errors?.[0]?.instancePath} ${v.request.errors?.[0]?.message}`,
        'invalid_request_error', null));
    }
    const rf = body.response_format;
    if (rf?.type !== 'json_schema' || rf.json_schema?.strict !== true || !rf.json_schema?.schema) {
      rec.invalid = 'not strict json_schema';
      fake.invalidRequests.push({ body, errors: 'the project asks for strict json_schema output' });
      return send(res, rec, 400, err('response_format must be a strict json_schema', 'invalid_request_error', null));
    }
    const m = fake.queue.length ? fake.queue.shift() : fake.persistent;
    rec.mode = m?.mode ?? 'ok';
    if (m?.mode === 'rate_limit') {
      return send(res, rec, 429, err('Rate limit reached for gpt-4.1-mini in organization org-fake on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 1s.',
        'requests', 'rate_limit_exceeded'), {
        'retry-after': String(m.retryAfter ?? 1),
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-reset-requests': `${m.retryAfter ?? 1}s`,
      });
    }
    if (m?.mode === 'insufficient_quota') {
      return send(res, rec, 429, err('You exceeded your current quota, please check your plan and billing details.',
        'insufficient_quota', 'insufficient_quota'));
    }
    if (m?.mode === 'server_error') {
      return send(res, rec, 500, err('The server had an error while processing your request. Sorry about that!',
        'server_error', null));
    }
    let product = null;
    try { product = JSON.parse(body.messages.find((x) => x.role === 'user')?.content ?? '{}').product; } catch { /* not JSON */ }
    const n = fake.requests.filter((r) => r.answer).length + 1;
    let answer = fake.answer({ schema: rf.json_schema.schema, product, n, body });
    let content; let refusal = null;
    if (m?.mode === 'break_schema') {
      answer = { ...answer, tags: 'not, a, list', extra_field: true };
      delete answer.title;
    } else if (m?.mode === 'script') {
      answer = { ...answer,
        description_html: `<p onclick="steal()">Great ${n}</p><script>alert('x')</script><p>End</p>` };
    }
    let finish = 'stop';
    if (m?.mode === 'refusal') {
      content = null; refusal = "I'm sorry, I can't help with that.";
    } else if (m?.mode === 'length') {
      // As the API does when the limit is hit: the text so far, cut off.
      const full = JSON.stringify(answer);
      content = full.slice(0, Math.max(1, Math.floor(full.length / 2)));
      finish = 'length';
    } else if (m?.mode === 'content') {
      content = m.content;
    } else {
      content = JSON.stringify(answer);
    }
    rec.answer = answer; rec.content = content;
    const pt = fake.usage?.prompt_tokens ?? tokens(JSON.stringify(body.messages));
    const ct = fake.usage?.completion_tokens ?? tokens(content ?? refusal);
    rec.usage = { prompt_tokens: pt, completion_tokens: ct, total_tokens: pt + ct };
    return send(res, rec, 200, {
      id: `chatcmpl-${randomBytes(12).toString('hex')}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: `${body.model}-2025-04-14`,
      choices: [{ index: 0, message: { role: 'assistant', content, refusal, annotations: [] },
        logprobs: null, finish_reason: finish }],
      usage: { ...rec.usage,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0,
          accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } },
      service_tier: 'default',
    });
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => { size += c.length; if (size <= 4 << 20) chunks.push(c); });
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((r) => server.listen(port, host, r));
  fake.url = `http://${host}:${server.address().port}`;
  fake.baseUrl = `${fake.url}/v1`;
  return fake;
}
