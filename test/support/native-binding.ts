// Which fuse-native binding a mount loads: the one scripts/build-native.sh rebuilt with its
// utimens fix (build/Release), or the package's prebuilt one when the rebuild failed (the script
// warns then, and make setup goes on). Tests of modification times name the cause with this.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const require = createRequire(import.meta.url);

/** The .node file node-gyp-build loads for the fuse-native package in `dir`. */
export function fuseNativeBinding(dir = resolve('node_modules/fuse-native')): string {
  const nodeGypBuild = require(require.resolve('node-gyp-build', { paths: [dir] })) as { path(dir: string): string };
  return nodeGypBuild.path(dir);
}

/** Empty when the rebuilt binding loads; else why times set through a mount come out wrong. */
export function prebuiltBindingNote(): string {
  const binding = fuseNativeBinding();
  if (binding.includes('/build/Release/')) return '';
  return `fuse-native loads its prebuilt binding (${binding}): scripts/build-native.sh could not rebuild it with the utimens fix (see its warning in the output of make setup), so modification times set through a mount are wrong`;
}
