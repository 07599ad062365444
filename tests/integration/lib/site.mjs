// site.mjs - the nginx site the package ships, made runnable on loopback: the
// operator's small site (etc/nginx/site.conf, written once as
// /etc/nginx/sites-available/reboss) and the package's snippets (http.conf,
// server.conf, redirect.conf, installed in /usr/share/reboss/nginx/).  The
// operator's values (ports, certificate paths) and the test's paths (socket,
// logs, the origins map rebossctl nginx-origins writes) are substituted
// exactly where they stand, and every
// substitution must hit, so a changed site fails the tests loudly instead of
// silently testing something else.  Owner: packaging (issue 7).
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile, writeFile, mkdir, copyFile } from 'node:fs/promises';
import { openSync, closeSync, existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { freePort } from './nginx.mjs';

const run = promisify(execFile);
const ETC_NGINX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../etc/nginx');
// The operator's site (written once by postinst) and the package's snippets
// (/usr/share/reboss/nginx/), from the source tree.
export const SITE_SRC = path.join(ETC_NGINX, 'site.conf');
export const SNIPPETS = ['http.conf', 'server.conf', 'redirect.conf'];

function replaceExactly(text, from, to, times) {
  const n = text.split(from).length - 1;
  if (n !== times)
    throw new Error(`nginx site: expected ${times} occurrence(s) of ${JSON.stringify(from)}, found ${n}`);
  return text.split(from).join(to);
}

/**
 * The site and the snippets with the operator's values and the test's paths
 * put in.  opts: dir (where the snippets, logs and origins go), httpPort,
 * httpsPort, certFile, keyFile, sock, serverName.  Returns { site, http,
 * server, redirect } texts.
 */
export function renderSite({ site, http, server, redirect }, { dir, httpPort, httpsPort, certFile, keyFile, sock, serverName = 'localhost' }) {
  let s = site;
  s = replaceExactly(s, '    listen 80;\n', `    listen 127.0.0.1:${httpPort};\n`, 1);
  s = replaceExactly(s, '    listen [::]:80;\n', '', 1);
  s = replaceExactly(s, '    listen 443 ssl http2 reuseport;\n', `    listen 127.0.0.1:${httpsPort} ssl http2 reuseport;\n`, 1);
  s = replaceExactly(s, '    listen [::]:443 ssl http2 reuseport;\n', '', 1);
  s = replaceExactly(s, 'ssl_certificate /etc/letsencrypt/live/api.example.com/fullchain.pem;',
    `ssl_certificate ${certFile};`, 1);
  s = replaceExactly(s, 'ssl_certificate_key /etc/letsencrypt/live/api.example.com/privkey.pem;',
    `ssl_certificate_key ${keyFile};`, 1);
  s = replaceExactly(s, 'server_name api.example.com;', `server_name ${serverName};`, 2);
  for (const f of SNIPPETS)
    s = replaceExactly(s, `include /usr/share/reboss/nginx/${f};`, `include ${path.join(dir, f)};`, 1);
  let h = replaceExactly(http, 'server unix:/run/reboss-api.sock;', `server unix:${sock};`, 1);
  h = replaceExactly(h, 'include /etc/reboss/nginx/*.map;', `include ${path.join(dir, 'origins')}/*.map;`, 1);
  // the test's own access log (with the Origin) beside the shipped one
  const logs = (t, n) => replaceExactly(t, 'access_log /var/log/nginx/reboss-access.log reboss;',
    `access_log ${path.join(dir, 'reboss-access.log')} reboss;\naccess_log ${path.join(dir, 'access.log')} site;`, n);
  let sv = logs(server, 1);
  sv = replaceExactly(sv, 'error_log /var/log/nginx/reboss-error.log notice;',
    `error_log ${path.join(dir, 'reboss-error.log')} notice;`, 1);
  return { site: s, http: h, server: sv, redirect: logs(redirect, 1) };
}

/** The lines of an origins map (as rebossctl nginx-origins writes them). */
export const originsMap = (origins) => origins.map((o) => `"${o}" $http_origin;\n`).join('');

/**
 * A whole nginx.conf around the site, everything nginx writes kept in dir.
 * siteFile: the (rendered) site to include.  debian: Debian's own
 * /etc/nginx/nginx.conf (worker_processes auto, worker_connections 768 ...)
 * with only its paths moved into dir; otherwise a small one (1 worker).
 */
export function wrapperConf(dir, siteFile, { debian = false } = {}) {
  const t = (n) => path.join(dir, n);
  const user = process.getuid && process.getuid() === 0 ? 'user root root;' : '';
  const paths = `
  log_format site '$request_method $uri $status "$http_origin"';
  client_body_temp_path ${t('client_body')};
  fastcgi_temp_path ${t('fastcgi_temp')};
  proxy_temp_path ${t('proxy_temp')};
  uwsgi_temp_path ${t('uwsgi_temp')};
  scgi_temp_path ${t('scgi_temp')};`;
  if (debian) {
    let c = readFileSync('/etc/nginx/nginx.conf', 'utf8');
    c = replaceExactly(c, 'user www-data;', user, 1);
    c = replaceExactly(c, 'pid /run/nginx.pid;', `pid ${t('nginx.pid')};`, 1);
    c = replaceExactly(c, 'error_log /var/log/nginx/error.log;', `error_log ${t('error.log')} info;`, 1);
    c = replaceExactly(c, 'include /etc/nginx/modules-enabled/*.conf;', '', 1);
    c = replaceExactly(c, 'access_log /var/log/nginx/access.log;', `${paths}\n  access_log ${t('access.log')} site;`, 1);
    c = replaceExactly(c, 'include /etc/nginx/conf.d/*.conf;', '', 1);
    c = replaceExactly(c, 'include /etc/nginx/sites-enabled/*;', `include ${siteFile};`, 1);
    return `# generated by tests/integration/lib/site.mjs from Debian's nginx.conf\n${c}`;
  }
  return `# generated by tests/integration/lib/site.mjs
${user}
worker_processes 1;
pid ${t('nginx.pid')};
error_log ${t('error.log')} info;
events { worker_connections 256; }
http {
${paths}
  access_log ${t('access.log')} site;
  default_type application/octet-stream;
  include ${siteFile};
}
`;
}

async function fastcgiParams(dir) {
  // Debian's nginx ships /etc/nginx/fastcgi_params; the site includes it
  // by its relative name, which nginx resolves next to nginx.conf.
  const dst = path.join(dir, 'fastcgi_params');
  if (existsSync('/etc/nginx/fastcgi_params')) await copyFile('/etc/nginx/fastcgi_params', dst);
  else throw new Error('/etc/nginx/fastcgi_params is missing: install nginx-light');
}

/**
 * Writes the site, the snippets, the origins map and the wrapper into dir;
 * returns the nginx.conf path.  siteText: the operator's site (default: the
 * source tree's); snippetDir: where http.conf, server.conf, redirect.conf
 * are read (default: etc/nginx/ of the source tree); origins: the allowed
 * origins (written as origins/reboss.map) or originsFile (a map written by
 * rebossctl nginx-origins, copied); debian: Debian's nginx.conf around it;
 * serverEdits: [[from, to], ...] replacements in server.conf (a test's
 * smaller limit or timeout), each found exactly once.
 */
export async function writeSiteConf({ dir, siteText, snippetDir = ETC_NGINX, origins = [], originsFile, debian,
  serverEdits = [], ...opts }) {
  await mkdir(path.join(dir, 'origins'), { recursive: true, mode: 0o755 });
  const texts = { site: siteText ?? await readFile(SITE_SRC, 'utf8') };
  for (const f of SNIPPETS) texts[f.replace('.conf', '')] = await readFile(path.join(snippetDir, f), 'utf8');
  const r = renderSite(texts, { dir, ...opts });
  // serverEdits: [[from, to], ...] in server.conf, each found exactly once
  for (const [from, to] of serverEdits) r.server = replaceExactly(r.server, from, to, 1);
  for (const f of SNIPPETS) await writeFile(path.join(dir, f), r[f.replace('.conf', '')]);
  if (originsFile) await copyFile(originsFile, path.join(dir, 'origins', 'reboss.map'));
  else await writeFile(path.join(dir, 'origins', 'reboss.map'), originsMap(origins));
  const siteFile = path.join(dir, 'reboss-site.conf');
  await writeFile(siteFile, r.site);
  await fastcgiParams(dir);
  const conf = path.join(dir, 'nginx.conf');
  await writeFile(conf, wrapperConf(dir, siteFile, { debian }));
  return conf;
}

/** nginx -t on a conf written by writeSiteConf; returns nginx's output. */
export async function nginxTest(dir, conf) {
  try {
    const r = await run('nginx', ['-t', '-p', dir + '/', '-c', conf, '-e', path.join(dir, 'error.log')]);
    return { ok: true, out: r.stdout + r.stderr };
  } catch (e) {
    return { ok: false, out: (e.stdout || '') + (e.stderr || e.message) };
  }
}

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

/**
 * Starts nginx with the shipped site in dir on free loopback ports.
 * opts as writeSiteConf (without the ports).  Returns { httpsPort, httpPort,
 * url, dir, accessLog(), errorLog(), stop() }.
 */
export async function startSiteNginx(opts) {
  const { dir } = opts;
  let lastErr;
  for (let attempt = 0; attempt < 5; attempt++) {
    const httpPort = await freePort();
    const httpsPort = await freePort();
    const conf = await writeSiteConf({ ...opts, httpPort, httpsPort });
    const outFd = openSync(path.join(dir, 'nginx.stderr'), 'a');
    const child = spawn('nginx', ['-p', dir + '/', '-c', conf, '-e', path.join(dir, 'error.log'),
      '-g', 'daemon off;'], { stdio: ['ignore', outFd, outFd], detached: true });
    closeSync(outFd);
    let exited = null;
    const gone = new Promise((r) => child.on('exit', (code, sig) => { exited = { code, sig }; r(); }));
    const end = Date.now() + 10000;
    let up = false;
    while (Date.now() < end && !exited) {
      if (await portOpen(httpsPort) && await portOpen(httpPort)) { up = true; break; }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!up) {
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      const log = await readFile(path.join(dir, 'nginx.stderr'), 'utf8').catch(() => '') +
        await readFile(path.join(dir, 'error.log'), 'utf8').catch(() => '');
      lastErr = new Error(`nginx with the shipped site did not start: ${log.slice(-2000)}`);
      if (/Address already in use/.test(log)) continue;
      throw lastErr;
    }
    const stop = async () => {
      if (exited) return;
      try { process.kill(-child.pid, 'SIGQUIT'); } catch { return; }
      const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 3000);
      await gone;
      clearTimeout(t);
    };
    return {
      httpPort, httpsPort, url: `https://127.0.0.1:${httpsPort}`, dir, child, stop,
      pid: child.pid,
      accessLog: () => readFile(path.join(dir, 'access.log'), 'utf8').catch(() => ''),
      errorLog: () => readFile(path.join(dir, 'error.log'), 'utf8').catch(() => ''),
      // every file nginx wrote into dir: the shipped access and error logs too
      allLogs: async () => (await Promise.all(['access.log', 'error.log', 'reboss-access.log',
        'reboss-error.log', 'nginx.stderr'].map((f) => readFile(path.join(dir, f), 'utf8').catch(() => '')))).join('\n'),
    };
  }
  throw lastErr;
}
