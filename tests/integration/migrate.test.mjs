// migrate.test.mjs - rebossctl migrate / check-config / status / seal-tokens
// against a throwaway PostgreSQL cluster (lib/pg.mjs).
//
// rebossctl is taken from $REBOSS_BUILDDIR/ctl/rebossctl; without
// REBOSS_BUILDDIR the source tree itself is the build dir (in-tree build).
//   cd tests && REBOSS_BUILDDIR=/tmp/b node --test integration/migrate.test.mjs
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createDecipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startPostgres } from './lib/pg.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const srcDir = path.resolve(here, '..', '..');
const buildDir = process.env.REBOSS_BUILDDIR || srcDir;
const rebossctl = path.join(buildDir, 'ctl', 'rebossctl');
const sqlSrc = path.join(srcDir, 'sql');
const MIGRATION_RE = /^[0-9]{3}_[a-z0-9_]+\.sql$/;

function ctl(args, env = {}) {
  return new Promise((resolve) => {
    execFile(rebossctl, args, {
      env: { ...process.env, REBOSS_CONFIG: '', REBOSS_SQLDIR: '', ...env },
      timeout: 60_000,
    }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function migrationFiles(dir) {
  return (await fs.readdir(dir)).filter((f) => MIGRATION_RE.test(f)).sort();
}

async function sha256File(file) {
  return createHash('sha256').update(await fs.readFile(file)).digest('hex');
}

// Opens a sealed "rbs1:" value the way lib/crypto.h describes it:
// base64url(nonce[12] | ciphertext | tag[16]), AES-256-GCM, aad bound in.
function openSealed(keyHex, aad, sealed) {
  assert.ok(sealed.startsWith('rbs1:'), 'sealed value starts with rbs1:');
  const raw = Buffer.from(sealed.slice(5), 'base64url');
  const nonce = raw.subarray(0, 12);
  const tag = raw.subarray(raw.length - 16);
  const ct = raw.subarray(12, raw.length - 16);
  const d = createDecipheriv('aes-256-gcm', Buffer.from(keyHex, 'hex'), nonce);
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(tag);
  return Buffer.concat([d.update(ct), d.final()]).toString('utf8');
}

async function writeConfig(dir, pg, tokenKey, name = 'reboss.conf') {
  const file = path.join(dir, name);
  await fs.writeFile(file, [
    '# written by migrate.test.mjs',
    `database_url = ${pg.conninfo}`,
    `token_key = ${tokenKey}`,
    `jwt_secret = ${randomBytes(32).toString('hex')}`,
    '',
  ].join('\n'), { mode: 0o600 });
  return file;
}

describe('rebossctl against a fresh database', () => {
  let pg;
  let tmp;
  let sqlDir;
  let conf;
  const tokenKey = randomBytes(32).toString('hex');

  before(async () => {
    await fs.access(rebossctl).catch(() => {
      throw new Error(`${rebossctl} is missing: build first, or set REBOSS_BUILDDIR`);
    });
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'reboss-migrate-'));
    pg = await startPostgres();
    sqlDir = path.join(tmp, 'sql');
    await fs.cp(sqlSrc, sqlDir, { recursive: true });
    conf = await writeConfig(tmp, pg, tokenKey);
  });

  after(async () => {
    await pg?.destroy();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  test('status before migrate says to run migrate', async () => {
    const r = await ctl(['--config', conf, 'status']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^rebossctl: .*run rebossctl migrate/m);
  });

  test('migrate applies every file, a second run applies none', async () => {
    const files = await migrationFiles(sqlDir);
    assert.ok(files.length >= 1, 'sql/ holds migrations');
    const first = await ctl(['--config', conf, 'migrate', '--sql-dir', sqlDir]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout.trim(), `applied ${files.length} migration(s)`);

    const second = await ctl(['--config', conf, 'migrate', '--sql-dir', sqlDir]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout.trim(), 'database is current');

    // REBOSS_SQLDIR is honoured when --sql-dir is absent.
    const third = await ctl(['--config', conf, 'migrate'], { REBOSS_SQLDIR: sqlDir });
    assert.equal(third.code, 0, third.stderr);
    assert.equal(third.stdout.trim(), 'database is current');

    const rows = (await pg.psql(
      'SELECT version, checksum FROM reboss_migrations ORDER BY version')).trim().split('\n');
    const want = [];
    for (const f of files) {
      want.push(`${f.replace(/\.sql$/, '')}|${await sha256File(path.join(sqlDir, f))}`);
    }
    assert.deepEqual(rows, want);
    const tables = (await pg.psql(
      "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND " +
      "tablename IN ('shops', 'job_runs', 'shop_job_status')")).trim();
    assert.equal(tables, '3');
  });

  test('a failing migration leaves nothing behind and names file and line', async () => {
    const bad = path.join(sqlDir, '900_broken.sql');
    await fs.writeFile(bad, 'CREATE TABLE reboss_t900 (a int);\n\nSELECT no_such_column FROM reboss_t900;\n');
    try {
      const r = await ctl(['--config', conf, 'migrate', '--sql-dir', sqlDir]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^rebossctl: Migration 900_broken\.sql failed at line 3\b/m);
      assert.equal((await pg.psql("SELECT to_regclass('reboss_t900') IS NULL")).trim(), 't');
      assert.equal((await pg.psql(
        "SELECT count(*) FROM reboss_migrations WHERE version = '900_broken'")).trim(), '0');
    } finally {
      await fs.rm(bad);
    }
  });

  test('two migrates at once apply a new file exactly once', async () => {
    const file = path.join(sqlDir, '901_slow.sql');
    await fs.writeFile(file,
      'CREATE TABLE reboss_t901 (a int);\nSELECT pg_sleep(1);\nINSERT INTO reboss_t901 VALUES (1);\n');
    const [a, b] = await Promise.all([
      ctl(['--config', conf, 'migrate', '--sql-dir', sqlDir]),
      ctl(['--config', conf, 'migrate', '--sql-dir', sqlDir]),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual([a.stdout.trim(), b.stdout.trim()].sort(),
      ['applied 1 migration(s)', 'database is current']);
    assert.equal((await pg.psql('SELECT count(*) FROM reboss_t901')).trim(), '1');
  });

  test('a changed applied file is reported by name and nothing runs', async () => {
    const files = await migrationFiles(sqlDir);
    const victim = path.join(sqlDir, files[0]);
    const original = await fs.readFile(victim);
    const later = path.join(sqlDir, '902_later.sql');
    await fs.writeFile(later, 'CREATE TABLE reboss_t902 (a int);\n');
    await fs.appendFile(victim, '\n-- edited after it was applied\n');
    try {
      const r = await ctl(['--config', conf, 'migrate', '--sql-dir', sqlDir]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`rebossctl: Migration .*${files[0].replace('.', '\\.')} was changed`));
      assert.equal((await pg.psql("SELECT to_regclass('reboss_t902') IS NULL")).trim(), 't',
        'no later migration ran');
    } finally {
      await fs.writeFile(victim, original);
      await fs.rm(later);
    }
    const again = await ctl(['--config', conf, 'migrate', '--sql-dir', sqlDir]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.trim(), 'database is current');
  });

  test('check-config: OK for a good file, every problem of a bad one', async () => {
    const good = await ctl(['--config', conf, 'check-config']);
    assert.equal(good.code, 0, good.stderr);
    assert.equal(good.stdout.trim(), `${conf}: OK`);

    const secret = 'sup3r-s3cret-value-never-printed';
    const bad = path.join(tmp, 'bad.conf');
    await fs.writeFile(bad, [
      'token_key = not-hex',
      `jwt_secret = ${secret}`,
      'no_such_key = 1',
      '',
    ].join('\n'));
    const r = await ctl(['--config', bad, 'check-config']);
    assert.equal(r.code, 1);
    const out = r.stdout + r.stderr;
    assert.match(out, /token_key/);
    assert.match(out, /no_such_key/);
    assert.match(out, /database_url/);
    assert.ok(!out.includes(secret), 'no secret printed');
    assert.ok(!out.includes(': OK'));
  });

  test('seal-tokens seals a plain token once, openable with token_key', async () => {
    const id = randomUUID();
    const plain = `shpat_${randomBytes(16).toString('hex')}`;
    await pg.psql(`INSERT INTO shops (id, user_id, shop_domain, access_token)
      VALUES ('${id}', '${randomUUID()}', 'seal-me.myshopify.com', '${plain}')`);
    const otherId = randomUUID();
    await pg.psql(`INSERT INTO shops (id, user_id, shop_domain, access_token)
      VALUES ('${otherId}', '${randomUUID()}', 'no-token.myshopify.com', NULL)`);

    const r = await ctl(['--config', conf, 'seal-tokens']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'sealed 1 token(s)');
    assert.ok(!(r.stdout + r.stderr).includes(plain), 'token not printed');

    const stored = (await pg.psql(`SELECT access_token FROM shops WHERE id = '${id}'`)).trim();
    assert.ok(stored.startsWith('rbs1:'), stored.slice(0, 10));
    assert.ok(!stored.includes(plain));
    assert.equal(openSealed(tokenKey, `shops.access_token:${id}`, stored), plain);
    assert.throws(() => openSealed(tokenKey, `shops.access_token:${otherId}`, stored),
      'bound to its row');
    assert.equal((await pg.psql(
      `SELECT access_token IS NULL FROM shops WHERE id = '${otherId}'`)).trim(), 't');

    const second = await ctl(['--config', conf, 'seal-tokens']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout.trim(), 'sealed 0 token(s)');
    assert.equal((await pg.psql(`SELECT access_token FROM shops WHERE id = '${id}'`)).trim(),
      stored, 'a sealed token is left alone');
  });

  test('status shows runs and failing shops, as a table and as JSON', async () => {
    const shop = randomUUID();
    const run = randomUUID();
    await pg.psql(`
      INSERT INTO shops (id, user_id, shop_domain) VALUES ('${shop}', '${randomUUID()}', 'failing-shop.myshopify.com');
      INSERT INTO job_runs (id, job_type, status, started_at, completed_at, shops_processed, shops_failed, shops_total, host)
        VALUES ('${run}', 'sales_tracker', 'completed_with_errors', now() - interval '2 hours', now() - interval '1 hour', 10, 1, 11, 'vps-test');
      INSERT INTO shop_job_status (shop_id, job_type, last_run_at, last_status, last_error, consecutive_failures, run_id)
        VALUES ('${shop}', 'sales_tracker', now(), 'failed', E'Shopify answered 401\\n\\x1b[31mred', 3, '${run}');`);
    // a terminal wide enough for every column (status.test.mjs: 80 columns)
    const r = await ctl(['--config', conf, 'status'], { COLUMNS: '200' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^JOB +STARTED \(UTC\) +TOOK +STATUS/m);
    assert.match(r.stdout, /^sales_tracker +\d{4}-\d\d-\d\d \d\d:\d\d +1h00m +completed_with_errors +10\/11 +1 +vps-test/m);
    assert.match(r.stdout, /^failing-shop\.myshopify\.com +sales_tracker +failed +\S+ \S+ +3 +Shopify answered 401/m);
    assert.ok(!r.stdout.includes('\x1b'), 'control characters are not passed to the terminal');

    const j = await ctl(['--config', conf, 'status', '--json']);
    assert.equal(j.code, 0, j.stderr);
    const doc = JSON.parse(j.stdout);
    const runRow = doc.runs.find((x) => x.id === run);
    assert.equal(runRow.status, 'completed_with_errors');
    assert.equal(runRow.shops_failed, 1);
    assert.equal(runRow.duration_s, 3600);
    const f = doc.failing_shops.find((x) => x.shop_id === shop);
    assert.equal(f.shop_domain, 'failing-shop.myshopify.com');
    assert.equal(f.consecutive_failures, 3);
  });

  test('usage errors exit 2; help exits 0', async () => {
    assert.equal((await ctl(['frobnicate'])).code, 2);
    assert.equal((await ctl([])).code, 2);
    assert.equal((await ctl(['status', '--sql-dir', '/x'])).code, 2);
    const h = await ctl(['help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /migrate/);
    assert.match(h.stdout, /seal-tokens/);
  });

  test('an unreachable database exits 2 without printing the password', async () => {
    const badConf = path.join(tmp, 'wrongpw.conf');
    const wrong = `pw-${randomBytes(8).toString('hex')}`;
    await fs.writeFile(badConf, [
      `database_url = postgresql://reboss:${wrong}@127.0.0.1:${pg.port}/reboss`,
      `token_key = ${tokenKey}`,
      'jwt_secret = x',
      '',
    ].join('\n'));
    const r = await ctl(['--config', badConf, 'migrate', '--sql-dir', sqlDir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^rebossctl: Cannot connect to the database/m);
    assert.ok(!r.stderr.includes(wrong), r.stderr);
  });

  test('migrate and status work again after the database restarted', async () => {
    await pg.stop();
    const down = await ctl(['--config', conf, 'status']);
    assert.equal(down.code, 2);
    await pg.start();
    const up = await ctl(['--config', conf, 'migrate', '--sql-dir', sqlDir]);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(up.stdout.trim(), 'database is current');
  });
});

// A database prepared the way Supabase has it: the roles, schema auth and
// auth.uid() exist and belong to someone else, and an older dashboard left a
// shops table with a permissive policy and broad grants.
describe('rebossctl migrate on a Supabase-like database', () => {
  let pg;
  let tmp;
  let conf;

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'reboss-supa-'));
    pg = await startPostgres();
    conf = await writeConfig(tmp, pg, randomBytes(32).toString('hex'));
    await pg.psql(`
      CREATE ROLE supabase_admin NOLOGIN;
      CREATE ROLE anon NOLOGIN NOINHERIT;
      CREATE ROLE authenticated NOLOGIN NOINHERIT;
      CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
      GRANT anon, authenticated, service_role TO reboss;
      CREATE SCHEMA auth AUTHORIZATION supabase_admin;
      GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
      CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS
        $$ SELECT (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')::uuid $$;
      ALTER FUNCTION auth.uid() OWNER TO supabase_admin;
    `, { user: pg.superuser.user, password: pg.superuser.password });
    await pg.psql(`
      CREATE TABLE public.shops (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL, shop_domain text NOT NULL UNIQUE, access_token text);
      ALTER TABLE public.shops ENABLE ROW LEVEL SECURITY;
      CREATE POLICY "everyone sees everything" ON public.shops FOR SELECT USING (true);
      GRANT ALL ON public.shops TO anon, authenticated;
      INSERT INTO public.shops (user_id, shop_domain, access_token)
        VALUES ('${randomUUID()}', 'old-shop.myshopify.com', 'shpat_old');
    `);
  });

  after(async () => {
    await pg?.destroy();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  test('existing roles, auth.uid() and shops are adopted and locked down', async () => {
    const r = await ctl(['--config', conf, 'migrate', '--sql-dir', sqlSrc]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^applied \d+ migration\(s\)$/m);
    // auth.uid() kept its owner: it was not re-created
    assert.equal((await pg.psql(
      "SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE oid = 'auth.uid'::regproc")).trim(),
    'supabase_admin');
    assert.equal((await pg.psql(
      "SELECT string_agg(policyname, ',' ORDER BY policyname) FROM pg_policies WHERE tablename = 'shops'")).trim(),
    'shops_delete_own,shops_select_own,shops_update_own');
    assert.equal((await pg.psql(
      "SELECT connection_status FROM shops WHERE shop_domain = 'old-shop.myshopify.com'")).trim(),
    'connected');
    const claims = { sub: randomUUID(), role: 'authenticated' };
    await assert.rejects(pg.psql('SELECT access_token FROM shops', { role: 'authenticated', claims }),
      /permission denied/);
    assert.equal((await pg.psql('SELECT count(*) FROM shops', { role: 'authenticated', claims })).trim(), '0');
    await assert.rejects(pg.psql('SELECT count(*) FROM shops', { role: 'anon' }), /permission denied/);
  });
});
