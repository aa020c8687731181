// --shared-cache redis://[USER:PASSWORD@]HOST:PORT[/DB] (rediss:// for TLS): what to connect to,
// checked before anything is contacted, and a form of it that is safe to print.

export interface RedisTarget {
  host: string;
  port: number;
  username?: string;
  password?: string;
  /** Logical database (SELECT), 0 by default. */
  db: number;
  tls: boolean;
}

const DEFAULT_PORT = 6379;
// Redis's default `databases` setting is 16; servers may allow more, never a negative one.
const MAX_DB = 1_000_000;

/** The target `text` names; throws an Error saying what is wrong (the password never appears). */
export function parseRedisUrl(text: string): RedisTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error('must be a URL such as redis://HOST:PORT or rediss://USER:PASSWORD@HOST:PORT/DB');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(`must start with redis:// or rediss:// (TLS), not ${url.protocol}//`);
  if (url.hostname === '') throw new Error('names no host');
  if (url.search !== '' || url.hash !== '') throw new Error('takes no query or fragment (?… or #…)');
  const path = url.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d+$/.test(path)) throw new Error(`database must be a number (/0, /1, …), not "/${path}"`);
  const db = path === '' ? 0 : Number(path);
  if (db > MAX_DB) throw new Error(`database ${db} is out of range`);
  const port = url.port === '' ? DEFAULT_PORT : Number(url.port);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const target: RedisTarget = { host, port, db, tls: url.protocol === 'rediss:' };
  if (url.username !== '') target.username = decodeURIComponent(url.username);
  if (url.password !== '') target.password = decodeURIComponent(url.password);
  return target;
}

/** The target as a URL without its password: for logs, `cache stats` and messages. */
export function describeRedis(target: RedisTarget): string {
  const scheme = target.tls ? 'rediss' : 'redis';
  const user = target.username ? encodeURIComponent(target.username) : '';
  const credentials = target.password !== undefined ? `${user}:***@` : user ? `${user}@` : '';
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${scheme}://${credentials}${host}:${target.port}/${target.db}`;
}
