// package.test.mjs - the Debian package, for real, on this machine: build it
// with dpkg-buildpackage in a copy of the tree, lintian it (no errors, no
// warnings), dpkg -i it, check files, owners and modes, verify the installed
// systemd units and rate their sandboxes (the table goes into the test log),
// nginx -t the installed site with test certificates, run the installed
// rebossctl check-config on the shipped configuration, purge, and check that
// nothing is left.  Owner: packaging (issue 7).
//
// Runs as root (it installs a package).  It is skipped only when
// REBOSS_SKIP_PACKAGE_TEST=1, which CI never sets.  Whatever fails, after()
// purges the package and removes the copy of the tree.  A reboss package
// already installed by someone else makes the test fail instead of purging
// an operator's installation.
//
// Needs: apt-get install debhelper dpkg-dev fakeroot lintian nginx-light bash-completion postgresql
// (plus the build dependencies in debian/control).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, readdirSync, lstatSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile, readFile, readdir, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { REPO } from './harness.mjs';
import { makeTls } from './lib/tls.mjs';
import { writeSiteConf, nginxTest } from './lib/site.mjs';

const run = promisify(execFile);
const SKIP = process.env.REBOSS_SKIP_PACKAGE_TEST === '1';
// Left by this test while the package is installed: a leftover of a killed
// run may be purged, an operator's installation may not.
const MARKER = '/var/lib/reboss-package-test.installed';
const JOBS = ['sales-tracker', 'replace-job', 'product-optimize', 'product-creation', 'pinterest-sync'];
const PROGRAMS = ['reboss-api', 'rebossctl', ...JOBS.map((j) => `reboss-${j}`)];
// systemd-analyze verify and security --offline take the template
// reboss-alert@.service as it is (systemd instantiates it as "@i").
const UNITS = ['reboss-api.socket', 'reboss-api.service',
  ...JOBS.flatMap((j) => [`reboss-${j}.service`, `reboss-${j}.timer`]),
  'reboss-alert@.service', 'reboss-check.service', 'reboss-check.timer',
  'reboss-run-requests.service', 'reboss-run-requests.timer'];
const MANS = ['man8/rebossctl.8.gz', 'man8/reboss-api.8.gz', 'man8/reboss-jobs.8.gz', 'man5/reboss.conf.5.gz',
  ...JOBS.map((j) => `man8/reboss-${j}.8.gz`)];

/** Runs a command; resolves { code, out } (stdout+stderr interleaved), never rejects. */
function sh(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    c.stdout.on('data', (d) => out.push(d));
    c.stderr.on('data', (d) => out.push(d));
    c.on('error', (e) => resolve({ code: -1, out: String(e) }));
    c.on('close', (code) => resolve({ code, out: Buffer.concat(out).toString() }));
  });
}

function installed() {
  // dpkg's own record: any state but not-installed counts (config-files,
  // half-installed, unpacked) since purge must clean those up too.
  try {
    const m = /^Package: reboss\nStatus: \S+ \S+ (\S+)$/m.exec(readFileSync('/var/lib/dpkg/status', 'utf8'));
    return m !== null && m[1] !== 'not-installed';
  } catch { return false; }
}

async function purge() {
  const r = await sh('dpkg', ['--purge', 'reboss'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  await rm(MARKER, { force: true });
  return r;
}

// The README's day-one blocks run as root with a plain environment.
const ROOT_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', HOME: '/root' };
// Stands in for Supabase: a role with a password, over TCP.
const REMOTE = { user: 'reboss_remote_test', password: 'Remote-Test-Pw-7', db: 'reboss_remote_test' };

/** A file of /usr/share/doc, compressed by dh_compress or not. */
function docText(p) {
  if (existsSync(p)) return readFileSync(p, 'utf8');
  return zlib.gunzipSync(readFileSync(`${p}.gz`)).toString('utf8');
}

/** The ```sh block after "<!-- day-one: NAME -->" in the installed README. */
function dayOne(name) {
  const readme = docText('/usr/share/doc/reboss/README.md');
  const m = new RegExp(`<!-- day-one: ${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\`\\n`).exec(readme);
  assert.ok(m, `no day-one block "${name}" in the installed README`);
  return m[1];
}

/**
 * The machine's own PostgreSQL cluster (Debian's postgresql package, port
 * 5432, socket in /run/postgresql, peer authentication for local users), as
 * an operator has it.  Started only if it is down, and stopped again; what
 * the test created in it (roles, databases) is dropped in after().
 */
const pgLocal = {
  started: null, port: 5432, created: { roles: [], dbs: [] }, preexisting: new Set(),
  async start() {
    const ls = await sh('pg_lsclusters', ['-h']);
    const row = ls.out.split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[2] === '5432');
    assert.ok(row, `no PostgreSQL cluster on port 5432 (apt-get install postgresql):\n${ls.out}`);
    if (row[3] !== 'online') {
      const r = await sh('pg_ctlcluster', [row[0], row[1], 'start']);
      assert.equal(r.code, 0, r.out);
      this.started = [row[0], row[1]];
    }
    const roles = await this.psql("SELECT rolname FROM pg_roles WHERE rolname IN ('reboss', 'anon', 'authenticated', " +
      `'service_role', '${REMOTE.user}')`);
    for (const r of roles.split('\n').filter(Boolean)) this.preexisting.add(r);
    assert.ok(!this.preexisting.has('reboss') && !this.preexisting.has(REMOTE.user),
      'this PostgreSQL already has a role reboss: the test will not touch an operator\'s database');
    // what the README block creates, dropped after the test
    this.created.roles.push('reboss');
    this.created.dbs.push('reboss');
  },
  async psql(sql, db = 'postgres') {
    const r = await sh('runuser', ['-u', 'postgres', '--', 'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
      '-d', db, '-c', sql], { cwd: '/' });
    if (r.code !== 0) throw new Error(`psql (${db}) ${sql}: ${r.out}`);
    return r.out;
  },
  async cleanup() {
    if (this.created.dbs.length === 0 && !this.started) return;
    for (const d of this.created.dbs) await this.psql(`DROP DATABASE IF EXISTS ${d} WITH (FORCE)`).catch(() => {});
    const roles = [...this.created.roles, ...['anon', 'authenticated', 'service_role'].filter((r) => !this.preexisting.has(r))];
    for (const r of roles) await this.psql(`DROP ROLE IF EXISTS ${r}`).catch((e) => console.log(`# ${e.message}`));
    if (this.started) await sh('pg_ctlcluster', [...this.started, 'stop']);
  },
};

let fake = null;
let job = null;
let debTmp = null;	// { dir, deb }: the temp dir and the built .deb

/**
 * The next version of the package, as an upgrade brings it: the built .deb
 * with a higher version and one more migration (a table upgrade_probe),
 * repacked with dpkg-deb.
 */
async function repackUpgrade() {
  const dir = path.join(debTmp.dir, 'upgrade');
  await rm(dir, { recursive: true, force: true });
  let r = await sh('dpkg-deb', ['-R', debTmp.deb, dir]);
  assert.equal(r.code, 0, r.out);
  const ctl = path.join(dir, 'DEBIAN/control');
  writeFileSync(ctl, readFileSync(ctl, 'utf8').replace(/^Version: (.*)$/m, 'Version: $1+upgradetest1'));
  writeFileSync(path.join(dir, 'usr/share/reboss/sql/900_upgrade_probe.sql'),
    '-- added by package.test.mjs: the upgrade applies it\nCREATE TABLE public.upgrade_probe (id int);\n');
  const out = path.join(debTmp.dir, 'reboss_upgrade.deb');
  r = await sh('dpkg-deb', ['--root-owner-group', '-b', dir, out]);
  assert.equal(r.code, 0, r.out);
  return out;
}

describe('the Debian package', { skip: SKIP && 'REBOSS_SKIP_PACKAGE_TEST=1', timeout: 1200000 }, () => {
  let tmp, deb, changes, weInstalled = false;

  before(async () => {
    assert.equal(process.getuid(), 0, 'the package test installs a package: run it as root');
    if (installed()) {
      assert.ok(existsSync(MARKER), 'a reboss package is installed on this machine and was not ' +
        'installed by this test: remove it (dpkg --purge reboss) or set REBOSS_SKIP_PACKAGE_TEST=1');
      console.log('# purging the reboss package left by an earlier run of this test');
      const r = await purge();
      assert.equal(r.code, 0, r.out);
    }
    tmp = await mkdtemp(path.join(os.tmpdir(), 'reboss-pkg-'));
    const src = path.join(tmp, 'reboss');
    await mkdir(src);
    // A copy of the tree without build dirs, node_modules or VCS data.
    const build = process.env.REBOSS_BUILDDIR ? path.resolve(process.env.REBOSS_BUILDDIR) : null;
    const excl = ['./.git', './tests/node_modules', './build', './autom4te.cache',
      './debian/reboss', './debian/.debhelper', './debian/files', './debian/debhelper-build-stamp'];
    if (build && build.startsWith(REPO + '/')) excl.push('.' + build.slice(REPO.length));
    const tar = await sh('sh', ['-c', `tar -C "$1" ${excl.map((e) => `--exclude='${e}'`).join(' ')} -cf - . | tar -C "$2" -xf -`,
      'sh', REPO, src]);
    assert.equal(tar.code, 0, tar.out);
    const t0 = Date.now();
    const b = await sh('dpkg-buildpackage', ['-us', '-uc', '-b'], {
      cwd: src,
      env: { ...process.env, DEB_BUILD_OPTIONS: process.env.REBOSS_PACKAGE_CHECK === '1' ? 'parallel=2' : 'nocheck parallel=2' },
    });
    await writeFile(path.join(tmp, 'build.log'), b.out);
    assert.equal(b.code, 0, `dpkg-buildpackage failed:\n${b.out.slice(-6000)}`);
    console.log(`# dpkg-buildpackage -us -uc -b: ${Math.round((Date.now() - t0) / 1000)} s`);
    const files = await readdir(tmp);
    deb = files.find((f) => /^reboss_.*_[a-z0-9]+\.deb$/.test(f));
    changes = files.find((f) => /^reboss_.*\.changes$/.test(f));
    assert.ok(deb && changes, `no .deb/.changes in ${files.join(' ')}`);
    debTmp = { dir: tmp, deb: path.join(tmp, deb) };
  });

  after(async () => {
    if (job && job.exitCode === null) job.kill('SIGKILL');
    if (fake) await fake.close().catch(() => {});
    if (weInstalled || (installed() && existsSync(MARKER))) await purge();
    await pgLocal.cleanup();
    if (tmp && !process.env.REBOSS_KEEP_TMP) await rm(tmp, { recursive: true, force: true });
  });

  test('lintian: no errors, no warnings', async () => {
    const r = await sh('lintian', ['--display-info', '--pedantic', path.join(tmp, changes)]);
    console.log('# lintian --display-info --pedantic:\n' + (r.out.trim() || '(nothing)').replace(/^/gm, '#   '));
    const bad = r.out.split('\n').filter((l) => /^[EW]: /.test(l));
    assert.deepEqual(bad, [], 'lintian errors or warnings');
    assert.ok(r.code === 0 || r.code === 2, `lintian failed to run (${r.code}): ${r.out}`);
    // every override carries a reason: a comment line right before it
    const ov = readFileSync(path.join(REPO, 'debian/reboss.lintian-overrides'), 'utf8').split('\n');
    ov.forEach((l, i) => {
      if (/^reboss: /.test(l)) assert.match(ov[i - 1] || '', /^#/, `override without a reason: ${l}`);
    });
  });

  test('dpkg -i installs it: files, owners, modes, the user, nothing enabled', async () => {
    await writeFile(MARKER, 'installed by tests/integration/package.test.mjs\n');
    weInstalled = true;
    const r = await sh('dpkg', ['-i', path.join(tmp, deb)], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    assert.equal(r.code, 0, `dpkg -i failed:\n${r.out}`);
    assert.ok(installed());

    // Every program, unit and man page; all missing ones named at once.
    const missing = [...PROGRAMS.map((p) => `/usr/bin/${p}`), ...UNITS.map((u) => `/lib/systemd/system/${u}`),
      ...MANS.map((m) => `/usr/share/man/${m}`)].filter((f) => !existsSync(f));
    for (const p of PROGRAMS.filter((x) => existsSync(`/usr/bin/${x}`))) {
      const st = statSync(`/usr/bin/${p}`);
      assert.equal(st.mode & 0o7777, 0o755, p);
      assert.equal(st.uid, 0, p);
    }
    // the SQL migrations, exactly the tree's
    const sql = readdirSync(path.join(REPO, 'sql')).filter((f) => f.endsWith('.sql')).sort();
    assert.ok(sql.length > 0);
    assert.deepEqual(readdirSync('/usr/share/reboss/sql').sort(), sql);
    for (const f of sql)
      assert.equal(readFileSync(`/usr/share/reboss/sql/${f}`, 'utf8'), readFileSync(path.join(REPO, 'sql', f), 'utf8'));
    // the Shopify app's configuration, with the package's docs
    assert.equal(readFileSync('/usr/share/doc/reboss/shopify.app.toml', 'utf8'),
      readFileSync(path.join(REPO, 'etc/shopify.app.toml'), 'utf8'));

    // the reboss system user and group
    const pw = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('reboss:'));
    assert.ok(pw, 'no reboss user');
    const [, , uid, gid, , home, shell] = pw.split(':');
    assert.ok(Number(uid) > 0 && Number(uid) < 1000, `reboss is not a system user (uid ${uid})`);
    assert.equal(home, '/nonexistent');
    assert.match(shell, /nologin|false/);
    const gr = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.startsWith('reboss:'));
    assert.ok(gr, 'no reboss group');
    assert.equal(gr.split(':')[2], gid);

    // the configuration: a conffile, root:reboss 0640, the shipped template
    const conf = statSync('/etc/reboss/reboss.conf');
    assert.equal(conf.mode & 0o7777, 0o640);
    assert.equal(conf.uid, 0);
    assert.equal(conf.gid, Number(gid));
    assert.equal(readFileSync('/etc/reboss/reboss.conf', 'utf8'), readFileSync(path.join(REPO, 'etc/reboss.conf'), 'utf8'));
    const cf = await sh('dpkg-query', ['-W', '-f=${Conffiles}', 'reboss']);
    assert.match(cf.out, /\/etc\/reboss\/reboss\.conf [0-9a-f]{32}/);
    // the nginx site is the operator's, written once by postinst: no
    // conffile, so no upgrade asks about it or aborts non-interactively
    assert.doesNotMatch(cf.out, /\/etc\/nginx\//);
    // the credentials: systemd (root) and the reboss user read them
    const cred = statSync('/etc/reboss/credentials');
    assert.ok(cred.isDirectory());
    assert.equal(cred.mode & 0o7777, 0o750);
    assert.equal(cred.uid, 0);
    assert.equal(cred.gid, Number(gid));
    // metrics_dir's default: the reboss user's, readable by node_exporter
    const md = statSync('/var/lib/reboss/metrics');
    assert.ok(md.isDirectory());
    assert.equal(md.mode & 0o7777, 0o755);
    assert.equal(md.uid, Number(uid));
    assert.equal(md.gid, Number(gid));

    // the nginx site: available, not enabled, the tree's file; the
    // package's snippets beside it, and the directory of the origins
    assert.equal(readFileSync('/etc/nginx/sites-available/reboss', 'utf8'),
      readFileSync(path.join(REPO, 'etc/nginx/site.conf'), 'utf8'));
    for (const f of ['http.conf', 'server.conf', 'redirect.conf', 'site.conf'])
      assert.equal(readFileSync(`/usr/share/reboss/nginx/${f}`, 'utf8'), readFileSync(path.join(REPO, 'etc/nginx', f), 'utf8'), f);
    assert.ok(statSync('/etc/reboss/nginx').isDirectory());
    assert.ok(!existsSync('/etc/nginx/sites-enabled/reboss'), 'the site must not be enabled by the package');

    // nothing enabled or started: no unit of ours in any .wants directory
    const wants = await sh('sh', ['-c', 'ls -d /etc/systemd/system/*.wants/reboss-* 2>/dev/null || true']);
    assert.equal(wants.out.trim(), '', 'units were enabled on installation');
    assert.deepEqual(missing, [], 'not installed by the package');
  });

  test('systemd-analyze verify: the installed units are clean', async () => {
    const r = await sh('systemd-analyze', ['verify', ...UNITS.map((u) => `/lib/systemd/system/${u}`)]);
    console.log('# systemd-analyze verify:\n' + (r.out.trim() || '(no complaints)').replace(/^/gm, '#   '));
    assert.equal(r.code, 0, r.out);
    assert.equal(r.out.trim(), '', 'systemd-analyze verify complained');
  });

  test('systemd-analyze security --offline=true: every service 2.0 or lower', async () => {
    const services = UNITS.filter((u) => u.endsWith('.service'));
    const scores = {};
    for (const u of services) {
      const r = await sh('systemd-analyze', ['security', '--offline=true', '--no-pager', `/lib/systemd/system/${u}`]);
      console.log(`# systemd-analyze security --offline=true ${u}:\n` + r.out.trimEnd().replace(/^/gm, '#   '));
      const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(r.out);
      assert.ok(m, `no rating for ${u}: ${r.out.slice(-500)}`);
      scores[u] = Number(m[1]);
    }
    console.log('# exposure: ' + Object.entries(scores).map(([u, s]) => `${u} ${s.toFixed(1)}`).join(', '));
    for (const [u, s] of Object.entries(scores)) assert.ok(s <= 2.0, `${u} is rated ${s} (> 2.0)`);
    // the API unit keeps the contract's parts
    const api = readFileSync('/lib/systemd/system/reboss-api.service', 'utf8');
    assert.match(api, /^ExecStartPre=\/usr\/bin\/rebossctl check-config$/m);
    assert.match(api, /^LoadCredential=/m);
    assert.match(api, /^User=reboss$/m);
    for (const j of JOBS) {
      const s = readFileSync(`/lib/systemd/system/reboss-${j}.service`, 'utf8');
      assert.match(s, /^LoadCredential=/m, j);
      assert.match(s, /^ExecStartPre=\/usr\/bin\/rebossctl check-config$/m, j);
      assert.match(s, /^User=reboss$/m, j);
    }
  });

  test('nginx -t passes on the installed site with test certificates', async () => {
    const dir = path.join(tmp, 'nginx');
    await mkdir(dir, { recursive: true });
    const tls = await makeTls(dir);
    // the operator's site, written once by postinst (no conffile: no
    // upgrade asks about it), and the package's snippets
    assert.equal(readFileSync('/etc/nginx/sites-available/reboss', 'utf8'),
      readFileSync('/usr/share/reboss/nginx/site.conf', 'utf8'));
    const conf = await writeSiteConf({
      dir, snippetDir: '/usr/share/reboss/nginx',
      siteText: readFileSync('/etc/nginx/sites-available/reboss', 'utf8'),
      httpPort: 8080, httpsPort: 8443, certFile: tls.certFile, keyFile: tls.keyFile,
      sock: '/run/reboss-api.sock', origins: ['https://app.reboss.test'],
    });
    const r = await nginxTest(dir, conf);
    console.log('# nginx -t:\n' + r.out.trim().replace(/^/gm, '#   '));
    assert.ok(r.ok, r.out);
    // and a broken certificate path is caught, so the check can fail
    const bad = await writeSiteConf({
      dir: path.join(dir, 'bad'), snippetDir: '/usr/share/reboss/nginx',
      siteText: readFileSync('/etc/nginx/sites-available/reboss', 'utf8'),
      httpPort: 8080, httpsPort: 8443, certFile: path.join(dir, 'missing.crt'), keyFile: tls.keyFile,
      sock: '/run/reboss-api.sock',
    });
    assert.equal((await nginxTest(path.join(dir, 'bad'), bad)).ok, false);
  });

  test('rebossctl check-config on the shipped configuration names what is missing', async () => {
    // as the service runs it: the reboss user, the default path
    const r = await sh('runuser', ['-u', 'reboss', '--', '/usr/bin/rebossctl', 'check-config'],
      { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' } });
    console.log('# rebossctl check-config (shipped file):\n' + r.out.trim().replace(/^/gm, '#   '));
    assert.equal(r.code, 1, `expected exit 1 (problems found), got ${r.code}: ${r.out}`);
    assert.match(r.out, /\/etc\/reboss\/reboss\.conf/);
    assert.match(r.out, /database_url/);
    assert.match(r.out, /token_key/);
    assert.match(r.out, /jwt_secret|jwks_file/);
    assert.doesNotMatch(r.out, /permission denied/i, 'the reboss user must be able to read the configuration');
  });

  // ---- day one, upgrades: what the README and NEWS.Debian promise ----------

  test('docs on the box: README, NEWS.Debian, example config, man pages, completion, --version', async () => {
    const doc = '/usr/share/doc/reboss';
    assert.match(docText(`${doc}/README.md`), /<!-- day-one: local -->/);
    assert.match(docText(`${doc}/NEWS.Debian`), /rebossctl migrate/);
    assert.equal(docText(`${doc}/examples/reboss.conf`), readFileSync(path.join(REPO, 'etc/reboss.conf'), 'utf8'));
    const comp = '/usr/share/bash-completion/completions/rebossctl';
    assert.ok(existsSync(comp), comp);
    const c = await sh('bash', ['-c', `. /usr/share/bash-completion/bash_completion 2>/dev/null; . ${comp}; ` +
      'COMP_WORDS=(rebossctl ""); COMP_CWORD=1; COMP_LINE="rebossctl "; COMP_POINT=${#COMP_LINE}; ' +
      '_rebossctl rebossctl "" rebossctl; printf "%s\\n" "${COMPREPLY[@]}"']);
    for (const cmd of ['migrate', 'check-config', 'status', 'optimizations', 'rollback', 'alert', 'check'])
      assert.match(c.out, new RegExp(`^${cmd}$`, 'm'), `completion offers ${cmd}: ${c.out}`);
    for (const p of PROGRAMS) {
      const v = await sh(`/usr/bin/${p}`, ['--version']);
      assert.equal(v.code, 0, `${p} --version: ${v.out}`);
      assert.match(v.out, new RegExp(`^${p} \\S+$`, 'm'));
    }
    // every command and option of rebossctl's usage is in rebossctl(8)
    const usage = (await sh('/usr/bin/rebossctl', ['help'])).out;
    const man = (await sh('sh', ['-c', 'zcat /usr/share/man/man8/rebossctl.8.gz | sed "s/\\\\\\\\-/-/g"'])).out;
    const words = new Set([...usage.matchAll(/^ {2}([a-z][a-z-]+)/gm)].map((m) => m[1]));
    for (const m of usage.matchAll(/--[a-z][a-z-]+/g)) words.add(m[0]);
    words.add('--version');
    const absent = [...words].filter((w) => !man.includes(w));
    assert.deepEqual(absent, [], 'in rebossctl help but not in rebossctl(8)');
    assert.ok(words.has('optimizations') && words.has('rollback') && words.has('--shop'));
  });

  test('day one, PostgreSQL on this host: the README block as written, as root and as reboss', async () => {
    await pgLocal.start();
    const block = dayOne('local');
    const r = await sh('bash', ['-euo', 'pipefail', '-c', block], { cwd: '/', env: ROOT_ENV });
    console.log('# README day one (local PostgreSQL):\n' + r.out.trim().replace(/^/gm, '#   '));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^\/etc\/reboss\/reboss\.conf: OK$/m);
    assert.match(r.out, /no runs recorded yet/);
    const files = readdirSync('/usr/share/reboss/sql').filter((f) => f.endsWith('.sql'));
    assert.equal((await pgLocal.psql('SELECT count(*) FROM reboss_migrations', 'reboss')).trim(), String(files.length));
    // the tables belong to the role the units connect as
    assert.equal((await pgLocal.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'shops'", 'reboss')).trim(), 'reboss');
    const asReboss = await sh('runuser', ['-u', 'reboss', '--', 'rebossctl', 'status'], { cwd: '/', env: ROOT_ENV });
    assert.equal(asReboss.code, 0, asReboss.out);
    assert.match(asReboss.out, /no runs recorded yet/);
    // the credential files are the units' (LoadCredential=reboss:DIR), readable by reboss only
    for (const f of ['token_key', 'jwt_secret']) {
      const st = statSync(`/etc/reboss/credentials/${f}`);
      assert.equal(st.mode & 0o777, 0o640, f);
    }
    const nobody = await sh('runuser', ['-u', 'nobody', '--', 'rebossctl', '--config', '/etc/reboss/reboss.conf', 'check-config'],
      { cwd: '/', env: ROOT_ENV });
    assert.notEqual(nobody.code, 0, 'another user cannot read the configuration');
  });

  test('day one, a remote PostgreSQL (password over TCP, as Supabase): the README block as written', async () => {
    // A fresh machine: the shipped configuration, no credentials.
    await sh('sh', ['-c', 'rm -f /etc/reboss/credentials/* && cat /usr/share/doc/reboss/examples/reboss.conf > /etc/reboss/reboss.conf']);
    await pgLocal.psql(`CREATE ROLE ${REMOTE.user} LOGIN PASSWORD '${REMOTE.password}'`);
    pgLocal.created.roles.push(REMOTE.user);
    await pgLocal.psql(`CREATE DATABASE ${REMOTE.db} OWNER ${REMOTE.user}`);
    pgLocal.created.dbs.push(REMOTE.db);
    const block = dayOne('remote');
    const doc = /'(postgresql:\/\/[^']+supabase[^']+)'/.exec(block);
    assert.ok(doc, 'the remote block has a Supabase connection string');
    const url = `postgresql://${REMOTE.user}:${REMOTE.password}@127.0.0.1:${pgLocal.port}/${REMOTE.db}`;
    const r = await sh('bash', ['-euo', 'pipefail', '-c', block.replace(doc[1], url)], { cwd: '/', env: ROOT_ENV });
    console.log('# README day one (remote PostgreSQL):\n' + r.out.trim().replace(/^/gm, '#   '));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^\/etc\/reboss\/reboss\.conf: OK$/m);
    assert.match(r.out, /no runs recorded yet/);
    assert.doesNotMatch(r.out, new RegExp(REMOTE.password), 'the password is never printed');
    const files = readdirSync('/usr/share/reboss/sql').filter((f) => f.endsWith('.sql'));
    assert.equal((await pgLocal.psql('SELECT count(*) FROM reboss_migrations', REMOTE.db)).trim(), String(files.length));
  });

  test('an upgrade while a job runs: the job is not stopped and completes with true counts; the schema is migrated by the upgrade', async () => {
    // The maintainer scripts: job units are never stopped or restarted by
    // an upgrade, the API is restarted (deb-systemd-invoke does nothing
    // here, where systemd is not running, so the scripts are read).
    const script = (n) => { try { return readFileSync(`/var/lib/dpkg/info/reboss.${n}`, 'utf8'); } catch { return ''; } };
    const jobUnits = [...JOBS.map((x) => `reboss-${x}.service`), 'reboss-check.service'];
    const postinst = script('postinst').split('\n');
    const named = postinst.filter((l) => /deb-systemd-invoke/.test(l) && jobUnits.some((j) => l.includes(j)));
    assert.deepEqual(named, [], 'postinst starts or restarts a job unit');
    // prerm stops them on removal only, never on upgrade
    const prerm = script('prerm').split('\n');
    prerm.forEach((l, i) => {
      if (/deb-systemd-invoke stop/.test(l) && jobUnits.some((j) => l.includes(j)))
        assert.match(prerm[i - 1] ?? '', /"\$1" = remove/, `prerm stops a job unit on upgrade:\n${prerm.join('\n')}`);
    });
    assert.ok(postinst.some((l) => /deb-systemd-invoke \$_dh_action .*'reboss-api\.service'/.test(l)) &&
      postinst.some((l) => /_dh_action=restart/.test(l)), 'reboss-api is restarted after an upgrade');
    // and the schema is migrated before that restart
    const mig = postinst.findIndex((l) => /^\s*migrate_after_upgrade$/.test(l));
    const restart = postinst.findIndex((l) => /deb-systemd-invoke \$_dh_action/.test(l));
    assert.ok(mig >= 0 && mig < restart, 'postinst migrates before it restarts the API');

    const { createFakeShopify } = await import('../fakes/shopify.mjs');
    fake = await createFakeShopify({ port: 0 });
    const domain = 'upgrade-shop.myshopify.com';
    const token = 'shpat_' + 'u'.repeat(32);
    fake.addShop({ domain, token });
    const products = [];
    for (let i = 0; i < 7; i++) products.push(fake.addProduct(domain, { title: `Upgrade Product ${i}`, price: `${10 + i}.00` }));
    fake.addOrder(domain, { processedAt: new Date(Date.now() - 86400000).toISOString(),
      lines: [{ productId: products[0].id, quantity: 2, price: products[0].variants[0].price }] });
    writeFileSync('/etc/reboss/reboss.conf', readFileSync('/etc/reboss/reboss.conf', 'utf8') +
      `shopify_base_url = ${fake.baseUrlTemplate}\n`);
    await pgLocal.psql(`INSERT INTO public.shops (user_id, shop_domain, access_token)
      VALUES (gen_random_uuid(), '${domain}', '${token}')`, REMOTE.db);

    const upgrade = await repackUpgrade();
    let open;
    fake.setMode(domain, { gate: new Promise((r) => { open = r; }) });
    const pw = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('reboss:')).split(':');
    job = spawn('/usr/bin/reboss-sales-tracker', [], { uid: Number(pw[2]), gid: Number(pw[3]), cwd: '/',
      env: ROOT_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    job.stdout.on('data', (d) => out.push(d));
    job.stderr.on('data', (d) => out.push(d));
    let exit = null;
    const done = new Promise((r) => job.on('close', (code, sig) => { exit = { code, sig }; r(); }));
    // the run is under way: its worker waits at the fake's gate
    for (let i = 0; !fake.requests.some((e) => e.shop === domain && e.gated); i++) {
      assert.equal(exit, null, `the job ended before the upgrade: ${Buffer.concat(out)}`);
      assert.ok(i < 2400, 'the job never reached Shopify');
      await new Promise((r) => setTimeout(r, 50));
    }

    const u = await sh('dpkg', ['-i', upgrade], { env: { ...ROOT_ENV, DEBIAN_FRONTEND: 'noninteractive' } });
    console.log('# dpkg -i (upgrade) while the job runs:\n' + u.out.trim().replace(/^/gm, '#   '));
    assert.equal(u.code, 0, u.out);
    assert.doesNotMatch(u.out, /could not be migrated|not complete yet/, 'the upgrade migrated');
    assert.equal(exit, null, 'the running job was not stopped by the upgrade');
    assert.equal((await pgLocal.psql("SELECT count(*) FROM reboss_migrations WHERE version = '900_upgrade_probe'",
      REMOTE.db)).trim(), '1', 'the upgrade applied its migration');

    open();
    fake.setMode(domain, null);
    await done;
    const text = Buffer.concat(out).toString();
    assert.deepEqual(exit, { code: 0, sig: null }, text);
    assert.match(text, /1 of 1 shops processed, 0 failed/);
    const run = (await pgLocal.psql(`SELECT status || ' ' || shops_processed || ' ' || shops_failed FROM job_runs
      WHERE job_type = 'sales_tracker' ORDER BY started_at DESC LIMIT 1`, REMOTE.db)).trim();
    assert.equal(run, 'completed 1 0');
    const mirrored = (await pgLocal.psql(`SELECT count(*) FROM products p JOIN shops s ON s.id = p.shop_id
      WHERE s.shop_domain = '${domain}'`, REMOTE.db)).trim();
    assert.equal(mirrored, String(products.length), 'every product of the shop mirrored');
    const sealed = (await pgLocal.psql(`SELECT access_token LIKE 'rbs1:%' FROM shops WHERE shop_domain = '${domain}'`,
      REMOTE.db)).trim();
    assert.equal(sealed, 't');
    assert.deepEqual(fake.validationErrors, []);
  });

  test('dpkg --purge leaves nothing behind', async () => {
    const r = await purge();
    weInstalled = false;
    assert.equal(r.code, 0, `dpkg --purge failed:\n${r.out}`);
    assert.ok(!installed(), 'still known to dpkg');
    const left = [
      '/etc/reboss', '/etc/nginx/sites-available/reboss', '/usr/share/reboss', '/usr/share/doc/reboss',
      '/var/lib/reboss',
      ...PROGRAMS.map((p) => `/usr/bin/${p}`), ...UNITS.map((u) => `/lib/systemd/system/${u}`),
      ...MANS.map((m) => `/usr/share/man/${m}`),
    ].filter((p) => { try { lstatSync(p); return true; } catch { return false; } });
    assert.deepEqual(left, []);
    assert.ok(!readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.startsWith('reboss:')), 'user reboss left');
    assert.ok(!readFileSync('/etc/group', 'utf8').split('\n').some((l) => l.startsWith('reboss:')), 'group reboss left');
    const st = await sh('sh', ['-c', 'ls -d /etc/systemd/system/*/reboss-* /var/lib/systemd/deb-systemd-helper-enabled/*reboss* ' +
      '/var/lib/systemd/deb-systemd-helper-enabled/*/reboss-* 2>/dev/null || true']);
    assert.equal(st.out.trim(), '', 'systemd state left');
  });
});
