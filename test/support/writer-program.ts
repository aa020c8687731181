// A program that holds one file open and changes it on command, so that a test can look at
// the mount (and the fault proxy's log) between two writes while the file is open. Run by
// test/support/writer.ts: `node --import tsx writer-program.ts PATH FLAGS`; one command per
// line on stdin, one answer per line on stdout: "ok", or the error's code.
//   write OFFSET LENGTH SEED   patternBytes(LENGTH, SEED) at OFFSET, in writes of 1 MiB
//   truncate SIZE              ftruncate
//   fsync                      fsync
//   close                      close, then exit
import { closeSync, fsyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { patternBytes } from './pattern.js';

const WRITE_SIZE = 1024 * 1024;
const [path, flags] = process.argv.slice(2);
const fd = openSync(path, flags);

function apply(command: string, args: number[]): void {
  switch (command) {
    case 'write': {
      const [offset, length, seed] = args;
      const bytes = patternBytes(length, seed);
      for (let done = 0; done < length; ) done += writeSync(fd, bytes, done, Math.min(WRITE_SIZE, length - done), offset + done);
      return;
    }
    case 'truncate':
      ftruncateSync(fd, args[0]);
      return;
    case 'fsync':
      fsyncSync(fd);
      return;
    case 'close':
      closeSync(fd);
      return;
    default:
      throw Object.assign(new Error(`unknown command ${command}`), { code: 'EINVAL' });
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [command, ...args] = line.trim().split(/\s+/);
  let answer = 'ok';
  try {
    apply(command, args.map(Number));
  } catch (error) {
    answer = (error as NodeJS.ErrnoException).code ?? String(error);
  }
  process.stdout.write(`${answer}\n`);
  if (command === 'close') process.exit(0);
});
