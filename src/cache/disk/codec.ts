// Compression of stored blocks with zstd (zstd-napi: Node 20's zlib has no zstd). A block is
// stored compressed only if a sample of it compresses: incompressible data (media, archives,
// encrypted objects) then costs one small sample, not a whole compression per block.
import { createRequire } from 'node:module';
import type { Codec, StoredEntry } from './entry-format.js';

type Zstd = typeof import('zstd-napi');

// zstd-napi is an optional dependency (a native build): without it blocks are stored as they
// are, and blocks stored compressed by another build are dropped and fetched again.
function loadZstd(): Zstd | undefined {
  try {
    return createRequire(import.meta.url)('zstd-napi') as Zstd;
  } catch {
    return undefined;
  }
}
const zstd = loadZstd();

/** Whether zstd can be used here. */
export const zstdAvailable = zstd !== undefined;

export type Compression = 'zstd' | 'none';

// Level 1: the fastest, and within a few percent of level 3's ratio on text blocks.
const LEVEL = 1;
const SAMPLE_BYTES = 16 * 1024;
// A sample must shrink to below this share for the block to be stored compressed.
const WORTH_IT = 0.9;

export class BlockCodec {
  private readonly compressor?: InstanceType<Zstd['Compressor']>;

  constructor(readonly compression: Compression) {
    if (compression === 'zstd' && zstd) {
      this.compressor = new zstd.Compressor();
      this.compressor.setParameters({ compressionLevel: LEVEL });
    }
  }

  /** The stored form of `bytes` (raw: `bytes` itself, so copy it before letting go of the caller's buffer). */
  encode(bytes: Buffer): StoredEntry {
    const raw = (): StoredEntry => ({ codec: 'raw', logicalLength: bytes.length, payload: bytes });
    if (!this.compressor || bytes.length < 512) return raw();
    if (bytes.length > SAMPLE_BYTES * 2) {
      const sample = bytes.subarray(0, SAMPLE_BYTES);
      if (this.compressor.compress(sample).length > sample.length * WORTH_IT) return raw();
    }
    const compressed = this.compressor.compress(bytes);
    if (compressed.length > bytes.length * WORTH_IT) return raw();
    return { codec: 'zstd', logicalLength: bytes.length, payload: compressed };
  }

  /** The block's bytes, or undefined when they do not decompress to what the header says. */
  decode(entry: StoredEntry): Buffer | undefined {
    if (entry.codec === 'raw') return entry.payload;
    if (!zstd) return undefined;
    try {
      const bytes = zstd.decompress(entry.payload);
      return bytes.length === entry.logicalLength ? bytes : undefined;
    } catch {
      return undefined;
    }
  }
}

export type { Codec };
