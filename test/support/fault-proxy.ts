// A loopback HTTP proxy in front of an S3 endpoint that injects faults by operation class
// (error statuses, bodies cut short, reset connections, delays, the whole server down) and
// logs every request it saw, so tests can check what s3mount sent. Tests drive it; nothing else.
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { seededRandom } from './seeded-random.js';

export type Fault =
  | { kind: 'status'; status: number; code: string }
  /** Headers promise the whole body; half of it arrives, then the connection drops. */
  | { kind: 'cut' }
  /** The connection is destroyed before any answer. */
  | { kind: 'reset' }
  /** The request is held this long, then forwarded. */
  | { kind: 'delay'; ms: number }
  /** The request is held until release() forwards it. */
  | { kind: 'hold' };

/**
 * What a request does: `read` a ranged GET, `list` ListObjectsV2, `head` HEAD, `write` a PUT
 * (single upload or part), `multipart` CreateMultipartUpload or CompleteMultipartUpload, `copy`
 * a PUT with a copy source, `delete` DeleteObject or AbortMultipartUpload, `other` the rest.
 */
export type OperationClass = 'read' | 'list' | 'head' | 'write' | 'multipart' | 'copy' | 'delete' | 'other';

/** Which requests of a class a rule faults: all of them (the default), every Nth, or a seeded random fraction. */
export type FaultRate = { every: number } | { fraction: number; seed: number };

export interface RequestRecord {
  method: string;
  /** Path as sent (percent-encoded), bucket included for path-style requests. */
  path: string;
  query: Record<string, string>;
  /** The Range header of a GET, e.g. "bytes=0-1048575". */
  range?: string;
  operation: OperationClass;
  /** Status the client got: upstream's, or the injected one; 0 for a reset or no answer yet. */
  status: number;
  fault?: Fault['kind'];
  /** The UploadId a successful CreateMultipartUpload answered. */
  uploadId?: string;
  /** The Content-Type header sent, when there was one. */
  contentType?: string;
}

export interface FaultProxy {
  url: string;
  /** Faults for the next requests of `operation`, one per request, in order (before any rule). */
  queue(operation: OperationClass, ...faults: Fault[]): void;
  /** Faults requests of `operation` at `rate` (default: every one) until cleared. */
  inject(operation: OperationClass, fault: Fault, rate?: FaultRate): void;
  /** Drops queued faults and rules of `operation`, or of every class. */
  clear(operation?: OperationClass): void;
  /** Closes the listener and every connection: new connections are refused until up(). */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Requests seen so far, in arrival order (live records: statuses fill in as answers go out). */
  log(): readonly RequestRecord[];
  /** Faults injected so far. */
  injected(): number;
  /** Requests of `operation` held right now by a 'hold' fault. */
  held(operation: OperationClass): number;
  /** Forwards every request of `operation` held right now. */
  release(operation: OperationClass): void;
  /** UploadIds created and neither completed nor aborted successfully: parts left behind. */
  unfinishedUploads(): string[];
  stop(): Promise<void>;
}

export function operationOf(method: string, query: Record<string, string>, headers: IncomingMessage['headers']): OperationClass {
  if (method === 'GET') return query['list-type'] === '2' ? 'list' : headers.range !== undefined ? 'read' : 'other';
  if (method === 'HEAD') return 'head';
  if (method === 'PUT') return headers['x-amz-copy-source'] !== undefined ? 'copy' : 'write';
  if (method === 'POST') return 'uploads' in query || 'uploadId' in query ? 'multipart' : 'other';
  if (method === 'DELETE') return 'delete';
  return 'other';
}

interface Rule {
  fault: Fault;
  /** Decides for the nth request (1-based) of the class since the rule was set. */
  applies: (nth: number) => boolean;
  seen: number;
}

function ruleOf(fault: Fault, rate?: FaultRate): Rule {
  if (rate === undefined) return { fault, applies: () => true, seen: 0 };
  if ('every' in rate) return { fault, applies: (nth) => nth % rate.every === 0, seen: 0 };
  const random = seededRandom(rate.seed);
  return { fault, applies: () => random() < rate.fraction, seen: 0 };
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const queued = new Map<OperationClass, Fault[]>();
  const rules = new Map<OperationClass, Rule>();
  const records: RequestRecord[] = [];
  const sockets = new Set<Socket>();
  const holding = new Map<OperationClass, Array<() => void>>();
  let injected = 0;
  let port = 0;

  const pickFault = (operation: OperationClass): Fault | undefined => {
    const next = queued.get(operation)?.shift();
    if (next) return next;
    const rule = rules.get(operation);
    if (!rule) return undefined;
    rule.seen++;
    return rule.applies(rule.seen) ? rule.fault : undefined;
  };

  const forward = (incoming: IncomingMessage, outgoing: ServerResponse, record: RequestRecord, cut: boolean) => {
    const upstreamRequest = request(
      { hostname: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
      (answer) => {
        record.status = answer.statusCode ?? 502;
        outgoing.writeHead(record.status, answer.headers);
        // Bodies are collected when they must be cut, or read (a CreateMultipartUpload's UploadId).
        if (!cut && !('uploads' in record.query)) {
          answer.pipe(outgoing);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const body = Buffer.concat(chunks);
          if (cut) {
            outgoing.write(body.subarray(0, Math.floor(body.length / 2)));
            setTimeout(() => outgoing.socket?.destroy(), 20);
            return;
          }
          if (record.status === 200) record.uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(body.toString())?.[1];
          outgoing.end(body);
        });
      },
    );
    upstreamRequest.on('error', () => outgoing.socket?.destroy());
    incoming.pipe(upstreamRequest);
  };

  const server: Server = createServer((incoming, outgoing) => {
    const url = new URL(incoming.url ?? '/', 'http://proxy');
    const query = Object.fromEntries(url.searchParams);
    const method = incoming.method ?? 'GET';
    const record: RequestRecord = {
      method,
      path: url.pathname,
      query,
      range: incoming.headers.range,
      operation: operationOf(method, query, incoming.headers),
      status: 0,
    };
    if (incoming.headers['content-type'] !== undefined) record.contentType = incoming.headers['content-type'];
    records.push(record);
    const fault = pickFault(record.operation);
    if (fault) {
      injected++;
      record.fault = fault.kind;
    }
    if (fault?.kind === 'status') {
      incoming.resume();
      record.status = fault.status;
      outgoing.writeHead(fault.status, { 'content-type': 'application/xml' });
      outgoing.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>injected</Message></Error>`);
    } else if (fault?.kind === 'reset') {
      incoming.socket.destroy();
    } else if (fault?.kind === 'delay') {
      setTimeout(() => forward(incoming, outgoing, record, false), fault.ms);
    } else if (fault?.kind === 'hold') {
      const held = holding.get(record.operation) ?? [];
      held.push(() => forward(incoming, outgoing, record, false));
      holding.set(record.operation, held);
    } else {
      forward(incoming, outgoing, record, fault?.kind === 'cut');
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const listen = () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const close = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive connections would outlive the listener: a server that is down answers nothing.
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  await listen();
  port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    queue: (operation, ...faults) => void queued.set(operation, [...(queued.get(operation) ?? []), ...faults]),
    inject: (operation, fault, rate) => void rules.set(operation, ruleOf(fault, rate)),
    clear: (operation) => {
      for (const map of [queued, rules]) {
        if (operation) map.delete(operation);
        else map.clear();
      }
    },
    down: close,
    up: listen,
    log: () => records,
    injected: () => injected,
    held: (operation) => holding.get(operation)?.length ?? 0,
    release: (operation) => {
      const held = holding.get(operation) ?? [];
      holding.delete(operation);
      for (const forwardHeld of held) forwardHeld();
    },
    unfinishedUploads: () => {
      const finished = new Set(
        records
          .filter((r) => 'uploadId' in r.query && r.status >= 200 && r.status < 300 && (r.method === 'DELETE' || r.method === 'POST'))
          .map((r) => r.query.uploadId),
      );
      return records.flatMap((r) => (r.uploadId !== undefined && !finished.has(r.uploadId) ? [r.uploadId] : []));
    },
    stop: async () => {
      if (server.listening) await close();
    },
  };
}
