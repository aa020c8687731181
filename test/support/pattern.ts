/** Deterministic bytes where every 4-byte word depends on its position, so a misplaced block shows. */
export function patternBytes(size: number, seed: number): Buffer {
  const words = new Uint32Array(Math.ceil(size / 4));
  for (let i = 0; i < words.length; i++) words[i] = (Math.imul(i, 2654435761) + seed) >>> 0;
  return Buffer.from(words.buffer, 0, size);
}
