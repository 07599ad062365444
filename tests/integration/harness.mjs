// harness.mjs - the whole API stack, for real, on loopback, in one temp dir:
// PostgreSQL (lib/pg.mjs: initdb, private socket), the migrations applied by
// `rebossctl migrate`, the fake Shopify in this process, a throwaway CA and
// server certificate, reboss-api under the real spawn-fcgi, and a real nginx
// with TLS, CORS and the body cap in front of it.  Tests drive it over HTTPS
// with the curl binary, as a person would.
//
// Binaries come from $REBOSS_BUILDDIR (tests/run-all.sh builds them; this
// file never builds).  Parallel test files do not collide: each stack has
// its own temp dir, sockets and ports.  stop() ends everything it started,
// and so does process exit, whatever happened in the test.
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, writeFile, readFile, rm, chmod, access, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { makeTls } from './lib/tls.mjs';
import { makeJwtKeys, mintWith } from './lib/jwt.mjs';
import { startNginx } from './lib/nginx.mjs';

const run = promisify(execFile);

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DASHBOARD_ORIGIN = 'https://dashboard.test';

/** The build dir with fcgi/reboss-api and ctl/rebossctl. */
export function buildDir() {
  const d = process.env.REBOSS_BUILDDIR || path.join(REPO, 'build');
  for (const b of ['fcgi/reboss-api', 'ctl/rebossctl']) {
    if (!fs.existsSync(path.join(d, b)))
      throw new Error(`${path.join(d, b)} does not exist: build first ` +
        '(tests/run-all.sh does) or point REBOSS_BUILDDIR at a build dir');
  }
  return d;
}

// Process groups still alive, killed synchronously if the process exits
// without stop() (a failed before(), an uncaught error, SIGTERM from the
// test runner's timeout).
const live = new Set();
let hooked = false;
function killAll() {
  for (const s of live) {
    for (const pid of s.groups()) {
      try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    // PostgreSQL: SIGQUIT to the postmaster is an immediate shutdown.
    try {
      const pid = Number(fs.readFileSync(path.join(s.pgDataDir(), 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGQUIT');
    } catch { /* not running */ }
    if (!process.env.REBOSS_KEEP_TMP) {
      try { fs.rmSync(s.dir, { recursive: true, force: true }); } catch { /* best effort */ }
    }
  }
  live.clear();
}
function hookExit() {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      // A program with its own handler calls stop() itself.
      if (process.listenerCount(sig) > 1) return;
      killAll();
      process.exit(128 + os.constants.signals[sig]);
    });
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  let last = null;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    await sleep(100);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}` +
    (last ? `: ${last.message}` : ''));
}

/** The direct children of pid (from /proc), e.g. the API's pool workers. */
export async function childPids(pid) {
  const out = [];
  for (const ent of await readdir('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    let stat;
    try { stat = await readFile(`/proc/${ent}/stat`, 'utf8'); } catch { continue; }
    // pid (comm) state ppid ...: comm may hold spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[1]) === pid) out.push(Number(ent));
  }
  return out.sort((a, b) => a - b);
}

function parseCurl(raw) {
  // -D- writes every header block (1xx included) before the body.
  let buf = raw;
  let status = 0;
  let headers = {};
  for (;;) {
    const end = buf.indexOf('\r\n\r\n');
    if (buf.subarray(0, 5).toString('latin1') !== 'HTTP/' || end < 0) break;
    const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
    status = Number(lines[0].split(' ')[1]);
    headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i < 0) continue;
      const k = l.slice(0, i).trim().toLowerCase();
      const v = l.slice(i + 1).trim();
      headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
    }
    buf = buf.subarray(end + 4);
    if (status >= 200) break;
  }
  const body = buf.toString('utf8');
  let json;
  try { json = JSON.parse(body); } catch { json = undefined; }
  return { status, headers, body, json };
}

/**
 * Starts the stack.  Options: workers (pool size, 4), bodyMax (api_body_max
 * and nginx's client_max_body_size, 65536), nginxBodyMax (nginx's cap when
 * it must differ from the API's, to reach the API's own 413), frontendUrl
 * (frontend_url, whose origin is the one nginx allows for CORS; default
 * https://dashboard.test), metricsDir (metrics_dir in reboss.conf: the pool
 * supervisor writes reboss_api.prom there), extraConfig ({key: value} added
 * to reboss.conf).  When tests/fakes/oauth.mjs exists, its fake
 * Pinterest/Meta/Google run too (stack.oauth) and their keys are set.
 */
export async function startStack({ workers = 4, bodyMax = 65536, nginxBodyMax,
  frontendUrl = DASHBOARD_ORIGIN, metricsDir, extraConfig = {} } = {}) {
  hookExit();
  const bdir = buildDir();
  const { startPostgres } = await import('./lib/pg.mjs');
  const { createFakeShopify } = await import('../fakes/shopify.mjs');

  const dir = await mkdtemp(path.join(os.tmpdir(), 'reboss-it-'));
  // PostgreSQL runs as its own user and must traverse into its data dir.
  await chmod(dir, 0o711);
  const sock = path.join(dir, 'api.sock');
  const confFile = path.join(dir, 'reboss.conf');
  const apiLogFile = path.join(dir, 'api.log');

  let pg = null, fake = null, oauth = null, nginx = null, api = null, stopped = false;
  const entry = {
    dir,
    groups: () => [api?.pid, nginx?.child?.pid].filter(Boolean),
    pgDataDir: () => pg?.dataDir ?? path.join(dir, 'pg', 'data'),
  };
  live.add(entry);

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const errs = [];
    const step = async (fn) => { try { await fn(); } catch (e) { errs.push(e); } };
    await step(async () => nginx && nginx.stop());
    await step(async () => api && api.stop());
    await step(async () => fake && fake.close());
    await step(async () => oauth && oauth.close());
    await step(async () => pg && pg.destroy());
    live.delete(entry);
    if (!process.env.REBOSS_KEEP_TMP)
      await step(() => rm(dir, { recursive: true, force: true }));
    if (errs.length) throw errs[0];
  };

  try {
    pg = await startPostgres({ baseDir: path.join(dir, 'pg') });
    fake = await createFakeShopify({ port: 0 });
    const oauthFake = path.join(REPO, 'tests/fakes/oauth.mjs');
    if (fs.existsSync(oauthFake)) {
      const { createFakeOAuth } = await import(pathToFileURL(oauthFake).href);
      oauth = await createFakeOAuth({ port: 0 });
    }

    const tls = await makeTls(dir);
    const keys = makeJwtKeys();
    const jwtSecretFile = path.join(dir, 'jwt_secret');
    const jwksFile = path.join(dir, 'jwks.json');
    await writeFile(jwtSecretFile, keys.hsSecret + '\n', { mode: 0o600 });
    await writeFile(jwksFile, JSON.stringify(keys.jwks, null, 2) + '\n');

    nginx = await startNginx({
      dir: path.join(dir, 'nginx'), sock,
      certFile: tls.certFile, keyFile: tls.keyFile,
      bodyMax: nginxBodyMax ?? bodyMax, origin: new URL(frontendUrl).origin,
    });
    const url = `https://127.0.0.1:${nginx.port}`;
    // The ReBoss app at the fake Shopify lists this stack's callback.
    fake.app.redirectUrls.push(`${url}/api/shopify/callback`);

    const config = {
      database_url: pg.conninfo,
      api_url: url,
      frontend_url: frontendUrl,
      token_key: crypto.randomBytes(32).toString('hex'),
      jwt_secret_file: jwtSecretFile,
      jwks_file: jwksFile,
      shopify_base_url: fake.baseUrlTemplate,
      ...fake.appConfig(),
      api_body_max: String(bodyMax),
      ...(oauth ? oauth.config : {}),
      // metricsDir: where the pool supervisor writes reboss_api.prom.
      ...(metricsDir ? { metrics_dir: metricsDir } : {}),
      ...extraConfig,
    };
    await writeFile(confFile,
      '# written by tests/integration/harness.mjs\n' +
      Object.entries(config).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n',
      { mode: 0o600 });

    const env = { ...process.env, REBOSS_SQLDIR: path.join(REPO, 'sql') };
    try {
      await run(path.join(bdir, 'ctl/rebossctl'), ['--config', confFile, 'migrate'], { env });
    } catch (e) {
      throw new Error(`rebossctl migrate failed (exit ${e.code}): ${e.stderr || e.message}`);
    }

    api = await startApi({ bdir, sock, confFile, apiLogFile, workers, env });

    const stack = {
      url, dir, caFile: tls.caFile, confFile, pg, fake, oauth, nginx, keys, config,
      jwtSecret: keys.hsSecret, tokenKey: config.token_key,
      apiPid: () => api.pid,
      apiWorkerPids: () => childPids(api.pid),
      apiAlive: () => api.alive(),
      apiLog: () => readFile(apiLogFile, 'utf8').catch(() => ''),
      // mintToken({userId, exp, alg, aud, ...}) or mintToken({sub, ...claims}).
      mintToken: (opts = {}) => ('sub' in opts
        ? mintWith(keys, { userId: opts.sub, exp: opts.exp, aud: opts.aud, claims: opts })
        : mintWith(keys, opts)),
      curl: (p, o) => curlTo(url, tls.caFile, p, o),
      stop,
    };
    await waitFor(async () => {
      if (!api.alive()) throw new Error('reboss-api exited: ' + (await stack.apiLog()).slice(-2000));
      const r = await stack.curl('/health');
      return r.status === 200 || r.status === 503;
    }, 20000, 'reboss-api behind nginx to answer /health');
    return stack;
  } catch (e) {
    const log = await readFile(apiLogFile, 'utf8').catch(() => '');
    await stop().catch(() => {});
    if (log && !/reboss-api exited/.test(e.message))
      e.message += `\n--- reboss-api log ---\n${log.slice(-3000)}`;
    throw e;
  }
}

async function startApi({ bdir, sock, confFile, apiLogFile, workers, env }) {
  const bin = path.join(bdir, 'fcgi/reboss-api');
  await access(bin, fs.constants.X_OK);
  const fd = fs.openSync(apiLogFile, 'a');
  // -n: spawn-fcgi binds the socket on fd 0 and execs reboss-api in place,
  // so the child we keep is the pool's master.  Its own process group lets
  // stop() reach the workers too.
  const child = spawn('spawn-fcgi', ['-n', '-s', sock, '-M', '0660', '--',
    bin, '--config', confFile, '--workers', String(workers)],
  { stdio: ['ignore', fd, fd], detached: true, env });
  fs.closeSync(fd);
  let exited = null;
  const gone = new Promise((r) => child.on('exit', (code, sig) => { exited = { code, sig }; r(); }));
  const pid = child.pid;
  const alive = () => exited === null;
  const stop = async () => {
    if (!alive()) return;
    try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    const t = setTimeout(() => { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
    await gone;
    clearTimeout(t);
    // Workers that outlived their master would keep the socket busy.
    try { process.kill(-pid, 'SIGKILL'); } catch { /* none left */ }
  };
  return { pid, alive, stop, exited: () => exited };
}

/**
 * One request with the curl binary over HTTPS, verifying the throwaway CA.
 * opts: method, headers ({name: value}; null removes curl's default), body
 * (string | Buffer | object -> JSON), token (Bearer), origin.
 * Returns { status, headers (lower-cased names), body, json }.
 */
export async function curlTo(base, caFile, p, opts = {}) {
  const args = ['-sS', '-D-', '--cacert', caFile, '--http1.1', '--max-time', '60',
    '-H', 'Expect:'];
  const method = opts.method || (opts.body !== undefined ? 'POST' : 'GET');
  if (method === 'HEAD') args.push('-I');
  else args.push('-X', method);
  const headers = { ...(opts.headers || {}) };
  const has = (n) => Object.keys(headers).some((k) => k.toLowerCase() === n);
  let input = null;
  if (opts.body !== undefined) {
    input = typeof opts.body === 'string' || Buffer.isBuffer(opts.body)
      ? Buffer.from(opts.body) : Buffer.from(JSON.stringify(opts.body));
    if (!has('content-type')) headers['Content-Type'] = 'application/json';
    args.push('--data-binary', '@-');
  }
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  if (opts.origin) headers.Origin = opts.origin;
  for (const [k, v] of Object.entries(headers))
    args.push('-H', v === null ? `${k}:` : `${k}: ${v}`);
  args.push(base + p);
  return new Promise((resolve, reject) => {
    const c = spawn('curl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [], err = [];
    c.stdout.on('data', (d) => out.push(d));
    c.stderr.on('data', (d) => err.push(d));
    c.on('error', reject);
    c.stdin.on('error', () => { /* the server may refuse before reading it all */ });
    c.on('close', (code) => {
      const raw = Buffer.concat(out);
      if (code !== 0 && raw.length === 0)
        return reject(new Error(`curl ${method} ${p} failed (${code}): ${Buffer.concat(err)}`));
      try {
        const r = parseCurl(raw);
        r.curlExit = code;
        resolve(r);
      } catch (e) {
        reject(e);
      }
    });
    if (input) c.stdin.end(input); else c.stdin.end();
  });
}
