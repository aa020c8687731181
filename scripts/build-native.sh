#!/usr/bin/env bash
# fuse-native 2.2.6 hands utimens the access time twice (fuse-native.c:346 passes l->atime
# where l->mtime belongs), so `cp -p`, `rsync -a` and shutil.copy2 would lose modification
# times. This rebuilds the binding from its own source with that one argument fixed, and with
# the changes of scripts/patch-fuse-native.mjs (nanosecond times both ways; utimens called for
# one time alone, as `touch -a` needs; s3mount's attribute cache, which answers repeated stats
# on the libfuse thread); the result in build/Release takes precedence over the package's
# prebuilt binary.
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
# Build against the running Node's own headers, PREFIX/include/node (Debian's /usr, nvm,
# /usr/local alike), so that node-gyp does not try to download them.
node_prefix="$(dirname "$(dirname "$(node -p process.execPath)")")"
# (node-gyp lets npm's configuration, npm_config_nodedir, win over its command line.)
if [ -f "$node_prefix/include/node/node.h" ] && [ -f "$node_prefix/include/node/common.gypi" ]; then
  args+=(--nodedir="$node_prefix")
  export npm_config_nodedir="$node_prefix"
fi
if [ -f "$node_gyp" ]; then build=(node "$node_gyp"); else build=(npx --yes node-gyp@12); fi

# Without a rebuild the package's prebuilt binding still loads and mounts work; only times set
# through a mount are wrong, and every stat is answered in JavaScript (no attribute cache). So
# a failed build warns and goes on, and the tests that need the fix say why they fail
# (test/support/native-binding.ts).
fall_back() {
  rm -f build/Release/fuse.node
  echo "build-native: WARNING: fuse-native not rebuilt with the utimens fix: $1" >&2
  echo "build-native: WARNING: its prebuilt binding is used: mounts work, but modification times set through a mount (cp -p, rsync -a, touch -m) are wrong, and the tests of them fail saying so; repeated stats are slower (no attribute cache in the binding)" >&2
  exit 0
}
missing=()
for tool in g++ make python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then fall_back "${missing[*]} missing (make system-deps installs them)"; fi
log=$(mktemp)
if ! "${build[@]}" "${args[@]}" >"$log" 2>&1; then
  fall_back "node-gyp failed: $(grep -m 3 -iE 'error|not ok' "$log" | tr -s ' \n' ' ')(full log: $log)"
fi
rm -f "$log"
echo "build-native: fuse-native rebuilt with the utimens fix, nanosecond times, the attribute cache and native reads"
