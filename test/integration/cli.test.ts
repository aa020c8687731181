// The command line as a user meets it: background start, one-line failures, stale mountpoints.

import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { CLI, endpointArgs, endpointEnv, isMounted, mountBucket, run, unmount } from '../support/mount.js';

let endpoint: S3Endpoint;
let prefix: string;
let scratch: string;

test.before(async () => {
  endpoint = await startS3Endpoint();
  prefix = testPrefix(endpoint);
  await seedClient(endpoint).send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: `${prefix}greeting.txt`, Body: 'hi\n' }));
  scratch = await mkdtemp(join(tmpdir(), 's3mount-cli-'));
});

test.after.always(async () => {
  await endpoint?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const target = () => (prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket);

async function freshMountpoint(name: string): Promise<string> {
  const path = join(scratch, name);
  await mkdir(path, { recursive: true });
  return path;
}

test('without -f it returns once mounted and a background process serves the mount', async (t) => {
  const mountpoint = await freshMountpoint('background');
  t.teardown(() => unmount(mountpoint));
  const start = await run(process.execPath, [CLI, target(), mountpoint, ...endpointArgs(endpoint), '--log-file', join(scratch, 'background.log')], {
    env: endpointEnv(endpoint),
  });
  t.is(start.code, 0, start.stderr);
  t.true(await isMounted(mountpoint));
  t.is((await run('cat', [join(mountpoint, 'greeting.txt')])).stdout, 'hi\n');
  const stats = await run(process.execPath, [CLI, 'cache', 'stats', mountpoint]);
  t.is(stats.code, 0, stats.stderr);
  t.regex(stats.stdout, /s3 calls made \d+/);
  t.is((await run('fusermount', ['-u', mountpoint])).code, 0);
});

// A mountpoint named through a symbolic link is mounted by the kernel at the link's target;
// the serving process looked for its mount under the link's name, took it for unmounted from
// outside within a second and left, leaving "Transport endpoint is not connected" behind, and
// `cache` commands found no socket under the target's name.
test('a mountpoint named through a symbolic link is served, and cache commands find it by either name', async (t) => {
  const mountpoint = await freshMountpoint('link-target');
  const link = join(scratch, 'link-to-mountpoint');
  await symlink(mountpoint, link);
  t.teardown(() => unmount(mountpoint));
  const start = await run(process.execPath, [CLI, target(), link, ...endpointArgs(endpoint), '--log-file', join(scratch, 'link.log')], {
    env: endpointEnv(endpoint),
  });
  t.is(start.code, 0, start.stderr);
  t.true(await isMounted(mountpoint));
  for (const name of [mountpoint, link]) {
    const stats = await run(process.execPath, [CLI, 'cache', 'stats', name]);
    t.is(stats.code, 0, stats.stderr);
  }
  const invalidate = await run(process.execPath, [CLI, 'cache', 'invalidate', link, join(link, 'greeting.txt')]);
  t.is(invalidate.code, 0, invalidate.stderr);
  // The serving process checks once a second whether it was unmounted from outside.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  t.is((await run('cat', [join(mountpoint, 'greeting.txt')])).stdout, 'hi\n');
  t.is((await run('fusermount', ['-u', mountpoint])).code, 0);
});

// The background process kept the working directory of the shell that started it: started
// from inside another mount (or a removable disk), it kept that one busy, and its unmount
// failed with EBUSY for as long as this mount lived.
test('a background mount does not keep the directory it was started from busy', async (t) => {
  const first = await mountBucket(endpoint, { target: target() });
  t.teardown(() => first.stop());
  const mountpoint = await freshMountpoint('started-elsewhere');
  t.teardown(() => unmount(mountpoint));
  const start = await run(process.execPath, [CLI, target(), mountpoint, ...endpointArgs(endpoint), '--log-file', join(scratch, 'elsewhere.log')], {
    env: endpointEnv(endpoint),
    cwd: first.mountpoint,
  });
  t.is(start.code, 0, start.stderr);
  const unmountFirst = await run('fusermount', ['-u', first.mountpoint]);
  t.is(unmountFirst.code, 0, unmountFirst.stderr);
  t.is((await run('cat', [join(mountpoint, 'greeting.txt')])).stdout, 'hi\n');
  t.is((await run('fusermount', ['-u', mountpoint])).code, 0);
});

test('a missing bucket fails at start with one line naming it', async (t) => {
  const mountpoint = await freshMountpoint('missing-bucket');
  const result = await run(process.execPath, [CLI, 'no-such-bucket-s3mount', mountpoint, '-f', ...endpointArgs(endpoint)], { env: endpointEnv(endpoint) });
  t.is(result.code, 1);
  t.regex(result.stderr.trim(), /^s3mount: .*no-such-bucket-s3mount/);
  t.is(result.stderr.trim().split('\n').length, 1);
  t.false(await isMounted(mountpoint));
});

test('an unreachable endpoint fails at start in the background too', async (t) => {
  const mountpoint = await freshMountpoint('unreachable');
  const result = await run(
    process.execPath,
    [CLI, 'some-bucket', mountpoint, '--endpoint-url', 'http://127.0.0.1:1', '--max-attempts', '1', '--log-file', join(scratch, 'unreachable.log')],
    { env: endpointEnv(endpoint) },
  );
  t.is(result.code, 1);
  t.regex(result.stderr, /^s3mount: .*127\.0\.0\.1:1/);
  t.false(await isMounted(mountpoint));
});

test('bad usage exits 2 with a clear line', async (t) => {
  const invalid = await run(process.execPath, [CLI, 'Bad_Bucket', scratch]);
  t.is(invalid.code, 2);
  t.regex(invalid.stderr, /^s3mount: invalid bucket name "Bad_Bucket"/);
  const unknown = await run(process.execPath, [CLI, '--no-such-option', 'b', scratch]);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /unknown option --no-such-option/);
  const help = await run(process.execPath, [CLI, '--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /--metadata-ttl SECONDS .*default: 60; env: S3MOUNT_METADATA_TTL/);
});

test('invalid bucket names and prefixes fail at start with one line, before any request or mount', async (t) => {
  // The endpoint is reached only through a proxy that logs requests: none may arrive.
  const proxy = await startFaultProxy(endpoint.endpoint);
  t.teardown(() => proxy.stop());
  const cases: Array<[string, RegExp]> = [
    [`${endpoint.bucket}:/abs`, /^s3mount: invalid prefix "\/abs": it must not start with "\/"/],
    [`${endpoint.bucket}:a//b`, /^s3mount: invalid prefix "a\/\/b": empty, "\." and "\.\." components/],
    [`${endpoint.bucket}:..`, /^s3mount: invalid prefix "\.\.": /],
    [`${endpoint.bucket}:a/./b`, /^s3mount: invalid prefix "a\/\.\/b": /],
    [`${endpoint.bucket}:${'k'.repeat(1100)}`, /^s3mount: invalid prefix of 1100 bytes: S3 keys are at most 1024 bytes/],
    [`${'b'.repeat(64)}:photos`, /^s3mount: invalid bucket name "b{64}": 3-63 lower-case/],
    ['My_Bucket', /^s3mount: invalid bucket name "My_Bucket": 3-63 lower-case/],
    ['my..bucket', /^s3mount: invalid bucket name "my\.\.bucket": two dots in a row/],
    ['10.0.0.1', /^s3mount: invalid bucket name "10\.0\.0\.1": formatted as an IP address/],
  ];
  let checked = 0;
  for (const [given, message] of cases) {
    for (const foreground of [true, false]) {
      const mountpoint = await freshMountpoint(`bad-input-${checked}`);
      // Only a regression mounts here; it must not outlive the test.
      t.teardown(() => unmount(mountpoint));
      const args = [
        CLI,
        given,
        mountpoint,
        '--endpoint-url',
        proxy.url,
        '--force-path-style',
        '--log-file',
        join(scratch, 'bad-input.log'),
        ...(foreground ? ['-f'] : []),
      ];
      const result = await run(process.execPath, args, { env: endpointEnv(endpoint) });
      const what = `${given.slice(0, 40)} ${foreground ? '-f' : 'background'}`;
      t.is(result.code, 2, `${what}: ${result.stderr}`);
      t.regex(result.stderr, message, what);
      t.is(result.stderr.trim().split('\n').length, 1, `${what}: one line`);
      t.false(await isMounted(mountpoint), what);
      checked++;
    }
  }
  t.is(proxy.log().length, 0, 'no request reached S3');
  t.log(`${checked} bad starts (${cases.length} inputs, foreground and background): exit 2, one line, no request, no mount`);
});

test('a mountpoint that is not empty is refused', async (t) => {
  const mountpoint = await freshMountpoint('not-empty');
  await writeFile(join(mountpoint, 'local.txt'), 'local');
  const result = await run(process.execPath, [CLI, target(), mountpoint, '-f', ...endpointArgs(endpoint)], { env: endpointEnv(endpoint) });
  t.is(result.code, 1);
  t.regex(result.stderr, /is not empty/);
});

test('a mountpoint left stale by a killed process is cleaned and mounted again', async (t) => {
  const first = await mountBucket(endpoint, { target: target() });
  t.teardown(() => first.stop());
  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));
  const stale = await run('ls', [first.mountpoint]);
  t.regex(stale.stderr, /Transport endpoint is not connected/);
  const result = await run(process.execPath, [CLI, target(), first.mountpoint, ...endpointArgs(endpoint), '--log-file', join(scratch, 'recovered.log')], {
    env: endpointEnv(endpoint),
  });
  t.teardown(() => unmount(first.mountpoint));
  t.is(result.code, 0, result.stderr);
  t.is((await run('cat', [join(first.mountpoint, 'greeting.txt')])).stdout, 'hi\n');
});

/** The options the kernel shows for the mount at `mountpoint` (/proc/self/mounts). */
async function kernelMountOptions(mountpoint: string): Promise<string[]> {
  const line = (await readFile('/proc/self/mounts', 'utf8')).split('\n').find((entry) => entry.split(' ')[1] === mountpoint);
  return line ? line.split(' ')[3].split(',') : [];
}

// Issue 14: --allow-other=false mounted with allow_other (switches ignored their values).
test('a switch given false stays off: --allow-other=false mounts without allow_other', async (t) => {
  const off = await mountBucket(endpoint, { target: target(), args: ['--allow-other=false'] });
  t.teardown(() => off.stop());
  t.false((await kernelMountOptions(off.mountpoint)).includes('allow_other'), (await kernelMountOptions(off.mountpoint)).join(','));
  await off.stop();
  // The same check sees allow_other when it is asked for.
  const on = await mountBucket(endpoint, { target: target(), args: ['--allow-other=true'] });
  t.teardown(() => on.stop());
  t.true((await kernelMountOptions(on.mountpoint)).includes('allow_other'), (await kernelMountOptions(on.mountpoint)).join(','));
});

test('-- ends the options, also for the background process that serves the mount', async (t) => {
  const mountpoint = await freshMountpoint('after-terminator');
  t.teardown(() => unmount(mountpoint));
  const start = await run(process.execPath, [CLI, ...endpointArgs(endpoint), '--log-file', join(scratch, 'terminator.log'), '--', target(), mountpoint], {
    env: endpointEnv(endpoint),
  });
  t.is(start.code, 0, start.stderr);
  t.is((await run('cat', [join(mountpoint, 'greeting.txt')])).stdout, 'hi\n');
});

test('bad command lines exit 2 with one line and mount nothing', async (t) => {
  const cases: Array<[string[], string]> = [
    [
      ['--region', '--foreground'],
      's3mount: option --region needs a value, and "--foreground" looks like an option (a value starting with "-" is written --region=--foreground)',
    ],
    [['--read-only=no'], 's3mount: --read-only takes true or false, not "no"'],
    [['--bogus'], 's3mount: unknown option --bogus (see s3mount --help)'],
    [['--log-level'], 's3mount: option --log-level needs a value LEVEL'],
    [['-fo'], 's3mount: option -o needs a list of options: -o opt[,opt...]'],
  ];
  for (const [flags, message] of cases) {
    const mountpoint = await freshMountpoint(`bad-line-${cases.findIndex(([f]) => f === flags)}`);
    t.teardown(() => unmount(mountpoint));
    const result = await run(process.execPath, [CLI, target(), mountpoint, ...endpointArgs(endpoint), '--log-file', join(scratch, 'bad-line.log'), ...flags], {
      env: endpointEnv(endpoint),
    });
    t.is(result.code, 2, `${flags.join(' ')}: ${result.stderr}`);
    t.is(result.stderr, `${message}\n`, flags.join(' '));
    t.false(await isMounted(mountpoint), flags.join(' '));
  }
});

// Issue 14: an endpoint_url from the AWS profile got AWS's checksums and virtual-hosted
// addressing (BUCKET.localhost, which does not resolve). It now counts as --endpoint-url does.
test('an endpoint_url in the AWS profile is a custom endpoint: the mount works, path style', async (t) => {
  const proxy = await startFaultProxy(endpoint.endpoint);
  t.teardown(() => proxy.stop());
  // A host name, not an IP address: the SDK addresses IP endpoints path style by itself.
  const url = new URL(proxy.url);
  url.hostname = 'localhost';
  const configFile = join(scratch, 'aws-config');
  await writeFile(
    configFile,
    `[default]\nendpoint_url = ${url.origin}\n\n[profile s3mount-test]\nservices = local\naws_access_key_id = ${endpoint.accessKeyId}\naws_secret_access_key = ${endpoint.secretAccessKey}\n\n[services local]\ns3 =\n  endpoint_url = ${url.origin}\n`,
  );
  const env: NodeJS.ProcessEnv = { ...endpointEnv(endpoint), AWS_CONFIG_FILE: configFile, AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'no-credentials') };
  delete env.AWS_ENDPOINT_URL;
  delete env.AWS_ENDPOINT_URL_S3;
  for (const profile of [[], ['--profile', 's3mount-test']]) {
    // A named profile takes its credentials from the profile, not from the environment.
    const what = profile.length ? 'named profile, services section' : 'default profile';
    const mountpoint = await freshMountpoint(`profile-endpoint-${profile.length}`);
    t.teardown(() => unmount(mountpoint));
    const start = await run(process.execPath, [CLI, target(), mountpoint, ...profile, '--log-file', join(scratch, 'profile-endpoint.log')], { env });
    t.is(start.code, 0, `${what}: ${start.stderr}`);
    t.is((await run('cat', [join(mountpoint, 'greeting.txt')])).stdout, 'hi\n', what);
    t.is((await run('cp', [configFile, join(mountpoint, `written-${profile.length}.txt`)])).code, 0, what);
    t.is((await run('cat', [join(mountpoint, `written-${profile.length}.txt`)])).stdout, await readFile(configFile, 'utf8'), what);
    t.is((await run('fusermount', ['-u', mountpoint])).code, 0, what);
  }
  const paths = proxy.log().map((record) => record.path);
  t.true(paths.length > 0);
  t.deepEqual(
    paths.filter((path) => !path.startsWith(`/${endpoint.bucket}`)),
    [],
    'every request names the bucket in its path',
  );
});
