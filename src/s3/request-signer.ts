// SigV4 for the plain HTTP requests of lean-client.ts, with the SDK's own signer, so that a
// request is signed exactly as the SDK would sign it.

import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

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

/** node:crypto behind the interface the SigV4 signer expects. */
class NodeSha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

function toBuffer(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
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

/** Signs requests; returns the headers to send (host and the request's own included). */
export function createRequestSigner(options: SignerOptions): RequestSigner {
  const signer = new SignatureV4({
    service: 's3',
    region: options.region,
    credentials: options.credentials,
    sha256: NodeSha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  return async ({ method, url, path, query = {}, headers = {} }) => {
    const signed = await signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path,
      query,
      // A GET or HEAD has no payload to hash; S3 accepts this marker for it. A PUT names its
      // payload's hash in `headers`.
      headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers },
    });
    return signed.headers as Record<string, string>;
  };
}
