// SigV4 for the plain HTTP requests of lean-client.ts, signed exactly as the SDK's own signer
// signs them (the tests compare the two).

import crypto, { createHmac } from 'node:crypto';

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export interface SignerOptions {
  region: () => Promise<string>;
  credentials: () => Promise<SigningCredentials>;
}

export interface RequestToSign {
  method: 'GET' | 'HEAD' | 'PUT';
  /** Endpoint URL the request goes to. */
  url: URL;
  /** Encoded path (see encodeKeyPath). */
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
}

/** RFC 3986 encoding, as SigV4 canonicalizes: encodeURIComponent plus !'()*. */
export function uriEscape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A key as S3 expects it in a path: each segment escaped, "/" kept. */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(uriEscape).join('/');
}

/** The query string for `query`, encoded the way the signature canonicalizes it. */
export function queryString(query: Record<string, string>): string {
  return Object.keys(query)
    .sort()
    .map((name) => `${uriEscape(name)}=${uriEscape(query[name])}`)
    .join('&');
}

export type RequestSigner = (request: RequestToSign) => Promise<Record<string, string>>;

// Headers the SDK's signer leaves out of a signature (@smithy/signature-v4's ALWAYS_UNSIGNABLE_HEADERS).
const UNSIGNABLE = new Set([
  'authorization',
  'cache-control',
  'connection',
  'expect',
  'from',
  'keep-alive',
  'max-forwards',
  'pragma',
  'referer',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
  'x-amzn-trace-id',
]);
// crypto.hash (Node 20.12 and later) hashes in one call, without a Hash object.
const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function' ? (text) => crypto.hash('sha256', text, 'hex') : (text) => crypto.createHash('sha256').update(text).digest('hex');
// Credentials expiring sooner than this are asked for again (the provider refreshes them).
const CREDENTIALS_MARGIN_MS = 5 * 60 * 1000;

/**
 * Signs requests (SigV4, service s3, the payload hash taken from x-amz-content-sha256); returns
 * the headers to send (host and the request's own included). The SDK's signer cost a HEAD of a
 * cold `ls -l` tens of microseconds in promises and copies; this one signs synchronously once
 * the region and credentials are known, and is checked against the SDK's signer
 * (test/unit/request-signer.test.ts) and a server recomputing signatures (lean-client.test.ts).
 */
export function createRequestSigner(options: SignerOptions & { now?: () => Date }): RequestSigner {
  const now = options.now ?? (() => new Date());
  let region: string | undefined;
  let credentials: SigningCredentials | undefined;
  // The signing key of one day, region and secret.
  let keyScope = '';
  let signingKey: Buffer | undefined;

  const fresh = (at: Date) => credentials !== undefined && (!credentials.expiration || credentials.expiration.getTime() - at.getTime() > CREDENTIALS_MARGIN_MS);

  function sign(request: RequestToSign, at: Date): Record<string, string> {
    const creds = credentials as SigningCredentials;
    const amzDate = at
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    const day = amzDate.slice(0, 8);
    const scope = `${day}/${region}/s3/aws4_request`;
    const headers: Record<string, string> = { host: request.url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...request.headers, 'x-amz-date': amzDate };
    if (creds.sessionToken) headers['x-amz-security-token'] = creds.sessionToken;
    const names: string[] = [];
    for (const name of Object.keys(headers)) {
      const lower = name.toLowerCase();
      if (lower !== name) throw new Error(`request header ${name} must be lower case`);
      if (!UNSIGNABLE.has(lower)) names.push(lower);
    }
    names.sort();
    let canonicalHeaders = '';
    for (const name of names) canonicalHeaders += `${name}:${headers[name].trim().replace(/\s+/g, ' ')}\n`;
    const signedHeaders = names.join(';');
    const canonical = `${request.method}\n${request.path}\n${request.query ? queryString(request.query) : ''}\n${canonicalHeaders}\n${signedHeaders}\n${headers['x-amz-content-sha256']}`;
    const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
    const wantedScope = `${scope}\0${creds.secretAccessKey}`;
    if (keyScope !== wantedScope || !signingKey) {
      const dayKey = createHmac('sha256', `AWS4${creds.secretAccessKey}`).update(day).digest();
      const regionKey = createHmac('sha256', dayKey)
        .update(region as string)
        .digest();
      const serviceKey = createHmac('sha256', regionKey).update('s3').digest();
      signingKey = createHmac('sha256', serviceKey).update('aws4_request').digest();
      keyScope = wantedScope;
    }
    const signature = createHmac('sha256', signingKey).update(stringToSign).digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return headers;
  }

  return async (request) => {
    const at = now();
    if (region === undefined || !fresh(at)) {
      region ??= await options.region();
      if (!fresh(at)) credentials = await options.credentials();
    }
    return sign(request, at);
  };
}
