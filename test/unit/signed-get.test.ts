// The plain-HTTP GET path must send what S3 accepts. fauxqs checks no signatures, so this
// test plays the server's part: it recomputes the SigV4 signature from the request as it
// arrived (method, raw path, the signed headers) and compares; and it checks that the path
// for awkward keys is the one the SDK itself sends.
import test from 'ava';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSignedGetter, encodeKeyPath } from '../../src/s3/signed-get.js';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session-token' };
const KEYS = ['plain.txt', 'dir/with space/file+plus.txt', "odd !'()*&$@=;:,?#[]%.txt", 'naïve café/☕ emoji 😀.bin', 'a//double/./dot/../up'];

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

async function recordingServer(): Promise<{ url: string; received: Received[]; close(): void }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    res.writeHead(206, { 'content-range': 'bytes 0-3/4', 'content-length': '4' });
    res.end('data');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, close: () => server.close() };
}

type Data = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: Data) => (typeof data === 'string' ? Buffer.from(data) : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data));

class Sha256 {
  private readonly hash;
  constructor(secret?: Data) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: Data) {
    this.hash.update(bytes(data));
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}

/** What a server computes: the signature of the request as received, from its own signed headers. */
async function expectedSignature(request: Received, region: string): Promise<string> {
  const authorization = String(request.headers.authorization);
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1].split(';') ?? [];
  const headers = Object.fromEntries(signedHeaders.map((name) => [name, String(request.headers[name])]));
  const amzDate = String(request.headers['x-amz-date']);
  const date = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  const signer = new SignatureV4({ service: 's3', region, credentials, sha256: Sha256, uriEscapePath: false, applyChecksum: false });
  const [path, query = ''] = request.url.split('?');
  const signed = await signer.sign(
    { method: request.method, protocol: 'http:', hostname: '127.0.0.1', path, query: Object.fromEntries(new URLSearchParams(query)), headers },
    { signingDate: date },
  );
  return /Signature=([0-9a-f]+)/.exec(String(signed.headers.authorization))?.[1] ?? 'none';
}

test('plain GETs carry a valid SigV4 signature, a session token and the SDK\'s own paths', async (t) => {
  const server = await recordingServer();
  t.teardown(() => server.close());
  const getter = createSignedGetter({ endpoint: server.url, bucket: 'my-bucket', region: async () => 'eu-west-1', credentials: async () => credentials, maxSockets: 4, requestTimeoutMs: 5_000 });
  t.teardown(() => getter.close());
  const sdk = new S3Client({ region: 'eu-west-1', endpoint: server.url, forcePathStyle: true, credentials, maxAttempts: 1, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  t.teardown(() => sdk.destroy());

  for (const key of KEYS) {
    const response = await getter.get({ key, first: 0, last: 3, ifMatch: '"etag"', signal: AbortSignal.timeout(5_000) });
    response.resume();
    const ours = server.received[server.received.length - 1];
    const sdkResponse = await sdk.send(new GetObjectCommand({ Bucket: 'my-bucket', Key: key, Range: 'bytes=0-3' }));
    await sdkResponse.Body?.transformToByteArray();
    const theirs = server.received[server.received.length - 1];

    // The SDK adds ?x-id=GetObject, which S3 ignores.
    t.is(ours.url, theirs.url.replace(/\?x-id=GetObject$/, ''), `the path of ${JSON.stringify(key)} is the SDK's`);
    t.is(ours.url, `/my-bucket/${encodeKeyPath(key)}`);
    t.is(ours.headers.range, 'bytes=0-3');
    t.is(ours.headers['if-match'], '"etag"');
    t.is(ours.headers['x-amz-security-token'], 'session-token');
    t.regex(String(ours.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request, SignedHeaders=[^,]*host[^,]*range[^,]*, Signature=[0-9a-f]{64}$/);
    const sent = /Signature=([0-9a-f]+)/.exec(String(ours.headers.authorization))?.[1];
    t.is(sent, await expectedSignature(ours, 'eu-west-1'), `signature of ${JSON.stringify(key)}`);
    // The same check accepts the SDK's own request: the recomputation is a fair judge.
    t.is(/Signature=([0-9a-f]+)/.exec(String(theirs.headers.authorization))?.[1], await expectedSignature(theirs, 'eu-west-1'));
  }
});

test('a tampered path no longer matches its signature', async (t) => {
  const server = await recordingServer();
  t.teardown(() => server.close());
  const getter = createSignedGetter({ endpoint: server.url, bucket: 'b', region: async () => 'us-east-1', credentials: async () => credentials, maxSockets: 1, requestTimeoutMs: 5_000 });
  t.teardown(() => getter.close());
  (await getter.get({ key: 'k', first: 0, last: 3, signal: AbortSignal.timeout(5_000) })).resume();
  const request = server.received[0];
  t.not(/Signature=([0-9a-f]+)/.exec(String(request.headers.authorization))?.[1], await expectedSignature({ ...request, url: '/b/other' }, 'us-east-1'));
});
