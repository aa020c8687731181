// HEADs sent ahead for a listing: bounded in flight, a window ahead of programs that stat
// entries in order, nothing ahead of a stat out of order.
import test from 'ava';
import { HeadAhead } from '../../src/fs/names/head-ahead.js';
import type { DirListing, FsNode } from '../../src/fs/nodes.js';

function listing(count: number): DirListing {
  const entries = new Map<string, FsNode>();
  for (let i = 0; i < count; i++) {
    const name = `f${String(i).padStart(5, '0')}`;
    entries.set(name, { type: 'file', key: name, size: 1, etag: '"e"', mtime: new Date(0) });
  }
  return { entries };
}

/** HEADs that answer when told to; records the order and the most in flight at once. */
function heads() {
  const asked: string[] = [];
  const pending: Array<() => void> = [];
  const known = new Set<string>();
  let inFlight = 0;
  let most = 0;
  const head = (_node: FsNode, key: string) =>
    new Promise<void>((resolve) => {
      asked.push(key);
      most = Math.max(most, ++inFlight);
      pending.push(() => {
        inFlight--;
        known.add(key);
        resolve();
      });
    });
  const answerAll = async () => {
    while (pending.length > 0) {
      for (const answer of pending.splice(0)) answer();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { asked, head, known, answerAll, most: () => most };
}

test('readdir asks for one batch; stats in order ask for more and more ahead, never more than maxInFlight at once', async (t) => {
  const dir = listing(1000);
  const h = heads();
  const ahead = new HeadAhead((node) => (node.type === 'file' && !h.known.has(node.key) ? node.key : undefined), h.head, { maxInFlight: 4, window: 64 });
  ahead.listed(dir);
  t.is(h.asked.length, 4);
  await h.answerAll();
  t.deepEqual(h.asked, ['f00000', 'f00001', 'f00002', 'f00003'], 'one batch for a readdir alone');
  const counts: number[] = [];
  for (let i = 0; i < 6; i++) {
    ahead.asked(dir, `f${String(i).padStart(5, '0')}`);
    await h.answerAll();
    counts.push(h.asked.length);
  }
  t.deepEqual(counts, [8, 17, 34, 67, 67, 67], '8 ahead, then 16, 32, 64 (the window); refilled at half of it');
  t.is(h.most(), 4);
  t.is(new Set(h.asked).size, h.asked.length, 'each once');
});

test('stats out of order ask for nothing ahead; a pair in order for 8', async (t) => {
  const dir = listing(1000);
  const h = heads();
  const ahead = new HeadAhead((node) => (node.type === 'file' && !h.known.has(node.key) ? node.key : undefined), h.head, { maxInFlight: 8, window: 256 });
  for (const i of [500, 900, 300, 700]) ahead.asked(dir, `f${String(i).padStart(5, '0')}`);
  await h.answerAll();
  t.deepEqual(h.asked, []);
  ahead.asked(dir, 'f00701');
  await h.answerAll();
  t.deepEqual(
    h.asked,
    Array.from({ length: 8 }, (_, i) => `f${String(701 + i).padStart(5, '0')}`),
  );
});

test('a stat far past the last one but within what was sent ahead still counts as in order', async (t) => {
  // The stats between were answered by the FUSE binding (their HEADs put the answers there),
  // so the next stat the core sees comes many entries later: it must keep the window going.
  const dir = listing(1000);
  const h = heads();
  const ahead = new HeadAhead((node) => (node.type === 'file' && !h.known.has(node.key) ? node.key : undefined), h.head, { maxInFlight: 8, window: 64 });
  ahead.listed(dir);
  ahead.asked(dir, 'f00000');
  await h.answerAll();
  t.is(h.asked.length, 8);
  // Entries 1-7 were answered by the binding: the next stat the core sees is of entry 8.
  ahead.asked(dir, 'f00008');
  await h.answerAll();
  t.true(h.asked.length > 8, 'more sent ahead');
  const reached = h.asked.length;
  ahead.asked(dir, `f${String(reached).padStart(5, '0')}`);
  await h.answerAll();
  t.true(h.asked.length > reached + 8, `the window keeps growing (${h.asked.length} asked)`);
});
