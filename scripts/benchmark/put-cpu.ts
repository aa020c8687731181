// CPU of the client side of small PUTs (4 KiB each, with s3fs metadata and a Content-Type, as
// the mount uploads a small file) against fauxqs: through the SDK store (PutObjectCommand, what
// the mount does) and through a plain signed request (the SDK's SigV4 signer and node:http, as
// lean-client.ts sends its LISTs). fauxqs runs in a child process, so that process.cpuUsage()
// counts the client alone. It answers whether the SDK's per-request cost matters for small
// uploads, as it did for small GETs.
// Usage: node --import tsx scripts/benchmark/put-cpu.ts [count] [runs]

import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { silentLogger } from '../../src/log.js';
import { createRequestSigner, encodeKeyPath } from '../../src/s3/request-signer.js';
import { createSdkStore } from '../../src/s3/sdk-store.js';

const SIZE = 4096;
const IN_FLIGHT = 16;

if (process.argv[2] === '--server') {
  const { startS3Endpoint } = await import('../local-s3.js');
  const ep = await startS3Endpoint({ bucket: 'bench' });
  process.send?.({ endpoint: ep.endpoint });
} else {
  const count = Number(process.argv[2] ?? 2000);
  const runs = Number(process.argv[3] ?? 5);
  const child = fork(new URL(import.meta.url).pathname, ['--server'], { execArgv: ['--import', 'tsx'] });
  const endpoint = await new Promise<string>((resolve) => child.once('message', (m: { endpoint: string }) => resolve(m.endpoint)));
  const url = new URL(endpoint);
  process.env.AWS_ACCESS_KEY_ID = 'test';
  process.env.AWS_SECRET_ACCESS_KEY = 'test';
  const body = Buffer.alloc(SIZE, 'x');
  const metadata = { mode: '33188', uid: '0', gid: '0', atime: '1700000000.123', mtime: '1700000000.123', ctime: '1700000000.123' };
  const contentType = 'text/plain';

  const store = createSdkStore({ bucket: 'bench', endpoint, forcePathStyle: true, region: 'us-east-1' }, silentLogger());
  const sdkPut = async (key: string) => {
    await store.put(key, body, { metadata, contentType });
  };

  // What a lean PUT would be: the same signer as lean GETs, the payload's SHA-256 signed, node:http.
  const sign = createRequestSigner({ region: async () => 'us-east-1', credentials: async () => ({ accessKeyId: 'test', secretAccessKey: 'test' }) });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const leanPut = async (key: string) => {
    const path = `/bench/${encodeKeyPath(key)}`;
    const headers: Record<string, string> = { 'content-type': contentType, 'content-length': String(body.length) };
    for (const [name, value] of Object.entries(metadata)) headers[`x-amz-meta-${name}`] = value;
    const signed = await sign({ method: 'GET', url, path, headers: { ...headers, 'x-amz-content-sha256': createHash('sha256').update(body).digest('hex') } });
    await new Promise<void>((resolve, reject) => {
      const request = http.request({ agent, method: 'PUT', hostname: url.hostname, port: url.port, path, headers: signed }, (response) => {
        response.resume();
        response.on('end', () => (response.statusCode === 200 && response.headers.etag ? resolve() : reject(new Error(`PUT ${response.statusCode}`))));
      });
      request.on('error', reject);
      request.end(body);
    });
  };

  async function measure(put: (key: string) => Promise<void>, inFlight: number, run: number): Promise<{ cpuMs: number; wallS: number }> {
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < count) await put(`run${run}/f${next++}`);
      }),
    );
    const cpu = process.cpuUsage(cpu0);
    return { cpuMs: (cpu.user + cpu.system) / 1000 / count, wallS: (performance.now() - wall0) / 1000 };
  }

  const clients = [
    ['SDK PutObject', sdkPut],
    ['plain signed PUT', leanPut],
  ] as const;
  for (const [, put] of clients) await measure(put, IN_FLIGHT, -1); // warm-up
  console.log(`${count} PUTs of ${SIZE} bytes with metadata, client CPU per request (ms) and wall time (s), ${runs} runs`);
  for (const inFlight of [1, IN_FLIGHT]) {
    for (const [name, put] of clients) {
      const cpu: number[] = [];
      const wall: number[] = [];
      for (let run = 0; run < runs; run++) {
        const result = await measure(put, inFlight, run);
        cpu.push(result.cpuMs);
        wall.push(result.wallS);
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      console.log(
        `${name}, ${inFlight} in flight: CPU ${median(cpu).toFixed(3)} ms per PUT (runs ${cpu.map((x) => x.toFixed(3)).join(', ')}), wall ${median(wall).toFixed(2)} s`,
      );
    }
  }
  store.close();
  agent.destroy();
  child.kill();
}
