// bench/edge.mjs - many new TLS clients at once against the shipped nginx
// configuration (issue 17): Debian's own /etc/nginx/nginx.conf
// (worker_processes auto, worker_connections 768) around the operator's site
// and the package's snippets (etc/nginx/), in front of the real reboss-api
// pool and PostgreSQL (tests/integration/harness.mjs).  Each client opens
// its own TLS connection and sends one GET /api/health.  Not a test: it
// prints the answers by status (or by the error a client got: ECONNRESET,
// TIMEOUT ...) and writes bench/results/edge.json ($BENCH_OUT_DIR).
//
// Two kinds of crowd:
//   one address - every client from 127.0.0.1 (one attacker): nginx's rate
//                 limit per address (20 r/s, burst 40) answers most with 429;
//   4 per address - clients from 127.0.0.2, .3, ... four each (many users):
//                 the rate limit seldom applies, the pool gets them all and
//                 what it cannot take in time is nginx's 503 (limit_conn).
//
// Environment: REBOSS_BUILDDIR (build dir), BENCH_EDGE_CLIENTS
// ("200,500,1000,2000"), BENCH_WORKERS (pool size, 4), BENCH_OUT_DIR.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startStack } from '../tests/integration/harness.mjs';
import { startSiteNginx } from '../tests/integration/lib/site.mjs';
import { storm } from '../tests/integration/lib/storm.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;
const CLIENTS = (env.BENCH_EDGE_CLIENTS || '200,500,1000,2000').split(',').map(Number);
const WORKERS = Number(env.BENCH_WORKERS || 4);
const OUT_DIR = env.BENCH_OUT_DIR || path.join(HERE, 'results');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const stack = await startStack({ workers: WORKERS });
const site = await startSiteNginx({
  dir: path.join(stack.dir, 'site'), sock: path.join(stack.dir, 'api.sock'),
  certFile: path.join(stack.dir, 'server.crt'), keyFile: path.join(stack.dir, 'server.key'),
  origins: ['https://dashboard.test'], serverName: 'localhost 127.0.0.1', debian: true,
});
const ca = await readFile(stack.caFile);
const rows = [];
try {
  for (const n of CLIENTS) {
    for (const [crowd, spread] of [['one address', 0], ['4 per address', 4]]) {
      const t0 = performance.now();
      const { byStatus } = await storm(site.url, { n, ca, spread });
      const s = (performance.now() - t0) / 1000;
      rows.push({ clients: n, crowd, seconds: Number(s.toFixed(1)), byStatus });
      console.log(`${n} clients, ${crowd}: ${JSON.stringify(byStatus)} in ${s.toFixed(1)} s`);
      await sleep(3000); // the rate limit's bucket empties (20 r/s)
    }
  }
  const log = await site.allLogs();
  const notEnough = (log.match(/worker_connections are not enough/g) || []).length;
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.byStatus)))].sort();
  console.log(`\n| clients | crowd | ${keys.join(' | ')} | seconds |`);
  console.log(`|---|---|${keys.map(() => '---:').join('|')}|---:|`);
  for (const r of rows)
    console.log(`| ${r.clients} | ${r.crowd} | ${keys.map((k) => r.byStatus[k] ?? 0).join(' | ')} | ${r.seconds} |`);
  console.log(`\n"worker_connections are not enough" in nginx's logs: ${notEnough}`);
  await mkdir(OUT_DIR, { recursive: true });
  await writeFile(path.join(OUT_DIR, 'edge.json'), JSON.stringify({
    date: new Date().toISOString(), workers: WORKERS, rows, worker_connections_not_enough: notEnough,
  }, null, 2) + '\n');
} finally {
  await site.stop();
  await stack.stop();
}
