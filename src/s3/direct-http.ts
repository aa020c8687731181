// A keep-alive HTTP/1.1 client, plain or over TLS, for GETs whose body goes straight from
// the socket into the caller's buffer (`onread`, which tls.connect takes too). Node's http
// module hands a body over in fresh 64 KiB chunks that must then be copied and collected; the
// copy, the chunk allocations and their garbage collection were a third of s3mount's CPU on a
// cold sequential read.
//
// Measured against node:http(s) and undici 7.30 (Pool + dispatch, onData copying into the
// same buffers) by scripts/benchmark/http-cpu.ts: client CPU to read 256 MiB from fauxqs in
// 4 MiB ranges, 4 in flight, medians of 7 runs. Over http: this client 0.056 s, undici
// 0.209 s, node:http 0.339 s. Over TLS: this client 0.165 s, undici 0.319 s, node:https
// 0.493 s. Undici costs 2-4 times the CPU: this client stays.
//
// HEADs go the same way (their answers have a head only): `ls -l` of a directory needs one per
// entry, and node:http's request and response objects cost more than the rest of a HEAD.
//
// It speaks just what S3 GETs need: one request at a time per socket, bodies framed by
// Content-Length, interim (1xx) answers skipped, HTTP/1.0 answers closing their connection.
// It refuses what a strict parser refuses: header lines that are not `token: value`,
// conflicting Content-Length values, and request headers that would not stay one line. An
// error answer's body is kept for its S3 error code (up to 64 KiB); a successful answer
// without Content-Length is refused with UnsupportedFramingError, so that the caller can fall
// back to node:http(s).
import net from 'node:net';
import tls from 'node:tls';

export interface DirectRequest {
  /** GET by default; a HEAD's answer has no body, whatever its Content-Length says. */
  method?: 'GET' | 'HEAD';
  /** Path and query, already encoded. */
  path: string;
  /** Sent as they are; `host` included. */
  headers: Record<string, string>;
  /** Where a 2xx answer's body goes; it must be at least as long as the body. */
  into: Buffer;
  signal: AbortSignal;
}

export interface DirectResponse {
  status: number;
  /** Lower-case names; the values of a repeated header joined with ", ". */
  headers: Record<string, string>;
  /** Body bytes written into `into` (2xx answers). */
  bodyLength: number;
  /** The body of an answer that is not 2xx, as text (at most 64 KiB of it). */
  errorBody: string;
}

export interface DirectHttpOptions {
  host: string;
  port: number;
  /** HTTPS: TLS with the host's certificate checked against Node's CAs (NODE_EXTRA_CA_CERTS included). */
  secure?: boolean;
  /** Certificates to trust instead of Node's own (tests). */
  ca?: string | Buffer;
  maxSockets: number;
  /** Longest wait for the first byte of an answer, and longest silence inside one (ms). */
  timeoutMs: number;
}

export interface DirectHttpClient {
  get(request: DirectRequest): Promise<DirectResponse>;
  /** Closes every socket; requests in flight fail. */
  close(): void;
}

/** A 2xx answer framed some other way than by Content-Length (chunked, or up to the close). */
export class UnsupportedFramingError extends Error {
  override name = 'UnsupportedFramingError';
}

/** An error with a Node-style code, so that callers classify it as they would a socket error. */
function networkError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

const HEAD_BUFFER_BYTES = 16 * 1024;
const MAX_HEAD_BYTES = 256 * 1024;
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const MAX_INTERIM_ANSWERS = 16;
const HEAD_END = Buffer.from('\r\n\r\n');

interface Exchange {
  request: DirectRequest;
  resolve(response: DirectResponse): void;
  reject(error: Error): void;
  /** Any byte of the answer arrived (a reused socket that closes before that is retried). */
  answered: boolean;
  phase: 'head' | 'body' | 'error-body' | 'error-body-chunked' | 'error-body-to-close';
  status: number;
  headers: Record<string, string>;
  bodyLength: number;
  filled: number;
  errorChunks: Buffer[];
  errorBytes: number;
  closeAfter: boolean;
  /** Interim (1xx) answers skipped so far. */
  interim: number;
}

class Connection {
  readonly socket: net.Socket;
  /** Completed at least one exchange: the server may have closed it meanwhile. */
  reused = false;
  exchange?: Exchange;
  private head = Buffer.allocUnsafe(HEAD_BUFFER_BYTES);
  private headFilled = 0;

  constructor(
    options: DirectHttpOptions,
    private readonly onFree: (connection: Connection) => void,
    private readonly onGone: (connection: Connection) => void,
  ) {
    const onread = { buffer: () => this.readBuffer(), callback: (bytes: number) => this.received(bytes) };
    this.socket = options.secure
      ? tls.connect({
          host: options.host,
          port: options.port,
          // SNI takes a name, never an address.
          servername: net.isIP(options.host) ? undefined : options.host,
          ca: options.ca,
          ALPNProtocols: ['http/1.1'],
          onread,
        } as tls.ConnectionOptions)
      : net.connect({ host: options.host, port: options.port, noDelay: true, onread } as net.NetConnectOpts);
    if (options.secure) this.socket.setNoDelay(true);
    this.socket.setTimeout(options.timeoutMs, () => this.fail(networkError(`no data for ${options.timeoutMs} ms`, 'ETIMEDOUT')));
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('end', () => this.ended());
    this.socket.on('close', () => {
      this.fail(networkError('connection closed before the answer was complete', 'ECONNRESET'));
      this.onGone(this);
    });
  }

  start(exchange: Exchange): void {
    this.exchange = exchange;
    this.headFilled = 0;
    this.socket.ref();
    const { path, headers } = exchange.request;
    let head = `${exchange.request.method ?? 'GET'} ${path} HTTP/1.1\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    this.socket.write(`${head}\r\n`, 'latin1');
  }

  /** Fails the exchange in flight, if any, and never reuses the socket. */
  fail(error: Error): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    if (!this.socket.destroyed) this.socket.destroy();
    exchange?.reject(error);
  }

  /** Where the next read lands: the rest of the body's place in the caller's buffer, else the head buffer. */
  private readBuffer(): Buffer {
    const exchange = this.exchange;
    if (exchange?.phase === 'body') return exchange.request.into.subarray(exchange.filled, exchange.bodyLength);
    if (this.headFilled === this.head.length) {
      if (this.head.length >= MAX_HEAD_BYTES) return this.head; // received() fails the exchange
      const bigger = Buffer.allocUnsafe(this.head.length * 2);
      this.head.copy(bigger, 0, 0, this.headFilled);
      this.head = bigger;
    }
    return this.head.subarray(this.headFilled);
  }

  private received(bytes: number): boolean {
    const exchange = this.exchange;
    if (!exchange) {
      // Nothing was asked: a server talking out of turn cannot be trusted with the next request.
      this.socket.destroy();
      return false;
    }
    exchange.answered = true;
    if (exchange.phase === 'body') {
      exchange.filled += bytes;
      if (exchange.filled >= exchange.bodyLength) this.complete(exchange);
      return true;
    }
    if (exchange.phase === 'head') {
      this.headFilled += bytes;
      this.scanHead(exchange, Math.max(0, this.headFilled - bytes - 3));
      return true;
    }
    this.collectError(exchange, this.head.subarray(0, bytes));
    return true;
  }

  /** Looks for the end of the answer's head in what arrived so far. */
  private scanHead(exchange: Exchange, from: number): void {
    const end = this.head.subarray(0, this.headFilled).indexOf(HEAD_END, from);
    if (end < 0) {
      if (this.headFilled >= MAX_HEAD_BYTES) this.fail(networkError(`answer head longer than ${MAX_HEAD_BYTES} bytes`, 'EPROTO'));
      return;
    }
    const rest = this.head.subarray(end + HEAD_END.length, this.headFilled);
    this.headFilled = 0;
    this.startBody(exchange, this.head.subarray(0, end).toString('latin1'), rest);
  }

  private startBody(exchange: Exchange, headText: string, rest: Buffer): void {
    const lines = headText.split('\r\n');
    const statusMatch = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]);
    if (!statusMatch) return this.fail(networkError(`not an HTTP answer: ${JSON.stringify(lines[0].slice(0, 80))}`, 'EPROTO'));
    const status = Number(statusMatch[2]);
    if (status === 101) return this.fail(networkError('HTTP 101: the server switched protocols, which was never asked', 'EPROTO'));
    if (status < 200) {
      // An interim answer (100 Continue, 102 Processing, 103 Early Hints...): the final one
      // follows, perhaps already in what arrived. A server that sends only these is broken.
      if (++exchange.interim > MAX_INTERIM_ANSWERS) return this.fail(networkError(`more than ${MAX_INTERIM_ANSWERS} interim answers`, 'EPROTO'));
      this.headFilled = rest.copy(this.head);
      return this.scanHead(exchange, 0);
    }
    const headers = parseHeaderLines(lines);
    if (typeof headers === 'string') return this.fail(networkError(headers, 'EPROTO'));
    exchange.status = status;
    exchange.headers = headers;
    const connection = headers.connection ?? '';
    // HTTP/1.0 closes after each answer unless it says keep-alive.
    exchange.closeAfter = /\bclose\b/i.test(connection) || (statusMatch[1] === '0' && !/\bkeep-alive\b/i.test(connection));
    const lengthHeader = headers['content-length'];
    const length = lengthHeader !== undefined && /^\d{1,15}$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    if (lengthHeader !== undefined && length === undefined)
      return this.fail(networkError(`invalid Content-Length ${JSON.stringify(lengthHeader.slice(0, 40))}`, 'EPROTO'));
    if (exchange.request.method === 'HEAD') {
      // Anything after a HEAD's answer is a server talking out of turn.
      if (rest.length > 0) exchange.closeAfter = true;
      // Complete with no body (bodyLength 0, errorBody empty).
      exchange.phase = 'error-body';
      return this.complete(exchange);
    }
    const success = status >= 200 && status < 300;
    if (length === undefined || headers['transfer-encoding'] !== undefined) {
      if (success) return this.fail(new UnsupportedFramingError(`HTTP ${status} without Content-Length framing`));
      // An error answer in chunks (Node's own servers answer so) ends with its last chunk; one
      // delimited by the close is read until then.
      const chunked = /\bchunked\b/i.test(headers['transfer-encoding'] ?? '');
      exchange.phase = chunked ? 'error-body-chunked' : 'error-body-to-close';
      if (!chunked) exchange.closeAfter = true;
      this.collectError(exchange, rest);
      return;
    }
    exchange.bodyLength = length;
    if (!success) {
      exchange.phase = 'error-body';
      this.collectError(exchange, rest);
      return;
    }
    if (length > exchange.request.into.length)
      return this.fail(networkError(`body of ${length} bytes for a buffer of ${exchange.request.into.length}`, 'EPROTO'));
    if (rest.length > length) return this.fail(networkError('bytes after the end of the body', 'EPROTO'));
    exchange.filled = rest.copy(exchange.request.into);
    exchange.phase = 'body';
    if (exchange.filled >= length) this.complete(exchange);
  }

  private collectError(exchange: Exchange, bytes: Buffer): void {
    if (bytes.length > 0 && exchange.errorBytes < MAX_ERROR_BODY_BYTES)
      exchange.errorChunks.push(Buffer.from(bytes.subarray(0, MAX_ERROR_BODY_BYTES - exchange.errorBytes)));
    exchange.errorBytes += bytes.length;
    exchange.filled += bytes.length;
    if (exchange.phase === 'error-body' && exchange.filled >= exchange.bodyLength) {
      if (exchange.errorBytes > MAX_ERROR_BODY_BYTES || exchange.filled > exchange.bodyLength) exchange.closeAfter = true;
      this.complete(exchange);
    } else if (exchange.phase === 'error-body-chunked') {
      const raw = Buffer.concat(exchange.errorChunks);
      const decoded = decodeChunked(raw);
      if (decoded) {
        exchange.errorChunks = [decoded.body];
        // Bytes past the last chunk, or a body we stopped keeping, leave the socket unusable.
        if (decoded.consumed < raw.length || exchange.errorBytes > MAX_ERROR_BODY_BYTES) exchange.closeAfter = true;
        this.complete(exchange);
      } else if (exchange.errorBytes >= MAX_ERROR_BODY_BYTES) {
        exchange.closeAfter = true;
        this.complete(exchange);
      }
    }
  }

  private ended(): void {
    const exchange = this.exchange;
    if (exchange?.phase === 'error-body-to-close') this.complete(exchange);
  }

  private complete(exchange: Exchange): void {
    this.exchange = undefined;
    const response: DirectResponse = {
      status: exchange.status,
      headers: exchange.headers,
      bodyLength: exchange.phase === 'body' ? exchange.filled : 0,
      errorBody: Buffer.concat(exchange.errorChunks).toString('utf8'),
    };
    if (exchange.closeAfter) this.socket.destroy();
    else {
      this.reused = true;
      // An idle keep-alive socket must not keep the process alive.
      this.socket.unref();
      this.onFree(this);
    }
    exchange.resolve(response);
  }
}

export function createDirectHttp(options: DirectHttpOptions): DirectHttpClient {
  const idle: Connection[] = [];
  const all = new Set<Connection>();
  const waiting: Array<(connection: Connection) => void> = [];
  let closed = false;

  const onFree = (connection: Connection) => {
    const next = waiting.shift();
    if (next) next(connection);
    else idle.push(connection);
  };
  const onGone = (connection: Connection) => {
    all.delete(connection);
    const at = idle.indexOf(connection);
    if (at >= 0) idle.splice(at, 1);
    // A socket slot opened: a waiter gets a fresh connection.
    const next = waiting.shift();
    if (next && !closed) {
      const fresh = new Connection(options, onFree, onGone);
      all.add(fresh);
      next(fresh);
    }
  };

  /** A connection for one request: an idle one, a new one within maxSockets, else the next one freed (or an abort). */
  async function connection(fresh: boolean, signal: AbortSignal): Promise<Connection> {
    if (closed) throw networkError('client closed', 'ECONNABORTED');
    if (!fresh) {
      const reused = idle.pop();
      if (reused) return reused;
    }
    if (all.size < options.maxSockets || fresh) {
      const created = new Connection(options, onFree, onGone);
      all.add(created);
      return created;
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const at = waiting.indexOf(take);
        if (at >= 0) waiting.splice(at, 1);
        reject(abortReason(signal));
      };
      const take = (connection: Connection) => {
        signal.removeEventListener('abort', onAbort);
        resolve(connection);
      };
      if (signal.aborted) return reject(abortReason(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      waiting.push(take);
    });
  }

  async function exchangeOn(request: DirectRequest, fresh: boolean): Promise<DirectResponse> {
    checkRequestHeaders(request.headers);
    if (!/^[\x21-\x7e]+$/.test(request.path))
      throw Object.assign(new TypeError(`invalid request path ${JSON.stringify(request.path.slice(0, 80))}`), { code: 'ERR_UNESCAPED_CHARACTERS' });
    const conn = await connection(fresh, request.signal);
    const reused = conn.reused;
    let answered = () => false;
    try {
      return await new Promise<DirectResponse>((resolve, reject) => {
        const aborted = () => abortReason(request.signal);
        const onAbort = () => conn.fail(aborted());
        const settle =
          <T>(done: (value: T) => void) =>
          (value: T) => {
            request.signal.removeEventListener('abort', onAbort);
            done(value);
          };
        const exchange: Exchange = {
          request,
          resolve: settle(resolve),
          reject: settle(reject),
          answered: false,
          phase: 'head',
          status: 0,
          headers: {},
          bodyLength: 0,
          filled: 0,
          errorChunks: [],
          errorBytes: 0,
          closeAfter: false,
          interim: 0,
        };
        answered = () => exchange.answered;
        if (request.signal.aborted) {
          // The connection stays usable: nothing was sent on it.
          onFree(conn);
          return exchange.reject(aborted());
        }
        request.signal.addEventListener('abort', onAbort, { once: true });
        conn.start(exchange);
      });
    } catch (error) {
      // A kept-alive socket the server closed while it was idle: the request never reached
      // it. Sent again once on a new socket (a GET or HEAD is idempotent), without using an attempt.
      if (reused && !answered() && !request.signal.aborted && isConnectionLoss(error)) return exchangeOn(request, true);
      throw error;
    }
  }

  return {
    get: (request) => exchangeOn(request, false),
    close: () => {
      closed = true;
      for (const connection of all) connection.fail(networkError('client closed', 'ECONNABORTED'));
      all.clear();
      idle.length = 0;
    },
  };
}

/**
 * A chunked body, once its last chunk (and the trailers' end) has arrived: the body and how
 * many bytes it took. Undefined while incomplete or unreadable; the caller's bound on what it
 * keeps ends the wait either way.
 */
export function decodeChunked(raw: Buffer): { body: Buffer; consumed: number } | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(raw.toString('latin1', at, lineEnd).split(';')[0].trim(), 16);
    if (!Number.isSafeInteger(size) || size < 0) return undefined;
    at = lineEnd + 2;
    if (size === 0) {
      // Trailers, if any, up to an empty line.
      for (;;) {
        const end = raw.indexOf('\r\n', at);
        if (end < 0) return undefined;
        if (end === at) return { body: Buffer.concat(parts), consumed: at + 2 };
        at = end + 2;
      }
    }
    if (raw.length < at + size + 2) return undefined;
    parts.push(raw.subarray(at, at + size));
    at += size + 2;
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : networkError('aborted', 'ABORT_ERR');
}

function isConnectionLoss(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

// RFC 9110 token characters: what a header name may hold.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// A field value: visible characters, spaces and tabs (and obs-text); never CR, LF or NUL.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * The header lines of an answer as lower-case names and values, or why they are refused: a
 * name that is not a token (a space before the colon included), a line without a colon, a
 * folded line, or Content-Length given twice with different values (request smuggling and
 * desynchronised keep-alive sockets start there). Repeated headers are joined with ", ".
 */
export function parseHeaderLines(lines: string[]): Record<string, string> | string {
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');
    if (colon <= 0) return `invalid header line ${JSON.stringify(line.slice(0, 80))}`;
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return `invalid header name ${JSON.stringify(name.slice(0, 80))}`;
    // Spaces and tabs around the value go (by index: a global regex per line cost a HEAD more than the rest of its parsing).
    let from = colon + 1;
    let to = line.length;
    while (from < to && isBlank(line.charCodeAt(from))) from++;
    while (to > from && isBlank(line.charCodeAt(to - 1))) to--;
    const value = line.slice(from, to);
    if (!FIELD_VALUE.test(value)) return `invalid value of header ${name}`;
    const lower = name.toLowerCase();
    headers[lower] = headers[lower] === undefined ? value : `${headers[lower]}, ${value}`;
  }
  const length = headers['content-length'];
  if (length?.includes(',')) {
    // The same length repeated is harmless (RFC 9110 8.6); different lengths are not.
    const values = new Set(length.split(',').map((v) => v.trim()));
    if (values.size !== 1) return `conflicting Content-Length values ${JSON.stringify(length.slice(0, 80))}`;
    headers['content-length'] = [...values][0];
  }
  return headers;
}

/** A space or a tab. */
function isBlank(code: number): boolean {
  return code === 32 || code === 9;
}

/** Refuses a request header that would not go onto the wire as one header line. */
export function checkRequestHeaders(headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name)) throw Object.assign(new TypeError(`invalid header name ${JSON.stringify(name)}`), { code: 'ERR_INVALID_HTTP_TOKEN' });
    if (typeof value !== 'string' || !FIELD_VALUE.test(value))
      throw Object.assign(new TypeError(`invalid character in the value of header ${name}`), { code: 'ERR_INVALID_CHAR' });
  }
}
