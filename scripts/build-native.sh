#!/usr/bin/env bash
# fuse-native 2.2.6 hands utimens the access time twice (fuse-native.c:346 passes l->atime
# where l->mtime belongs), so `cp -p`, `rsync -a` and shutil.copy2 would lose modification
# times. This rebuilds the binding from its own source with that one argument fixed, and with
# the changes of scripts/patch-fuse-native.mjs (nanosecond times both ways; utimens called for
# one time alone, as `touch -a` needs); the result in build/Release takes precedence over the
# package's prebuilt binary.
set -euo pipefail
scripts="$(cd "$(dirname "$0")" && pwd)"
cd "$scripts/../node_modules/fuse-native"

source_file=fuse-native.c
wrong='  FUSE_UINT64_TO_INTS_ARGV(l->atime, 5)'
right='  FUSE_UINT64_TO_INTS_ARGV(l->mtime, 5)'

if ! grep -qF "$right" "$source_file"; then
  if ! grep -qF "$wrong" "$source_file"; then
    echo "build-native: fuse-native.c does not look like 2.2.6; refusing to patch" >&2
    exit 1
  fi
  sed -i "s/FUSE_UINT64_TO_INTS_ARGV(l->atime, 5)/FUSE_UINT64_TO_INTS_ARGV(l->mtime, 5)/" "$source_file"
  rm -f build/Release/fuse.node
fi
if [ -n "$(node "$scripts/patch-fuse-native.mjs" .)" ]; then rm -f build/Release/fuse.node; fi
if [ -f build/Release/fuse.node ]; then
  exit 0
fi

node_gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
args=(rebuild)
# Build against the installed Node headers when present (no download needed).
if [ -f /usr/include/node/node.h ]; then args+=(--nodedir=/usr); fi
log=$(mktemp)
if [ -f "$node_gyp" ]; then build=(node "$node_gyp"); else build=(npx --yes node-gyp@12); fi
if ! "${build[@]}" "${args[@]}" >"$log" 2>&1; then
  cat "$log" >&2
  echo "build-native: rebuilding fuse-native failed" >&2
  exit 1
fi
rm -f "$log"
echo "build-native: fuse-native rebuilt with the utimens fix and nanosecond times"
