// No credential, signature or session token reaches a log line, whatever shape it comes in.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { defaultLogFile, logFileName } from '../../src/cli/log-location.js';
import { createLogger, scrubSecrets, secretValuesOf } from '../../src/log.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const TOKEN = 'FwoGZXIvYXdzEXAMPLESESSIONTOKEN+/=';
const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SIGNATURE = 'fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024';

test('signatures, credential scopes, tokens and URL passwords are scrubbed from a line', (t) => {
  const line = JSON.stringify({
    msg: `GET https://bucket.s3.amazonaws.com/key?X-Amz-Credential=${KEY_ID}%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=${SIGNATURE}&X-Amz-Security-Token=abc%2Bdef`,
    auth: `AWS4-HMAC-SHA256 Credential=${KEY_ID}/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=${SIGNATURE}`,
    endpoint: 'http://minio:hunter22secret@127.0.0.1:9000',
    nested: { deeper: { Authorization: 'anything at all', 'x-amz-security-token': 'tok', sessionToken: 'st' } },
  });
  const scrubbed = scrubSecrets(line);
  for (const secret of [KEY_ID, SIGNATURE, 'abc%2Bdef', 'hunter22secret', 'anything at all', '"tok"', '"st"']) t.false(scrubbed.includes(secret), secret);
  t.notThrows(() => JSON.parse(scrubbed), 'the line stays valid JSON');
  t.true(scrubbed.includes('127.0.0.1:9000'), 'the rest of the line is kept');
});

test('the values of the credentials in the environment are scrubbed wherever they appear', (t) => {
  const values = secretValuesOf({ AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: TOKEN, AWS_ACCESS_KEY_ID: KEY_ID, AWS_REGION: 'us-east-1' });
  t.is(values.length, 3);
  const scrubbed = scrubSecrets(JSON.stringify({ msg: `oops ${SECRET} and ${TOKEN} by ${KEY_ID}` }), values);
  t.false(scrubbed.includes(SECRET) || scrubbed.includes(TOKEN) || scrubbed.includes(KEY_ID));
  // Test endpoints use "test": too short to be a secret, and scrubbing it would mangle key names.
  t.deepEqual(secretValuesOf({ AWS_SECRET_ACCESS_KEY: 'test' }), []);
});

test('a logger at trace level writes no secret, in JSON and in pretty format', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 's3mount-log-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const env = { AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: TOKEN };
  for (const format of ['json', 'pretty'] as const) {
    const file = join(directory, `${format}.log`);
    const log = createLogger({ level: 'trace', format, file }, env);
    log.debug(
      {
        credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET },
        request: { headers: { authorization: `Credential=${KEY_ID}, Signature=${SIGNATURE}` } },
      },
      'request',
    );
    log.trace({ err: new Error(`failed with token ${TOKEN}`) }, 'failure');
    log.info(`presigned ?X-Amz-Signature=${SIGNATURE}`);
    log.info('last line');
    // pino-pretty writes from a worker thread: wait until the last line has arrived.
    const text = await waitForText(file, 'last line');
    t.regex(text, /request[\s\S]*failure[\s\S]*presigned[\s\S]*last line/, `${format}: every line written`);
    for (const secret of [KEY_ID, SECRET, TOKEN, SIGNATURE]) t.false(text.includes(secret), `${format}: ${secret}`);
  }
});

async function waitForText(file: string, expected: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (text.includes(expected) || attempt === 200) return text;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('a Redis password is never written: in a URL, or alone where something repeats it', async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 's3mount-log-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const password = 'redis-pw-4242';
  const file = join(directory, 'redis.log');
  const log = createLogger({ level: 'trace', format: 'json', file, secrets: [password] }, {});
  log.warn({ url: `rediss://s3mount:${password}@cache.lan:6380/2` }, 'shared cache unavailable');
  log.error({ err: new Error(`AUTH ${password} refused`) }, 'connection error');
  log.info('last line');
  const text = await waitForText(file, 'last line');
  t.false(text.includes(password));
  t.true(text.includes('cache.lan:6380'), 'the rest of the URL is kept');
  t.true(scrubSecrets('{"u":"redis://:short@h:1"}').includes('[redacted]@h:1'), 'a URL password is scrubbed whatever its length');
});

test('a background mount logs to a file named after its mountpoint in the state directory', (t) => {
  t.is(logFileName('/mnt/s3'), 'mnt-s3.log');
  t.is(logFileName('/srv/data/bucket/'), 'srv-data-bucket.log');
  t.is(defaultLogFile('/mnt/s3', { XDG_STATE_HOME: '/home/u/.state' }, 1000), '/home/u/.state/s3mount/mnt-s3.log');
  t.is(defaultLogFile('/mnt/s3', {}, 1000, '/home/u'), '/home/u/.local/state/s3mount/mnt-s3.log');
  t.is(defaultLogFile('/mnt/s3', { XDG_STATE_HOME: 'relative' }, 1000, '/home/u'), '/home/u/.local/state/s3mount/mnt-s3.log');
  t.is(defaultLogFile('/mnt/s3', { XDG_STATE_HOME: '/home/u/.state' }, 0), '/var/log/s3mount/mnt-s3.log');
});
