// Walks a directory tree with bounded concurrency so that a mount's caches fill: every
// directory is listed and every entry stat'ed (and, asked for, every file read to its end).
// It only does what any program does through the mount, so it must never run inside the
// process serving that mount (synchronous or not, see docs/notes/fuse-native.md).
import type { Stats } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface WarmOptions {
  /** Read every file's content too. */
  content: boolean;
  /** Directory listings, stats and file reads in flight at once. */
  concurrency: number;
  /** Stops the walk: nothing new starts and reads in progress end at their next chunk. */
  signal?: AbortSignal;
  /** Called after every finished step (often: keep it cheap). */
  onProgress?: (progress: Readonly<WarmProgress>) => void;
}

export interface WarmProgress {
  directoriesFound: number;
  directoriesListed: number;
  files: number;
  /** Bytes of the files found so far (what --content has to read). */
  bytesFound: number;
  bytesRead: number;
  failures: number;
  /** The first failure, for the summary. */
  firstFailure?: string;
}

export interface WarmResult extends WarmProgress {
  interrupted: boolean;
}

// Reads go through the kernel in 128 KiB requests anyway; 1 MiB per call keeps syscalls few.
const READ_CHUNK = 1024 * 1024;

interface Task {
  path: string;
  run(): Promise<void>;
}

export async function warmTree(root: string, options: WarmOptions): Promise<WarmResult> {
  const progress: WarmProgress = { directoriesFound: 1, directoriesListed: 0, files: 0, bytesFound: 0, bytesRead: 0, failures: 0 };
  const rootStats = await lstat(root);
  if (!rootStats.isDirectory()) throw new Error(`${root} is not a directory`);
  const aborted = () => options.signal?.aborted === true;

  // Listings and stats come first, so that the totals are known early and the content phase
  // has a meaningful progress bar; reads fill the remaining slots.
  const metadataQueue: Task[] = [];
  const readQueue: Task[] = [];

  const fail = (path: string, error: unknown) => {
    progress.failures++;
    progress.firstFailure ??= `${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
  };

  const listDirectory = (path: string): Task => ({
    path,
    run: async () => {
      const names = await readdir(path);
      progress.directoriesListed++;
      for (const name of names) metadataQueue.push(statEntry(join(path, name)));
    },
  });

  const statEntry = (path: string): Task => ({
    path,
    run: async () => {
      const stats: Stats = await lstat(path);
      // Another filesystem mounted inside this one is not ours to warm.
      if (stats.isDirectory() && stats.dev === rootStats.dev) {
        progress.directoriesFound++;
        metadataQueue.push(listDirectory(path));
      } else if (stats.isFile()) {
        progress.files++;
        progress.bytesFound += stats.size;
        if (options.content) readQueue.push(readFile(path));
      }
    },
  });

  const readFile = (path: string): Task => ({
    path,
    run: async () => {
      const handle = await open(path, 'r');
      try {
        const buffer = Buffer.allocUnsafe(READ_CHUNK);
        while (!aborted()) {
          const { bytesRead } = await handle.read(buffer, 0, READ_CHUNK, null);
          if (bytesRead === 0) break;
          progress.bytesRead += bytesRead;
          options.onProgress?.(progress);
        }
      } finally {
        await handle.close();
      }
    },
  });

  metadataQueue.push(listDirectory(root));

  await new Promise<void>((resolve) => {
    let active = 0;
    const pump = () => {
      while (active < options.concurrency && !aborted()) {
        const task = metadataQueue.shift() ?? readQueue.shift();
        if (!task) break;
        active++;
        task
          .run()
          .catch((error: unknown) => fail(task.path, error))
          .finally(() => {
            active--;
            options.onProgress?.(progress);
            pump();
          });
      }
      if (active === 0) resolve();
    };
    options.signal?.addEventListener('abort', pump, { once: true });
    pump();
  });
  return { ...progress, interrupted: aborted() };
}
