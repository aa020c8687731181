// Model-based test: the same random sequence of operations runs against the mount and
// against a plain local directory; results (success or errno) and the state of both trees
// must agree after every step. The seed is printed; S3MOUNT_MODEL_SEED=<seed> replays a run.
// After every step that changed something, the directories it touched are also compared, as
// the mount shows them from its cache (listings it edited in place with its own changes),
// with what S3 lists and HEADs say right then, through the SDK.
// Descriptors are held across changes: a reader while the file is unlinked or renamed, an
// appender and a reader while the file or its directory is renamed.
// Some files cross the part size, written sequentially (parts uploaded while they are written)
// with a write back and a cut on the way, and written to at far offsets.
// Another writer (the SDK, straight to S3, as another program or machine would) creates,
// replaces and deletes objects under the mount, with and without s3fs metadata; the local
// directory gets the same change, and the mount learns of it as a user makes it learn:
// `s3mount cache invalidate MNT PATH`. Around it, a new open of a replaced file must read the
// new object whole (behind a cached listing before any invalidation, and while a handle
// opened before is still open), and that older handle reads on only as docs/semantics.md says.

import { createHash, randomInt } from 'node:crypto';
import {
  appendFile,
  chmod,
  type FileHandle,
  lstat,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  rmdir,
  stat,
  symlink,
  truncate,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { DeleteObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { versionStamped } from '../../src/fs/attributes/version-time.js';
import { CLI, type Mount, mountBucket, mountStats, run } from '../support/mount.js';
import { patternBytes } from '../support/pattern.js';
import { seededRandom as random } from '../support/seeded-random.js';

const STEPS = Number(process.env.S3MOUNT_MODEL_STEPS ?? 2000);
const SEED = Number(process.env.S3MOUNT_MODEL_SEED ?? randomInt(2 ** 31));
// Full-tree comparisons are the slow part; the touched paths are compared at every step.
const FULL_COMPARE_EVERY = 50;

const DIRS = ['', 'd1', 'd1/d2', 'e'];
// 'ab' starts with 'a': the lookup of a name nothing is cached about lists every key starting
// with it, so the LIST of 'a' also shows 'ab' (a file, or a directory's keys).
const NAMES = ['a', 'ab', 'b', 'c', 'd1', 'd2', 'e'];
// Operations on attributes, links and FIFOs, and what links point to (dangling ones included).
const ATTRIBUTE_KINDS = ['chmod', 'symlink', 'mkfifo'];
const LINK_TARGETS = ['a', 'b', 'd1', 'missing', '../a', 'd1/a'];
// Files written past the part size (--write-part-size 5) upload parts while they are written;
// a few steps write such files with a rewrite and a cut on the way.
const MiB = 1024 * 1024;
const PART_SIZE_MIB = 5;
const STREAM_SHARE = 0.03;
// Halfway through, the mount is remounted: from then on nothing is cached, and every mode and
// link must come back from S3 as it was.
const REMOUNT_AT = Math.floor(STEPS / 2);
// Steps of another writer. Each ends with `cache invalidate`, which waits out the kernel's
// attribute TTL (1 s): the share keeps the run's time reasonable.
const OUTSIDE_SHARE = 0.01;
// Sizes of objects the other writer puts: some cross the mount's 1 MiB block, one the part size.
const OUTSIDE_SIZES = [0, 1, 100, 5000, 70_000, MiB + 4321, 2 * MiB, PART_SIZE_MIB * MiB + 7];

let endpoint: S3Endpoint;
let client: S3Client;
let mount: Mount;
let local: string;

const mountModel = () => {
  const prefix = testPrefix(endpoint);
  return mountBucket(endpoint, {
    target: prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket,
    args: ['--metadata-ttl', '3600', '--write-part-size', String(PART_SIZE_MIB)],
  });
};

test.before(async () => {
  endpoint = await startS3Endpoint();
  client = seedClient(endpoint);
  mount = await mountModel();
  local = await mkdtemp(join(tmpdir(), 's3mount-model-'));
});

test.after.always(async () => {
  client?.destroy();
  await mount?.stop();
  await endpoint?.stop();
  if (local) await rm(local, { recursive: true, force: true });
});

interface Operation {
  name: string;
  paths: string[];
  run: (root: string) => Promise<string>;
  /** What the mount side does instead of run(mountpoint): another writer's change, after run(local) applied it there. */
  mount?: () => Promise<string>;
  /** The kind of step, counted in the test's log. */
  tally?: string;
}

function plan(next: () => number): Operation {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const path = () => [pick(DIRS), pick(NAMES)].filter(Boolean).join('/');
  if (next() < OUTSIDE_SHARE) return outside(next);
  const bytes = (length: number) => Buffer.from(Array.from({ length }, () => 97 + Math.floor(next() * 26)));
  const size = () => pick([0, 1, 100, 4096, 5000, 70_000]);
  if (next() < STREAM_SHARE) {
    const target = path();
    const plan: StreamPlan = {
      edit: next() < 0.5,
      total: pick([6, 9, 12]) * MiB + Math.floor(next() * 1000),
      seed: Math.floor(next() * 2 ** 31),
      rewriteAt: 0,
      cutTo: undefined,
    };
    plan.rewriteAt = Math.floor((next() * plan.total * 2) / 3);
    if (next() < 0.3) plan.cutTo = Math.floor((next() * plan.total * 2) / 3);
    const cut = plan.cutTo === undefined ? '' : `, cut to ${plan.cutTo}`;
    return {
      name: `stream ${target} (${plan.edit ? 'r+' : 'w'}, ${plan.total} bytes, rewrite @${plan.rewriteAt}${cut})`,
      paths: [target],
      run: (root) => unlessFifo(join(root, target), () => streamWrite(join(root, target), plan)),
    };
  }
  const kind = pick([
    'create',
    'create',
    'write',
    'write',
    'truncate',
    // fallocate(2): mode 0 grows a shorter file with zeros; --keep-size changes nothing.
    'fallocate',
    'rename',
    'unlink',
    'mkdir',
    'mkdir',
    'rmdir',
    'read',
    // Explicit times, to the nanosecond libuv passes.
    'utime',
    // A file removed or renamed away while a descriptor reads it (libfuse's hidden name).
    'held read',
    // A file appended to by one descriptor and read by another while it or its directory is renamed.
    'held append',
    ...ATTRIBUTE_KINDS,
  ]);
  switch (kind) {
    // Attributes and links (what a listing cannot tell, so what a remount must not lose).
    case 'chmod': {
      const target = path();
      const mode = pick([0o400, 0o600, 0o640, 0o644, 0o700, 0o755]);
      return {
        name: `chmod ${target} ${mode.toString(8)}`,
        paths: [target],
        run: (root) => outcome(chmod(join(root, target), mode).then(() => modeOf(join(root, target)))),
      };
    }
    case 'symlink': {
      const target = path();
      const to = pick(LINK_TARGETS);
      return { name: `symlink ${target} -> ${to}`, paths: [target], run: (root) => outcome(symlink(to, join(root, target))) };
    }
    case 'mkfifo': {
      // A FIFO is stored as a zero-byte object whose mode metadata gives its type (as s3fs).
      const target = path();
      return { name: `mkfifo ${target}`, paths: [target], run: (root) => makeFifo(join(root, target)) };
    }
    case 'create': {
      const target = path();
      const data = bytes(size());
      return {
        name: `create ${target} (${data.length} bytes)`,
        paths: [target],
        run: (root) => unlessFifo(join(root, target), () => writeWhole(join(root, target), data)),
      };
    }
    case 'write': {
      const target = path();
      // Far offsets land in later parts of big files (and leave holes in small ones).
      const offset = pick([0, 10, 4095, 5000, 65_536, 6 * MiB + 3, 11 * MiB]);
      const data = bytes(pick([1, 100, 4096, 10_000]));
      return {
        name: `write ${target} @${offset} (${data.length} bytes)`,
        paths: [target],
        run: (root) => unlessFifo(join(root, target), () => writeAt(join(root, target), offset, data)),
      };
    }
    case 'truncate': {
      const target = path();
      const length = size();
      return { name: `truncate ${target} to ${length}`, paths: [target], run: (root) => outcome(truncate(join(root, target), length)) };
    }
    case 'fallocate': {
      const target = path();
      const keepSize = next() < 0.3;
      const offset = pick([0, 100, 5000, 6 * MiB + 3]);
      const length = pick([1, 4096, 70_000]);
      return {
        name: `fallocate ${keepSize ? '--keep-size ' : ''}${target} @${offset} +${length}`,
        paths: [target],
        run: (root) => unlessFifo(join(root, target), () => allocate(join(root, target), keepSize, offset, length)),
      };
    }
    case 'rename': {
      const from = path();
      const to = path();
      return { name: `rename ${from} -> ${to}`, paths: [from, to], run: (root) => outcome(rename(join(root, from), join(root, to))) };
    }
    case 'unlink': {
      const target = path();
      return { name: `unlink ${target}`, paths: [target], run: (root) => outcome(unlink(join(root, target))) };
    }
    case 'mkdir': {
      const target = path();
      return { name: `mkdir ${target}`, paths: [target], run: (root) => outcome(mkdir(join(root, target))) };
    }
    case 'rmdir': {
      const target = path();
      return { name: `rmdir ${target}`, paths: [target], run: (root) => outcome(rmdir(join(root, target))) };
    }
    case 'utime': {
      const target = path();
      // Seconds with a fraction, as utimes takes them; both sides get the same timespec from libuv.
      const atime = pick([1_000_000_000, 1_234_567_890.5, 1_700_000_000.123456]);
      const mtime = pick([1_100_000_000, 1_300_000_000.25, 1_600_000_000.987654]);
      // Before 1970 (Node's utimes takes a negative time as now): touch -m -d @SECONDS.
      const before1970 = pick([undefined, undefined, undefined, '-302486400', '-1.5']);
      if (before1970) {
        return {
          name: `touch -m -d @${before1970} ${target}`,
          paths: [target],
          run: (root) => unlessFifo(join(root, target), () => touchMtime(join(root, target), before1970)),
        };
      }
      return {
        name: `utime ${target} (${atime}, ${mtime})`,
        paths: [target],
        run: (root) => outcome(utimes(join(root, target), atime, mtime).then(() => mtimeOf(join(root, target)))),
      };
    }
    case 'held read': {
      const target = path();
      const to = next() < 0.5 ? undefined : path();
      return {
        name: to === undefined ? `read ${target} while it is unlinked` : `read ${target} while it is renamed to ${to}`,
        paths: to === undefined ? [target] : [target, to],
        run: (root) => unlessFifo(join(root, target), () => readWhileRemoved(root, target, to)),
      };
    }
    case 'held append': {
      const target = path();
      const parent = target.includes('/') ? target.slice(0, target.lastIndexOf('/')) : '';
      const from = parent !== '' && next() < 0.5 ? parent : target;
      const to = path();
      const data = bytes(pick([1, 100, 5000]));
      return {
        name: `append to ${target} (${data.length} bytes), read by another descriptor, while ${from} is renamed to ${to}`,
        paths: [from, to],
        run: (root) => unlessFifo(join(root, target), () => unlessOutside(root, target, () => appendWhileRenamed(root, target, from, to, data))),
      };
    }
    default: {
      const target = path();
      return {
        name: `read ${target}`,
        paths: [target],
        run: (root) => unlessFifo(join(root, target), () => outcome(readFile(join(root, target)).then((data) => `${data.length}:${hash(data)}`))),
      };
    }
  }
}

/**
 * Opening a FIFO waits for its other end: a step that would open one (through a link too)
 * says so instead, on both sides, so a path that is a FIFO on one side only still differs.
 */
async function unlessFifo(path: string, work: () => Promise<string>): Promise<string> {
  if ((await stat(path).catch(() => undefined))?.isFIFO()) return 'a FIFO: not opened';
  return work();
}

/**
 * A link at the root to `../a` leads out of both trees, to one file the two sides share: an
 * append through it would land twice. Such a step says so on both sides instead.
 */
async function unlessOutside(root: string, target: string, work: () => Promise<string>): Promise<string> {
  return (await leadsOutside(root, target)) ? 'outside the tree: not appended' : work();
}

/**
 * Whether `target` under `root` is, or leads through links to, a name outside `root`, whether
 * or not that name exists yet: realpath alone fails on a link to a missing file, and then one
 * side's append created the shared file outside that the other side's realpath found (seed
 * 723254078 at step 108, one run in three).
 */
async function leadsOutside(root: string, target: string): Promise<boolean> {
  const top = await realpath(root);
  let current = join(root, target);
  for (let hops = 0; hops < 40; hops++) {
    const directory = await realpath(dirname(current)).catch(() => undefined);
    if (directory === undefined) return false;
    const name = join(directory, basename(current));
    if (relative(top, name).startsWith('..')) return true;
    const link = await readlink(name).catch(() => undefined);
    if (link === undefined) return false;
    current = resolve(directory, link);
  }
  return false;
}

/** mkfifo(1), its failure as an errno name. */
async function makeFifo(path: string): Promise<string> {
  const result = await run('mkfifo', [path]);
  return result.code === 0 ? 'ok' : failureOf('mkfifo', result.stderr, path);
}

/** A command's failure as the errno its message names; anything else without the root it ran under (the two sides' roots differ). */
function failureOf(command: string, stderr: string, path: string): string {
  const known: Array<[RegExp, string]> = [
    [/File exists/, 'EEXIST'],
    [/Is a directory/, 'EISDIR'],
    [/No such file or directory/, 'ENOENT'],
    [/Not a directory/, 'ENOTDIR'],
    [/Too many levels of symbolic links/, 'ELOOP'],
  ];
  return known.find(([pattern]) => pattern.test(stderr))?.[1] ?? `${command} failed: ${stderr.trim().replaceAll(path, 'PATH')}`;
}

/** touch -m -d @SECONDS: the mtime it leaves, or why it failed. */
async function touchMtime(path: string, seconds: string): Promise<string> {
  const result = await run('touch', ['-m', '-d', `@${seconds}`, path]);
  return result.code === 0 ? outcome(mtimeOf(path)) : failureOf('touch', result.stderr, path);
}

/** fallocate(2) through util-linux's fallocate (Node has no call for it). */
async function allocate(path: string, keepSize: boolean, offset: number, length: number): Promise<string> {
  const result = await run('fallocate', [...(keepSize ? ['--keep-size'] : []), '-o', String(offset), '-l', String(length), path]);
  return result.code === 0 ? 'ok' : failureOf('fallocate', result.stderr, path);
}

async function outcome(work: Promise<unknown>): Promise<string> {
  try {
    const value = await work;
    return typeof value === 'string' ? `ok ${value}` : 'ok';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}

/**
 * Opens `target`, reads its first bytes, unlinks it (or renames it to `to`), reads the rest
 * through the same descriptor and closes it: as on a local disk, the descriptor reads the
 * file whole. On the mount, the hidden name it was kept under is then waited out.
 */
async function readWhileRemoved(root: string, target: string, to: string | undefined): Promise<string> {
  let removed = 'not removed';
  const read = await outcome(
    (async () => {
      const handle = await open(join(root, target), 'r');
      try {
        const head = Buffer.alloc(100);
        const first = (await handle.read(head, 0, head.length, 0)).bytesRead;
        removed = await outcome(to === undefined ? unlink(join(root, target)) : rename(join(root, target), join(root, to)));
        const rest = await handle.readFile();
        const whole = Buffer.concat([head.subarray(0, first), rest]);
        return `${whole.length}:${hash(whole)}`;
      } finally {
        await handle.close();
      }
    })(),
  );
  if (root === mount.mountpoint && removed !== 'not removed')
    await hiddenNamesGone(join(root, target.includes('/') ? target.slice(0, target.lastIndexOf('/')) : ''));
  return `${read}, removal ${removed}`;
}

/**
 * Opens `target` for appending (nothing written yet) and for reading, reads its first bytes,
 * renames `from` (the file or its directory) to `to`, appends `data` and, before closing the
 * appender, reads the file whole through the reader: as on a local disk, both descriptors
 * follow the rename and the reader sees the append.
 */
async function appendWhileRenamed(root: string, target: string, from: string, to: string, data: Buffer): Promise<string> {
  let renamed = 'not renamed';
  const read = await outcome(
    (async () => {
      const appender = await open(join(root, target), 'a');
      try {
        const reader = await open(join(root, target), 'r');
        try {
          const head = Buffer.alloc(100);
          await reader.read(head, 0, head.length, 0);
          renamed = await outcome(rename(join(root, from), join(root, to)));
          await appender.write(data);
          // Reads at pread offsets leave the position at 0: readFile reads it all from there.
          const whole = await reader.readFile();
          return `${whole.length}:${hash(whole)}`;
        } finally {
          await reader.close();
        }
      } finally {
        await appender.close();
      }
    })(),
  );
  return `${read}, rename ${renamed}`;
}

/** libfuse removes a hidden name when the kernel's release (sent after close() returns) arrives. */
async function hiddenNamesGone(dir: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const hidden = (await readdir(dir).catch(() => [] as string[])).filter((name) => name.startsWith('.fuse_hidden') || name.startsWith('.s3mount_hidden'));
    if (hidden.length === 0) return;
    if (Date.now() > deadline) throw new Error(`hidden names left in ${dir}: ${hidden.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function writeWhole(path: string, data: Buffer): Promise<string> {
  return outcome(
    (async () => {
      const handle = await open(path, 'w');
      try {
        await handle.write(data, 0, data.length, 0);
      } finally {
        await handle.close();
      }
    })(),
  );
}

function writeAt(path: string, offset: number, data: Buffer): Promise<string> {
  return outcome(
    (async () => {
      const handle = await open(path, 'r+');
      try {
        await handle.write(data, 0, data.length, offset);
      } finally {
        await handle.close();
      }
    })(),
  );
}

/** How another writer changes a path: what it writes, and what the mount does around it. */
interface OutsidePlan {
  action: 'replace' | 'create' | 'delete';
  /** Which of the paths the action applies to (a fraction of their list). */
  choice: number;
  /**
   * What the mount does around the change, besides the invalidation after it: 'cold' nothing;
   * 'read' it read the file before (its blocks cached); 'listed' its listing and stat hold a
   * version whose bytes it never read, and a new open after the change, before any
   * invalidation, must read the new object whole; 'held' a handle opened and read before the
   * change, then after the invalidation a new open reads the new object whole while the old
   * handle reads on (see outsideOnMount).
   */
  around: 'cold' | 'read' | 'listed' | 'held';
  size: number;
  seed: number;
  /** s3fs metadata: none, the mode only, or the mode and the three times. */
  metadata: 'none' | 'mode' | 'mode and times';
  mode: number;
  atime: number;
  mtime: number;
  /** A symbolic link the s3fs way (its body is the target) instead of a file. */
  link?: string;
}

/** s3fs's epoch seconds, nine decimals when there is a fraction. */
function epochSeconds(seconds: number): string {
  const whole = Math.floor(seconds);
  const nanos = Math.round((seconds - whole) * 1e6) * 1000;
  return nanos ? `${whole}.${String(nanos).padStart(9, '0')}` : String(whole);
}

function outside(next: () => number): Operation {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const change: OutsidePlan = {
    action: pick(['replace', 'replace', 'create', 'delete'] as const),
    choice: next(),
    around: pick(['cold', 'read', 'listed', 'held'] as const),
    size: pick(OUTSIDE_SIZES),
    seed: Math.floor(next() * 2 ** 31),
    metadata: pick(['none', 'mode', 'mode and times'] as const),
    mode: pick([0o400, 0o600, 0o640, 0o644, 0o700, 0o755]),
    atime: pick([1_000_000_000, 1_234_567_890.5, 1_700_000_000.123456]),
    mtime: pick([1_100_000_000, 1_300_000_000.25, 1_600_000_000.987654]),
  };
  if (change.action !== 'delete' && next() < 0.15) change.link = pick(LINK_TARGETS);
  const body = change.link ? Buffer.from(change.link) : patternBytes(change.size, change.seed);
  const what = change.action === 'delete' ? '' : change.link ? ` with a link -> ${change.link}` : ` with ${body.length} bytes, metadata: ${change.metadata}`;
  // Set by the local side, which runs first: the path, what it was, and its bytes.
  let target = '';
  let before: PathKind = 'missing';
  let oldBytes: Buffer = Buffer.alloc(0);
  const operation: Operation = {
    name: `outside ${change.action}${what} (${change.around})`,
    paths: [],
    run: async (root) => {
      const candidates = await outsideCandidates(change.action);
      operation.tally = 'skipped';
      if (candidates.length === 0) return `skipped: nothing to ${change.action}`;
      operation.tally = `${change.action}${change.link ? ' by a link' : ''} (${change.around})`;
      [target, before] = candidates[Math.floor(change.choice * candidates.length)];
      operation.paths = [target];
      operation.name = `outside ${change.action} ${target} (a ${before})${what} (${change.around})`;
      const full = join(root, target);
      if (before === 'file') oldBytes = await readFile(full);
      if (change.action === 'delete') await unlink(full);
      else if (change.link) {
        if (before !== 'missing') await unlink(full);
        await symlink(change.link, full);
      } else {
        if (before === 'link') await unlink(full);
        await writeFile(full, body);
        await chmod(full, change.metadata === 'none' ? 0o644 : change.mode);
        if (change.metadata === 'mode and times') await utimes(full, change.atime, change.mtime);
      }
      return 'ok';
    },
    mount: async () => {
      if (!target) return `skipped: nothing to ${change.action}`;
      return outsideOnMount(target, change, body, before, oldBytes);
    },
  };
  return operation;
}

type PathKind = 'file' | 'link' | 'dir' | 'fifo' | 'missing';

async function kindOf(path: string): Promise<PathKind> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return 'missing';
  return info.isSymbolicLink() ? 'link' : info.isDirectory() ? 'dir' : info.isFIFO() ? 'fifo' : 'file';
}

/**
 * The paths of the local model another writer can change, in a fixed order: a key is a path
 * only in a real directory (every one above it too, no link on the way); files and links are
 * replaced or deleted, missing names created (a directory is more than one key).
 */
async function outsideCandidates(action: OutsidePlan['action']): Promise<Array<[string, PathKind]>> {
  const found: Array<[string, PathKind]> = [];
  for (const dir of DIRS) {
    const parts = dir ? dir.split('/') : [];
    let real = true;
    for (let i = 1; i <= parts.length && real; i++) real = (await kindOf(join(local, ...parts.slice(0, i)))) === 'dir';
    if (!real) continue;
    for (const name of NAMES) {
      const path = dir ? `${dir}/${name}` : name;
      const kind = await kindOf(join(local, path));
      if (action === 'create' ? kind === 'missing' : kind === 'file' || kind === 'link') found.push([path, kind]);
    }
  }
  return found;
}

function outsideMetadata(change: OutsidePlan): Record<string, string> | undefined {
  if (change.link) return { mode: String(0o120777) };
  if (change.metadata === 'none') return undefined;
  const metadata: Record<string, string> = { mode: String(0o100000 | change.mode) };
  if (change.metadata === 'mode and times') {
    metadata.atime = epochSeconds(change.atime);
    metadata.mtime = epochSeconds(change.mtime);
    metadata.ctime = epochSeconds(change.mtime);
  }
  return metadata;
}

/**
 * Whether `read`, read from offset `from` on, is page by page (4 KiB pages at their offsets in
 * the file) the same bytes of one of `versions`, and ends where one of them ends (or at once,
 * when one of them ends before `from`: the kernel learned its size from the new open).
 */
function fromVersions(read: Buffer, from: number, versions: Buffer[]): boolean {
  // Past the end of a version that is shorter than what was read already: nothing.
  const end = from + read.length;
  if (!versions.some((version) => version.length === end || (read.length === 0 && version.length <= from))) return false;
  for (let at = from; at < from + read.length; ) {
    const next = Math.min((Math.floor(at / 4096) + 1) * 4096, from + read.length);
    const piece = read.subarray(at - from, next - from);
    if (!versions.some((version) => version.subarray(at, next).equals(piece))) return false;
    at = next;
  }
  return true;
}

/** Reads a file as `cat` does: until a read returns nothing (not the size a stat gave). */
async function readToEnd(handle: FileHandle, from = 0): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let at = from; ; ) {
    const chunk = Buffer.alloc(256 * 1024);
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, at);
    if (bytesRead === 0) return Buffer.concat(chunks);
    chunks.push(chunk.subarray(0, bytesRead));
    at += bytesRead;
  }
}

async function readWhole(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    return await readToEnd(handle);
  } finally {
    await handle.close();
  }
}

/**
 * The other writer's change on the mount's side: what the mount does before it (reads,
 * listings, a handle held open), the change through the SDK, what must hold before any
 * invalidation, and `s3mount cache invalidate MNT PATH` through the CLI. Returns "ok" or
 * what went wrong.
 */
async function outsideOnMount(target: string, change: OutsidePlan, body: Buffer, before: string, oldBytes: Buffer): Promise<string> {
  const at = join(mount.mountpoint, target);
  const key = testPrefix(endpoint) + target;
  const problems: string[] = [];
  const fileToFile = change.action === 'replace' && !change.link && before === 'file';
  const typeChanged = change.action === 'replace' && change.link !== undefined && before === 'file';
  const put = (bytes: Buffer, metadata?: Record<string, string>) =>
    client.send(new PutObjectCommand({ Bucket: endpoint.bucket, Key: key, Body: bytes, ContentLength: bytes.length, Metadata: metadata }));
  const invalidate = async () => {
    const result = await run(process.execPath, [CLI, 'cache', 'invalidate', mount.mountpoint, target]);
    if (result.code !== 0) problems.push(`cache invalidate failed: ${result.stderr.trim()}`);
  };
  let between: Buffer = Buffer.alloc(0);
  const newOpenReads = async (when: string) => {
    const read = await readWhole(at).catch((error: NodeJS.ErrnoException) => error.code ?? String(error));
    if (typeof read === 'string') problems.push(`a new open ${when} failed: ${read}`);
    else if (!read.equals(body)) {
      const seen = read.equals(oldBytes) ? ' (the old version)' : read.equals(between) ? ' (the version before it)' : '';
      problems.push(
        `a new open ${when} read ${read.length} bytes ${hash(read)}${seen} (${read.subarray(0, 8).toString('hex')}…${read.subarray(-8).toString('hex')}, old ${oldBytes.length}, between ${between.length}), S3 holds ${body.length} ${hash(body)}`,
      );
    }
  };

  if (change.around === 'read' && before === 'file') {
    const read = await readWhole(at);
    if (!read.equals(oldBytes)) problems.push(`the read before the change gave ${read.length} bytes ${hash(read)}, not ${oldBytes.length} ${hash(oldBytes)}`);
  }
  if (change.around === 'listed' && fileToFile) {
    // A version whose bytes the mount never read (the model's comparisons read every file;
    // the kernel drops its pages at the next open, as its size differs), then a listing and
    // a stat that cache its ETag: the replacement below is behind that listing.
    // Another size than the old one; a single PUT, which fauxqs refuses above 11 MiB (a file
    // the model streamed may be 12 MiB).
    between = patternBytes(oldBytes.length < 8 * MiB ? oldBytes.length + 1 : 8 * MiB - 1, change.seed + 1);
    await put(between);
    await invalidate();
    await readdir(join(mount.mountpoint, target.includes('/') ? target.slice(0, target.lastIndexOf('/')) : ''));
    await lstat(at);
  }
  let held: FileHandle | undefined;
  let heldFirst: Buffer = Buffer.alloc(0);
  if (change.around === 'held' && before === 'file') {
    held = await open(at, 'r');
    const first = Buffer.alloc(4096);
    heldFirst = first.subarray(0, (await held.read(first, 0, first.length, 0)).bytesRead);
    if (!heldFirst.equals(oldBytes.subarray(0, heldFirst.length))) problems.push('the held handle read bytes of no version');
  }
  try {
    if (change.action === 'delete') await client.send(new DeleteObjectCommand({ Bucket: endpoint.bucket, Key: key }));
    else await put(body, outsideMetadata(change));
    // Behind a cached listing, with no invalidation: a new open reads the new object whole (no EIO).
    if (change.around === 'listed' && fileToFile) await newOpenReads('behind the listing');
    await invalidate();
    if (held) {
      // While a handle opened before the change is still open: a new open reads the new object whole.
      if (fileToFile) await newOpenReads('while an old handle is open');
      // The old handle reads on: EIO, or bytes of the old version, or (a page at a time) of the
      // new one: the kernel's pages of a file are shared by its handles, and the new open
      // just loaded the new version's (as a local file rewritten in place shows its new bytes
      // to a reader that had it open; docs/semantics.md). Never bytes of no version.
      // After a removal, a read reaching the old end makes the kernel ask for the attributes
      // of the path (libfuse 2 through fuse-native passes no handle), which S3 no longer has:
      // ENOENT. After a replacement by a link, the kernel finds the file's inode changed type
      // and fails every call on it, close() included: EIO.
      const rest = await readToEnd(held, heldFirst.length).catch((error: NodeJS.ErrnoException) => error.code ?? String(error));
      const allowed = change.action === 'delete' ? ['EIO', 'ENOENT'] : ['EIO'];
      const versions = fileToFile ? [oldBytes, body] : [oldBytes];
      if (typeof rest === 'string' ? !allowed.includes(rest) : !fromVersions(rest, heldFirst.length, versions))
        problems.push(
          `the handle opened before the change read on: ${typeof rest === 'string' ? rest : `${heldFirst.length + rest.length} bytes ${hash(Buffer.concat([heldFirst, rest]))}, not of the old ${oldBytes.length} ${hash(oldBytes)}${fileToFile ? ` or the new ${body.length} ${hash(body)}` : ''}`}`,
        );
    }
  } finally {
    await held
      ?.close()
      .catch((error: NodeJS.ErrnoException) =>
        typeChanged && error.code === 'EIO' ? 0 : problems.push(`closing the handle opened before the change: ${error.code}`),
      );
  }
  return problems.length ? problems.join('; ') : 'ok';
}

interface StreamPlan {
  /** Open an existing file (r+) rather than create or truncate it (w). */
  edit: boolean;
  total: number;
  seed: number;
  /** A 64 KiB write back into what was written, after the first two thirds. */
  rewriteAt: number;
  /** Then a cut to this size, the writes going on from there. */
  cutTo?: number;
}

/**
 * Sequential 1 MiB writes of patternBytes(total, seed) up to two thirds, a write back at
 * rewriteAt, an optional cut, then sequential writes on to the end, and close.
 */
function streamWrite(path: string, plan: StreamPlan): Promise<string> {
  return outcome(
    (async () => {
      const data = patternBytes(plan.total, plan.seed);
      const handle = await open(path, plan.edit ? 'r+' : 'w');
      const sequential = async (from: number, to: number) => {
        for (let at = from; at < to; at += MiB) await handle.write(data, at, Math.min(MiB, to - at), at);
      };
      try {
        const twoThirds = Math.floor((plan.total * 2) / 3);
        await sequential(0, twoThirds);
        await handle.write(patternBytes(64 * 1024, plan.seed + 1), 0, 64 * 1024, plan.rewriteAt);
        if (plan.cutTo !== undefined) await handle.truncate(plan.cutTo);
        await sequential(plan.cutTo ?? twoThirds, plan.total);
      } finally {
        await handle.close();
      }
    })(),
  );
}

/** The mtime a stat shows, to the nanosecond. */
async function mtimeOf(path: string): Promise<string> {
  return `mtime ${(await stat(path, { bigint: true })).mtimeNs}`;
}

async function modeOf(path: string): Promise<string> {
  return `mode ${((await stat(path)).mode & 0o7777).toString(8)}`;
}

function hash(data: Buffer): string {
  return createHash('sha1').update(data).digest('hex').slice(0, 16);
}

/** What a path is: missing, a link and its target, a directory with its mode and sorted names, or a file with its mode, size and hash. */
async function describe(path: string): Promise<string> {
  try {
    const link = await lstat(path);
    if (link.isSymbolicLink()) return `link -> ${await readlink(path)}`;
    const info = await stat(path);
    const mode = (info.mode & 0o7777).toString(8);
    if (info.isDirectory()) return `dir ${mode} [${(await readdir(path)).sort().join(',')}]`;
    // Not read: opening it would wait for a writer.
    if (info.isFIFO()) return `fifo ${mode} ${info.size}`;
    const data = await readFile(path);
    return `file ${mode} ${info.size} ${data.length} ${hash(data)}`;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? 'error';
  }
}

async function describeTree(root: string, from = ''): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (relative: string) => {
    const description = await describe(join(root, relative));
    // The roots' own modes differ (a temporary directory is 0700) and never change.
    lines.push(`${relative || '.'}: ${relative ? description : description.replace(/^dir \d+ /, 'dir ')}`);
    if (description.startsWith('dir ')) {
      for (const name of (await readdir(join(root, relative))).sort()) await walk(relative ? `${relative}/${name}` : name);
    }
  };
  await walk(from);
  return lines;
}

/** A directory's entries as the mount shows them: kind, permission bits, and for files and links size and mtime in ns. */
async function mountEntries(dir: string): Promise<string[]> {
  const root = join(mount.mountpoint, dir);
  const lines: string[] = [];
  for (const name of await readdir(root)) {
    const info = await lstat(join(root, name), { bigint: true });
    const perm = (info.mode & 0o7777n).toString(8);
    if (info.isDirectory()) lines.push(`${name} dir ${perm}`);
    else lines.push(`${name} ${info.isSymbolicLink() ? 'link' : info.isFIFO() ? 'fifo' : 'file'} ${perm} ${info.size} ${info.mtimeNs}`);
  }
  return lines.sort();
}

/** What S3 says the same directory holds: a LIST with delimiter, and a HEAD of each object and marker for its metadata. */
async function bucketEntries(dir: string): Promise<string[]> {
  const keyPrefix = testPrefix(endpoint) + (dir ? `${dir}/` : '');
  const dirs = new Set<string>();
  const objects: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: endpoint.bucket, Prefix: keyPrefix, Delimiter: '/', ContinuationToken: token }));
    for (const common of page.CommonPrefixes ?? []) dirs.add((common.Prefix as string).slice(keyPrefix.length, -1));
    for (const object of page.Contents ?? []) if (object.Key !== keyPrefix) objects.push(object.Key as string);
    token = page.NextContinuationToken;
  } while (token);
  const metadataOf = async (key: string) => {
    try {
      return (await client.send(new HeadObjectCommand({ Bucket: endpoint.bucket, Key: key }))).Metadata ?? {};
    } catch {
      return undefined;
    }
  };
  const lines: string[] = [];
  for (const name of dirs) {
    const mode = Number((await metadataOf(`${keyPrefix}${name}/`))?.mode ?? 0o755);
    lines.push(`${name} dir ${(mode & 0o7777).toString(8)}`);
  }
  for (const key of objects) {
    const name = key.slice(keyPrefix.length);
    // A directory of the same name shadows a file.
    if (dirs.has(name)) continue;
    const head = await client.send(new HeadObjectCommand({ Bucket: endpoint.bucket, Key: key }));
    const mode = Number(head.Metadata?.mode ?? 0o100644);
    const kind = (mode & 0o170000) === 0o120000 ? 'link' : (mode & 0o170000) === 0o010000 ? 'fifo' : 'file';
    // Without mtime metadata (another writer's object) the mount shows Last-Modified, stamped with its version.
    const mtime =
      head.Metadata?.mtime !== undefined
        ? nanoseconds(head.Metadata.mtime)
        : String(BigInt(versionStamped(head.LastModified as Date, head.ETag).getTime()) * 1_000_000n);
    lines.push(`${name} ${kind} ${(mode & 0o7777).toString(8)} ${head.ContentLength} ${mtime}`);
  }
  return lines.sort();
}

/** s3fs's epoch seconds ("1700000000" or "1700000000.123456789") in nanoseconds. */
function nanoseconds(seconds: string | undefined): string {
  const [whole, fraction = ''] = (seconds ?? '').split('.');
  return (BigInt(whole || 0) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0').slice(0, 9))).toString();
}

/**
 * The directories a step may have changed: those holding its paths, and its paths that are
 * directories, with symbolic links on the way resolved (as the kernel did for the step).
 */
async function touchedDirectories(paths: string[]): Promise<string[]> {
  const root = await realpath(local);
  const dirs = new Set<string>();
  for (const path of paths) {
    for (const candidate of [path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '', path]) {
      const real = await realpath(join(local, candidate)).catch(() => undefined);
      if (!real || !(await stat(real)).isDirectory()) continue;
      const inside = relative(root, real);
      if (!inside.startsWith('..')) dirs.add(inside);
    }
  }
  return [...dirs];
}

test(`random operations agree with a local directory (seed ${SEED}, ${STEPS} steps)`, async (t) => {
  // Each step of another writer waits out the kernel's TTL (1 s) in `cache invalidate`: on a
  // loaded machine a run may take longer than ava's default timeout.
  t.timeout(Math.max(3 * 60_000, STEPS * 300));
  t.log(`seed ${SEED}: replay with S3MOUNT_MODEL_SEED=${SEED}`);
  const next = random(SEED);
  let listingChecks = 0;
  let streamed = 0;
  let fifosMade = 0;
  const outsideSteps = new Map<string, number>();
  for (let step = 1; step <= STEPS; step++) {
    const operation = plan(next);
    if (operation.name.startsWith('stream ')) streamed++;
    const expected = await operation.run(local);
    if (operation.tally) outsideSteps.set(operation.tally, (outsideSteps.get(operation.tally) ?? 0) + 1);
    const actual = await (operation.mount ? operation.mount() : operation.run(mount.mountpoint));
    const where = `step ${step} (${operation.name}), seed ${SEED}`;
    // S3MOUNT_MODEL_TRACE=FILE: every step and its outcome, to follow a failure's history.
    if (process.env.S3MOUNT_MODEL_TRACE) await appendFile(process.env.S3MOUNT_MODEL_TRACE, `${step} ${operation.name}: ${expected} | ${actual}\n`);
    if (actual !== expected) return t.fail(`${where}: local says ${expected}, mount says ${actual}`);
    if (operation.name.startsWith('mkfifo ') && expected === 'ok') fifosMade++;
    // A touched directory is compared with everything under it (a renamed or removed one
    // must leave nothing behind, as the kernel or the FUSE binding might keep it).
    for (const path of operation.paths) {
      const [want, got] = await Promise.all([describeTree(local, path), describeTree(mount.mountpoint, path)]);
      if (JSON.stringify(want) !== JSON.stringify(got)) return t.fail(`${where}: ${path} is "${want.join('; ')}" locally but "${got.join('; ')}" in the mount`);
    }
    // What the mount's cached listings show (edited in place by its own change) is what S3 lists now.
    if (expected.startsWith('ok') && !operation.name.startsWith('read ')) {
      for (const dir of await touchedDirectories(operation.paths)) {
        const [cached, listed] = await Promise.all([mountEntries(dir), bucketEntries(dir)]);
        if (JSON.stringify(cached) !== JSON.stringify(listed)) {
          t.log(`mount:\n${cached.join('\n')}\nS3:\n${listed.join('\n')}`);
          return t.fail(`${where}: the mount's listing of "${dir || '.'}" is not what S3 lists`);
        }
        listingChecks++;
      }
    }
    if (step === REMOUNT_AT) {
      await mount.stop();
      mount = await mountModel();
    }
    if (step % FULL_COMPARE_EVERY === 0 || step === STEPS || step === REMOUNT_AT) {
      const [want, got] = await Promise.all([describeTree(local), describeTree(mount.mountpoint)]);
      if (JSON.stringify(want) !== JSON.stringify(got)) {
        t.log(`local:\n${want.join('\n')}\nmount:\n${got.join('\n')}`);
        return t.fail(`${where}: the trees differ`);
      }
    }
  }
  t.log(`${listingChecks} listings compared with S3`);
  t.log(`${streamed} steps wrote files past the part size in order`);
  t.log(`${fifosMade} FIFOs made`);
  // About one step in twenty is a mkfifo, half of them on a free name: a run of a few hundred
  // steps makes some (a shorter replay may not).
  if (STEPS >= 500) t.true(fifosMade > 0, 'the run made FIFOs');
  t.log(`steps of another writer: ${[...outsideSteps].map(([kind, count]) => `${count} × ${kind}`).join(', ')}`);
  // The run went through the attribute cache in the FUSE binding (on by default).
  const native = (await mountStats(mount.mountpoint)).nativeAttrCache;
  t.truthy(native, 'the mount keeps getattr answers in its FUSE binding');
  t.log(`FUSE binding's attribute cache after the remount: ${JSON.stringify(native)}`);
  t.true((native?.hits ?? 0) > 0, `the binding answered stats itself: ${JSON.stringify(native)}`);
});
