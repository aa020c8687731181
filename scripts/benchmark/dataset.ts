// The benchmark's fixed data set, generated the same way for the emulator and the floor.
export const BIG_KEY = 'big.bin';
export const BIG_SIZE = 256 * 1024 * 1024;
export const SMALL_COUNT = 1000;
export const SMALL_SIZE = 4096;
export const WIDE_COUNT = 5000;

/** Position-dependent bytes: every 4-byte word encodes its own offset. */
export function bigBytes(): Buffer {
  const words = new Uint32Array(BIG_SIZE / 4);
  for (let i = 0; i < words.length; i++) words[i] = Math.imul(i, 2654435761) >>> 0;
  return Buffer.from(words.buffer);
}

// Lower-case letters and digits only: fauxqs loses keys of other shapes when paging.
export const smallKeys = (): string[] => Array.from({ length: SMALL_COUNT }, (_, i) => `small/s${String(i).padStart(4, '0')}`);
export const wideKeys = (): string[] => Array.from({ length: WIDE_COUNT }, (_, i) => `wide/w${String(i).padStart(5, '0')}`);
export const treeKeys = (): string[] => {
  const keys: string[] = [];
  for (let a = 0; a < 10; a++) for (let b = 0; b < 10; b++) for (let c = 0; c < 10; c++) keys.push(`tree/d${a}/d${b}/f${c}`);
  return keys;
};

export function smallBody(key: string): Buffer {
  return Buffer.alloc(SMALL_SIZE, key);
}

export function tinyBody(key: string): Buffer {
  return Buffer.from(`${key}\n`);
}

/** Every object of the data set except the big one, with its bytes. */
export function smallObjects(): Array<[string, Buffer]> {
  return [
    ...smallKeys().map((key): [string, Buffer] => [key, smallBody(key)]),
    ...[...wideKeys(), ...treeKeys()].map((key): [string, Buffer] => [key, tinyBody(key)]),
  ];
}
