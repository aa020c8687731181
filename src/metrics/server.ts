// The HTTP endpoint Prometheus scrapes: GET /metrics, nothing else.
import { createServer, type Server } from 'node:http';
import type { Logger } from '../log.js';
import { formatAddress, type MetricsAddress } from './address.js';
import type { MountMetrics } from './mount-metrics.js';

export interface MetricsServer {
  close(): Promise<void>;
}

/** Listens on `address`; rejects (EADDRINUSE, EADDRNOTAVAIL, ...) when it cannot. */
export async function serveMetrics(address: MetricsAddress, metrics: MountMetrics, log: Logger): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('s3mount serves /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    metrics.render().then(
      ({ contentType, body }) => response.writeHead(200, { 'content-type': contentType }).end(request.method === 'HEAD' ? undefined : body),
      (error: unknown) => {
        log.warn({ err: error }, 'metrics could not be collected');
        response.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      server.on('error', (error) => log.warn({ err: error }, 'metrics endpoint failed'));
      resolve();
    });
  });
  // A scrape must never keep the process alive or stop an unmount.
  server.unref();
  log.info({ metrics: `http://${formatAddress(address)}/metrics` }, 'metrics endpoint listening');
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
