// mountTablePath: the name the kernel's mount table gives a mountpoint named through links.
import { mkdir, mkdtemp, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { mountTablePath } from '../../src/fuse/mount-table.js';

test('links are resolved in the parents and in the last component; a missing path keeps its name', async (t) => {
  const scratch = await realpath(await mkdtemp(join(tmpdir(), 's3mount-mount-table-')));
  t.teardown(() => rm(scratch, { recursive: true, force: true }));
  const real = join(scratch, 'real', 'mnt');
  await mkdir(real, { recursive: true });
  await symlink(real, join(scratch, 'link'));
  await symlink('real', join(scratch, 'parent-link'));
  await symlink('link', join(scratch, 'link-to-link'));
  await symlink('loop', join(scratch, 'loop'));

  t.is(await mountTablePath(real), real);
  t.is(await mountTablePath(join(scratch, 'link')), real);
  t.is(await mountTablePath(join(scratch, 'link-to-link')), real);
  t.is(await mountTablePath(join(scratch, 'parent-link', 'mnt')), real);
  t.is(await mountTablePath(join(scratch, 'parent-link', 'missing')), join(scratch, 'real', 'missing'));
  t.is(await mountTablePath(join(scratch, 'loop')), join(scratch, 'loop'));
  t.is(await mountTablePath('/'), '/');
});
