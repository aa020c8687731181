// Files closed by many processes at once upload at once through a real mount, up to the bound
// of uploads in flight (16). The fault proxy holds every PUT until each close is accounted for
// (its PUT held at the proxy, or its upload waiting for a slot in the mount, from `cache
// stats`): the counts then say how many were in flight together, whatever the timing.

import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import test from 'ava';
import { seedClient, testPrefix } from '../../scripts/local-s3.js';
import { mountStats, run } from '../support/mount.js';
import { mountThroughProxy, type ProxiedMount } from '../support/proxied-mount.js';

const FILES = 24;
const BOUND = 16;

let proxied: ProxiedMount;

test.before(async () => {
  proxied = await mountThroughProxy(async () => {});
});

test.after.always(async () => {
  await proxied?.stop();
});

test('24 files closed by 24 processes at once: 16 PUTs in flight together, 8 uploads waiting for a slot', async (t) => {
  const { proxy, mount, endpoint } = proxied;
  const dir = join(mount.mountpoint, 'many');
  t.is((await run('mkdir', [dir])).code, 0);
  proxy.inject('write', { kind: 'hold' });
  // One dd per file, all at once: each creates, writes 4 KiB and closes its file.
  const writing = run('sh', ['-c', `seq ${FILES} | xargs -P ${FILES} -I{} dd if=/dev/zero of=${dir}/f{} bs=4096 count=1 status=none`], { timeoutMs: 120_000 });
  const deadline = Date.now() + 60_000;
  let seen = { held: 0, waiting: 0 };
  for (;;) {
    const { uploads } = await mountStats(mount.mountpoint);
    seen = { held: proxy.held('write'), waiting: uploads.waiting };
    if (seen.held + seen.waiting >= FILES) break;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  proxy.clear('write');
  proxy.release('write');
  const written = await writing;
  t.is(written.code, 0, written.stderr);
  t.deepEqual(seen, { held: BOUND, waiting: FILES - BOUND }, 'every close accounted for: 16 PUTs held at once, the rest waiting');
  const client = seedClient(endpoint);
  try {
    for (let i = 1; i <= FILES; i++) {
      const head = await client.send(new HeadObjectCommand({ Bucket: endpoint.bucket, Key: `${testPrefix(endpoint)}many/f${i}` }));
      t.is(head.ContentLength, 4096, `f${i} is in the bucket whole`);
    }
  } finally {
    client.destroy();
  }
});
