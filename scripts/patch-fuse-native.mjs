// Source changes to fuse-native 2.2.6 that scripts/build-native.sh compiles in. Each one is an
// exact replacement, applied once (a source already holding it is left alone), and anything
// unexpected fails loudly rather than building a half-patched binding. Prints "changed" when a
// file was modified, so the caller knows to rebuild.
//
// 1. Nanosecond times. The binding carries times as whole milliseconds in both directions
//    (getattr's stat and utimens' arguments). A stat array now has three more slots, the
//    nanoseconds past each time's millisecond (atimeNs, mtimeNs, ctimeNs on the stat object),
//    and utimens hands JavaScript { sec, nsec } for each time, exactly as libfuse gave them.
// 2. flag_utime_omit_ok: without it libfuse 2.9 calls utimens only when both times change, so
//    `touch -a` and `touch -m` did nothing. With it, utimens gets every change, and a time left
//    alone (UTIME_OMIT) or set to the present (UTIME_NOW) arrives as that special nsec value.
// 3. An attribute cache answering getattr on the libfuse thread (scripts/fuse-native-attr-cache.h,
//    copied next to fuse-native.c and included there): every operation calls its hooks before
//    and after JavaScript, a getattr answer may say how long it can be kept (one slot after the
//    stat), and the binding exports its functions, which index.js hands on as Fuse.attrCache
//    (null with a binding built without them: the prebuilt one). Its `prime` keeps an answer
//    JavaScript learned before any getattr asked (HEADs sent ahead for `ls -l`).
// 4. Native reads (scripts/fuse-native-read-cache.h, copied and included the same way): a read
//    of blocks JavaScript registered for its handle is answered on the libfuse thread with
//    pread (nr_before, called before everything else), and index.js hands its functions on as
//    Fuse.nativeReads (null with a binding built without them).
// 5. fallocate: fuse-native 2.2.6 has no such operation, so libfuse answered ENOSYS and the
//    kernel EOPNOTSUPP (`rsync --preallocate` exited 23). It is operation 34, passed on as
//    ops.fallocate(path, fd, mode, offset, length, cb) when the filesystem gives one.
// 6. Times before 1970: stats carry signed milliseconds and utimens signed seconds (they were
//    unsigned, so `touch -d 1960-06-01` was kept as 1970).
// 7. Dropping a file's pages: `s3mount cache invalidate` of a file replaced by one of the same
//    size and mtime has the kernel drop its pages of the old bytes (posix_fadvise DONTNEED),
//    which libfuse 2's auto_cache would otherwise keep: Fuse.dropPageCache(fd).
// 8. Names that are not UTF-8 are refused with EILSEQ (scripts/fuse-native-names.h, copied and
//    included by the read cache's header, asked first by nr_before): the binding made every
//    invalid byte U+FFFD, so two such names were one file.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = process.argv[2];
if (!root) throw new Error('usage: patch-fuse-native.mjs node_modules/fuse-native');

const edits = {
  'fuse-native.c': [
    // Thread locals: utimens keeps seconds and nanoseconds apart.
    ['  size_t atime;\n  size_t mtime;\n', '  uint64_t atime;\n  uint64_t mtime;\n  uint32_t atime_nsec;\n  uint32_t mtime_nsec;\n'],
    // Stat times: milliseconds plus the nanoseconds past them (slots 18-20).
    [
      'static void populate_stat (uint32_t *ints, struct stat* stat) {\n',
      'static void add_sub_ms (struct timespec* ts, uint32_t ns) {\n  if (ns < 1000000) ts->tv_nsec += ns;\n}\n\nstatic void populate_stat (uint32_t *ints, struct stat* stat) {\n  uint32_t *sub_ms = ints + 18;\n',
    ],
    [
      '  uint32s_to_timespec(&stat->st_ctim, &ints);\n#endif\n}\n',
      '  uint32s_to_timespec(&stat->st_ctim, &ints);\n  add_sub_ms(&stat->st_atim, sub_ms[0]);\n  add_sub_ms(&stat->st_mtim, sub_ms[1]);\n  add_sub_ms(&stat->st_ctim, sub_ms[2]);\n#endif\n}\n',
    ],
    // utimens: whole seconds (two 32-bit halves) and nanoseconds of each time.
    [
      'FUSE_METHOD_VOID(utimens, 5, 0, (const char *path, const struct timespec tv[2]), {\n  l->path = path;\n  l->atime = timespec_to_uint64(&tv[0]);\n  l->mtime = timespec_to_uint64(&tv[1]);\n}, {\n  napi_create_string_utf8(env, l->path, NAPI_AUTO_LENGTH, &(argv[2]));\n  FUSE_UINT64_TO_INTS_ARGV(l->atime, 3)\n  FUSE_UINT64_TO_INTS_ARGV(l->mtime, 5)\n})',
      "FUSE_METHOD_VOID(utimens, 7, 0, (const char *path, const struct timespec tv[2]), {\n  l->path = path;\n  l->atime = (uint64_t) tv[0].tv_sec; // before 1970: two's complement, read back signed\n  l->mtime = (uint64_t) tv[1].tv_sec;\n  l->atime_nsec = (uint32_t) tv[0].tv_nsec;\n  l->mtime_nsec = (uint32_t) tv[1].tv_nsec;\n}, {\n  napi_create_string_utf8(env, l->path, NAPI_AUTO_LENGTH, &(argv[2]));\n  FUSE_UINT64_TO_INTS_ARGV(l->atime, 3)\n  FUSE_UINT64_TO_INTS_ARGV(l->mtime, 5)\n  napi_create_uint32(env, l->atime_nsec, &(argv[7]));\n  napi_create_uint32(env, l->mtime_nsec, &(argv[8]));\n})",
    ],
    [
      '  if (implemented[op_utimens]) ops.utimens = fuse_native_utimens;\n',
      '  if (implemented[op_utimens]) ops.utimens = fuse_native_utimens;\n  ops.flag_utime_omit_ok = 1;\n',
    ],
    // The attribute cache: its per-request state, its code, its hooks around every operation,
    // the keep time after a getattr's stat, and its exports.
    [
      '  // Internal bookkeeping\n  fuse_thread_t *fuse;\n',
      "  // s3mount's attribute cache\n  uint64_t ac_generation;\n  uint64_t ac_expires;\n\n  // Internal bookkeeping\n  fuse_thread_t *fuse;\n",
    ],
    ['// Methods\n\nFUSE_METHOD(statfs,', '#include "s3mount-attr-cache.h"\n#include "s3mount-read-cache.h"\n\n// Methods\n\nFUSE_METHOD(statfs,'],
    [
      '  blk\\\n  uv_async_send(&(l->async));\\\n  uv_sem_wait(&(l->sem));\\\n  return l->res;\n',
      '  blk\\\n  if (nr_before(l)) return l->res;\\\n  if (ac_before(l)) return 0;\\\n  uv_async_send(&(l->async));\\\n  uv_sem_wait(&(l->sem));\\\n  ac_after(l);\\\n  return l->res;\n',
    ],
    [
      'FUSE_METHOD(getattr, 1, 1, (const char *path, struct stat *stat), {\n  l->path = path;\n  l->stat = stat;\n}, {\n  napi_create_string_utf8(env, l->path, NAPI_AUTO_LENGTH, &(argv[2]));\n}, {\n  NAPI_ARGV_BUFFER_CAST(uint32_t*, ints, 2)\n  populate_stat(ints, l->stat);\n})',
      'FUSE_METHOD(getattr, 1, 1, (const char *path, struct stat *stat), {\n  l->path = path;\n  l->stat = stat;\n}, {\n  napi_create_string_utf8(env, l->path, NAPI_AUTO_LENGTH, &(argv[2]));\n}, {\n  NAPI_ARGV_BUFFER_CAST(uint32_t*, ints, 2)\n  populate_stat(ints, l->stat);\n  ac_note_answer(l, ints, ints_len);\n})',
    ],
    ['  NAPI_EXPORT_FUNCTION(fuse_native_mount)\n', '  ac_export(env, exports);\n  nr_export(env, exports);\n  NAPI_EXPORT_FUNCTION(fuse_native_mount)\n'],
    // Times before 1970 (change 6): a stat's milliseconds are signed (index.js's setDoubleInt
    // already leaves a negative number's two's complement in its two halves).
    [
      'static void uint32s_to_timespec (struct timespec* ts, uint32_t** ints) {\n  uint64_t ms = uint32s_to_uint64(ints);\n  ts->tv_sec = ms / 1000;\n  ts->tv_nsec = (ms % 1000) * 1000000;\n}\n',
      'static void uint32s_to_timespec (struct timespec* ts, uint32_t** ints) {\n  int64_t ms = (int64_t) uint32s_to_uint64(ints);\n  int64_t rem = ms % 1000;\n  if (rem < 0) rem += 1000;\n  ts->tv_sec = (ms - rem) / 1000;\n  ts->tv_nsec = rem * 1000000;\n}\n',
    ],
    // Dropping a file's pages (change 7): posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), exported.
    [
      'NAPI_INIT() {\n',
      "// s3mount: drops the kernel's clean pages of an open file (0, or the errno).\nNAPI_METHOD(s3mount_drop_page_cache) {\n  NAPI_ARGV(1)\n  NAPI_ARGV_INT32(fd, 0)\n  int err = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);\n  NAPI_RETURN_INT32(err)\n}\n\nNAPI_INIT() {\n  NAPI_EXPORT_FUNCTION(s3mount_drop_page_cache)\n",
    ],
    ['#include <fuse_common.h>\n', '#include <fuse_common.h>\n#include <fcntl.h>\n'],
    // fallocate (change 5): its opcode, one more handler slot, the method, its registration and exports.
    ['static const uint32_t op_rmdir = 33;\n', 'static const uint32_t op_rmdir = 33;\nstatic const uint32_t op_fallocate = 34;\n'],
    ['  napi_ref handlers[35];\n', '  napi_ref handlers[36];\n'],
    ['  for (int i = 0; i < 35; i++) {\n', '  for (int i = 0; i < 36; i++) {\n'],
    [
      'FUSE_METHOD_VOID(rmdir, 1, 0, (const char *path), {\n  l->path = path;\n}, {\n  napi_create_string_utf8(env, l->path, NAPI_AUTO_LENGTH, &(argv[2]));\n})\n',
      'FUSE_METHOD_VOID(rmdir, 1, 0, (const char *path), {\n  l->path = path;\n}, {\n  napi_create_string_utf8(env, l->path, NAPI_AUTO_LENGTH, &(argv[2]));\n})\n\nFUSE_METHOD_VOID(fallocate, 7, 0, (const char *path, int mode, off_t offset, off_t length, struct fuse_file_info *info), {\n  l->path = path;\n  l->flags = mode;\n  l->offset = offset;\n  l->size = (size_t) length;\n  l->info = info;\n}, {\n  napi_create_string_utf8(env, l->path, NAPI_AUTO_LENGTH, &(argv[2]));\n  napi_create_uint32(env, l->info != NULL ? l->info->fh : 0, &(argv[3]));\n  napi_create_int32(env, l->flags, &(argv[4]));\n  FUSE_UINT64_TO_INTS_ARGV(l->offset, 5)\n  FUSE_UINT64_TO_INTS_ARGV(l->size, 7)\n})\n',
    ],
    [
      '  if (implemented[op_rmdir]) ops.rmdir = fuse_native_rmdir;\n',
      '  if (implemented[op_rmdir]) ops.rmdir = fuse_native_rmdir;\n  if (implemented[op_fallocate]) ops.fallocate = fuse_native_fallocate;\n',
    ],
    [
      '  NAPI_EXPORT_FUNCTION(fuse_native_signal_rmdir)\n',
      '  NAPI_EXPORT_FUNCTION(fuse_native_signal_rmdir)\n  NAPI_EXPORT_FUNCTION(fuse_native_signal_fallocate)\n',
    ],
    ['  NAPI_EXPORT_UINT32(op_rmdir)\n', '  NAPI_EXPORT_UINT32(op_rmdir)\n  NAPI_EXPORT_UINT32(op_fallocate)\n'],
  ],
  'index.js': [
    [
      '  _op_utimens (signal, path, atimeLow, atimeHigh, mtimeLow, mtimeHigh) {\n    const atime = getDoubleArg(atimeLow, atimeHigh)\n    const mtime = getDoubleArg(mtimeLow, mtimeHigh)\n',
      '  _op_utimens (signal, path, atimeLow, atimeHigh, mtimeLow, mtimeHigh, atimeNsec, mtimeNsec) {\n    const atime = { sec: getSignedArg(atimeLow, atimeHigh), nsec: atimeNsec }\n    const mtime = { sec: getSignedArg(mtimeLow, mtimeHigh), nsec: mtimeNsec }\n',
    ],
    ['  const ints = new Uint32Array(18)\n', '  const ints = new Uint32Array(21)\n'],
    [
      '  setDoubleInt(ints, 16, toDateMS(stat && stat.ctime))\n',
      '  setDoubleInt(ints, 16, toDateMS(stat && stat.ctime))\n  ints[18] = (stat && stat.atimeNs) || 0\n  ints[19] = (stat && stat.mtimeNs) || 0\n  ints[20] = (stat && stat.ctimeNs) || 0\n',
    ],
    // getattr's callback takes a third argument: how long (ms) the binding may keep the answer.
    [
      '    this.ops.getattr(path, (err, stat) => {\n      if (err) return signal(err, getStatArray())\n      return signal(0, getStatArray(stat))\n    })',
      '    this.ops.getattr(path, (err, stat, keepMs) => {\n      if (err) return signal(err, getStatArray())\n      return signal(0, keptStat(getStatArray(stat), keepMs))\n    })',
    ],
    [
      'function getStatArray (stat) {\n',
      '// s3mount: a getattr answer the binding may keep for keepMs, in one slot after the stat.\nfunction keptStat (ints, keepMs) {\n  if (!(keepMs >= 1)) return ints\n  const kept = new Uint32Array(ints.length + 1)\n  kept.set(ints)\n  kept[ints.length] = Math.min(Math.floor(keepMs), 0xffffffff)\n  return kept\n}\n\nfunction getStatArray (stat) {\n',
    ],
    [
      'Fuse.EPERM = -1\n',
      '// s3mount: the attribute cache of a binding built with scripts/fuse-native-attr-cache.h, else null.\nFuse.attrCache = binding.attr_cache_configure\n  ? {\n      configure: binding.attr_cache_configure,\n      drop: binding.attr_cache_drop,\n      clear: binding.attr_cache_clear,\n      stats: binding.attr_cache_stats,\n      lookup: binding.attr_cache_lookup,\n      store: binding.attr_cache_store\n    }\n  : null\n\nFuse.EPERM = -1\n',
    ],
    // Answers learned ahead of any getattr (HEADs sent ahead), stored with the stat array a
    // getattr's answer would have. (Added apart from the edit above, whose text must stay as
    // it is: a source holding it is recognised by it.)
    [
      'module.exports = Fuse\n',
      '// s3mount: the attribute cache keeps answers JavaScript learned before a getattr asked.\nif (Fuse.attrCache && binding.attr_cache_prime) {\n  Fuse.attrCache.prime = (path, stat, keepMs) => binding.attr_cache_prime(path, keptStat(getStatArray(stat), keepMs))\n}\n\nmodule.exports = Fuse\n',
    ],
    // Native reads' functions, after the attribute cache's (apart from its edit, whose text must
    // stay as it is: a source holding it is recognised by it).
    [
      'Fuse.EPERM = -1\n',
      'Fuse.EPERM = -1\n\n// s3mount: reads served from registered block files, with scripts/fuse-native-read-cache.h, else null.\nFuse.nativeReads = binding.native_reads_configure\n  ? {\n      configure: binding.native_reads_configure,\n      register: binding.native_reads_register,\n      dropHandle: binding.native_reads_drop_handle,\n      dropBlock: binding.native_reads_drop_block,\n      stats: binding.native_reads_stats\n    }\n  : null\n',
    ],
    // Registrations per object version: a handle is attached to the version it read (apart from
    // the edit above, whose text must stay as it is: a source holding it is recognised by it).
    [
      '      stats: binding.native_reads_stats\n    }\n  : null\n',
      '      stats: binding.native_reads_stats\n    }\n  : null\nif (Fuse.nativeReads && binding.native_reads_attach) Fuse.nativeReads.attach = binding.native_reads_attach\n',
    ],
    // Times before 1970 (change 6): utimens' seconds arrive as a signed 64-bit number.
    [
      'function getDoubleArg (a, b) {\n',
      '// s3mount: a signed 64-bit number from its two unsigned 32-bit halves (times before 1970).\nfunction getSignedArg (low, high) {\n  return low + (high >= 0x80000000 ? high - 4294967296 : high) * 4294967296\n}\n\nfunction getDoubleArg (a, b) {\n',
    ],
    // Dropping a file's pages (change 7), apart from the edits above (whose texts must stay as they are).
    [
      'if (Fuse.nativeReads && binding.native_reads_attach) Fuse.nativeReads.attach = binding.native_reads_attach\n',
      "if (Fuse.nativeReads && binding.native_reads_attach) Fuse.nativeReads.attach = binding.native_reads_attach\n// s3mount: drops the kernel's clean pages of an open file descriptor (0 or an errno), else null.\nFuse.dropPageCache = binding.s3mount_drop_page_cache || null\n",
    ],
    // fallocate (change 5): one more slot of implemented operations, its opcode and its method.
    ['    const implemented = new Uint32Array(35)\n', '    const implemented = new Uint32Array(36)\n'],
    [
      "  ['rmdir', {\n    op: binding.op_rmdir\n  }]\n])\n",
      "  ['rmdir', {\n    op: binding.op_rmdir\n  }],\n  ['fallocate', {\n    op: binding.op_fallocate\n  }]\n])\n",
    ],
    [
      '  _op_rmdir (signal, path) {\n',
      '  _op_fallocate (signal, path, fd, mode, offsetLow, offsetHigh, lengthLow, lengthHigh) {\n    const offset = getDoubleArg(offsetLow, offsetHigh)\n    const length = getDoubleArg(lengthLow, lengthHigh)\n    this.ops.fallocate(path, fd, mode, offset, length, err => {\n      return signal(err)\n    })\n  }\n\n  _op_rmdir (signal, path) {\n',
    ],
  ],
};

// What earlier versions of this script (before change 4) left in place of an edit's source:
// [a marker of the edit's result, what was left].
const EARLIER = [
  ['#include "s3mount-read-cache.h"', '#include "s3mount-attr-cache.h"\n\n// Methods\n\nFUSE_METHOD(statfs,'],
  [
    'if (nr_before(l)) return l->res;',
    '  blk\\\n  if (ac_before(l)) return 0;\\\n  uv_async_send(&(l->async));\\\n  uv_sem_wait(&(l->sem));\\\n  ac_after(l);\\\n  return l->res;\n',
  ],
  ['nr_export(env, exports);', '  ac_export(env, exports);\n  NAPI_EXPORT_FUNCTION(fuse_native_mount)\n'],
  // (before change 6)
  [
    'read back signed',
    'FUSE_METHOD_VOID(utimens, 7, 0, (const char *path, const struct timespec tv[2]), {\n  l->path = path;\n  l->atime = tv[0].tv_sec < 0 ? 0 : (uint64_t) tv[0].tv_sec;\n  l->mtime = tv[1].tv_sec < 0 ? 0 : (uint64_t) tv[1].tv_sec;\n  l->atime_nsec = (uint32_t) tv[0].tv_nsec;\n  l->mtime_nsec = (uint32_t) tv[1].tv_nsec;\n}, {\n  napi_create_string_utf8(env, l->path, NAPI_AUTO_LENGTH, &(argv[2]));\n  FUSE_UINT64_TO_INTS_ARGV(l->atime, 3)\n  FUSE_UINT64_TO_INTS_ARGV(l->mtime, 5)\n  napi_create_uint32(env, l->atime_nsec, &(argv[7]));\n  napi_create_uint32(env, l->mtime_nsec, &(argv[8]));\n})',
  ],
  [
    'getSignedArg(atimeLow',
    '  _op_utimens (signal, path, atimeLow, atimeHigh, mtimeLow, mtimeHigh, atimeNsec, mtimeNsec) {\n    const atime = { sec: getDoubleArg(atimeLow, atimeHigh), nsec: atimeNsec }\n    const mtime = { sec: getDoubleArg(mtimeLow, mtimeHigh), nsec: mtimeNsec }\n',
  ],
];
const earlierFor = (to) => EARLIER.filter(([marker]) => to.includes(marker)).map(([, left]) => left);

// Files copied into the package as they are (the binding includes them).
const here = dirname(fileURLToPath(import.meta.url));
const copies = {
  's3mount-attr-cache.h': join(here, 'fuse-native-attr-cache.h'),
  's3mount-read-cache.h': join(here, 'fuse-native-read-cache.h'),
  's3mount-names.h': join(here, 'fuse-native-names.h'),
};

let changed = false;
for (const [file, source] of Object.entries(copies)) {
  const path = join(root, file);
  const text = readFileSync(source, 'utf8');
  if (existsSync(path) && readFileSync(path, 'utf8') === text) continue;
  writeFileSync(path, text);
  changed = true;
}
for (const [file, replacements] of Object.entries(edits)) {
  const path = join(root, file);
  let text = readFileSync(path, 'utf8');
  const before = text;
  for (const [from, to] of replacements) {
    if (text.includes(to)) continue;
    // A source patched by an earlier version of this script (before change 4) is brought up to date.
    const found = [...earlierFor(to), from].find((candidate) => text.includes(candidate));
    if (found === undefined) throw new Error(`patch-fuse-native: ${file} does not look like fuse-native 2.2.6 (missing: ${JSON.stringify(from.slice(0, 80))})`);
    text = text.replace(found, to);
  }
  if (text !== before) {
    writeFileSync(path, text);
    changed = true;
  }
}
if (changed) console.log('changed');
