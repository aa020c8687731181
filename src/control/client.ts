import { createConnection } from 'node:net';
import type { ControlRequest, ControlResponse } from './protocol.js';
import { controlSocketPath } from './socket-path.js';

/** Sends one request to the mount at `mountpoint` and returns its answer. */
export async function sendControl(mountpoint: string, request: ControlRequest): Promise<ControlResponse> {
  const path = controlSocketPath(mountpoint);
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let output = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => (output += chunk));
    socket.on('end', () => {
      try {
        resolve(JSON.parse(output) as ControlResponse);
      } catch {
        reject(new Error(`bad answer from ${path}`));
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(error.code === 'ENOENT' || error.code === 'ECONNREFUSED' ? `no s3mount is serving ${mountpoint}` : `${path}: ${error.message}`)),
    );
  });
}
