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
  // Modes and owners hold for other users, as on a local disk (found by helper D: nothing did).
  const at = (name: string) => join(mount.mountpoint, name);
  const made = await run('sh', [
    '-c',
    `umask 077 && echo secret > ${at('private.txt')} && mkdir -m 0755 ${at('closed')} && mkdir -m 1777 ${at('shared')} && echo root > ${at('shared/roots.txt')}`,
  ]);
  t.is(made.code, 0, made.stderr);
  t.is((await asNobody(['cat', at('mine.txt')])).code, 0, 'a 0644 file reads');
  for (const [what, command] of [
    ['a 0600 file reads', ['cat', at('private.txt')]],
    ["another user's 0644 file takes an append", ['sh', '-c', `echo x >> ${at('mine.txt')}`]],
    ['a 0755 directory of another user takes a new file', ['touch', at('closed/new.txt')]],
    ["another user's file goes from a sticky directory", ['rm', '-f', at('shared/roots.txt')]],
    ["another user's file takes a chmod", ['chmod', '0666', at('mine.txt')]],
  ] as const) {
    const refused = await asNobody([...command]);
    t.not(refused.code, 0, `nobody: ${what}`);
    t.regex(refused.stderr, /Permission denied|Operation not permitted/, what);
  }
  t.is((await run('cat', [at('shared/roots.txt')])).stdout, 'root\n');
  t.is((await run('stat', ['-c', '%a', at('mine.txt')])).stdout.trim(), '644');
});
