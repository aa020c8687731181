// CPU of the client side of reading a 256 MiB object from fauxqs in 4 MiB ranged GETs into
// preallocated buffers: the hand-written client (direct-http.ts) against undici (Pool +
// dispatch, onData copying into the caller's buffer). fauxqs runs in a child process so that
// process.cpuUsage() counts the client alone. Usage: node --import tsx scripts/benchmark/http-cpu.ts [runs]
import { fork } from 'node:child_process';
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
  process.send?.({ endpoint: ep.endpoint });
} else {
  const runs = Number(process.argv[2] ?? 5);
  const child = fork(new URL(import.meta.url).pathname, ['--server'], { execArgv: ['--import', 'tsx'] });
  const endpoint = await new Promise<string>((resolve) => child.once('message', (m: { endpoint: string }) => resolve(m.endpoint)));
  const url = new URL(endpoint);
  const slabs = Array.from({ length: PARALLEL }, () => Buffer.allocUnsafe(RANGE));
  const headers = (start: number) => ({ host: url.host, range: `bytes=${start}-${start + RANGE - 1}`, authorization: 'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0' });

  const direct = createDirectHttp({ host: url.hostname, port: Number(url.port), maxSockets: PARALLEL, timeoutMs: 20_000 });
  const readDirect = async (slab: Buffer, start: number) => {
    const response = await direct.get({ path: '/bench/big', headers: headers(start), into: slab, signal: AbortSignal.timeout(20_000) });
    if (response.status !== 206 || response.bodyLength !== RANGE) throw new Error(`direct: ${response.status} ${response.bodyLength}`);
  };

  const pool = new Pool(endpoint, { connections: PARALLEL, pipelining: 1 });
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

  // Warm-up of both, then alternating runs.
  await measure(readDirect);
  await measure(readUndici);
  const results: Record<string, number[]> = { direct: [], undici: [] };
  for (let i = 0; i < runs; i++) {
    for (const [name, read] of [['direct', readDirect], ['undici', readUndici]] as const) {
      const r = await measure(read);
      results[name].push(r.cpu);
      console.log(`${name} run ${i + 1}: cpu ${r.cpu.toFixed(3)} s, wall ${r.wall.toFixed(3)} s`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const name of ['direct', 'undici']) console.log(`${name}: median cpu ${median(results[name]).toFixed(3)} s per 256 MiB (runs: ${results[name].map((x) => x.toFixed(3)).join(', ')})`);
  direct.close();
  await pool.close();
  child.kill();
}
