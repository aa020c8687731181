// scripts/patch-fuse-native.mjs runs at every `make setup`, over a binding patched before:
// a second run must recognise every change and make none (an edit applied twice once left
// two definitions of Fuse.attrCache, the second without `prime`).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test from 'ava';

const installed = dirname(createRequire(import.meta.url).resolve('fuse-native'));
const FILES = ['index.js', 'fuse-native.c', 's3mount-attr-cache.h', 's3mount-read-cache.h', 's3mount-names.h'];

test('patching an already patched binding changes nothing, and index.js defines the attribute cache (with prime) and native reads (with attach) once', (t) => {
  const copy = mkdtempSync(join(tmpdir(), 's3mount-patch-'));
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));
  for (const file of FILES) cpSync(join(installed, file), join(copy, file));
  const before = FILES.map((file) => readFileSync(join(copy, file), 'utf8'));
  const printed = execFileSync(process.execPath, ['scripts/patch-fuse-native.mjs', copy], { encoding: 'utf8' });
  t.is(printed, '', 'nothing to change');
  t.deepEqual(
    FILES.map((file) => readFileSync(join(copy, file), 'utf8')),
    before,
  );
  const index = before[0];
  t.is(index.split('Fuse.attrCache = ').length - 1, 1, 'one definition');
  t.is(index.split('Fuse.attrCache.prime = ').length - 1, 1, 'prime set once');
  t.is(index.split('Fuse.nativeReads = ').length - 1, 1, 'native reads defined once');
  t.is(index.split('Fuse.nativeReads.attach = ').length - 1, 1, 'attach set once');
  t.is(index.split('Fuse.dropPageCache = ').length - 1, 1, 'dropPageCache set once');
  t.is(index.split("['fallocate', {").length - 1, 1, 'fallocate registered once');
  t.is(before[1].split('FUSE_METHOD_VOID(fallocate,').length - 1, 1, 'one fallocate method');
});
