// Who may see what: the mount, its staging directory and its control socket belong to the
// mounting user unless --allow-other says otherwise.

import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type S3Endpoint, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { controlSocketPath } from '../../src/control/socket-path.js';
import { mountBucket, run } from '../support/mount.js';

let endpoint: S3Endpoint;
let scratch: string;

test.before(async () => {
  endpoint = await startS3Endpoint();
  scratch = await mkdtemp(join(tmpdir(), 's3mount-security-'));
});

test.after.always(async () => {
  await endpoint?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const target = () => (testPrefix(endpoint) ? `${endpoint.bucket}:${testPrefix(endpoint)}` : endpoint.bucket);
const asNobody = (command: string[]) => run('runuser', ['-u', 'nobody', '--', ...command]);

test.serial('a mount is private to its user; staging and control socket are closed to others', async (t) => {
  const staging = join(scratch, 'staging-private');
  const mount = await mountBucket(endpoint, { target: target(), args: ['--staging-dir', staging, '--file-mode', '0640'] });
  t.teardown(() => mount.stop());
  t.is((await run('sh', ['-c', `echo secret > ${mount.mountpoint}/mine.txt`])).code, 0);
  t.is(
    (await run('stat', ['-c', '%a', join(mount.mountpoint, 'mine.txt')])).stdout.trim(),
    '644',
    'a created file takes the mode it was created with (umask 022)',
  );
  const other = await asNobody(['ls', mount.mountpoint]);
  t.not(other.code, 0);
  t.regex(other.stderr, /Permission denied/);
  t.is(((await stat(staging)).mode & 0o777).toString(8), '700');
  const socket = controlSocketPath(mount.mountpoint);
  t.is(((await stat(socket)).mode & 0o777).toString(8), '600');
  t.is(((await stat(join(socket, '..'))).mode & 0o777).toString(8), '700');
});

test.serial('--allow-other opens the mount to other users, with the configured modes', async (t) => {
  const mount = await mountBucket(endpoint, {
    target: target(),
    args: ['--allow-other', '--file-mode', '0604', '--staging-dir', join(scratch, 'staging-open')],
  });
  t.teardown(() => mount.stop());
  const listing = await asNobody(['ls', '-l', mount.mountpoint]);
  t.is(listing.code, 0, listing.stderr);
  // --file-mode is for objects without a mode of their own: mine.txt was created 0644.
  t.regex(listing.stdout, /^-rw-r--r-- .* mine\.txt$/m, 'the mode the file was created with, never --file-mode guessed from a listing');
});
