// Which files a scan in listing order prefetches: a few large ones, many small ones.
import test from 'ava';
import type { DirListing, FsNode } from '../../src/fs/nodes.js';
import { ScanAhead } from '../../src/fs/read/scan-ahead.js';

const MiB = 1024 * 1024;

function listing(sizes: number[]): DirListing {
  const entries = new Map<string, FsNode>();
  sizes.forEach((size, i) => {
    entries.set(`f${i}`, { type: 'file', key: `d/f${i}`, size, etag: '"e"', mtime: new Date(0) });
  });
  entries.set('sub', { type: 'dir', prefix: 'd/sub/' });
  return { entries };
}

test('prefetching stops at the file count or at the bytes of first blocks, whichever comes first', (t) => {
  const fetched: string[] = [];
  const scan = new ScanAhead((target) => fetched.push(target.key), MiB, { filesAhead: 10, bytesAhead: 3 * MiB });
  // Files of 5 MiB count one block (1 MiB) each: three of them fill the allowance.
  const big = listing(Array.from({ length: 20 }, () => 5 * MiB));
  for (let i = 0; i < 3; i++) scan.opened('d/', big, `f${i}`);
  t.deepEqual(fetched, ['d/f3', 'd/f4', 'd/f5']);
  scan.opened('d/', big, 'f3');
  t.deepEqual(fetched, ['d/f3', 'd/f4', 'd/f5', 'd/f6'], 'one more as the scan moves on');

  const smallFetched: string[] = [];
  const smallScan = new ScanAhead((target) => smallFetched.push(target.key), MiB, { filesAhead: 10, bytesAhead: 3 * MiB });
  const small = listing([...Array.from({ length: 30 }, () => 4096), 0]);
  for (let i = 0; i < 3; i++) smallScan.opened('d/', small, `f${i}`);
  t.is(smallFetched.length, 10, 'small files: the file count decides');
  t.deepEqual(smallFetched.slice(0, 2), ['d/f3', 'd/f4']);
});

test('empty files and directories are not prefetched; a jump ends the streak', (t) => {
  const fetched: string[] = [];
  const scan = new ScanAhead((target) => fetched.push(target.key), MiB, { filesAhead: 10, bytesAhead: 64 * MiB });
  const dir = listing([10, 10, 10, 0, 10]);
  for (let i = 0; i < 3; i++) scan.opened('d/', dir, `f${i}`);
  t.deepEqual(fetched, ['d/f4'], 'f3 is empty and sub is a directory');
  const count = fetched.length;
  scan.opened('d/', dir, 'f0');
  scan.opened('d/', dir, 'f1');
  t.is(fetched.length, count, 'starting over needs a new streak');
});
