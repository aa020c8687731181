// Client CPU of 5,000 HEADs (32 in flight) against fauxqs in a child process, through each
// layer: the store as a mount builds it (retries, deadlines, lean client), the lean client
// alone, and the direct HTTP client with headers signed once (no signing per request).
// Usage: node --import tsx scripts/benchmark/head-cpu.ts [runs]
import { fork } from 'node:child_process';
import pino from 'pino';
import { createDirectHttp } from '../../src/s3/direct-http.js';
import { createLeanClient } from '../../src/s3/lean-client.js';
import { createRequestSigner } from '../../src/s3/request-signer.js';
import { createSdkStore } from '../../src/s3/sdk-store.js';

const COUNT = 5000;
const PARALLEL = 32;
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

if (process.argv[2] === '--server') {
  const { startS3Endpoint } = await import('../local-s3.js');
  const ep = await startS3Endpoint({ bucket: 'bench' });
  for (let i = 0; i < COUNT; i++) ep.putDirect?.(`wide/f${i}`, Buffer.from('x'), { metadata: { mode: '33188', uid: '0', gid: '0', mtime: '1700000000' } });
  process.send?.({ endpoint: ep.endpoint, accessKeyId: ep.accessKeyId, secretAccessKey: ep.secretAccessKey });
} else {
  const runs = Number(process.argv[2] ?? 3);
  const child = fork(new URL(import.meta.url).pathname, ['--server'], { execArgv: ['--import', 'tsx'] });
  const ep = await new Promise<{ endpoint: string; accessKeyId: string; secretAccessKey: string }>((resolve) => child.once('message', resolve));
  Object.assign(credentials, { accessKeyId: ep.accessKeyId, secretAccessKey: ep.secretAccessKey });
  process.env.AWS_ACCESS_KEY_ID = ep.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = ep.secretAccessKey;
  const log = pino({ level: 'silent' });
  const store = createSdkStore({ bucket: 'bench', endpoint: ep.endpoint, forcePathStyle: true, region: 'us-east-1' }, log);
  const lean = createLeanClient(
    { endpoint: ep.endpoint, bucket: 'bench', region: async () => 'us-east-1', credentials: async () => credentials, maxSockets: 64, requestTimeoutMs: 30_000 },
    log,
  );
  const url = new URL(ep.endpoint);
  const direct = createDirectHttp({ host: url.hostname, port: Number(url.port), secure: false, maxSockets: 64, timeoutMs: 30_000 });
  const sign = createRequestSigner({ region: async () => 'us-east-1', credentials: async () => credentials });
  const signed = await sign({ method: 'HEAD', url, path: '/bench/wide/f0' });
  const none = Buffer.alloc(0);
  const ways: Record<string, (i: number) => Promise<unknown>> = {
    store: (i) => store.head(`wide/f${i}`),
    lean: (i) => lean.head(`wide/f${i}`, new AbortController().signal),
    'sign only': (i) => sign({ method: 'HEAD', url, path: `/bench/wide/f${i}` }),
    'direct, signed once': () => direct.get({ method: 'HEAD', path: '/bench/wide/f0', headers: signed, into: none, signal: new AbortController().signal }),
  };
  for (let run = 0; run < runs; run++) {
    for (const [name, way] of Object.entries(ways)) {
      let next = 0;
      const cpu = process.cpuUsage();
      const started = performance.now();
      await Promise.all(
        Array.from({ length: PARALLEL }, async () => {
          while (next < COUNT) await way(next++);
        }),
      );
      const used = process.cpuUsage(cpu);
      const wall = performance.now() - started;
      console.log(
        `${name.padEnd(22)} wall ${wall.toFixed(0).padStart(5)} ms  cpu ${((used.user + used.system) / 1000).toFixed(0).padStart(5)} ms  = ${((used.user + used.system) / COUNT).toFixed(1)} µs/HEAD`,
      );
    }
  }
  store.close();
  lean.close();
  direct.close();
  child.kill();
}
