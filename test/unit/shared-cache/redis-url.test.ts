// --shared-cache URLs: what they name, what is refused, and a printable form without the password.
import test from 'ava';
import { describeRedis, parseRedisUrl } from '../../../src/shared-cache/redis-url.js';

test('redis:// and rediss:// URLs name host, port, credentials, database and TLS', (t) => {
  t.deepEqual(parseRedisUrl('redis://127.0.0.1:6380'), { host: '127.0.0.1', port: 6380, db: 0, tls: false });
  t.deepEqual(parseRedisUrl('redis://cache.lan'), { host: 'cache.lan', port: 6379, db: 0, tls: false });
  t.deepEqual(parseRedisUrl('rediss://s3mount:p%40ss%3Aword@cache.lan:6380/3'), {
    host: 'cache.lan',
    port: 6380,
    db: 3,
    tls: true,
    username: 's3mount',
    password: 'p@ss:word',
  });
  t.deepEqual(parseRedisUrl('redis://:secret@[::1]:7000/1'), { host: '::1', port: 7000, db: 1, tls: false, password: 'secret' });
});

test('anything else is refused, and the message never repeats the URL', (t) => {
  for (const bad of ['http://h:1', 'cache.lan:6379', 'redis://', 'redis://u:hunter22@h:1/x', 'redis://u:hunter22@h:1/0?tls=1', 'redis://h:1/0#a']) {
    const error = t.throws(() => parseRedisUrl(bad));
    t.false(error?.message.includes('hunter22'), bad);
  }
});

test('the printable form hides the password', (t) => {
  t.is(describeRedis(parseRedisUrl('rediss://s3mount:hunter22@cache.lan:6380/3')), 'rediss://s3mount:***@cache.lan:6380/3');
  t.is(describeRedis(parseRedisUrl('redis://:hunter22@[::1]:7000')), 'redis://:***@[::1]:7000/0');
  t.is(describeRedis(parseRedisUrl('redis://cache.lan')), 'redis://cache.lan:6379/0');
});
