// The floor: a fuse-native filesystem serving the benchmark's data set from memory, no S3.
// What s3mount costs beyond it is what the cache and S3 cost. Run as its own process:
//   node --import tsx scripts/benchmark/floor-fs.ts MOUNTPOINT [--small-writes]
// --small-writes leaves big_writes off, to show what it is worth (scripts/benchmark/big-writes.ts).
import Fuse from 'fuse-native';
import { BIG_KEY, bigBytes, smallObjects } from './dataset.js';

const mountpoint = process.argv[2];
const files = new Map<string, Buffer>([[`/${BIG_KEY}`, bigBytes()], ...smallObjects().map(([key, body]): [string, Buffer] => [`/${key}`, body])]);
const dirs = new Map<string, Set<string>>([['/', new Set()]]);
function addToParents(path: string): void {
  const parts = path.split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const parent = `/${parts.slice(0, i).join('/')}`;
    if (!dirs.has(parent)) dirs.set(parent, new Set());
    dirs.get(parent)?.add(parts[i]);
    if (i < parts.length - 1) {
      const child = `/${parts.slice(0, i + 1).join('/')}`;
      if (!dirs.has(child)) dirs.set(child, new Set());
    }
  }
}
for (const path of files.keys()) addToParents(path);

/** Backing buffers of written files, larger than the files while they grow. */
const capacity = new Map<string, Buffer>();
const now = new Date();
const stat = (mode: number, size: number) => ({ mode, size, uid: 0, gid: 0, nlink: 1, mtime: now, atime: now, ctime: now });
type Callback = (code: number, ...values: unknown[]) => void;

const operations = {
  getattr: (path: string, cb: Callback) => {
    const file = files.get(path);
    if (file) return cb(0, stat(0o100644, file.length));
    if (dirs.has(path)) return cb(0, stat(0o040755, 4096));
    cb(Fuse.ENOENT);
  },
  readdir: (path: string, cb: Callback) => {
    const names = dirs.get(path);
    if (!names) return cb(Fuse.ENOENT);
    cb(0, ['.', '..', ...names]);
  },
  open: (_path: string, _flags: number, cb: Callback) => cb(0, 1),
  release: (_path: string, _handle: number, cb: Callback) => cb(0),
  read: (path: string, _handle: number, buffer: Buffer, length: number, position: number, cb: Callback) => {
    const file = files.get(path) ?? Buffer.alloc(0);
    const end = Math.min(position + length, file.length);
    cb(end > position ? file.copy(buffer, 0, position, end) : 0);
  },
  create: (path: string, _mode: number, cb: Callback) => {
    capacity.delete(path);
    files.set(path, Buffer.alloc(0));
    addToParents(path);
    cb(0, 1);
  },
  write: (path: string, _handle: number, buffer: Buffer, length: number, position: number, cb: Callback) => {
    const file = files.get(path) ?? Buffer.alloc(0);
    const size = Math.max(file.length, position + length);
    // Capacity grows geometrically so that a sequential writer costs linear time.
    let store = capacity.get(path) ?? file;
    if (store.length < size) {
      store = Buffer.concat([file, Buffer.alloc(Math.max(size, store.length * 2) - file.length)]);
      capacity.set(path, store);
    }
    buffer.copy(store, position, 0, length);
    files.set(path, store.subarray(0, size));
    cb(length);
  },
  flush: (_path: string, _handle: number, cb: Callback) => cb(0),
  fsync: (_path: string, _datasync: number, _handle: number, cb: Callback) => cb(0),
  truncate: (path: string, size: number, cb: Callback) => {
    capacity.delete(path);
    files.set(path, Buffer.alloc(size));
    cb(0);
  },
  unlink: (path: string, cb: Callback) => {
    files.delete(path);
    cb(0);
  },
  // Enough for tar x and cp -r: directories come into being; modes, owners and times are not kept.
  mkdir: (path: string, _mode: number, cb: Callback) => {
    if (dirs.has(path) || files.has(path)) return cb(Fuse.EEXIST);
    addToParents(path);
    dirs.set(path, new Set());
    cb(0);
  },
  chmod: (_path: string, _mode: number, cb: Callback) => cb(0),
  chown: (_path: string, _uid: number, _gid: number, cb: Callback) => cb(0),
  utimens: (_path: string, _atime: unknown, _mtime: unknown, cb: Callback) => cb(0),
};

const subtype = process.argv.includes('--small-writes') ? 'floor' : 'floor,big_writes';
const fuse = new Fuse(mountpoint, operations, { force: true, subtype, attrTimeout: 60, entryTimeout: 60, autoCache: true, timeout: false });
fuse.mount((error) => {
  if (error) {
    console.error(`floor: ${error.message}`);
    process.exit(1);
  }
});
// The floor does not notice an external unmount; whoever unmounts it sends SIGTERM too.
const stop = () => fuse.unmount(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
