// `-o opt[,opt...]` as mount(8) and mount.fuse3 pass options from an /etc/fstab line of type
// fuse.s3mount. Each option becomes the long flag it names; options meant for mount itself
// or for other filesystems' conventions are dropped; anything else is a usage error.

/** How a long option of ours takes its argument; undefined when there is no such option. */
export type FlagKind = 'switch' | 'value' | undefined;

// Generic mount(8) options (and what mount.fuse3 adds: dev, suid): they concern mount,
// systemd or the kernel's handling of every filesystem, not s3mount.
const GENERIC_OPTIONS = new Set([
  'rw',
  'defaults',
  'auto',
  'noauto',
  '_netdev',
  'nofail',
  'user',
  'users',
  'nouser',
  'owner',
  'group',
  'exec',
  'noexec',
  'suid',
  'nosuid',
  'dev',
  'nodev',
  'sync',
  'async',
  'dirsync',
  'atime',
  'noatime',
  'relatime',
  'norelatime',
  'strictatime',
  'nostrictatime',
  'lazytime',
  'nolazytime',
  'diratime',
  'nodiratime',
  'silent',
  'loud',
]);

// FUSE's and mount's own names for options we spell differently.
const ALIASES: Record<string, string> = { ro: 'read-only', nonempty: 'allow-non-empty' };

export class MountOptionError extends Error {
  override name = 'MountOptionError';
}

/** One long option an `-o` list names: a switch has no value, or "true" or "false". */
export interface MountOption {
  flag: string;
  value?: string;
}

/** The long options of one `-o` list, in order; options meant for mount itself are dropped. */
export function mountOptionList(list: string, kindOf: (flag: string) => FlagKind): MountOption[] {
  const options: MountOption[] = [];
  for (const option of list.split(',')) {
    const flag = toFlag(option, kindOf);
    if (flag) options.push(flag);
  }
  return options;
}

function toFlag(option: string, kindOf: (flag: string) => FlagKind): MountOption | undefined {
  if (option === '') return undefined;
  const equals = option.indexOf('=');
  const rawName = equals < 0 ? option : option.slice(0, equals);
  const value = equals < 0 ? undefined : option.slice(equals + 1);
  if (GENERIC_OPTIONS.has(rawName) || rawName.startsWith('x-') || rawName === 'comment') return undefined;
  const name = ALIASES[rawName] ?? rawName.replaceAll('_', '-');
  switch (kindOf(name)) {
    case 'switch':
      if (value !== undefined && value !== 'true' && value !== 'false')
        throw new MountOptionError(`mount option ${rawName} takes no value, or true or false, not "${value}" (in -o ${option})`);
      return { flag: name, value };
    case 'value':
      if (value === undefined || value === '') throw new MountOptionError(`mount option ${rawName} needs a value: -o ${rawName}=...`);
      return { flag: name, value };
    default:
      throw new MountOptionError(`unknown mount option ${rawName} in -o (see s3mount --help)`);
  }
}
