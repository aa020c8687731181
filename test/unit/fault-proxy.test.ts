// The fault proxy the fault tests rely on, against a stub upstream: operation classes, queued
// faults before rules, every-Nth and seeded random rates, delays, holds, down/up on the same port,
// and the multipart bookkeeping. A proxy that faulted the wrong requests would make the
// fault tests prove nothing.

import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';

let upstream: Server;
let proxy: FaultProxy;

test.before(async () => {
  // Answers CreateMultipartUpload with a new UploadId, DELETE with 204, anything else 200 "ok".
  let uploads = 0;
  upstream = createServer((incoming, outgoing) => {
    incoming.resume();
    if (incoming.method === 'POST' && incoming.url?.includes('?uploads')) {
      outgoing.end(`<InitiateMultipartUploadResult><UploadId>upload-${++uploads}</UploadId></InitiateMultipartUploadResult>`);
    } else {
      outgoing.writeHead(incoming.method === 'DELETE' ? 204 : 200);
      outgoing.end(incoming.method === 'DELETE' ? undefined : 'ok');
    }
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  proxy = await startFaultProxy(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
});

// A failing test must not leave its faults to the next one.
test.afterEach.always(() => proxy.clear());

test.after.always(async () => {
  await proxy?.stop();
  await new Promise((resolve) => upstream?.close(resolve));
});

/** One request through the proxy: its status, or 'error' when the connection failed. */
function send(method: string, path: string, headers: Record<string, string> = {}): Promise<number | 'error'> {
  return new Promise((resolve) => {
    const outgoing = request(`${proxy.url}${path}`, { method, headers, agent: false }, (answer) => {
      answer.resume();
      answer.on('end', () => resolve(answer.statusCode ?? 0));
      answer.on('error', () => resolve('error'));
    });
    outgoing.on('error', () => resolve('error'));
    outgoing.end();
  });
}

const ranged = { range: 'bytes=0-1' };
const FAIL = { kind: 'status', status: 500, code: 'InternalError' } as const;

test.serial('requests are classed by what they do', async (t) => {
  const from = proxy.log().length;
  await send('GET', '/b/key', ranged);
  await send('GET', '/b?list-type=2&prefix=a%2F');
  await send('HEAD', '/b/key');
  await send('PUT', '/b/key');
  await send('PUT', '/b/key?partNumber=1&uploadId=u');
  await send('PUT', '/b/key', { 'x-amz-copy-source': 'b/other' });
  await send('POST', '/b/key?uploads');
  await send('POST', '/b/key?uploadId=u');
  await send('DELETE', '/b/key?uploadId=u');
  await send('GET', '/b/key');
  t.deepEqual(
    proxy
      .log()
      .slice(from)
      .map((r) => r.operation),
    ['read', 'list', 'head', 'write', 'write', 'copy', 'multipart', 'multipart', 'delete', 'other'],
  );
  t.deepEqual(proxy.log()[from + 1].query, { 'list-type': '2', prefix: 'a/' });
});

test.serial('queued faults come first and in order, then the rule; other classes are untouched', async (t) => {
  proxy.queue('read', { kind: 'status', status: 503, code: 'SlowDown' }, { kind: 'reset' });
  proxy.inject('read', FAIL, { every: 2 });
  const statuses = [];
  for (let i = 0; i < 6; i++) statuses.push(await send('GET', '/b/key', ranged));
  t.deepEqual(statuses, [503, 'error', 200, 500, 200, 500]);
  t.is(await send('HEAD', '/b/key'), 200);
  proxy.clear();
  t.is(await send('GET', '/b/key', ranged), 200);
});

test.serial('a seeded random fraction faults the same requests every run', async (t) => {
  const pattern = async () => {
    proxy.inject('list', FAIL, { fraction: 0.3, seed: 42 });
    const statuses = [];
    for (let i = 0; i < 40; i++) statuses.push(await send('GET', '/b?list-type=2'));
    proxy.clear('list');
    return statuses;
  };
  const first = await pattern();
  t.deepEqual(await pattern(), first);
  const faulted = first.filter((status) => status === 500).length;
  t.true(faulted > 0 && faulted < 40, `${faulted} of 40 faulted`);
});

test.serial('a delay holds the request, then forwards it', async (t) => {
  proxy.inject('head', { kind: 'delay', ms: 1000 });
  const finished: string[] = [];
  const held = send('HEAD', '/b/key').then((status) => finished.push(`head ${status}`));
  const passing = send('GET', '/b/key', ranged).then((status) => finished.push(`get ${status}`));
  await Promise.all([held, passing]);
  proxy.clear('head');
  t.deepEqual(finished, ['get 200', 'head 200'], 'the HEAD sent first was answered last');
});

test.serial('a hold keeps requests until released, and counts them', async (t) => {
  proxy.inject('write', { kind: 'hold' });
  const writes = [send('PUT', '/b/one'), send('PUT', '/b/two')];
  t.is(await send('GET', '/b/key', ranged), 200, 'other classes pass');
  while (proxy.held('write') < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  t.is(proxy.held('write'), 2);
  proxy.clear('write');
  proxy.release('write');
  t.is(proxy.held('write'), 0);
  t.deepEqual(await Promise.all(writes), [200, 200]);
});

test.serial('down refuses connections, up serves again on the same port', async (t) => {
  await proxy.down();
  t.is(await send('GET', '/b/key', ranged), 'error');
  await proxy.up();
  t.is(await send('GET', '/b/key', ranged), 200);
});

test.serial('multipart uploads neither completed nor aborted are reported', async (t) => {
  proxy.clear();
  const before = new Set(proxy.unfinishedUploads());
  const fresh = () => proxy.unfinishedUploads().filter((id) => !before.has(id));
  t.is(await send('POST', '/b/key?uploads'), 200);
  const [id] = fresh();
  t.regex(id, /^upload-\d+$/, 'the UploadId is read from the answer');
  proxy.queue('delete', FAIL);
  t.is(await send('DELETE', `/b/key?uploadId=${id}`), 500);
  t.deepEqual(fresh(), [id], 'a failed abort leaves the parts');
  t.is(await send('DELETE', `/b/key?uploadId=${id}`), 204);
  t.deepEqual(fresh(), []);
  t.is(await send('POST', '/b/key?uploads'), 200);
  const [completed] = fresh();
  t.is(await send('POST', `/b/key?uploadId=${completed}`), 200);
  t.deepEqual(fresh(), [], 'a completed upload is finished');
});
