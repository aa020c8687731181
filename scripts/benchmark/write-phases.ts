// Where the time of `write 8 × 8 MiB with fsync` goes, per system: open, write, fsync and
// close of each file, timed in a separate node process on one emulator.
// Run: node --import tsx scripts/benchmark/write-phases.ts [s3mount s3fs]
// (WRITE_PHASES_BASELINE=DIR adds s3mount of another built checkout, as `baseline`.)
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startS3Endpoint } from '../local-s3.js';
import { mountSystem, type SystemName } from './systems.js';

const run = promisify(execFile);
const PHASES = `
const { openSync, writeSync, fsyncSync, closeSync } = require('node:fs'); const [dir, round] = process.argv.slice(1);
const data = Buffer.alloc(8 * 1024 * 1024, round); const t = [0, 0, 0, 0]; const now = () => performance.now();
for (let i = 0; i < 8; i++) { let a = now(); const fd = openSync(dir + '/phases-' + round + '-' + i + '.bin', 'w'); let b = now(); t[0] += b - a;
  writeSync(fd, data, 0, data.length, 0); a = now(); t[1] += a - b; fsyncSync(fd); b = now(); t[2] += b - a; closeSync(fd); t[3] += now() - b; }
console.log(t.map((x) => x.toFixed(1)).join(' '));`;
const systems = (process.argv.slice(2) as SystemName[]).length ? (process.argv.slice(2) as SystemName[]) : (['s3mount', 's3fs'] as SystemName[]);
const endpoint = await startS3Endpoint({ bucket: 'bench' });
const mounts = await Promise.all(systems.map((s) => mountSystem(s, endpoint)));
// WRITE_PHASES_BASELINE=DIR: s3mount of another built checkout too, in the same rounds.
const baseline = process.env.WRITE_PHASES_BASELINE;
if (baseline) {
  const home = process.cwd();
  process.chdir(baseline); // mountSystem starts bin/s3mount of the working directory
  try {
    mounts.push(await mountSystem('s3mount', endpoint));
    systems.push('baseline' as SystemName);
  } finally {
    process.chdir(home);
  }
}
try {
  for (let round = 1; round <= Number(process.env.ROUNDS ?? 5); round++) {
    for (const [i, system] of systems.entries()) {
      const { stdout } = await run(process.execPath, ['-e', PHASES, mounts[i].mountpoint, String(round)]);
      console.log(`${system.padEnd(8)} open write fsync close (ms, 8 files): ${stdout.trim()}`);
    }
  }
} finally {
  for (const m of mounts) await m.stop();
  await endpoint.stop();
}
