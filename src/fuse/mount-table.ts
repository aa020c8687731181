import { readFile } from 'node:fs/promises';

/** Whether a filesystem is mounted at `mountpoint` (absolute), from /proc/self/mountinfo. */
export async function isMounted(mountpoint: string): Promise<boolean> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  return table.split('\n').some((line) => unescapeMountPath(line.split(' ')[4] ?? '') === mountpoint);
}

// mountinfo writes space, tab, newline and backslash as octal escapes.
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
