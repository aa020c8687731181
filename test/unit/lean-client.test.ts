// The plain-HTTP requests (ranged GETs, LISTs, HEADs) must send what S3 accepts. fauxqs
// checks no signatures, so this test plays the server's part: it recomputes the SigV4
// signature from each request as it arrived (method, raw path and query, the signed
// headers) and compares; and it checks that paths and queries for awkward keys are the
// ones the SDK itself sends.

import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import test from 'ava';
import { silentLogger } from '../../src/log.js';
import { createLeanClient } from '../../src/s3/lean-client.js';
import { encodeKeyPath } from '../../src/s3/request-signer.js';
import { Sha256 } from '../support/sha256.js';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session-token' };
const KEYS = ['plain.txt', 'dir/with space/file+plus.txt', "odd !'()*&$@=;:,?#[]%.txt", 'naïve café/☕ emoji 😀.bin', 'a//double/./dot/../up'];

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

async function recordingServer(): Promise<{ url: string; received: Received[]; close(): void }> {
  const received: Received[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
    if (req.method === 'PUT') {
      res.writeHead(200, { etag: '"put-etag"', 'content-length': '0' });
      res.end();
    } else if (req.url?.includes('list-type=2')) {
      const xml = '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated></ListBucketResult>';
      res.writeHead(200, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(xml)) });
      res.end(xml);
    } else if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': '4', etag: '"e"', 'last-modified': new Date(0).toUTCString(), 'x-amz-meta-mode': '33188' });
      res.end();
    } else {
      res.writeHead(206, { 'content-range': 'bytes 0-3/4', 'content-length': '4' });
      res.end('data');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, close: () => server.close() };
}

/** What a server computes: the signature of the request as received, from its own signed headers. */
async function expectedSignature(request: Received, region: string): Promise<string> {
  const authorization = String(request.headers.authorization);
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1].split(';') ?? [];
  const headers = Object.fromEntries(signedHeaders.map((name) => [name, String(request.headers[name])]));
  const amzDate = String(request.headers['x-amz-date']);
  const date = new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  const signer = new SignatureV4({ service: 's3', region, credentials, sha256: Sha256, uriEscapePath: false, applyChecksum: false });
  const [path, query = ''] = request.url.split('?');
  const signed = await signer.sign(
    { method: request.method, protocol: 'http:', hostname: '127.0.0.1', path, query: Object.fromEntries(new URLSearchParams(query)), headers },
    { signingDate: date },
  );
  return /Signature=([0-9a-f]+)/.exec(String(signed.headers.authorization))?.[1] ?? 'none';
}

const log = silentLogger();
const leanClient = (url: string, bucket: string, region: string) =>
  createLeanClient({ endpoint: url, bucket, region: async () => region, credentials: async () => credentials, maxSockets: 4, requestTimeoutMs: 5_000 }, log);
const signatureOf = (request: Received) => /Signature=([0-9a-f]+)/.exec(String(request.headers.authorization))?.[1];

test("plain GETs, LISTs and HEADs carry a valid SigV4 signature, a session token and the SDK's own paths", async (t) => {
  const server = await recordingServer();
  t.teardown(() => server.close());
  const lean = leanClient(server.url, 'my-bucket', 'eu-west-1');
  t.teardown(() => lean.close());
  const sdk = new S3Client({
    region: 'eu-west-1',
    endpoint: server.url,
    forcePathStyle: true,
    credentials,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  t.teardown(() => sdk.destroy());
  const signal = () => AbortSignal.timeout(5_000);
  const last = () => server.received[server.received.length - 1];

  for (const key of KEYS) {
    t.is((await lean.getRange(key, 0, 4, { ifMatch: '"etag"', signal: signal() })).toString(), 'data');
    const ours = last();
    const sdkResponse = await sdk.send(new GetObjectCommand({ Bucket: 'my-bucket', Key: key, Range: 'bytes=0-3' }));
    await sdkResponse.Body?.transformToByteArray();
    const theirs = last();

    // The SDK adds ?x-id=GetObject, which S3 ignores.
    t.is(ours.url, theirs.url.replace(/\?x-id=GetObject$/, ''), `the path of ${JSON.stringify(key)} is the SDK's`);
    t.is(ours.url, `/my-bucket/${encodeKeyPath(key)}`);
    t.is(ours.headers.range, 'bytes=0-3');
    t.is(ours.headers['if-match'], '"etag"');
    t.is(ours.headers['x-amz-security-token'], 'session-token');
    t.regex(
      String(ours.headers.authorization),
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request, SignedHeaders=[^,]*host[^,]*range[^,]*, Signature=[0-9a-f]{64}$/,
    );
    t.is(signatureOf(ours), await expectedSignature(ours, 'eu-west-1'), `signature of ${JSON.stringify(key)}`);
    // The same check accepts the SDK's own request: the recomputation is a fair judge.
    t.is(signatureOf(theirs), await expectedSignature(theirs, 'eu-west-1'));

    const info = await lean.head(key, signal());
    t.like(info, { key, size: 4, etag: '"e"', metadata: { mode: '33188' } });
    const head = last();
    t.is(head.method, 'HEAD');
    await sdk.send(new HeadObjectCommand({ Bucket: 'my-bucket', Key: key }));
    t.is(head.url, last().url.replace(/\?x-id=HeadObject$/, ''));
    t.is(signatureOf(head), await expectedSignature(head, 'eu-west-1'), `HEAD signature of ${JSON.stringify(key)}`);

    // A key as prefix and continuation token: every query value escaped alike.
    await lean.list(key, { delimiter: '/', maxKeys: 1000, continuationToken: `token ${key}` }, signal());
    const list = last();
    t.is(signatureOf(list), await expectedSignature(list, 'eu-west-1'), `LIST signature of ${JSON.stringify(key)}`);
    const query = new URLSearchParams(list.url.split('?')[1]);
    t.is(query.get('prefix'), key);
    t.is(query.get('continuation-token'), `token ${key}`);
    t.is(query.get('encoding-type'), 'url');
    await sdk.send(new ListObjectsV2Command({ Bucket: 'my-bucket', Prefix: key, Delimiter: '/', MaxKeys: 1000, ContinuationToken: `token ${key}` }));
    const sdkQuery = new URLSearchParams(last().url.split('?')[1]);
    for (const name of ['prefix', 'delimiter', 'max-keys', 'continuation-token', 'list-type'])
      t.is(query.get(name), sdkQuery.get(name), `${name} as the SDK sends it`);
  }
});

test("plain PUTs carry a valid SigV4 signature over their payload's hash, and the SDK's own path and headers", async (t) => {
  const server = await recordingServer();
  t.teardown(() => server.close());
  const lean = leanClient(server.url, 'my-bucket', 'eu-west-1');
  t.teardown(() => lean.close());
  const sdk = new S3Client({
    region: 'eu-west-1',
    endpoint: server.url,
    forcePathStyle: true,
    credentials,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  t.teardown(() => sdk.destroy());
  const last = () => server.received[server.received.length - 1];
  const metadata = { mode: '33188', uid: '1000', mtime: '1700000000.123456789' };
  for (const key of KEYS) {
    const body = Buffer.from(`bytes of ${key}`);
    t.deepEqual(await lean.put(key, body, { metadata, contentType: 'text/plain', signal: AbortSignal.timeout(5_000) }), { etag: '"put-etag"' });
    const ours = last();
    await sdk.send(
      new PutObjectCommand({ Bucket: 'my-bucket', Key: key, Body: body, ContentLength: body.length, Metadata: metadata, ContentType: 'text/plain' }),
    );
    const theirs = last();

    t.is(ours.method, 'PUT');
    t.is(ours.url, theirs.url.replace(/\?x-id=PutObject$/, ''), `the path of ${JSON.stringify(key)} is the SDK's`);
    t.true(ours.body.equals(body));
    for (const name of ['content-type', 'content-length', 'x-amz-meta-mode', 'x-amz-meta-uid', 'x-amz-meta-mtime'])
      t.is(ours.headers[name], theirs.headers[name], `${name} as the SDK sends it`);
    t.is(ours.headers['x-amz-content-sha256'], createHash('sha256').update(ours.body).digest('hex'), 'the hash of the payload that arrived');
    t.is(ours.headers['x-amz-security-token'], 'session-token');
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(String(ours.headers.authorization))?.[1].split(';') ?? [];
    for (const name of ['content-type', 'content-length', 'x-amz-content-sha256', 'x-amz-meta-mode', 'x-amz-meta-mtime'])
      t.true(signedHeaders.includes(name), `${name} is signed`);
    t.is(signatureOf(ours), await expectedSignature(ours, 'eu-west-1'), `PUT signature of ${JSON.stringify(key)}`);
    t.is(signatureOf(theirs), await expectedSignature(theirs, 'eu-west-1'));
    t.not(
      signatureOf(ours),
      await expectedSignature({ ...ours, headers: { ...ours.headers, 'x-amz-meta-mode': '420' } }, 'eu-west-1'),
      'metadata cannot be changed',
    );
  }
});

test('a tampered path no longer matches its signature', async (t) => {
  const server = await recordingServer();
  t.teardown(() => server.close());
  const lean = leanClient(server.url, 'b', 'us-east-1');
  t.teardown(() => lean.close());
  await lean.getRange('k', 0, 4, { signal: AbortSignal.timeout(5_000) });
  const request = server.received[0];
  t.not(signatureOf(request), await expectedSignature({ ...request, url: '/b/other' }, 'us-east-1'));
});
