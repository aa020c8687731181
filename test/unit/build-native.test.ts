// scripts/build-native.sh on a fresh copy of fuse-native: which Node headers it builds against,
// and what happens when the build fails (issue 14: make setup stopped, although the prebuilt
// binding works).

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';
import Fuse from 'fuse-native';
import { NativeAttrCache } from '../../src/fuse/native-attr-cache.js';
import { fuseNativeBinding, prebuiltBindingNote } from '../support/native-binding.js';

/** A checkout with a fresh fuse-native (without the utimens fix, never built) and the scripts. */
async function freshCheckout(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 's3mount-build-native-'));
  // The whole scripts folder: build-native.sh may call scripts next to it.
  await cp('scripts', join(root, 'scripts'), { recursive: true });
  const pkg = join(root, 'node_modules', 'fuse-native');
  await cp('node_modules/fuse-native', pkg, { recursive: true });
  await rm(join(pkg, 'build'), { recursive: true, force: true });
  const source = join(pkg, 'fuse-native.c');
  await writeFile(source, (await readFile(source, 'utf8')).replace('FUSE_UINT64_TO_INTS_ARGV(l->mtime, 5)', 'FUSE_UINT64_TO_INTS_ARGV(l->atime, 5)'));
  // What its binding.gyp and node-gyp-build need, as the package finds them next to itself.
  for (const dependency of ['node-gyp-build', 'napi-macros', 'fuse-shared-library', 'fuse-shared-library-linux', 'nanoresource']) {
    if (existsSync(join('node_modules', dependency))) await symlink(resolve('node_modules', dependency), join(root, 'node_modules', dependency));
  }
  return root;
}

async function executable(path: string, text: string): Promise<void> {
  await writeFile(path, text);
  await chmod(path, 0o755);
}

test('a build that fails warns and falls back to the prebuilt binding; headers come from the running Node', async (t) => {
  const root = await freshCheckout();
  t.teardown(() => rm(root, { recursive: true, force: true }));
  // A Node installed under its own prefix (as nvm or /usr/local do), with its headers there,
  // and compilers that fail.
  const prefix = join(root, 'node-prefix');
  const bin = join(root, 'bin');
  await mkdir(join(prefix, 'bin'), { recursive: true });
  await mkdir(join(prefix, 'include'));
  await symlink('/usr/include/node', join(prefix, 'include', 'node'));
  await mkdir(bin);
  await executable(
    join(bin, 'node'),
    `#!/bin/sh\nif [ "$1" = -p ] && [ "$2" = process.execPath ]; then echo ${join(prefix, 'bin', 'node')}; exit 0; fi\nexec ${process.execPath} "$@"\n`,
  );
  for (const compiler of ['cc', 'gcc', 'c++', 'g++']) await executable(join(bin, compiler), '#!/bin/sh\necho "fake compiler: error" >&2\nexit 1\n');
  const result = await new Promise<{ code: number; stderr: string }>((done) =>
    execFile(
      'bash',
      [join(root, 'scripts', 'build-native.sh')],
      { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, timeout: 120_000 },
      (error, _stdout, stderr) => done({ code: error ? Number(error.code ?? -1) : 0, stderr }),
    ),
  );
  t.is(result.code, 0, result.stderr);
  t.regex(result.stderr, /^build-native: WARNING: fuse-native not rebuilt with the utimens fix: node-gyp failed: /m);
  t.regex(result.stderr, /prebuilt binding is used: mounts work, but modification times/);
  const pkg = join(root, 'node_modules', 'fuse-native');
  t.false(existsSync(join(pkg, 'build', 'Release', 'fuse.node')));
  t.regex(fuseNativeBinding(pkg), /\/prebuilds\/linux-x64\/node\.napi\.node$/, 'the prebuilt binding loads');
  // Its patched index.js says the binding has no attribute cache: s3mount mounts without it.
  const require = createRequire(import.meta.url);
  const Prebuilt = require(join(pkg, 'index.js')) as typeof Fuse;
  t.is(Prebuilt.attrCache, null);
  t.is(NativeAttrCache.open(1000, Prebuilt.attrCache), undefined);
  t.regex(await readFile(join(pkg, 'build', 'config.gypi'), 'utf8'), new RegExp(`"nodedir": "${prefix}"`), "built against the running Node's headers");
});

test('the mounts of this checkout load fuse-native rebuilt with the utimens fix and the attribute cache', (t) => {
  t.is(prebuiltBindingNote(), '');
  t.truthy(Fuse.attrCache);
});
