// The core's side of coherence (issue 11): what the kernel asks again every second
// (--kernel-cache-ttl 1) stays cheap.
import test from 'ava';
import { setupCore as setup } from '../support/core.js';

test('a directory known from its cached probe is looked up again without a HEAD', async (t) => {
  // No negative caching: a HEAD answering "no such key" is asked again every time.
  const { store, calls, fs } = setup({ negativeTtlMs: 0 });
  store.putObject('dir/a.txt', Buffer.from('a'));
  t.is((await fs.getattr('/dir')).mode & 0o170000, 0o040000);
  const heads = calls.head;
  for (let i = 0; i < 5; i++) t.is((await fs.getattr('/dir')).mode & 0o170000, 0o040000);
  t.is(calls.head, heads, 'the kernel looking the directory up again costs no HEAD');
});
