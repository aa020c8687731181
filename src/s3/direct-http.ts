// A keep-alive HTTP/1.1 client for GETs whose body goes straight from the socket into the
// caller's buffer. Node's http module hands a body over in fresh 64 KiB chunks that must
// then be copied and collected: for 256 MiB of ranged GETs from an emulator on loopback it
// spent 0.28-0.57 s of CPU, where reading with `onread` into the destination took
// 0.14-0.25 s, and the copy, the chunk allocations and their garbage collection were a
// third of s3mount's CPU on a cold sequential read. Plain http: only (TLS keeps node:https).
//
// HEADs go the same way (their answers have a head only): `ls -l` of a directory needs one per
// entry, and node:http's request and response objects cost more than the rest of a HEAD.
//
// It speaks just what S3 GETs need: one request at a time per socket, bodies framed by
// Content-Length. An error answer's body is kept for its S3 error code (up to 64 KiB);
// a successful answer without Content-Length is refused with UnsupportedFramingError, so
// that the caller can fall back to node:http.
import net from 'node:net';

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
  /** Lower-case names; the last value of a repeated header. */
  headers: Record<string, string>;
  /** Body bytes written into `into` (2xx answers). */
  bodyLength: number;
  /** The body of an answer that is not 2xx, as text (at most 64 KiB of it). */
  errorBody: string;
}

export interface DirectHttpOptions {
  host: string;
  port: number;
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
    this.socket = net.connect({
      host: options.host,
      port: options.port,
      noDelay: true,
      onread: { buffer: () => this.readBuffer(), callback: (bytes: number) => this.received(bytes) },
    } as net.NetConnectOpts);
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
    const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!statusMatch) return this.fail(networkError(`not an HTTP answer: ${JSON.stringify(lines[0].slice(0, 80))}`, 'EPROTO'));
    const status = Number(statusMatch[1]);
    if (status === 100) {
      // An interim answer: the real one follows, perhaps already in what arrived.
      this.headFilled = rest.copy(this.head);
      return this.scanHead(exchange, 0);
    }
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    exchange.status = status;
    exchange.headers = headers;
    exchange.closeAfter = /\bclose\b/i.test(headers.connection ?? '');
    if (exchange.request.method === 'HEAD') {
      // Anything after a HEAD's answer is a server talking out of turn.
      if (rest.length > 0) exchange.closeAfter = true;
      // Complete with no body (bodyLength 0, errorBody empty).
      exchange.phase = 'error-body';
      return this.complete(exchange);
    }
    const lengthHeader = headers['content-length'];
    const length = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
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
    if (length > exchange.request.into.length) return this.fail(networkError(`body of ${length} bytes for a buffer of ${exchange.request.into.length}`, 'EPROTO'));
    if (rest.length > length) return this.fail(networkError('bytes after the end of the body', 'EPROTO'));
    exchange.filled = rest.copy(exchange.request.into);
    exchange.phase = 'body';
    if (exchange.filled >= length) this.complete(exchange);
  }

  private collectError(exchange: Exchange, bytes: Buffer): void {
    if (bytes.length > 0 && exchange.errorBytes < MAX_ERROR_BODY_BYTES) exchange.errorChunks.push(Buffer.from(bytes.subarray(0, MAX_ERROR_BODY_BYTES - exchange.errorBytes)));
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

  async function connection(fresh: boolean): Promise<Connection> {
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
    return new Promise((resolve) => waiting.push(resolve));
  }

  async function exchangeOn(request: DirectRequest, fresh: boolean): Promise<DirectResponse> {
    const conn = await connection(fresh);
    const reused = conn.reused;
    let answered = () => false;
    try {
      return await new Promise<DirectResponse>((resolve, reject) => {
        const aborted = () => (request.signal.reason instanceof Error ? request.signal.reason : networkError('aborted', 'ABORT_ERR'));
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

function isConnectionLoss(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}
