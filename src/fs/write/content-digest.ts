// The SHA-256 of a staged copy written in order from its start, kept as the writes come, so
// that the PUT of a new file does not pass over its bytes again at close or fsync (a signed
// PUT carries its body's SHA-256). Each write's bytes are copied (the buffer is libfuse's)
// and hashed once the FUSE write has been answered, while the kernel brings the next one.

import { createHash, type Hash } from 'node:crypto';

// FUSE writes are at most 128 KiB (libfuse 2): copies of that size are reused.
const CHUNK = 128 * 1024;
const KEPT_CHUNKS = 16;
const chunks: Buffer[] = [];

export class ContentDigest {
  private readonly hash: Hash = createHash('sha256');
  private pending: Buffer[] = [];
  private scheduled?: NodeJS.Immediate;
  /** Bytes [0, end) of the file are hashed, or queued to be. */
  private hashedEnd = 0;

  get end(): number {
    return this.hashedEnd;
  }

  /** `data` was written at `end`. */
  append(data: Buffer): void {
    const copy = data.length <= CHUNK ? (chunks.pop() ?? Buffer.allocUnsafeSlow(CHUNK)) : Buffer.allocUnsafeSlow(data.length);
    data.copy(copy);
    this.pending.push(copy.subarray(0, data.length));
    this.hashedEnd += data.length;
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      this.drain();
    });
  }

  /** Hex SHA-256 of bytes [0, end); appending may go on. */
  current(): string {
    this.drain();
    return this.hash.copy().digest('hex');
  }

  /** No longer needed: its copies go back for reuse. */
  dispose(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    for (const copy of this.pending) giveBack(copy);
    this.pending = [];
  }

  private drain(): void {
    for (const copy of this.pending) {
      this.hash.update(copy);
      giveBack(copy);
    }
    this.pending = [];
  }
}

function giveBack(copy: Buffer): void {
  if (copy.buffer.byteLength === CHUNK && chunks.length < KEPT_CHUNKS) chunks.push(Buffer.from(copy.buffer, 0, CHUNK));
}
