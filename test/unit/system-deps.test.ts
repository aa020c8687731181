// `make system-deps` on machines that lack things (issue 14): node-gyp's toolchain is installed
// too, and libfuse.so.2 comes from libfuse2t64 where the distribution renamed it. apt, ldconfig
// and the tools looked for are fakes on a PATH of their own; apt-get only records its arguments.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';

interface Machine {
  /** What `apt-cache policy libfuse2t64` prints. */
  libfuse2t64Policy: string;
  hasLibfuse: boolean;
  /** Commands present besides the shell's basics. */
  commands: string[];
}

async function systemDeps(machine: Machine): Promise<{ code: number; output: string; installed: string | undefined }> {
  const bin = await mkdtemp(join(tmpdir(), 's3mount-system-deps-'));
  try {
    const fake = async (name: string, script: string) => {
      await writeFile(join(bin, name), `#!/bin/bash\n${script}\n`);
      await chmod(join(bin, name), 0o755);
    };
    for (const tool of ['grep', 'env', 'sed']) await symlink(['/usr/bin', '/bin'].map((dir) => join(dir, tool)).find(existsSync) as string, join(bin, tool));
    await fake(
      'ldconfig',
      machine.hasLibfuse
        ? "echo '\tlibfuse.so.2 (libc6,x86-64) => /lib/x86_64-linux-gnu/libfuse.so.2'"
        : "echo '\tlibc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6'",
    );
    await fake('apt-cache', `[ "$1 $2" = "policy libfuse2t64" ] && printf '%s' '${machine.libfuse2t64Policy}'`);
    await fake('apt-get', `[ "$1" = install ] && echo "$@" > ${join(bin, 'installed')}; exit 0`);
    for (const command of machine.commands) await fake(command, 'exit 0');
    const result = await new Promise<{ code: number; output: string }>((done) =>
      execFile('/usr/bin/make', ['-s', '-f', resolve('Makefile'), 'system-deps', 'SUDO='], { env: { PATH: bin }, cwd: bin }, (error, stdout, stderr) =>
        done({ code: error ? Number(error.code ?? -1) : 0, output: stdout + stderr }),
      ),
    );
    const installed = existsSync(join(bin, 'installed')) ? (await readFile(join(bin, 'installed'), 'utf8')).trim() : undefined;
    return { ...result, installed };
  } finally {
    await rm(bin, { recursive: true, force: true });
  }
}

const TOOLS = ['fusermount', 'g++', 'make', 'python3', 'redis-server'];
const RENAMED = 'libfuse2t64:\n  Installed: (none)\n  Candidate: 2.9.9-9\n';

test('a bare machine gets libfuse, fusermount, the toolchain node-gyp needs and redis-server', async (t) => {
  const bare = await systemDeps({ libfuse2t64Policy: '', hasLibfuse: false, commands: [] });
  t.is(bare.code, 0, bare.output);
  t.is(bare.installed, 'install -y -qq libfuse2 fuse3 g++ make python3 redis-server');
});

test('where libfuse2 is called libfuse2t64 (Debian 13, Ubuntu 24.04) that is installed', async (t) => {
  const renamed = await systemDeps({ libfuse2t64Policy: RENAMED, hasLibfuse: false, commands: TOOLS });
  t.is(renamed.code, 0, renamed.output);
  t.is(renamed.installed, 'install -y -qq libfuse2t64');
  const unknown = await systemDeps({ libfuse2t64Policy: 'libfuse2t64:\n  Installed: (none)\n  Candidate: (none)\n', hasLibfuse: false, commands: TOOLS });
  t.is(unknown.installed, 'install -y -qq libfuse2');
});

test('only what is missing is installed, and nothing when nothing is', async (t) => {
  t.is(
    (await systemDeps({ libfuse2t64Policy: RENAMED, hasLibfuse: true, commands: ['fusermount', 'make', 'python3', 'redis-server'] })).installed,
    'install -y -qq g++',
  );
  t.is(
    (await systemDeps({ libfuse2t64Policy: RENAMED, hasLibfuse: true, commands: ['fusermount', 'g++', 'make', 'python3'] })).installed,
    'install -y -qq redis-server',
  );
  const complete = await systemDeps({ libfuse2t64Policy: RENAMED, hasLibfuse: true, commands: TOOLS });
  t.is(complete.code, 0, complete.output);
  t.is(complete.installed, undefined);
});
