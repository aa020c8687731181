// A loopback HTTP proxy in front of an S3 endpoint that injects faults into ranged GETs
// (reads) or PUTs (uploads): error statuses, bodies cut short, reset connections. Tests
// drive it; nothing else.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault = { kind: 'status'; status: number; code: string } | { kind: 'cut' } | { kind: 'reset' };

/** Which requests a fault applies to: ranged GETs, or PUTs (single uploads and parts). */
export type FaultTarget = 'read' | 'write';

export interface FaultProxy {
  url: string;
  /** Faults for the next ranged GETs, one per request, in order. */
  queue(...faults: Fault[]): void;
  /** A fault for every request of `target` (default: reads) until cleared with undefined. */
  always(fault: Fault | undefined, target?: FaultTarget): void;
  /** Ranged GETs seen and faults injected so far. */
  counts(): { gets: number; injected: number };
  stop(): Promise<void>;
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const queued: Fault[] = [];
  const persistent: Record<FaultTarget, Fault | undefined> = { read: undefined, write: undefined };
  let gets = 0;
  let injected = 0;
  const sockets = new Set<Socket>();

  const forward = (incoming: IncomingMessage, outgoing: ServerResponse, fault?: Fault) => {
    const upstreamRequest = request({ hostname: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers }, (answer) => {
      if (fault?.kind === 'cut') {
        // Headers promise the whole body; half of it arrives, then the connection drops.
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const body = Buffer.concat(chunks);
          outgoing.write(body.subarray(0, Math.floor(body.length / 2)));
          setTimeout(() => outgoing.socket?.destroy(), 20);
        });
        return;
      }
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(outgoing);
    });
    upstreamRequest.on('error', () => outgoing.socket?.destroy());
    incoming.pipe(upstreamRequest);
  };

  const server: Server = createServer((incoming, outgoing) => {
    const rangedGet = incoming.method === 'GET' && incoming.headers.range !== undefined;
    if (rangedGet) gets++;
    const fault = rangedGet ? (queued.shift() ?? persistent.read) : incoming.method === 'PUT' ? persistent.write : undefined;
    if (fault) injected++;
    if (fault?.kind === 'status') {
      incoming.resume();
      outgoing.writeHead(fault.status, { 'content-type': 'application/xml' });
      outgoing.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>injected</Message></Error>`);
      return;
    }
    if (fault?.kind === 'reset') {
      incoming.socket.destroy();
      return;
    }
    forward(incoming, outgoing, fault);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    queue: (...faults) => void queued.push(...faults),
    always: (fault, target = 'read') => void (persistent[target] = fault),
    counts: () => ({ gets, injected }),
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
