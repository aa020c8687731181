// A file held open by another process (test/support/writer-program.ts), written on command,
// with the bytes it should hold kept alongside: the local model a test compares S3 with.
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { patternBytes } from './pattern.js';

export interface Writer {
  /** patternBytes(length, seed) at offset; resolves to "ok" or the error code. */
  write(offset: number, length: number, seed: number): Promise<string>;
  truncate(size: number): Promise<string>;
  fsync(): Promise<string>;
  /** close(); the process exits after answering. */
  close(): Promise<string>;
  /** What the file holds if every command succeeded. */
  expected(): Buffer;
  /** Kills the process if it is still there (teardown). */
  kill(): void;
}

/** Opens `path` with `flags` (as fs.openSync takes them) in a new process. */
export function startWriter(path: string, flags = 'w'): Writer {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', resolve('test/support/writer-program.ts'), path, flags], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const answers: Array<(line: string) => void> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => answers.shift()?.(line));
  child.once('exit', () => {
    for (const answer of answers.splice(0)) answer('exited');
  });
  let model = Buffer.alloc(0);

  const send = (line: string) =>
    new Promise<string>((done) => {
      answers.push(done);
      child.stdin!.write(`${line}\n`);
    });

  return {
    async write(offset, length, seed) {
      const answer = await send(`write ${offset} ${length} ${seed}`);
      if (answer === 'ok') {
        if (offset + length > model.length) model = Buffer.concat([model, Buffer.alloc(offset + length - model.length)]);
        patternBytes(length, seed).copy(model, offset);
      }
      return answer;
    },
    async truncate(size) {
      const answer = await send(`truncate ${size}`);
      if (answer === 'ok') model = size <= model.length ? Buffer.from(model.subarray(0, size)) : Buffer.concat([model, Buffer.alloc(size - model.length)]);
      return answer;
    },
    fsync: () => send('fsync'),
    close: () => send('close'),
    expected: () => Buffer.from(model),
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
