// Model-based test: the same random sequence of operations runs against the mount and
// against a plain local directory; results (success or errno) and the state of both trees
// must agree after every step. The seed is printed; S3MOUNT_MODEL_SEED=<seed> replays a run.
// After every step that changed something, the directories it touched are also compared, as
// the mount shows them from its cache (listings it edited in place with its own changes),
// with what S3 lists and HEADs say right then, through the SDK.
// Some files cross the part size, written sequentially (parts uploaded while they are written)
// with a write back and a cut on the way, and written to at far offsets.

import { createHash, randomInt } from 'node:crypto';
import {
  chmod,
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
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import test from 'ava';
import { type S3Endpoint, seedClient, startS3Endpoint, testPrefix } from '../../scripts/local-s3.js';
import { type Mount, mountBucket, mountStats } from '../support/mount.js';
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
// Operations on attributes and links, and what links point to (dangling ones included).
const ATTRIBUTE_KINDS = ['chmod', 'symlink'];
const LINK_TARGETS = ['a', 'b', 'd1', 'missing', '../a', 'd1/a'];
// Files written past the part size (--write-part-size 5) upload parts while they are written;
// a few steps write such files with a rewrite and a cut on the way.
const MiB = 1024 * 1024;
const PART_SIZE_MIB = 5;
const STREAM_SHARE = 0.03;
// Halfway through, the mount is remounted: from then on nothing is cached, and every mode and
// link must come back from S3 as it was.
const REMOUNT_AT = Math.floor(STEPS / 2);

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

type Operation = { name: string; paths: string[]; run: (root: string) => Promise<string> };

function plan(next: () => number): Operation {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const path = () => [pick(DIRS), pick(NAMES)].filter(Boolean).join('/');
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
      run: (root) => streamWrite(join(root, target), plan),
    };
  }
  const kind = pick([
    'create',
    'create',
    'write',
    'write',
    'truncate',
    'rename',
    'unlink',
    'mkdir',
    'mkdir',
    'rmdir',
    'read',
    // Explicit times, to the nanosecond libuv passes.
    'utime',
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
    case 'create': {
      const target = path();
      const data = bytes(size());
      return { name: `create ${target} (${data.length} bytes)`, paths: [target], run: (root) => writeWhole(join(root, target), data) };
    }
    case 'write': {
      const target = path();
      // Far offsets land in later parts of big files (and leave holes in small ones).
      const offset = pick([0, 10, 4095, 5000, 65_536, 6 * MiB + 3, 11 * MiB]);
      const data = bytes(pick([1, 100, 4096, 10_000]));
      return { name: `write ${target} @${offset} (${data.length} bytes)`, paths: [target], run: (root) => writeAt(join(root, target), offset, data) };
    }
    case 'truncate': {
      const target = path();
      const length = size();
      return { name: `truncate ${target} to ${length}`, paths: [target], run: (root) => outcome(truncate(join(root, target), length)) };
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
      return {
        name: `utime ${target} (${atime}, ${mtime})`,
        paths: [target],
        run: (root) => outcome(utimes(join(root, target), atime, mtime).then(() => mtimeOf(join(root, target)))),
      };
    }
    default: {
      const target = path();
      return { name: `read ${target}`, paths: [target], run: (root) => outcome(readFile(join(root, target)).then((data) => `${data.length}:${hash(data)}`)) };
    }
  }
}

async function outcome(work: Promise<unknown>): Promise<string> {
  try {
    const value = await work;
    return typeof value === 'string' ? `ok ${value}` : 'ok';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
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
    else lines.push(`${name} ${info.isSymbolicLink() ? 'link' : 'file'} ${perm} ${info.size} ${info.mtimeNs}`);
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
    const kind = (mode & 0o170000) === 0o120000 ? 'link' : 'file';
    lines.push(`${name} ${kind} ${(mode & 0o7777).toString(8)} ${head.ContentLength} ${nanoseconds(head.Metadata?.mtime)}`);
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
  t.log(`seed ${SEED}: replay with S3MOUNT_MODEL_SEED=${SEED}`);
  const next = random(SEED);
  let listingChecks = 0;
  let streamed = 0;
  for (let step = 1; step <= STEPS; step++) {
    const operation = plan(next);
    if (operation.name.startsWith('stream ')) streamed++;
    const expected = await operation.run(local);
    const actual = await operation.run(mount.mountpoint);
    const where = `step ${step} (${operation.name}), seed ${SEED}`;
    if (actual !== expected) return t.fail(`${where}: local says ${expected}, mount says ${actual}`);
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
  // The run went through the attribute cache in the FUSE binding (on by default).
  const native = (await mountStats(mount.mountpoint)).nativeAttrCache;
  t.truthy(native, 'the mount keeps getattr answers in its FUSE binding');
  t.log(`FUSE binding's attribute cache after the remount: ${JSON.stringify(native)}`);
  t.true((native?.hits ?? 0) > 0, `the binding answered stats itself: ${JSON.stringify(native)}`);
});
