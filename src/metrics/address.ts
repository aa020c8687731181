// The address of the metrics endpoint: HOST:PORT, [IPv6]:PORT or PORT alone (loopback).
// Metrics describe what a mount reads, so they stay on loopback unless asked otherwise.
import { isIP } from 'node:net';

export interface MetricsAddress {
  host: string;
  port: number;
}

/** Parses the address; the error message is meant for the person who typed it. */
export function parseMetricsAddress(text: string): MetricsAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  if (!match) throw new Error(`--metrics-address must be HOST:PORT, [IPV6]:PORT or PORT, not "${text}"`);
  const host = match[1] || match[2] || '127.0.0.1';
  const port = Number(match[3]);
  if (port < 1 || port > 65535) throw new Error(`--metrics-address: port ${port} is not between 1 and 65535`);
  if (match[1] !== undefined && match[1] !== '' && isIP(match[1]) !== 6) throw new Error(`--metrics-address: ${match[1]} is not an IPv6 address`);
  return { host, port };
}

/** Whether only this machine can reach `host`. Names other than localhost could resolve anywhere. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  switch (isIP(host)) {
    case 4:
      return host.startsWith('127.');
    case 6:
      return host === '::1' || /^::ffff:127\./i.test(host);
    default:
      return false;
  }
}

export function formatAddress(address: MetricsAddress): string {
  return isIP(address.host) === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
