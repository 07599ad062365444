// bench/api.mjs - the HTTP API under wrk, against nginx's own limit and the
// original Flask design (issue 8).  Not a test: it asserts nothing about
// time; it prints a table and writes JSON (bench/results/api.json, or
// $BENCH_OUT_DIR/api.json).
//
// One nginx (TLS on the three front ports, as in production) with:
//   limit  - nginx answers GET /api/health itself (return 200, fixed JSON);
//   reboss - nginx -> reboss-api pool (spawn-fcgi, unix socket);
//   floor  - nginx -> bench/fcgi_floor.c, a prefork libfcgi pool of the same
//            size that answers the health JSON and does nothing else: what
//            nginx -> FastCGI costs by itself (the ceiling for reboss);
//   seed   - nginx -> bench/baseline/seed_api.py under gunicorn (sync);
//   upstream (plain HTTP) - fixed answers standing in for Shopify: the
//            GraphQL shop answer for reboss, the REST shop.json for seed.
// Both pools have the same number of worker processes (BENCH_WORKERS, 4).
//
// Environment: REBOSS_BUILDDIR (build dir, required), BENCH_WORKERS (4),
// BENCH_NGINX_WORKERS (2), BENCH_DURATION (seconds per run, 8),
// BENCH_CONNECTIONS (16), BENCH_REPEAT (2), BENCH_SEED_DIR (the baseline),
// BENCH_OUT_DIR (bench/results), BENCH_TLS (1; 0 = plain HTTP fronts),
// BENCH_API_WRAP (a command prefix for reboss-api, absolute path, e.g.
// "/usr/bin/valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p";
// the pool then gets SIGTERM and time to write its profile).  Run the
// profile with BENCH_WORKERS=1 BENCH_REPEAT=1 BENCH_DURATION=4.
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, writeFile, readFile, rm, chmod, mkdir, readdir } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startPostgres } from '../tests/integration/lib/pg.mjs';
import { makeTls } from '../tests/integration/lib/tls.mjs';
import { makeJwtKeys, mintWith } from '../tests/integration/lib/jwt.mjs';
import { createFakeShopify } from '../tests/fakes/shopify.mjs';

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..');
const env = process.env;
const BDIR = env.REBOSS_BUILDDIR || path.join(REPO, 'build');
const WORKERS = Number(env.BENCH_WORKERS || 4);
const NGINX_WORKERS = Number(env.BENCH_NGINX_WORKERS || 2);
const DURATION = Number(env.BENCH_DURATION || 8);
const CONNS = Number(env.BENCH_CONNECTIONS || 16);
const REPEAT = Number(env.BENCH_REPEAT || 2);
const SEED_DIR = env.BENCH_SEED_DIR || path.join(HERE, 'baseline');
const OUT_DIR = env.BENCH_OUT_DIR || path.join(HERE, 'results');
const TLS = env.BENCH_TLS !== '0';
const SHOP = 'bench.myshopify.com';
const TOKEN = 'shpat_' + crypto.randomBytes(16).toString('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

const children = [];
function startProc(cmd, args, opts = {}) {
  const fd = fs.openSync(opts.log, 'a');
  const c = spawn(cmd, args, { stdio: ['ignore', fd, fd], detached: true, ...opts });
  fs.closeSync(fd);
  children.push(c);
  c.exitedP = new Promise((r) => c.on('exit', r));
  return c;
}
function killAll() {
  for (const c of children) { try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone */ } }
}
process.on('exit', killAll);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => { killAll(); process.exit(130); });

async function waitPort(port, what) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${what} did not listen on ${port}`);
}

/** Q_SHOP of lib/shopify.c, the very document reboss sends. */
async function qShop() {
  const src = await readFile(path.join(REPO, 'lib/shopify.c'), 'utf8');
  const m = /static const char Q_SHOP\[\] =([\s\S]*?);\n/.exec(src);
  if (!m) throw new Error('Q_SHOP not found in lib/shopify.c');
  // C string literals, and macros of string literals (SHOP_SELECTION,
  // shared with the connect document) expanded from their #define.
  const strings = (text) => [...text.matchAll(/"((?:[^"\\]|\\.)*)"|\b([A-Z][A-Z0-9_]+)\b/g)]
    .map((x) => {
      if (x[1] !== undefined) return JSON.parse(`"${x[1]}"`);
      const d = new RegExp(`#define ${x[2]} \\\\\\n((?:.*\\\\\\n)*.*)\\n`).exec(src);
      if (!d) throw new Error(`${x[2]} not found in lib/shopify.c`);
      return strings(d[1]);
    }).join('');
  return strings(m[1]);
}

// nginx "return" text: single-quoted, and "$" only through a variable.
const ngxText = (s) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\$/g, '${dollar}')}'`;

const FASTCGI_PARAMS = ['QUERY_STRING $query_string', 'REQUEST_METHOD $request_method',
  'CONTENT_TYPE $content_type', 'CONTENT_LENGTH $content_length', 'SCRIPT_NAME $fastcgi_script_name',
  'REQUEST_URI $request_uri', 'DOCUMENT_URI $document_uri', 'DOCUMENT_ROOT $document_root',
  'SERVER_PROTOCOL $server_protocol', 'REQUEST_SCHEME $scheme', 'HTTPS $https if_not_empty',
  'GATEWAY_INTERFACE CGI/1.1', 'SERVER_SOFTWARE nginx/$nginx_version', 'REMOTE_ADDR $remote_addr',
  'REMOTE_PORT $remote_port', 'SERVER_ADDR $server_addr', 'SERVER_PORT $server_port',
  'SERVER_NAME $server_name', 'REDIRECT_STATUS 200'].map((l) => `fastcgi_param ${l};`).join('\n');

function nginxConf({ dir, ports, sock, floorSock, tls, gqlAnswer, restAnswer }) {
  const t = (n) => path.join(dir, n);
  const listen = (p) => TLS ? `listen 127.0.0.1:${p} ssl;
    ssl_certificate ${tls.certFile}; ssl_certificate_key ${tls.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3; ssl_prefer_server_ciphers off;` : `listen 127.0.0.1:${p};`;
  return `# generated by bench/api.mjs
${process.getuid() === 0 ? 'user root root;' : ''}
worker_processes ${NGINX_WORKERS};
pid ${t('nginx.pid')};
error_log ${t('error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${t('cb')}; fastcgi_temp_path ${t('ft')}; proxy_temp_path ${t('pt')};
  uwsgi_temp_path ${t('ut')}; scgi_temp_path ${t('st')};
  server_tokens off;
  client_max_body_size 65536; client_body_buffer_size 65536;
  geo $dollar { default "$"; }
  server {   # limit: nginx alone
    ${listen(ports.limit)}
    location = /api/health { default_type application/json;
      return 200 '{"status":"ok","database":"ok"}\\n'; }
  }
  server {   # reboss: the FastCGI pool
    ${listen(ports.reboss)}
    location /api/ { ${FASTCGI_PARAMS}
      fastcgi_param HTTP_X_REQUEST_ID $request_id;
      fastcgi_read_timeout 120s; fastcgi_pass unix:${sock}; }
  }
  server {   # floor: a do-nothing FastCGI pool
    ${listen(ports.floor)}
    location /api/ { ${FASTCGI_PARAMS}
      fastcgi_param HTTP_X_REQUEST_ID $request_id;
      fastcgi_read_timeout 120s; fastcgi_pass unix:${floorSock}; }
  }
  server {   # seed: gunicorn
    ${listen(ports.seed)}
    location /api/ { proxy_pass http://127.0.0.1:${ports.gunicorn}; proxy_set_header Host $host;
      proxy_read_timeout 120s; }
  }
  server {   # the stand-in for Shopify: fixed answers
    listen 127.0.0.1:${ports.upstream};
    location ~ /graphql\\.json$ { default_type application/json; return 200 ${ngxText(gqlAnswer)}; }
    location ~ /shop\\.json$ { default_type application/json; return 200 ${ngxText(restAnswer)}; }
  }
}
`;
}

async function startNginx(dir, conf) {
  await writeFile(path.join(dir, 'nginx.conf'), conf);
  return startProc('nginx', ['-p', dir + '/', '-c', path.join(dir, 'nginx.conf'),
    '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'], { log: path.join(dir, 'nginx.stderr') });
}

async function childPids(pid) {
  const out = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const st = await readFile(`/proc/${e}/stat`, 'utf8');
      if (Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(e));
    } catch { /* gone */ }
  }
  return out;
}

/** CPU ticks (1/100 s) used so far by pid and its live direct children. */
async function treeTicks(pid) {
  let ticks = 0;
  for (const p of [pid, ...await childPids(pid)]) {
    try {
      const f = (await readFile(`/proc/${p}/stat`, 'utf8')).split(') ')[1].split(' ');
      ticks += Number(f[11]) + Number(f[12]) + (p === pid ? Number(f[13]) + Number(f[14]) : 0);
    } catch { /* gone */ }
  }
  return ticks;
}

/** Sum of Rss and Pss (kB) of pid and its direct children. */
async function poolMemory(pid) {
  const pids = [pid, ...await childPids(pid)];
  let rss = 0, pss = 0;
  for (const p of pids) {
    const t = await readFile(`/proc/${p}/smaps_rollup`, 'utf8').catch(() => '');
    rss += Number(/^Rss:\s+(\d+)/m.exec(t)?.[1] ?? 0);
    pss += Number(/^Pss:\s+(\d+)/m.exec(t)?.[1] ?? 0);
  }
  return { processes: pids.length, rss_kb: rss, pss_kb: pss };
}

function ms(v, unit) {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60000 : n;
}

async function wrk(url, script) {
  const args = ['-t2', `-c${CONNS}`, `-d${DURATION}s`, '--latency', '--timeout', '10s'];
  if (script) args.push('-s', script);
  args.push(url);
  const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).map(Number);
  const { stdout } = await run('wrk', args, { maxBuffer: 1 << 20 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const pct = (p) => { const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(stdout); return m ? ms(m[1], m[2]) : null; };
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  const sockErr = /Socket errors: (.*)/.exec(stdout)?.[1] ?? null;
  const total = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
  return { rps, p50_ms: pct(50), p99_ms: pct(99), requests: total, non2xx, socket_errors: sockErr, loadavg_before: load };
}

async function curlJson(url, caFile, { body, token } = {}) {
  const args = ['-sS', '--cacert', caFile, '-w', '\n%{http_code}'];
  if (body) args.push('-H', 'Content-Type: application/json', '--data-binary', body);
  if (token) args.push('-H', `Authorization: Bearer ${token}`);
  args.push(url);
  const { stdout } = await run('curl', args);
  const i = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) };
}

async function main() {
  for (const b of ['fcgi/reboss-api', 'ctl/rebossctl'])
    if (!fs.existsSync(path.join(BDIR, b))) throw new Error(`${BDIR}/${b} missing: build first`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'reboss-bench-api-'));
  await chmod(dir, 0o711);
  let pg, api;
  try {
    pg = await startPostgres({ baseDir: path.join(dir, 'pg') });
    const tls = await makeTls(dir);
    const keys = makeJwtKeys();
    await writeFile(path.join(dir, 'jwt_secret'), keys.hsSecret + '\n', { mode: 0o600 });

    // The GraphQL answer for the shop query, from the project's fake
    // (which validates the document against the real schema).
    const fake = await createFakeShopify({ port: 0 });
    fake.addShop({ domain: SHOP, token: TOKEN, name: 'Bench Shop', ianaTimezone: 'Europe/Berlin', currency: 'EUR' });
    const q = await qShop();
    const gr = await fetch(fake.graphqlUrl(SHOP), { method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Shopify-Access-Token': TOKEN },
      body: JSON.stringify({ query: q }) });
    const gqlAnswer = await gr.text();
    await fake.close();
    if (gr.status !== 200 || !JSON.parse(gqlAnswer).data?.shop) throw new Error(`fake shop answer: ${gr.status} ${gqlAnswer}`);

    const ports = { limit: await freePort(), reboss: await freePort(), floor: await freePort(), seed: await freePort(),
      upstream: await freePort(), gunicorn: await freePort() };
    const ndir = path.join(dir, 'nginx');
    await mkdir(ndir, { recursive: true });
    const conf = path.join(dir, 'reboss.conf');
    await writeFile(conf, [`database_url = ${pg.conninfo}`, `token_key = ${crypto.randomBytes(32).toString('hex')}`,
      `jwt_secret_file = ${path.join(dir, 'jwt_secret')}`, `api_url = https://127.0.0.1:${ports.reboss}`,
      'frontend_url = https://dashboard.test', `shopify_base_url = http://127.0.0.1:${ports.upstream}/{shop}`, ''].join('\n'),
    { mode: 0o600 });
    const renv = { ...env, REBOSS_SQLDIR: path.join(REPO, 'sql') };
    await run(path.join(BDIR, 'ctl/rebossctl'), ['--config', conf, 'migrate'], { env: renv });

    // The REST shop.json for the seed is reboss's own REST mapping of the
    // same shop, so both designs hand back the same object.  Start with a
    // placeholder, learn it from reboss, then reload nginx.
    let restAnswer = '{"shop":{}}';
    const sock = path.join(dir, 'api.sock');
    const floorSock = path.join(dir, 'floor.sock');
    let nginx = await startNginx(ndir, nginxConf({ dir: ndir, ports, sock, floorSock, tls, gqlAnswer, restAnswer }));
    for (const p of [ports.limit, ports.reboss, ports.floor, ports.seed, ports.upstream]) await waitPort(p, 'nginx');
    const floorBin = path.join(dir, 'fcgi_floor');
    await run('cc', ['-O2', '-o', floorBin, path.join(HERE, 'fcgi_floor.c'), '-lfcgi']);
    const floor = startProc('spawn-fcgi', ['-n', '-s', floorSock, '-M', '0660', '--', floorBin, String(WORKERS)],
      { log: path.join(dir, 'floor.log') });
    // BENCH_API_WRAP: a command prefix for profiling (absolute path: spawn-fcgi
    // execs it), e.g. "/usr/bin/valgrind --tool=callgrind".
    const wrap = env.BENCH_API_WRAP ? env.BENCH_API_WRAP.split(' ').filter(Boolean) : [];
    api = startProc('spawn-fcgi', ['-n', '-s', sock, '-M', '0660', '--', ...wrap,
      path.join(BDIR, 'fcgi/reboss-api'), '--config', conf, '--workers', String(WORKERS)],
    { env: renv, log: path.join(dir, 'api.log') });
    const seedEnv = { ...env, SHOPIFY_BASE: `http://127.0.0.1:${ports.upstream}/{shop}` };
    const guni = startProc('gunicorn', ['-w', String(WORKERS), '-b', `127.0.0.1:${ports.gunicorn}`, 'seed_api:app'],
      { cwd: SEED_DIR, env: seedEnv, log: path.join(dir, 'gunicorn.log') });
    await waitPort(ports.gunicorn, 'gunicorn');

    const scheme = TLS ? 'https' : 'http';
    const url = (k, p) => `${scheme}://127.0.0.1:${ports[k]}${p}`;
    const token = mintWith(keys, {});
    const tcBody = JSON.stringify({ shop_domain: SHOP, access_token: TOKEN });
    let r;
    for (let i = 0; i < (env.BENCH_API_WRAP ? 600 : 100); i++) {
      r = await curlJson(url('reboss', '/api/health'), tls.caFile).catch((e) => ({ status: 0, body: e.message }));
      if (r.status === 200) break;
      await sleep(100);
    }
    if (r.status !== 200) throw new Error(`reboss health: ${r.status} ${r.body}`);
    r = await curlJson(url('reboss', '/api/shopify/test-connection'), tls.caFile, { body: tcBody, token });
    if (r.status !== 200) throw new Error(`reboss test-connection: ${r.status} ${r.body}`);
    restAnswer = JSON.stringify({ shop: JSON.parse(r.body).shop });
    await writeFile(path.join(ndir, 'nginx.conf'), nginxConf({ dir: ndir, ports, sock, floorSock, tls, gqlAnswer, restAnswer }));
    process.kill(nginx.pid, 'SIGHUP');
    await sleep(500);
    for (const [k, p, b, tk] of [['limit', '/api/health'], ['floor', '/api/health'], ['seed', '/api/health'],
      ['seed', '/api/shopify/test-connection', tcBody], ['reboss', '/api/shopify/test-connection', tcBody, token]]) {
      r = await curlJson(url(k, p), tls.caFile, { body: b, token: tk });
      if (r.status !== 200) throw new Error(`${k} ${p}: ${r.status} ${r.body.slice(0, 300)}`);
      if (p.includes('test-connection') && JSON.parse(r.body).shop?.name !== 'Bench Shop')
        throw new Error(`${k} ${p}: unexpected answer ${r.body.slice(0, 300)}`);
    }

    const scripts = {};
    for (const [k, tk] of [['reboss', token], ['seed', null]]) {
      scripts[k] = path.join(dir, `tc-${k}.lua`);
      await writeFile(scripts[k], `wrk.method = "POST"\nwrk.body = ${JSON.stringify(tcBody)}\n` +
        'wrk.headers["Content-Type"] = "application/json"\n' +
        (tk ? `wrk.headers["Authorization"] = "Bearer ${tk}"\n` : ''));
    }
    const pgPid = () => Number(fs.readFileSync(path.join(pg.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const cpuOf = { nginx: () => nginx.pid, reboss_pool: () => api.pid, floor_pool: () => floor.pid,
      gunicorn: () => guni.pid, postgres: pgPid };
    const cases = [
      ['health', 'limit', url('limit', '/api/health'), null],
      ['health', 'floor', url('floor', '/api/health'), null],
      ['health', 'reboss', url('reboss', '/api/health'), null],
      ['health', 'seed', url('seed', '/api/health'), null],
      ['test-connection', 'reboss', url('reboss', '/api/shopify/test-connection'), scripts.reboss],
      ['test-connection', 'seed', url('seed', '/api/shopify/test-connection'), scripts.seed],
    ];
    // BENCH_CASES (e.g. "test-connection/reboss"): only those, for profiling.
    const only = env.BENCH_CASES ? new Set(env.BENCH_CASES.split(',')) : null;
    const results = {};
    for (let rep = 0; rep < REPEAT; rep++) {
      for (const [ep, tgt, u, s] of cases) {
        if (only && !only.has(`${ep}/${tgt}`)) continue;
        const before = {};
        for (const [k, pid] of Object.entries(cpuOf)) before[k] = await treeTicks(pid());
        const w = await wrk(u, s);
        // CPU per request of each part (µs): where the two cores went.
        w.cpu_us_per_request = {};
        for (const [k, pid] of Object.entries(cpuOf))
          w.cpu_us_per_request[k] = Math.round((((await treeTicks(pid())) - before[k]) * 10000) / Math.max(1, w.requests));
        const key = `${ep}/${tgt}`;
        (results[key] ??= []).push(w);
        process.stderr.write(`  run ${rep + 1} ${key.padEnd(24)} ${w.rps.toFixed(0).padStart(7)} req/s  p50 ${w.p50_ms} ms  p99 ${w.p99_ms} ms  load ${w.loadavg_before[0]}${w.non2xx ? `  NON-2XX ${w.non2xx}` : ''}\n`);
      }
    }
    const memory = { reboss: await poolMemory(api.pid), seed: await poolMemory(guni.pid) };

    // Best run of each (the machine is shared: the least disturbed run).
    const best = {};
    for (const [k, runs] of Object.entries(results)) best[k] = runs.reduce((a, b) => (b.rps > a.rps ? b : a));
    const ratio = (a, b) => (a && b ? Number((a / b).toFixed(3)) : null);
    const ratios = {
      health_reboss_over_limit: ratio(best['health/reboss']?.rps, best['health/limit']?.rps),
      health_floor_over_limit: ratio(best['health/floor']?.rps, best['health/limit']?.rps),
      health_reboss_over_floor: ratio(best['health/reboss']?.rps, best['health/floor']?.rps),
      health_reboss_over_seed: ratio(best['health/reboss']?.rps, best['health/seed']?.rps),
      test_connection_reboss_over_seed: ratio(best['test-connection/reboss']?.rps, best['test-connection/seed']?.rps),
      pool_pss_reboss_over_seed: ratio(memory.reboss.pss_kb, memory.seed.pss_kb),
      pool_rss_reboss_over_seed: ratio(memory.reboss.rss_kb, memory.seed.rss_kb),
    };
    const targets = {
      health_reboss_over_limit: '>= 0.5', health_reboss_over_seed: '>= 10',
      test_connection_reboss_over_seed: '>= 5', pool_pss_reboss_over_seed: '<= 0.2',
    };
    const cpu = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const out = {
      bench: 'api', date: new Date().toISOString(),
      machine: { nproc: os.cpus().length, cpu: /model name\s*:\s*(.*)/.exec(cpu)?.[1] ?? '?',
        mem_mb: Math.round(os.totalmem() / 1048576), kernel: os.release() },
      settings: { workers: WORKERS, nginx_workers: NGINX_WORKERS, duration_s: DURATION, connections: CONNS,
        wrk_threads: 2, repeat: REPEAT, tls: TLS, access_log: false,
        upstream: 'nginx server block with fixed answers (GraphQL shop for reboss, REST shop.json for seed)' },
      best, runs: results, memory_after_load: memory, ratios, targets,
    };
    await mkdir(OUT_DIR, { recursive: true });
    await writeFile(path.join(OUT_DIR, 'api.json'), JSON.stringify(out, null, 2) + '\n');

    const f = (n, d = 0) => (n == null ? '-' : Number(n).toFixed(d));
    const lines = [];
    lines.push(`API (${TLS ? 'TLS' : 'plain HTTP'} at the front, ${WORKERS} pool workers, nginx ${NGINX_WORKERS} workers, wrk -t2 -c${CONNS} -d${DURATION}s, best of ${REPEAT})`);
    lines.push('| endpoint | target | req/s | p50 ms | p99 ms | CPU µs/req nginx | pool | postgres | load avg (1 min) |');
    lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const [k, b] of Object.entries(best)) {
      const [ep, tgt] = k.split('/');
      const c = b.cpu_us_per_request;
      const pool = tgt === 'reboss' ? c.reboss_pool : tgt === 'seed' ? c.gunicorn : tgt === 'floor' ? c.floor_pool : 0;
      lines.push(`| ${ep} | ${tgt} | ${f(b.rps)} | ${f(b.p50_ms, 2)} | ${f(b.p99_ms, 2)} | ${c.nginx} | ${pool} | ${c.postgres} | ${b.loadavg_before[0]} |`);
    }
    lines.push('');
    lines.push('| pool (after load) | processes | RSS MiB | PSS MiB |');
    lines.push('|---|---:|---:|---:|');
    for (const [k, m] of Object.entries(memory))
      lines.push(`| ${k} | ${m.processes} | ${f(m.rss_kb / 1024, 1)} | ${f(m.pss_kb / 1024, 1)} |`);
    lines.push('');
    lines.push('| ratio | value | target |');
    lines.push('|---|---:|---|');
    for (const [k, v] of Object.entries(ratios)) lines.push(`| ${k} | ${v} | ${targets[k] ?? ''} |`);
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    if (api && env.BENCH_API_WRAP) { // let the profiler write its files
      try { process.kill(-api.pid, 'SIGTERM'); } catch { /* gone */ }
      await Promise.race([api.exitedP, sleep(30000)]);
      await sleep(3000);
    }
    killAll();
    await sleep(200);
    await pg?.destroy().catch(() => {});
    if (!env.REBOSS_KEEP_TMP) await rm(dir, { recursive: true, force: true }).catch(() => {});
    else process.stderr.write(`kept ${dir}\n`);
  }
}

main().catch((e) => { process.stderr.write(`bench/api.mjs: ${e.stack || e.message}\n`); process.exitCode = 1; });
