// The zero-copy GET client against a raw TCP server that answers exactly as each test
// scripts it: bodies in odd pieces, keep-alive reuse, error answers, unsupported framing,
// connections lost at every point, silence and aborts.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net, { type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import test from 'ava';
import { createDirectHttp, type DirectHttpClient, decodeChunked, parseHeaderLines, UnsupportedFramingError } from '../../src/s3/direct-http.js';

type Answer = (socket: Socket, request: string, connection: number) => void;

interface ScriptedServer {
  port: number;
  /** Requests received, with the connection each came on (1, 2, …). */
  requests: Array<{ head: string; connection: number }>;
  connections(): number;
  close(): Promise<void>;
}

async function scriptedServer(answer: Answer, secure?: { key: Buffer; cert: Buffer }): Promise<ScriptedServer> {
  const requests: ScriptedServer['requests'] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const onConnection = (socket: Socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let pending = '';
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1');
      let end: number;
      while ((end = pending.indexOf('\r\n\r\n')) >= 0) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        requests.push({ head, connection });
        answer(socket, head, connection);
      }
    });
    socket.on('error', () => undefined);
  };
  const server = secure ? tls.createServer(secure, onConnection) : net.createServer(onConnection);
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    connections: () => connections,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function client(port: number, options: { maxSockets?: number; timeoutMs?: number } = {}): DirectHttpClient {
  return createDirectHttp({ host: '127.0.0.1', port, maxSockets: options.maxSockets ?? 4, timeoutMs: options.timeoutMs ?? 5_000 });
}

const get = (http: DirectHttpClient, path: string, size: number, signal = AbortSignal.timeout(10_000)) =>
  http.get({ path, headers: { host: 'test', 'x-test': 'yes' }, into: Buffer.alloc(size), signal }).then((response) => ({ response, into: response }));

const pattern = (size: number, seed = 0) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 31 + seed) & 0xff));

test("a body arriving in odd pieces lands whole in the caller's buffer; the socket is kept alive", async (t) => {
  const body = pattern(300_000);
  const server = await scriptedServer((socket) => {
    const whole = Buffer.concat([
      Buffer.from(`HTTP/1.1 206 Partial Content\r\nContent-Length: ${body.length}\r\nContent-Range: bytes 0-${body.length - 1}/999999\r\n\r\n`),
      body,
    ]);
    // The head split in two and the body in uneven slices, some of it with the head.
    let at = 0;
    for (const size of [10, 90, 7_000, 1, 65_536, 100_000]) {
      socket.write(whole.subarray(at, at + size));
      at += size;
    }
    socket.write(whole.subarray(at));
  });
  t.teardown(() => server.close());
  const http = client(server.port);
  t.teardown(() => http.close());
  for (let round = 0; round < 3; round++) {
    const into = Buffer.alloc(body.length);
    const response = await http.get({ path: '/b/k', headers: { host: 'test' }, into, signal: AbortSignal.timeout(10_000) });
    t.is(response.status, 206);
    t.is(response.bodyLength, body.length);
    t.is(response.headers['content-range'], `bytes 0-${body.length - 1}/999999`);
    t.true(into.equals(body), `round ${round}: bytes exact`);
  }
  t.is(server.connections(), 1, 'one connection for three requests');
  t.regex(server.requests[0].head, /^GET \/b\/k HTTP\/1\.1\r\nhost: test$/);
});

test('an error answer keeps its body text and the connection', async (t) => {
  const xml = '<?xml version="1.0"?><Error><Code>NoSuchKey</Code><Message>gone</Message></Error>';
  const server = await scriptedServer((socket, head) => {
    if (head.includes('/missing')) socket.write(`HTTP/1.1 404 Not Found\r\nContent-Length: ${xml.length}\r\n\r\n${xml}`);
    else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  t.teardown(() => server.close());
  const http = client(server.port);
  t.teardown(() => http.close());
  const { response } = await get(http, '/b/missing', 10);
  t.is(response.status, 404);
  t.is(response.errorBody, xml);
  t.is(response.bodyLength, 0);
  const { response: next } = await get(http, '/b/ok', 2);
  t.is(next.status, 200);
  t.is(server.connections(), 1);
});

test('an error answer framed by the close is read to the end; a chunked success is refused for the caller to fall back', async (t) => {
  const server = await scriptedServer((socket, head) => {
    if (head.includes('/error')) socket.end('HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\n<Error><Code>InternalError</Code></Error>');
    else socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n');
  });
  t.teardown(() => server.close());
  const http = client(server.port);
  t.teardown(() => http.close());
  const { response } = await get(http, '/b/error', 10);
  t.is(response.status, 500);
  t.is(response.errorBody, '<Error><Code>InternalError</Code></Error>');
  await t.throwsAsync(get(http, '/b/chunked', 10), { instanceOf: UnsupportedFramingError });
});

test('a connection lost mid-body fails the request; it is not mistaken for a whole body', async (t) => {
  const server = await scriptedServer((socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
    socket.write(pattern(400));
    setTimeout(() => socket.destroy(), 20);
  });
  t.teardown(() => server.close());
  const http = client(server.port);
  t.teardown(() => http.close());
  const error = await t.throwsAsync(get(http, '/b/k', 1000));
  t.is((error as { code?: string }).code, 'ECONNRESET');
});

test('a kept-alive socket the server drops as a request arrives is replaced without failing the request', async (t) => {
  let onFirst = 0;
  const server = await scriptedServer((socket, _head, connection) => {
    // The first connection answers once, then drops the next request on it unanswered, as a
    // server closing an idle connection at that very moment does.
    if (connection === 1 && ++onFirst > 1) return void socket.destroy();
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${connection}`);
  });
  t.teardown(() => server.close());
  const http = client(server.port);
  t.teardown(() => http.close());
  const first = Buffer.alloc(1);
  await http.get({ path: '/b/1', headers: { host: 'test' }, into: first, signal: AbortSignal.timeout(5_000) });
  t.is(first.toString(), '1');
  const second = Buffer.alloc(1);
  await http.get({ path: '/b/2', headers: { host: 'test' }, into: second, signal: AbortSignal.timeout(5_000) });
  t.is(second.toString(), '2', 'sent again on a second connection');
  t.deepEqual(
    server.requests.map((r) => r.connection),
    [1, 1, 2],
  );
});

test('a request that already had part of its answer is not sent again', async (t) => {
  let onFirst = 0;
  const server = await scriptedServer((socket, _head, connection) => {
    // The first connection answers once, then cuts its second answer after the head; any
    // other connection would answer whole.
    if (connection === 1 && ++onFirst > 1) {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12');
      return void setTimeout(() => socket.destroy(), 10);
    }
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789');
  });
  t.teardown(() => server.close());
  const http = client(server.port);
  t.teardown(() => http.close());
  await http.get({ path: '/b/1', headers: { host: 'test' }, into: Buffer.alloc(10), signal: AbortSignal.timeout(5_000) });
  const error = await t.throwsAsync(http.get({ path: '/b/2', headers: { host: 'test' }, into: Buffer.alloc(10), signal: AbortSignal.timeout(5_000) }));
  t.is((error as { code?: string }).code, 'ECONNRESET');
  t.is(server.connections(), 1, 'not sent again: the caller, which knows its retry budget, decides');
});

test('silence is a timeout and an abort ends the request at once', async (t) => {
  const server = await scriptedServer(() => undefined);
  t.teardown(() => server.close());
  const http = client(server.port, { timeoutMs: 200 });
  t.teardown(() => http.close());
  const timedOut = await t.throwsAsync(get(http, '/b/k', 1));
  t.is((timedOut as { code?: string }).code, 'ETIMEDOUT');
  const controller = new AbortController();
  const pending = get(http, '/b/k', 1, controller.signal);
  setTimeout(() => controller.abort(new Error('caller gave up')), 20);
  await t.throwsAsync(pending, { message: 'caller gave up' });
});

test('requests beyond maxSockets wait for a free socket; a 100 Continue is skipped', async (t) => {
  let inFlight = 0;
  let most = 0;
  const server = await scriptedServer((socket, head) => {
    inFlight++;
    most = Math.max(most, inFlight);
    const name = /GET \/b\/(\w+)/.exec(head)?.[1] ?? '?';
    setTimeout(() => {
      inFlight--;
      socket.write(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: ${name.length}\r\n\r\n${name}`);
    }, 20);
  });
  t.teardown(() => server.close());
  const http = client(server.port, { maxSockets: 2 });
  t.teardown(() => http.close());
  const names = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
  const bodies = await Promise.all(
    names.map(async (name) => {
      const into = Buffer.alloc(name.length);
      await http.get({ path: `/b/${name}`, headers: { host: 'test' }, into, signal: AbortSignal.timeout(5_000) });
      return into.toString();
    }),
  );
  t.deepEqual(bodies, names);
  t.is(most, 2);
  t.is(server.connections(), 2);
});

test('a body longer than the buffer is refused', async (t) => {
  const server = await scriptedServer((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789'));
  t.teardown(() => server.close());
  const http = client(server.port);
  t.teardown(() => http.close());
  const error = await t.throwsAsync(get(http, '/b/k', 4));
  t.is((error as { code?: string }).code, 'EPROTO');
});

test('an error answer in chunks is read to its last chunk and the connection kept: no wait for a close', async (t) => {
  const xml = '<Error><Code>SlowDown</Code><Message>reduce your rate</Message></Error>';
  const server = await scriptedServer((socket, head) => {
    if (head.includes('/slow')) {
      // As Node's servers answer without a length: in chunks, the connection kept open.
      socket.write(`HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n${xml.length.toString(16)}\r\n${xml.slice(0, 20)}`);
      setTimeout(() => socket.write(`${xml.slice(20)}\r\n0\r\n\r\n`), 10);
    } else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  t.teardown(() => server.close());
  // A silence of 5 s would be a timeout: the answer must come well before.
  const http = client(server.port, { timeoutMs: 5_000 });
  t.teardown(() => http.close());
  const { response } = await get(http, '/b/slow', 10);
  t.is(response.status, 503);
  t.is(response.errorBody, xml);
  const { response: next } = await get(http, '/b/ok', 2);
  t.is(next.status, 200);
  t.is(server.connections(), 1, 'the same connection served the next request');
});

test('chunked bodies are decoded once complete, trailers included', (t) => {
  t.deepEqual(decodeChunked(Buffer.from('3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: y\r\n\r\n')), { body: Buffer.from('abcde'), consumed: 40 });
  t.is(decodeChunked(Buffer.from('3\r\nabc\r\n0\r\n')), undefined, 'the final empty line is missing');
  t.is(decodeChunked(Buffer.from('5\r\nabc')), undefined, 'a chunk cut short');
  t.is(decodeChunked(Buffer.from('zz\r\n')), undefined, 'not a size');
  t.is(decodeChunked(Buffer.from('0\r\n\r\nextra'))?.consumed, 5);
});

test('interim answers other than 100 (103 Early Hints, 102) are skipped, whole or in pieces; 101 is refused', async (t) => {
  const server = await scriptedServer((socket, head) => {
    if (head.includes('/switch')) return void socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n');
    // As a proxy that sends early hints before every answer: one write, then the final answer in pieces.
    socket.write('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n');
    // Chained: timers of different durations may fire out of order on a busy loop.
    setTimeout(() => {
      socket.write('HTTP/1.1 103 Early Hints\r\nLink: </a.js>; rel=preload\r\n\r\nHTTP/1.1 206 Partial');
      setTimeout(() => socket.write(' Content\r\nContent-Length: 4\r\nContent-Range: bytes 0-3/4\r\n\r\ndata'), 5);
    }, 5);
  });
  t.teardown(() => server.close());
  const http = client(server.port, { timeoutMs: 5_000 });
  t.teardown(() => http.close());
  for (let round = 0; round < 2; round++) {
    const into = Buffer.alloc(4);
    const response = await http.get({ path: '/b/k', headers: { host: 'test' }, into, signal: AbortSignal.timeout(10_000) });
    t.is(response.status, 206);
    t.is(response.headers['content-range'], 'bytes 0-3/4');
    t.is(into.toString(), 'data');
  }
  t.is(server.connections(), 1, 'the connection stays usable after interim answers');
  const error = await t.throwsAsync(get(http, '/b/switch', 4));
  t.is((error as { code?: string }).code, 'EPROTO');
});

test('a server that sends nothing but interim answers is a protocol error, not an endless wait', async (t) => {
  const server = await scriptedServer((socket) =>
    socket.write(`${'HTTP/1.1 103 Early Hints\r\n\r\n'.repeat(17)}HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok`),
  );
  t.teardown(() => server.close());
  const http = client(server.port);
  t.teardown(() => http.close());
  const error = await t.throwsAsync(get(http, '/b/k', 2));
  t.is((error as { code?: string }).code, 'EPROTO');
});

test('a request aborted while it waits for a free socket is rejected at once, not when a socket frees', async (t) => {
  // The server never answers: the first request holds the only socket until its own signal ends it.
  const server = await scriptedServer(() => undefined);
  t.teardown(() => server.close());
  const http = client(server.port, { maxSockets: 1, timeoutMs: 60_000 });
  t.teardown(() => http.close());
  const firstController = new AbortController();
  let firstSettled = false;
  const first = get(http, '/b/first', 1, firstController.signal).finally(() => {
    firstSettled = true;
  });
  first.catch(() => undefined);
  const controller = new AbortController();
  const second = get(http, '/b/second', 1, controller.signal);
  // Without the fix, the first request's end is what would free the waiter: make it end, later.
  const releaseFirst = setTimeout(() => firstController.abort(new Error('first ended')), 2_000);
  t.teardown(() => clearTimeout(releaseFirst));
  controller.abort(new Error('caller gave up'));
  await t.throwsAsync(second, { message: 'caller gave up' });
  t.false(firstSettled, 'rejected while the socket was still busy');
  firstController.abort(new Error('first ended'));
  await t.throwsAsync(first, { message: 'first ended' });
  t.false(
    server.requests.some((r) => r.head.includes('/b/second')),
    'the aborted request was never sent',
  );
  // An already aborted signal is rejected without waiting either.
  const held = get(http, '/b/third', 1, AbortSignal.timeout(60_000));
  held.catch(() => undefined);
  await t.throwsAsync(get(http, '/b/fourth', 1, AbortSignal.abort(new Error('already'))), { message: 'already' });
});

test('header names and values that would break the request line are refused before anything is sent', async (t) => {
  const server = await scriptedServer((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
  t.teardown(() => server.close());
  const http = client(server.port);
  t.teardown(() => http.close());
  const send = (headers: Record<string, string>, path = '/b/k') =>
    http.get({ path, headers: { host: 'test', ...headers }, into: Buffer.alloc(2), signal: AbortSignal.timeout(5_000) });
  // An ETag from a listing carrying CR/LF, used as If-Match.
  const injected = await t.throwsAsync(send({ 'if-match': '"abc"\r\nx-injected: 1' }));
  t.is((injected as { code?: string }).code, 'ERR_INVALID_CHAR');
  t.true(injected instanceof TypeError, 'a programming error, never retried as a network one');
  t.is(((await t.throwsAsync(send({ 'if-match': 'a\nb' }))) as { code?: string }).code, 'ERR_INVALID_CHAR');
  t.is(((await t.throwsAsync(send({ 'if-match': 'a\0b' }))) as { code?: string }).code, 'ERR_INVALID_CHAR');
  t.is(((await t.throwsAsync(send({ 'bad name': 'x' }))) as { code?: string }).code, 'ERR_INVALID_HTTP_TOKEN');
  t.is(((await t.throwsAsync(send({}, '/b/a b\r\nx: y'))) as { code?: string }).code, 'ERR_UNESCAPED_CHARACTERS');
  t.is(server.requests.length, 0, 'nothing reached the wire');
  const response = await send({ 'if-match': '"abc"', 'x-amz-meta-latin': 'caf\xe9\tok' });
  t.is(response.status, 200);
});

test('conflicting Content-Length headers and a space before the colon are protocol errors; a repeated equal length is not', async (t) => {
  const answers: Record<string, string> = {
    twice: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\nhello',
    list: 'HTTP/1.1 200 OK\r\nContent-Length: 2, 5\r\n\r\nhello',
    space: 'HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello',
    folded: 'HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 5\r\n\r\nhello',
    nocolon: 'HTTP/1.1 200 OK\r\nContent-Length 5\r\n\r\nhello',
    signed: 'HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello',
    same: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello',
  };
  const server = await scriptedServer((socket, head) => socket.write(answers[/GET \/b\/(\w+)/.exec(head)?.[1] ?? ''] ?? ''));
  t.teardown(() => server.close());
  const http = client(server.port);
  t.teardown(() => http.close());
  for (const name of ['twice', 'list', 'space', 'folded', 'nocolon', 'signed']) {
    const error = await t.throwsAsync(get(http, `/b/${name}`, 8), undefined, name);
    t.is((error as { code?: string }).code, 'EPROTO', name);
  }
  const into = Buffer.alloc(5);
  const response = await http.get({ path: '/b/same', headers: { host: 'test' }, into, signal: AbortSignal.timeout(5_000) });
  t.is(response.bodyLength, 5);
  t.is(into.toString(), 'hello');
});

test('an HTTP/1.0 answer closes the connection unless it says keep-alive', async (t) => {
  const server = await scriptedServer((socket, head) => {
    // The server leaves the socket open either way: only the client's reading decides.
    if (head.includes('/keep')) socket.write('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok');
    else socket.write('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  t.teardown(() => server.close());
  const http = client(server.port);
  t.teardown(() => http.close());
  await get(http, '/b/old', 2);
  await get(http, '/b/old', 2);
  t.is(server.connections(), 2, 'a new connection for each HTTP/1.0 answer');
  await get(http, '/b/keep', 2);
  await get(http, '/b/keep', 2);
  t.is(server.connections(), 3, 'HTTP/1.0 with keep-alive keeps its connection');
});

test("over TLS: bodies land in the caller's buffer on a kept-alive connection; the certificate is checked", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 's3mount-direct-tls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  const key = await readFile(join(dir, 'key.pem'));
  const cert = await readFile(join(dir, 'cert.pem'));
  const body = pattern(200_000, 3);
  const server = await scriptedServer(
    (socket) => {
      socket.write(`HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 206 Partial Content\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.write(body);
    },
    { key, cert },
  );
  t.teardown(() => server.close());
  const https = createDirectHttp({ host: '127.0.0.1', port: server.port, secure: true, ca: cert, maxSockets: 2, timeoutMs: 5_000 });
  t.teardown(() => https.close());
  for (let round = 0; round < 3; round++) {
    const into = Buffer.alloc(body.length);
    const response = await https.get({ path: '/b/k', headers: { host: 'test' }, into, signal: AbortSignal.timeout(10_000) });
    t.is(response.status, 206);
    t.true(into.equals(body), `round ${round}`);
  }
  t.is(server.connections(), 1);
  // Node's own CAs do not know this certificate.
  const untrusted = createDirectHttp({ host: '127.0.0.1', port: server.port, secure: true, maxSockets: 1, timeoutMs: 5_000 });
  t.teardown(() => untrusted.close());
  const error = await t.throwsAsync(
    untrusted.get({ path: '/b/k', headers: { host: 'test' }, into: Buffer.alloc(body.length), signal: AbortSignal.timeout(10_000) }),
  );
  t.regex(String((error as { code?: string }).code), /SELF_SIGNED|UNABLE_TO_VERIFY/);
});

test('a HEAD answer ends with its head, whatever its Content-Length; the socket is kept alive for the next request', async (t) => {
  const server = await scriptedServer((socket, head) => {
    const missing = head.includes('/missing');
    socket.write(`HTTP/1.1 ${missing ? '404 Not Found' : '200 OK'}\r\nContent-Length: 12345\r\nETag: "e"\r\nx-amz-meta-mode: 33188\r\n\r\n`);
  });
  const http = client(server.port, { maxSockets: 1 });
  const found = await http.get({ method: 'HEAD', path: '/bucket/key', headers: { host: 'test' }, into: Buffer.alloc(0), signal: AbortSignal.timeout(5_000) });
  t.is(found.status, 200);
  t.is(found.headers['content-length'], '12345');
  t.is(found.headers['x-amz-meta-mode'], '33188');
  t.is(found.bodyLength, 0);
  const missing = await http.get({
    method: 'HEAD',
    path: '/bucket/missing',
    headers: { host: 'test' },
    into: Buffer.alloc(0),
    signal: AbortSignal.timeout(5_000),
  });
  t.is(missing.status, 404);
  t.true(server.requests[0].head.startsWith('HEAD /bucket/key HTTP/1.1'));
  t.is(server.connections(), 1, 'one socket for both');
  http.close();
  await server.close();
});

test('header values lose the spaces and tabs around them, keep those inside, and repeated names join', (t) => {
  t.deepEqual(parseHeaderLines(['HTTP/1.1 200 OK', 'X-Amz-Meta-Mode: \t 33188 \t', 'ETag:"e"', 'Vary: a  b', 'vary:\tc', 'Empty: \t ']), {
    'x-amz-meta-mode': '33188',
    etag: '"e"',
    vary: 'a  b, c',
    empty: '',
  });
  t.is(parseHeaderLines(['HTTP/1.1 200 OK', 'Bad Name: x']), 'invalid header name "Bad Name"');
  t.is(parseHeaderLines(['HTTP/1.1 200 OK', 'X: a\u0000b']), 'invalid value of header X');
});
