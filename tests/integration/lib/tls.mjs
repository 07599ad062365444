// tls.mjs - a throwaway certificate authority and a server certificate for
// 127.0.0.1 / localhost, made with the openssl command line, for the nginx
// that the integration harness starts.  Nothing here is trusted anywhere but
// in the curl calls that pass --cacert caFile.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';

const run = promisify(execFile);

async function openssl(args, cwd) {
  try {
    await run('openssl', args, { cwd });
  } catch (e) {
    throw new Error(`openssl ${args[0]} failed: ${e.stderr || e.message}`);
  }
}

/**
 * Creates ca.crt/ca.key and server.crt/server.key (P-256) in dir.
 * Returns { caFile, certFile, keyFile }.
 */
export async function makeTls(dir) {
  const f = (n) => path.join(dir, n);
  await openssl(['req', '-x509', '-newkey', 'ec',
    '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2',
    '-subj', '/CN=ReBoss integration test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  await openssl(['req', '-new', '-newkey', 'ec',
    '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', f('server.key'), '-out', f('server.csr'),
    '-subj', '/CN=localhost'], dir);
  await writeFile(f('server.ext'), [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = serverAuth',
    'subjectAltName = DNS:localhost, IP:127.0.0.1',
    '',
  ].join('\n'));
  await openssl(['x509', '-req', '-in', f('server.csr'),
    '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f('server.crt'), '-days', '2', '-sha256',
    '-extfile', f('server.ext')], dir);
  await chmod(f('ca.key'), 0o600);
  await chmod(f('server.key'), 0o600);
  return { caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key') };
}
