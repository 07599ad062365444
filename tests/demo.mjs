// demo.mjs - the local demo behind tests/demo.sh (the README's first command):
// the whole stack on loopback with a throwaway database, started by the same
// harness the integration tests use (PostgreSQL, migrations, the fake Shopify
// seeded with the demo shops, reboss-api under spawn-fcgi, nginx with TLS),
// the sandbox OAuth providers, Pinterest and OpenAI, the demo shops
// connected for a demo user through the real API, the owner's dashboard
// settings and a Pinterest link (integration/lib/demo_world.mjs says what
// they are), every job program run once, each followed by what it changed
// (a product retired and its replacement created, one rewritten, pins),
// "rebossctl status", and then the API stays up until Ctrl-C, which stops
// everything.  Owner: packaging (issue 7).
//
//   REBOSS_BUILDDIR=build node tests/demo.mjs      (tests/demo.sh does this)
//   ... node tests/demo.mjs --once   (or REBOSS_DEMO_ONCE=1): no waiting:
//       calls the printed get-collections command itself, prints the
//       result, stops everything and exits 0 when every step worked, else 1
//       (tests/integration/demo.test.mjs runs this).
//   REBOSS_DEMO_STATE=FILE with --once: before stopping, the rows the jobs
//       wrote and the fakes' state go to FILE as JSON (demo.test.mjs judges
//       the jobs' effects from it; the stack is gone when the demo ends).
//
// Lines meant to be read by programs (one per step):
//   job reboss-<name>: exit N, P/T shops processed, F failed
//   => <shop>: RETIRED|CREATED|REWROTE|PINNED "<title>" ...   (what it changed)
//   rebossctl status: exit N
//   demo pids: PID...        (--once: every process the demo started, 8 a line)
//   demo dir: DIR            (--once: the throwaway directory)
//   curl get-collections: HTTP S, N collections
//   demo once: ok | demo once: FAILED (reasons)
import { spawn, execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

import { startStack, buildDir, childPids, REPO } from './integration/harness.mjs';
import { seedDashboard, linkPinterest, jobEffects, demoState, waitForCompleteDay }
  from './integration/lib/demo_world.mjs';
import { createFakeOpenAI } from './fakes/openai.mjs';
import { attachFakePinterest } from './fakes/pinterest.mjs';
import { seedDemo, DEMO_SHOPS } from './fakes/shopify.mjs';

const JOBS = ['sales-tracker', 'replace-job', 'product-creation', 'product-optimize', 'pinterest-sync'];
const DEMO_USER = '00000000-0000-4000-8000-00000000de00';
const ONCE = process.argv.includes('--once') || process.env.REBOSS_DEMO_ONCE === '1';
const say = (s) => process.stdout.write(`\n=== ${s}\n`);
const startedPids = new Set();
const problems = [];

function runJob(bin, args, env) {
  return new Promise((resolve) => {
    const c = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (c.pid) startedPids.add(c.pid);
    const out = [];
    c.stdout.on('data', (d) => out.push(d));
    c.stderr.on('data', (d) => out.push(d));
    c.on('error', (e) => resolve({ code: -1, out: String(e) }));
    c.on('close', (code, sig) => resolve({ code: code ?? sig, out: Buffer.concat(out).toString() }));
  });
}

// A shell word: the printed command must be the one that runs.
const shq = (a) => (/^[A-Za-z0-9_\/.:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);

// The job's own closing log line (lib/job.c): "run <id> <status>: P of T
// shops processed, F failed, ...".  Each count is read by its own words, so
// the order of the clauses may change.
function jobSummary(name, r) {
  const line = r.out.split('\n').find((l) => /\brun \S+ \S+: .*\bshops processed\b/.test(l)) ?? '';
  const p = /(\d+) of (\d+) shops processed/.exec(line);
  const f = /(\d+) failed/.exec(line);
  return p && f ? `job ${name}: exit ${r.code}, ${p[1]}/${p[2]} shops processed, ${f[1]} failed`
    : `job ${name}: exit ${r.code}, no summary line`;
}

// text as lines of at most width characters, broken between words, the
// later ones indented; at most max lines (the last one cut with "...").
function wrap(text, width, indent, max = 3) {
  const out = [];
  let line = /^ */.exec(text)[0];
  for (const w of text.trimStart().split(' ')) {
    if (line && [...line].length + 1 + [...w].length > width) {
      out.push(line);
      line = indent + w;
    } else line = line.trim() ? `${line} ${w}` : line + w;
  }
  out.push(line);
  const cut = (l) => ([...l].length > width ? [...l].slice(0, width - 3).join('') + '...' : l);
  if (out.length > max) out.splice(max - 1, out.length, `${out[max - 1]} ...`);
  return out.map(cut);
}

// What a job did, shop by shop, for a person at an 80-column terminal: its
// info/notice/warning lines that name a shop ("demo-one: 2 products
// created"), without the journal fields, wrapped at 78 characters.
function whatHappened(out) {
  const lines = [];
  for (const l of out.split('\n')) {
    const m = /^\S+\[\d+\]: (info|notice|warning|error): (.*?)(?: \(([^()]*SHOP_DOMAIN=[^()]*)\))?$/.exec(l);
    if (!m || !m[3] || /^shop \S+ done in /.test(m[2])) continue;
    const shop = /SHOP_DOMAIN=([a-z0-9-]+)\.myshopify\.com/.exec(m[3])?.[1] ?? '?';
    const text = `  ${shop}: ${m[1] === 'info' || m[1] === 'notice' ? '' : m[1] + ': '}${m[2]}`;
    lines.push(...wrap(text, 78, ' '.repeat(shop.length + 4)));
  }
  return lines;
}

// Every process of the stack (API master and workers, nginx, PostgreSQL and
// their children), for the --once check that none is left behind.
async function stackPids() {
  const roots = [stack.apiPid(), stack.nginx?.child?.pid];
  try {
    const dataDir = stack.pg?.dataDir ?? path.join(stack.dir, 'pg', 'data');
    roots.push(Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]));
  } catch { /* not running */ }
  for (const p of roots.filter((x) => x > 0)) {
    startedPids.add(p);
    for (const c of await childPids(p)) startedPids.add(c);
  }
}

// The sandbox OpenAI's answer for a product (its fields as the job asks).
function demoCopy({ schema, product }) {
  const t = product?.title ?? 'Product';
  const all = {
    title: `${t}: Hand-Drawn Print, Made to Order`,
    description_html: `<p>${t}, printed for you when you order it.</p><ul><li>Dishwasher safe</li></ul>`,
    tags: ['gift', 'made-to-order'],
    seo_title: `${t} | Demo One`,
    seo_description: `${t}: a hand-drawn print, made to order by Demo One.`,
  };
  return Object.fromEntries(Object.keys(schema?.properties ?? {}).map((k) => [k, all[k] ?? '']));
}

const bdir = buildDir();
const fakes = [];
let stack = null;
let stopping = false;
async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nstopping the demo ...\n');
  for (const f of fakes) await f.close().catch(() => {});
  if (stack) await stack.stop().catch((e) => console.error(`stop: ${e.message}`));
  process.stdout.write('stopped.\n');
  process.exit(code);
}
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

try {
  say('starting PostgreSQL, the sandboxes, reboss-api and nginx (loopback only)');
  stack = await startStack({ workers: 4 });
  seedDemo(stack.fake);
  // The sandbox Pinterest API lives on the harness's OAuth fake (same
  // tokens); OpenAI is its own server.  Jobs read the file when they start.
  const pin = attachFakePinterest(stack.oauth);
  const openai = await createFakeOpenAI({ key: `sk-demo-${randomBytes(12).toString('hex')}` });
  fakes.push(openai);
  openai.answer = demoCopy;
  await appendFile(stack.confFile, '# sandbox OpenAI (tests/demo.mjs)\n' +
    `openai_api_base = ${openai.baseUrl}\nopenai_api_key = ${openai.key}\nopenai_model = gpt-4.1-mini\n`);

  say('connecting the demo shops for the demo user (POST /api/shops)');
  process.stdout.write(`  demo user: ${DEMO_USER}\n`);
  const token = stack.mintToken({ userId: DEMO_USER, exp: Math.floor(Date.now() / 1000) + 24 * 3600 });
  const shops = [];
  for (const s of DEMO_SHOPS) {
    const r = await stack.curl('/api/shops', { token, body: { shop_domain: s.domain, access_token: s.token } });
    if (r.status !== 201 && r.status !== 200)
      throw new Error(`POST /api/shops ${s.domain}: ${r.status} ${r.body}`);
    shops.push({ ...r.json.shop, domain: s.domain });
    process.stdout.write(`  ${s.domain}: shop ${r.json.shop.id} (${r.json.shop.shop_name ?? s.name})\n`);
  }

  say('the owner\'s dashboard settings (demo-one: catalog, POD AI, Pinterest)');
  await seedDashboard(stack, DEMO_USER, shops);
  await linkPinterest(stack, token, shops[0].id);
  process.stdout.write([
    '  demo-one: Posters is managed: a poster that sold nothing for 14 days is',
    '            replaced by the next design of the queue (1 waiting);',
    '            POD AI rewrites one mug a night; Posters is pinned to Pinterest',
    '            (linked through the sandbox consent page).',
    '  demo-two: one new product a day from its design queue (1 waiting).', ''].join('\n'));

  // replace_job judges only complete days: right after local midnight the
  // sales tracker cannot call yesterday complete yet.
  const wait = waitForCompleteDay(DEMO_SHOPS[0].ianaTimezone);
  if (wait > 0) {
    say(`waiting ${Math.ceil(wait / 1000)} s: it is just after midnight in ${DEMO_SHOPS[0].ianaTimezone}`);
    process.stdout.write('  and yesterday\'s sales count as complete 10 minutes after midnight.\n');
    await new Promise((res) => setTimeout(res, wait));
  }

  const env = { ...process.env, REBOSS_CONFIG: stack.confFile, REBOSS_SQLDIR: path.join(REPO, 'sql') };
  for (const j of JOBS) {
    const bin = path.join(bdir, 'jobs', `reboss-${j}`);
    if (!existsSync(bin)) {
      say(`reboss-${j}: not built in ${bdir} (skipped)`);
      process.stdout.write(`job reboss-${j}: not built\n`);
      if (ONCE) problems.push(`reboss-${j} not built`);
      continue;
    }
    say(`running reboss-${j} once`);
    const t0 = Date.now();
    const r = await runJob(bin, ['--config', stack.confFile], env);
    const log = path.join(stack.dir, `reboss-${j}.log`);
    await writeFile(log, r.out);
    for (const l of whatHappened(r.out)) process.stdout.write(`${l}\n`);
    // "=> " marks a change; an indented line goes on with the one above.
    for (const l of await jobEffects(stack, j)) process.stdout.write(`${l.startsWith(' ') ? '  ' : '=> '}${l}\n`);
    const meaning = { 0: 'all done', 1: 'some shops failed', 2: 'could not run' }[r.code] ?? 'killed';
    process.stdout.write(`reboss-${j}: exit ${r.code} (${meaning}) after ` +
      `${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    process.stdout.write(`  its whole log: ${log}\n`);
    process.stdout.write(jobSummary(`reboss-${j}`, r) + '\n');
    if (r.code !== 0) problems.push(`reboss-${j} exit ${r.code}`);
  }

  say('rebossctl status');
  const st = await runJob(path.join(bdir, 'ctl/rebossctl'), ['--config', stack.confFile, 'status'], env);
  process.stdout.write(st.out);
  process.stdout.write(`rebossctl status: exit ${st.code}\n`);
  if (st.code !== 0) problems.push(`rebossctl status exit ${st.code}`);

  say('the API is up');
  process.stdout.write(`  API:    ${stack.url}   (nginx, TLS)\n  CA:     ${stack.caFile}\n`);
  process.stdout.write(`  config: ${stack.confFile}\n\n`);
  const curlBase = `curl --cacert ${stack.caFile} -H 'Authorization: Bearer ${token}'`;
  const collArgs = ['--cacert', stack.caFile, '-H', `Authorization: Bearer ${token}`,
    '-H', 'Content-Type: application/json', '-d', JSON.stringify({ shop_id: shops[0].id }),
    `${stack.url}/api/shopify/get-collections`];
  // The command carries a long bearer token: it goes into a file, not on
  // the terminal; --once runs that very file.
  const curlFile = path.join(stack.dir, 'curl-get-collections.sh');
  await writeFile(curlFile, '#!/bin/sh\n# tests/demo.mjs: the demo shop\'s collections, every page, through the\n' +
    '# API, with the demo user\'s token (more curl options may follow: "$@").\n' +
    `curl ${collArgs.slice(0, 4).map(shq).join(' ')} \\\n    ${collArgs.slice(4, 8).map(shq).join(' ')} \\\n` +
    `    ${shq(collArgs[8])} "$@"\n\n# the jobs of that shop:\n# ${curlBase} ${stack.url}/api/shops/${shops[0].id}/jobs\n`,
  { mode: 0o755 });
  process.stdout.write(`  the demo shop's collections through the API (curl with a demo token):\n    sh ${curlFile}\n\n`);
  if (ONCE) {
    await stackPids();
    // several short lines, each "demo pids: PID..." (80 columns)
    const pids = [...startedPids].sort((a, b) => a - b);
    for (let i = 0; i < pids.length; i += 8) process.stdout.write(`demo pids: ${pids.slice(i, i + 8).join(' ')}\n`);
    process.stdout.write(`demo dir: ${stack.dir}\n`);
    say(`--once: sh ${path.basename(curlFile)}`);
    const r = await new Promise((resolve) => {
      execFile('sh', [curlFile, '-sS', '--max-time', '60', '-w', '\n%{http_code}'],
        { maxBuffer: 64 << 20 }, (e, stdout, stderr) => resolve({ e, stdout, stderr }));
    });
    const nl = r.stdout.lastIndexOf('\n');
    const status = Number(r.stdout.slice(nl + 1)) || 0;
    const body = nl >= 0 ? r.stdout.slice(0, nl) : r.stdout;
    let json;
    try { json = JSON.parse(body); } catch { json = undefined; }
    const cols = Array.isArray(json?.collections) ? json.collections : null;
    process.stdout.write(`${body.slice(0, 76)}${body.length > 76 ? ' ...' : ''}\n`);
    process.stdout.write(`curl get-collections: HTTP ${status}, ${cols ? cols.length : 'no'} collections\n`);
    if (r.e) problems.push(`curl failed: ${r.stderr.trim() || r.e.message}`);
    if (status !== 200 || !cols || cols.length === 0) problems.push(`get-collections HTTP ${status}`);
    if (process.env.REBOSS_DEMO_STATE) {
      await writeFile(process.env.REBOSS_DEMO_STATE,
        JSON.stringify(await demoState(stack, { pin, openai }, shops), null, 1) + '\n');
    }
    process.stdout.write(problems.length ? `demo once: FAILED (${problems.join('; ')})\n` : 'demo once: ok\n');
    await stopAll(problems.length ? 1 : 0);
  } else {
    process.stdout.write('Ctrl-C stops everything.\n');
    // Keep the event loop alive until a signal arrives.
    setInterval(() => {}, 1 << 30);
  }
} catch (e) {
  console.error(`demo failed: ${e.message}`);
  await stopAll(1);
}
