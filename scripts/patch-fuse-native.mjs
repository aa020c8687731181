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
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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
      'FUSE_METHOD_VOID(utimens, 7, 0, (const char *path, const struct timespec tv[2]), {\n  l->path = path;\n  l->atime = tv[0].tv_sec < 0 ? 0 : (uint64_t) tv[0].tv_sec;\n  l->mtime = tv[1].tv_sec < 0 ? 0 : (uint64_t) tv[1].tv_sec;\n  l->atime_nsec = (uint32_t) tv[0].tv_nsec;\n  l->mtime_nsec = (uint32_t) tv[1].tv_nsec;\n}, {\n  napi_create_string_utf8(env, l->path, NAPI_AUTO_LENGTH, &(argv[2]));\n  FUSE_UINT64_TO_INTS_ARGV(l->atime, 3)\n  FUSE_UINT64_TO_INTS_ARGV(l->mtime, 5)\n  napi_create_uint32(env, l->atime_nsec, &(argv[7]));\n  napi_create_uint32(env, l->mtime_nsec, &(argv[8]));\n})',
    ],
    [
      '  if (implemented[op_utimens]) ops.utimens = fuse_native_utimens;\n',
      '  if (implemented[op_utimens]) ops.utimens = fuse_native_utimens;\n  ops.flag_utime_omit_ok = 1;\n',
    ],
  ],
  'index.js': [
    [
      '  _op_utimens (signal, path, atimeLow, atimeHigh, mtimeLow, mtimeHigh) {\n    const atime = getDoubleArg(atimeLow, atimeHigh)\n    const mtime = getDoubleArg(mtimeLow, mtimeHigh)\n',
      '  _op_utimens (signal, path, atimeLow, atimeHigh, mtimeLow, mtimeHigh, atimeNsec, mtimeNsec) {\n    const atime = { sec: getDoubleArg(atimeLow, atimeHigh), nsec: atimeNsec }\n    const mtime = { sec: getDoubleArg(mtimeLow, mtimeHigh), nsec: mtimeNsec }\n',
    ],
    ['  const ints = new Uint32Array(18)\n', '  const ints = new Uint32Array(21)\n'],
    [
      '  setDoubleInt(ints, 16, toDateMS(stat && stat.ctime))\n',
      '  setDoubleInt(ints, 16, toDateMS(stat && stat.ctime))\n  ints[18] = (stat && stat.atimeNs) || 0\n  ints[19] = (stat && stat.mtimeNs) || 0\n  ints[20] = (stat && stat.ctimeNs) || 0\n',
    ],
  ],
};

let changed = false;
for (const [file, replacements] of Object.entries(edits)) {
  const path = join(root, file);
  let text = readFileSync(path, 'utf8');
  const before = text;
  for (const [from, to] of replacements) {
    if (text.includes(to)) continue;
    if (!text.includes(from))
      throw new Error(`patch-fuse-native: ${file} does not look like fuse-native 2.2.6 (missing: ${JSON.stringify(from.slice(0, 80))})`);
    text = text.replace(from, to);
  }
  if (text !== before) {
    writeFileSync(path, text);
    changed = true;
  }
}
if (changed) console.log('changed');
