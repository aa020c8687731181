// The control socket of a running mount: only its owner can connect (directory 0700, socket 0600).
import { chmod, mkdir, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from '../log.js';
import type { CacheSettings, MountStats } from '../stats.js';
import { type ControlResponse, validateRequest } from './protocol.js';
import { controlSocketPath } from './socket-path.js';

export interface ControlHandlers {
  stats(): MountStats;
  clear(): void;
  /** Drops what the cache holds for `path` (inside the mount); returns entries dropped. */
  invalidate(path: string, recursive: boolean): number;
  /** Applies new cache settings; returns those in force. */
  configure(change: Partial<CacheSettings>): CacheSettings;
}

// A request is a few bytes; anything larger is not ours.
const MAX_REQUEST_BYTES = 64 * 1024;

export class ControlServer {
  private server?: Server;
  readonly path: string;

  constructor(
    mountpoint: string,
    private readonly handlers: ControlHandlers,
    private readonly log: Logger,
  ) {
    this.path = controlSocketPath(mountpoint);
  }

  async listen(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    await rm(this.path, { force: true });
    const server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
    await chmod(this.path, 0o600);
    this.server = server;
    this.log.info({ socket: this.path }, 'control socket listening');
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(this.path, { force: true });
  }

  private serve(socket: Socket): void {
    let input = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      input += chunk;
      if (input.length > MAX_REQUEST_BYTES) {
        socket.destroy();
        return;
      }
      const end = input.indexOf('\n');
      if (end >= 0) socket.end(`${JSON.stringify(this.answer(input.slice(0, end)))}\n`);
    });
    socket.on('error', () => undefined);
  }

  private answer(line: string): ControlResponse {
    try {
      const request = validateRequest(JSON.parse(line));
      switch (request.command) {
        case 'stats':
          return { ok: true, stats: this.handlers.stats() };
        case 'clear':
          this.handlers.clear();
          this.log.info('cache cleared on request');
          return { ok: true };
        case 'invalidate': {
          const dropped = this.handlers.invalidate(request.path, request.recursive);
          this.log.info({ path: request.path, recursive: request.recursive, dropped }, 'cache invalidated on request');
          return { ok: true, dropped };
        }
        case 'configure': {
          const settings = this.handlers.configure(request.settings);
          this.log.info({ settings }, 'cache configured on request');
          return { ok: true, settings };
        }
      }
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  }
}
