// The hand-written SigV4 signer against the SDK's own (@smithy/signature-v4) on the same
// requests at the same instant: every header it sends, the signature included, must be what
// the SDK's signer gives. Expiring credentials are asked for again before they expire.
import { createHash } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import test from 'ava';
import { createRequestSigner, type RequestToSign, type SigningCredentials } from '../../src/s3/request-signer.js';
import { Sha256 } from '../support/sha256.js';

const AT = new Date('2026-12-01T19:45:07.123Z');
const url = new URL('http://127.0.0.1:9000');
const plain: SigningCredentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const session: SigningCredentials = { ...plain, sessionToken: 'token/with+odd=chars' };

const REQUESTS: RequestToSign[] = [
  { method: 'HEAD', url, path: '/bucket/dir/file.txt' },
  { method: 'HEAD', url, path: '/bucket/odd%20name%21%28x%29/%C3%A9t%C3%A9' },
  { method: 'GET', url, path: '/bucket/big', headers: { range: 'bytes=0-1048575', 'if-match': '"0123abcd"' } },
  { method: 'GET', url, path: '/bucket', query: { 'list-type': '2', 'encoding-type': 'url', prefix: 'a b/ü&=+', delimiter: '/', 'max-keys': '1000' } },
  { method: 'GET', url, path: '/bucket', query: { 'list-type': '2', 'continuation-token': 'tok en==', prefix: '' } },
  {
    method: 'PUT',
    url,
    path: '/bucket/new',
    headers: {
      'content-length': '5',
      'content-type': 'text/plain',
      'x-amz-content-sha256': createHash('sha256').update('hello').digest('hex'),
      'x-amz-meta-mode': '33188',
      'x-amz-meta-note': '  two   spaces  ',
    },
  },
];

async function sdkHeaders(request: RequestToSign, credentials: SigningCredentials, region: string) {
  const signer = new SignatureV4({ service: 's3', region, credentials, sha256: Sha256, uriEscapePath: false, applyChecksum: false });
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: request.path,
      query: request.query ?? {},
      headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...request.headers },
    },
    { signingDate: AT },
  );
  return signed.headers;
}

for (const [name, credentials] of [
  ['plain credentials', plain],
  ['a session token', session],
] as const) {
  test(`every header, the signature included, is what the SDK's signer gives, with ${name}`, async (t) => {
    const sign = createRequestSigner({ region: async () => 'eu-west-1', credentials: async () => credentials, now: () => AT });
    for (const request of REQUESTS) {
      t.deepEqual(await sign(request), await sdkHeaders(request, credentials, 'eu-west-1'), `${request.method} ${request.path}`);
    }
  });
}

test('credentials close to their expiry are asked for again; fresh ones are not', async (t) => {
  let now = new Date('2026-12-01T12:00:00Z');
  let asked = 0;
  const expiring = (minutes: number): SigningCredentials => ({
    ...session,
    accessKeyId: `KEY${asked}`,
    expiration: new Date(now.getTime() + minutes * 60_000),
  });
  const sign = createRequestSigner({
    region: async () => 'us-east-1',
    credentials: async () => {
      asked++;
      return expiring(60);
    },
    now: () => now,
  });
  const request = REQUESTS[0];
  const first = await sign(request);
  await sign(request);
  t.is(asked, 1);
  t.regex(first.authorization, /Credential=KEY1\//);
  // 57 minutes later the credentials have 3 minutes left: the provider is asked again.
  now = new Date(now.getTime() + 57 * 60_000);
  const later = await sign(request);
  t.is(asked, 2);
  t.regex(later.authorization, /Credential=KEY2\//);
});

test('the signing key follows the day: a request after midnight is signed for the new day', async (t) => {
  let now = new Date('2026-12-01T23:59:59Z');
  const sign = createRequestSigner({ region: async () => 'eu-west-1', credentials: async () => plain, now: () => now });
  await sign(REQUESTS[0]);
  now = new Date('2026-12-02T00:00:01Z');
  const next = await sign(REQUESTS[0]);
  t.regex(next.authorization, /Credential=AKIDEXAMPLE\/20261202\/eu-west-1\/s3\/aws4_request/);
  const signer = new SignatureV4({ service: 's3', region: 'eu-west-1', credentials: plain, sha256: Sha256, uriEscapePath: false, applyChecksum: false });
  const expected = await signer.sign(
    {
      method: 'HEAD',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 9000,
      path: REQUESTS[0].path,
      query: {},
      headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    { signingDate: now },
  );
  t.is(next.authorization, expected.headers.authorization);
});
