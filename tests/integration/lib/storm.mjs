// storm.mjs - many clients at once, each on its own new TLS connection with
// one request: the load of issue 17 (1,000 concurrent new TLS clients).
// Used by edge.test.mjs (which asserts only what every answer was, never
// how fast) and bench/edge.mjs (which reports it).
import https from 'node:https';

/**
 * Starts n requests at once against base (https://127.0.0.1:PORT); each
 * resolves to { status, code, retryAfter, json } or { error } (ECONNRESET,
 * EPIPE, timeout ...).  spread: source addresses 127.0.0.2.. so that about
 * `spread` clients share one (nginx limits per client address); 0: all from
 * 127.0.0.1.  Returns { results, byStatus: { "200": n, "ECONNRESET": n } }.
 */
export async function storm(base, { n, ca, path = '/api/health', spread = 0, headers = {}, timeoutMs = 120000 }) {
  const u = new URL(base);
  const one = (i) => new Promise((resolve) => {
    const localAddress = spread > 0 ? `127.0.${Math.floor(i / spread / 250)}.${2 + (Math.floor(i / spread) % 250)}` : undefined;
    const req = https.request({
      host: u.hostname, port: u.port, path, method: 'GET', ca, servername: 'localhost',
      agent: false, localAddress, headers: { Connection: 'close', ...headers }, timeout: timeoutMs,
    }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('error', (e) => resolve({ error: e.code || e.message }));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        let json = null;
        try { json = JSON.parse(body); } catch { /* stays null */ }
        resolve({ status: res.statusCode, code: json?.code, retryAfter: res.headers['retry-after'],
          type: res.headers['content-type'], json, body });
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e) => resolve({ error: e.code || e.message }));
    req.end();
  });
  const results = await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
  const byStatus = {};
  for (const r of results) {
    const k = r.error ?? String(r.status);
    byStatus[k] = (byStatus[k] ?? 0) + 1;
  }
  return { results, byStatus };
}
