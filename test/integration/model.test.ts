// Model-based test: the same random sequence of operations runs against the mount and
// against a plain local directory; results (success or errno) and the state of both trees
// must agree after every step. The seed is printed; S3MOUNT_MODEL_SEED=<seed> replays a run.
import test from 'ava';
import { seededRandom as random } from '../support/seeded-random.js';
import { randomInt } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, rmdir, stat, truncate, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startS3Endpoint, testPrefix, type S3Endpoint } from '../../scripts/local-s3.js';
import { mountBucket, type Mount } from '../support/mount.js';

const STEPS = Number(process.env.S3MOUNT_MODEL_STEPS ?? 2000);
const SEED = Number(process.env.S3MOUNT_MODEL_SEED ?? randomInt(2 ** 31));
// Full-tree comparisons are the slow part; the touched paths are compared at every step.
const FULL_COMPARE_EVERY = 50;

const DIRS = ['', 'd1', 'd1/d2', 'e'];
const NAMES = ['a', 'b', 'c', 'd1', 'd2', 'e'];

let endpoint: S3Endpoint;
let mount: Mount;
let local: string;

test.before(async () => {
  endpoint = await startS3Endpoint();
  const prefix = testPrefix(endpoint);
  mount = await mountBucket(endpoint, { target: prefix ? `${endpoint.bucket}:${prefix}` : endpoint.bucket, args: ['--metadata-ttl', '3600'] });
  local = await mkdtemp(join(tmpdir(), 's3mount-model-'));
});

test.after.always(async () => {
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
  const kind = pick(['create', 'create', 'write', 'write', 'truncate', 'rename', 'unlink', 'mkdir', 'mkdir', 'rmdir', 'read']);
  switch (kind) {
    case 'create': {
      const target = path();
      const data = bytes(size());
      return { name: `create ${target} (${data.length} bytes)`, paths: [target], run: (root) => writeWhole(join(root, target), data) };
    }
    case 'write': {
      const target = path();
      const offset = pick([0, 10, 4095, 5000, 65_536]);
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

function hash(data: Buffer): string {
  let h = 2166136261;
  for (const byte of data) h = Math.imul(h ^ byte, 16777619);
  return (h >>> 0).toString(16);
}

/** What a path is: missing, a directory with its sorted names, or a file with its size and hash. */
async function describe(path: string): Promise<string> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) return `dir [${(await readdir(path)).sort().join(',')}]`;
    const data = await readFile(path);
    return `file ${info.size} ${data.length} ${hash(data)}`;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? 'error';
  }
}

async function describeTree(root: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (relative: string) => {
    const description = await describe(join(root, relative));
    lines.push(`${relative || '.'}: ${description}`);
    if (description.startsWith('dir ')) {
      for (const name of (await readdir(join(root, relative))).sort()) await walk(relative ? `${relative}/${name}` : name);
    }
  };
  await walk('');
  return lines;
}

test(`random operations agree with a local directory (seed ${SEED}, ${STEPS} steps)`, async (t) => {
  t.log(`seed ${SEED}: replay with S3MOUNT_MODEL_SEED=${SEED}`);
  const next = random(SEED);
  for (let step = 1; step <= STEPS; step++) {
    const operation = plan(next);
    const expected = await operation.run(local);
    const actual = await operation.run(mount.mountpoint);
    const where = `step ${step} (${operation.name}), seed ${SEED}`;
    if (actual !== expected) return t.fail(`${where}: local says ${expected}, mount says ${actual}`);
    for (const path of operation.paths) {
      const [want, got] = await Promise.all([describe(join(local, path)), describe(join(mount.mountpoint, path))]);
      if (want !== got) return t.fail(`${where}: ${path} is "${want}" locally but "${got}" in the mount`);
    }
    if (step % FULL_COMPARE_EVERY === 0 || step === STEPS) {
      const [want, got] = await Promise.all([describeTree(local), describeTree(mount.mountpoint)]);
      if (JSON.stringify(want) !== JSON.stringify(got)) {
        t.log(`local:\n${want.join('\n')}\nmount:\n${got.join('\n')}`);
        return t.fail(`${where}: the trees differ`);
      }
    }
  }
  t.pass();
});
