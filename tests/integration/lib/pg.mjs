// pg.mjs - a throwaway PostgreSQL cluster for integration tests (node
// built-ins only).
//
//   const pg = await startPostgres({ baseDir });   // baseDir optional
//   pg.conninfo   "postgresql://reboss:PASSWORD@127.0.0.1:PORT/reboss"
//   pg.host pg.port pg.socketDir pg.dbname pg.user pg.password
//   await pg.psql(sql, { role, claims })   -> stdout (psql -X -A -t -q)
//   await pg.stop(); await pg.start();      // same data dir and port
//   await pg.destroy();                     // stop and remove the dir
//
// initdb with SCRAM passwords for every connection (so the conninfo is
// realistic), postgres on a free loopback port with its socket in the
// temp dir, fsync off.  The role "reboss" owns database "reboss" and has
// CREATEROLE, which the first migration needs on plain PostgreSQL (it
// creates anon/authenticated/service_role).  As root, the server runs as
// the system user postgres (runuser), which owns the temp dir.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const ROLE_RE = /^[a-z_][a-z0-9_]*$/;

// Clusters still running when the process exits (a test that threw before
// its after() hook) are stopped, so no postgres outlives the test run.
const live = new Set();
process.on('exit', () => {
  for (const c of live) {
    const args = ['-D', c.dataDir, '-m', 'immediate', '-w', 'stop'];
    if (c.asRoot) spawnSync('runuser', ['-u', 'postgres', '--', c.pgCtl, ...args], { stdio: 'ignore' });
    else spawnSync(c.pgCtl, args, { stdio: 'ignore' });
  }
});

async function pgBinDir() {
  if (process.env.PG_BINDIR) return process.env.PG_BINDIR;
  const root = '/usr/lib/postgresql';
  let versions = [];
  try {
    versions = (await fs.readdir(root)).filter((v) => /^\d+$/.test(v));
  } catch {
    // fall through
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = path.join(root, v, 'bin');
    try {
      await fs.access(path.join(dir, 'initdb'));
      return dir;
    } catch {
      // next
    }
  }
  throw new Error(`no PostgreSQL server binaries under ${root}/*/bin ` +
    '(apt-get install postgresql)');
}

function run(cmd, args, { env, input, asPostgres } = {}) {
  let file = cmd;
  let argv = args;
  if (asPostgres) {
    file = 'runuser';
    argv = ['-u', 'postgres', '--', cmd, ...args];
  }
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ stdout: out, stderr: err });
      else {
        const e = new Error(`${path.basename(cmd)} failed (${signal ?? code}): ` +
          `${err.trim() || out.trim()}`);
        e.stdout = out;
        e.stderr = err;
        e.code = code;
        reject(e);
      }
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sqlLiteral(s) {
  return `'${String(s).replace(/'/g, "''")}'`;
}

export async function startPostgres({ baseDir } = {}) {
  const bin = await pgBinDir();
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const dir = baseDir ?? await fs.mkdtemp(path.join(os.tmpdir(), 'reboss-pg-'));
  await fs.mkdir(dir, { recursive: true });
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  const pwFile = path.join(dir, 'pwfile');
  const superPassword = randomBytes(18).toString('hex');
  const password = randomBytes(18).toString('hex');
  let port = await freePort();

  await fs.writeFile(pwFile, `${superPassword}\n`, { mode: 0o600 });
  if (asRoot) {
    await run('chown', ['-R', 'postgres:postgres', dir]);
    await fs.chmod(dir, 0o700);
  }
  const pgRun = (cmd, args, opts = {}) =>
    run(path.join(bin, cmd), args, { ...opts, asPostgres: asRoot });

  await pgRun('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'scram-sha-256',
    `--pwfile=${pwFile}`, '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
  await fs.rm(pwFile, { force: true });
  // Settings go into the cluster so pg.start() after pg.stop() reuses them.
  const conf = [
    '',
    '# reboss test harness',
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${dir}'`,
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    'max_connections = 100',
    "timezone = 'UTC'",
    '',
  ].join('\n');
  await fs.appendFile(path.join(dataDir, 'postgresql.conf'), conf);
  if (asRoot) await run('chown', ['postgres:postgres', path.join(dataDir, 'postgresql.conf')]);

  const liveEntry = { dataDir, asRoot, pgCtl: path.join(bin, 'pg_ctl') };
  const pg = {
    host: '127.0.0.1',
    port,
    socketDir: dir,
    dataDir,
    baseDir: dir,
    dbname: 'reboss',
    user: 'reboss',
    password,
    conninfo: `postgresql://reboss:${password}@127.0.0.1:${port}/reboss`,
    running: false,
    // The cluster's superuser, for tests that must set up what the
    // migrating user may not (a Supabase look-alike).
    superuser: { user: 'postgres', password: superPassword },

    async start() {
      live.add(liveEntry);
      await pgRun('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start']);
      pg.running = true;
      for (let i = 0; i < 300; i++) {
        try {
          await run(path.join(bin, 'pg_isready'),
            ['-q', '-h', '127.0.0.1', '-p', String(port), '-d', 'postgres']);
          pg.running = true;
          return;
        } catch {
          await sleep(100);
        }
      }
      let log = '';
      try { log = await fs.readFile(logFile, 'utf8'); } catch { /* none */ }
      throw new Error(`PostgreSQL did not become ready on port ${port}:\n${log}`);
    },

    async stop() {
      if (!pg.running) return;
      await pgRun('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', '60', 'stop']);
      pg.running = false;
      live.delete(liveEntry);
    },

    async destroy() {
      try {
        await pg.stop();
      } catch {
        // removing the dir is all that is left
      }
      await fs.rm(dir, { recursive: true, force: true });
    },

    // Runs sql as the owner "reboss" over TCP.  With role (and claims):
    // BEGIN; SET LOCAL ROLE role; request.jwt.claims = claims; sql; COMMIT,
    // the way PostgREST runs a dashboard request.
    async psql(sql, { role, claims, user, password: pw, dbname } = {}) {
      let text = sql;
      if (role !== undefined || claims !== undefined) {
        const lines = ['BEGIN;'];
        if (role !== undefined) {
          if (!ROLE_RE.test(role)) throw new Error(`bad role name ${role}`);
          lines.push(`SET LOCAL ROLE ${role};`);
        }
        if (claims !== undefined) {
          lines.push(`SET LOCAL "request.jwt.claims" TO ${sqlLiteral(JSON.stringify(claims))};`);
        }
        lines.push(sql.trimEnd().replace(/;?$/, ';'), 'COMMIT;');
        text = lines.join('\n');
      }
      const { stdout } = await run(path.join(bin, 'psql'), [
        '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
        '-h', '127.0.0.1', '-p', String(port),
        '-U', user ?? 'reboss', '-d', dbname ?? 'reboss', '-f', '-',
      ], {
        env: { PGPASSWORD: pw ?? password, PGCONNECT_TIMEOUT: '10' },
        input: text,
      });
      return stdout;
    },
  };

  // The first start: freePort() closes its probe before postgres binds,
  // so another process (a client's ephemeral port, a test beside this
  // one) may take the port in between.  Only that is retried, on a new
  // port (a later "port =" line wins); restarts keep theirs.
  const firstStart = async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        await pg.start();
        return;
      } catch (e) {
        let log = '';
        try { log = await fs.readFile(logFile, 'utf8'); } catch { /* none */ }
        const taken = /could not bind|Address already in use|could not create any TCP\/IP sockets/.test(log);
        if (!taken || attempt >= 5) {
          e.message += `\n--- ${logFile} (last 2000 bytes):\n${log.slice(-2000)}`;
          throw e;
        }
        port = await freePort();
        pg.port = port;
        pg.conninfo = `postgresql://reboss:${password}@127.0.0.1:${port}/reboss`;
        await fs.appendFile(path.join(dataDir, 'postgresql.conf'), `port = ${port}\n`);
        await fs.rm(logFile, { force: true });
      }
    }
  };

  try {
    await firstStart();
    await pg.psql(
      `CREATE ROLE reboss LOGIN CREATEROLE PASSWORD ${sqlLiteral(password)};\n` +
      'CREATE DATABASE reboss OWNER reboss;\n',
      { user: 'postgres', password: superPassword, dbname: 'postgres' });
  } catch (e) {
    await pg.destroy();
    throw e;
  }
  return pg;
}
