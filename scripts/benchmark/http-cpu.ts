// CPU of the client side of reading a 256 MiB object from fauxqs in 4 MiB ranged GETs (4 in
// flight) into preallocated buffers: the hand-written client (direct-http.ts) against undici
// (Pool + dispatch, onData copying into the caller's buffer) and node:http(s) (chunks copied
// into the buffer, as lean-client.ts's fallback reads). fauxqs (and, with --tls, a
// TLS-terminating proxy in front of it) runs in a child process, so that process.cpuUsage()
// counts the client alone.
// Usage: node --import tsx scripts/benchmark/http-cpu.ts [runs] [--tls]
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { Pool } from 'undici';
import { createDirectHttp } from '../../src/s3/direct-http.js';

const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
const RANGE = 4 * MiB;
const PARALLEL = 4;

if (process.argv[2] === '--server') {
  const { startS3Endpoint } = await import('../local-s3.js');
  const ep = await startS3Endpoint({ bucket: 'bench' });
  const body = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i += 4096) body[i] = i & 0xff;
  ep.putDirect?.('big', body);
  let endpoint = ep.endpoint;
  const certDir = process.argv[3];
  if (certDir) {
    const upstream = new URL(ep.endpoint);
    const proxy = tls.createServer({ key: readFileSync(join(certDir, 'key.pem')), cert: readFileSync(join(certDir, 'cert.pem')) }, (secure) => {
      const plain = net.connect({ host: upstream.hostname, port: Number(upstream.port) });
      secure.pipe(plain).pipe(secure);
      secure.on('error', () => plain.destroy());
      plain.on('error', () => secure.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    endpoint = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  }
  process.send?.({ endpoint });
} else {
  const runs = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 5);
  const secure = process.argv.includes('--tls');
  let ca: Buffer | undefined;
  let certDir: string | undefined;
  if (secure) {
    certDir = mkdtempSync(join(tmpdir(), 's3mount-bench-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(certDir, 'key.pem'),
        '-out',
        join(certDir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    ca = readFileSync(join(certDir, 'cert.pem'));
  }
  const child = fork(new URL(import.meta.url).pathname, ['--server', ...(certDir ? [certDir] : [])], { execArgv: ['--import', 'tsx'] });
  const endpoint = await new Promise<string>((resolve) => child.once('message', (m: { endpoint: string }) => resolve(m.endpoint)));
  const url = new URL(endpoint);
  const slabs = Array.from({ length: PARALLEL }, () => Buffer.allocUnsafe(RANGE));
  const headers = (start: number) => ({
    host: url.host,
    range: `bytes=${start}-${start + RANGE - 1}`,
    authorization: 'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0',
  });

  const direct = createDirectHttp({ host: url.hostname, port: Number(url.port), secure, ca, maxSockets: PARALLEL, timeoutMs: 20_000 });
  const readDirect = async (slab: Buffer, start: number) => {
    const response = await direct.get({ path: '/bench/big', headers: headers(start), into: slab, signal: AbortSignal.timeout(20_000) });
    if (response.status !== 206 || response.bodyLength !== RANGE) throw new Error(`direct: ${response.status} ${response.bodyLength}`);
  };

  const pool = new Pool(endpoint, { connections: PARALLEL, pipelining: 1, connect: ca ? { ca } : undefined });
  const readUndici = (slab: Buffer, start: number) =>
    new Promise<void>((resolve, reject) => {
      let status = 0;
      let filled = 0;
      pool.dispatch(
        { method: 'GET', path: '/bench/big', headers: headers(start) },
        {
          onConnect() {},
          onHeaders(statusCode) {
            status = statusCode;
            return true;
          },
          onData(chunk: Buffer) {
            chunk.copy(slab, filled);
            filled += chunk.length;
            return true;
          },
          onComplete() {
            if (status !== 206 || filled !== RANGE) reject(new Error(`undici: ${status} ${filled}`));
            else resolve();
          },
          onError: reject,
        },
      );
    });

  const agent = secure ? new https.Agent({ keepAlive: true, maxSockets: PARALLEL, ca }) : new http.Agent({ keepAlive: true, maxSockets: PARALLEL });
  const readNode = (slab: Buffer, start: number) =>
    new Promise<void>((resolve, reject) => {
      const request = (secure ? https : http).request(
        { agent, hostname: url.hostname, port: url.port, path: '/bench/big', headers: headers(start) },
        (response) => {
          let filled = 0;
          response.on('data', (chunk: Buffer) => {
            chunk.copy(slab, filled);
            filled += chunk.length;
          });
          response.on('end', () => (response.statusCode === 206 && filled === RANGE ? resolve() : reject(new Error(`node: ${response.statusCode} ${filled}`))));
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end();
    });

  async function measure(read: (slab: Buffer, start: number) => Promise<void>): Promise<{ cpu: number; wall: number }> {
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    let next = 0;
    await Promise.all(
      slabs.map(async (slab) => {
        while (next < SIZE) {
          const start = next;
          next += RANGE;
          await read(slab, start);
        }
      }),
    );
    const cpu = process.cpuUsage(cpu0);
    return { cpu: (cpu.user + cpu.system) / 1e6, wall: (performance.now() - wall0) / 1000 };
  }

  const clients = [
    ['direct', readDirect],
    ['undici', readUndici],
    [secure ? 'node:https' : 'node:http', readNode],
  ] as const;
  for (const [, read] of clients) await measure(read); // warm-up
  const results = new Map<string, number[]>(clients.map(([name]) => [name, []]));
  for (let i = 0; i < runs; i++) {
    for (const [name, read] of clients) {
      const r = await measure(read);
      results.get(name)?.push(r.cpu);
      console.log(`${name} run ${i + 1}: cpu ${r.cpu.toFixed(3)} s, wall ${r.wall.toFixed(3)} s`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`\n${secure ? 'https' : 'http'}: client CPU per 256 MiB (4 MiB ranges, ${PARALLEL} in flight), ${runs} runs`);
  for (const [name, cpu] of results) console.log(`${name}: median ${median(cpu).toFixed(3)} s (runs: ${cpu.map((x) => x.toFixed(3)).join(', ')})`);
  direct.close();
  agent.destroy();
  await pool.close();
  child.kill();
}
