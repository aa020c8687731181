// Which version of an object S3 holds now, after it refused a GET for an older one
// (If-Match → 412: another writer replaced the object behind a cached listing or HEAD).
import { FsError } from './errors.js';
import type { Invalidation } from './invalidation.js';
import type { Namespace } from './names/namespace.js';
import type { ReadTarget } from './nodes.js';

export class ObjectVersions {
  constructor(
    private readonly namespace: Namespace,
    private readonly invalidation: Invalidation,
    /** How long the kernel keeps attributes it was given (the mount's kernel cache TTL). */
    private readonly kernelTtlMs: number,
  ) {}

  /**
   * Forgets the key and its parent's listing (whatever still hands out `stale`), asks S3
   * with a HEAD, and answers the current version; ENOENT when the object is gone.
   *
   * When the object grew, it answers only once the kernel's copy of the old size ran out:
   * the kernel cuts reads at the size it knows, and asks for fresh attributes only when a
   * read reaches past that size after they expired. Waiting here (once, on this rare path)
   * lets `cat` read the new object whole instead of its first old-size bytes. A staged copy
   * (`forKernel: false`) reports its own size and needs no wait.
   */
  async current(stale: ReadTarget, options: { forKernel: boolean } = { forKernel: true }): Promise<ReadTarget> {
    this.invalidation.changed(stale.key);
    const head = this.namespace.headObject(stale.key);
    const kernelForgot = delay(this.kernelTtlMs + KERNEL_TTL_MARGIN_MS);
    const info = await head;
    if (!info) throw new FsError('EIO', `object removed while open: ${stale.key}`);
    if (options.forKernel && info.size > stale.size && this.kernelTtlMs > 0) await kernelForgot;
    return { key: info.key, size: info.size, etag: info.etag };
  }

  /**
   * Resolves once the kernel's copy of attributes it holds now ran out (at once with none), so
   * that libfuse, opening a file after it, asks for them again instead of trusting its own.
   */
  kernelForgot(): Promise<void> {
    return this.kernelTtlMs > 0 ? delay(this.kernelTtlMs + KERNEL_TTL_MARGIN_MS) : Promise.resolve();
  }
}

// The kernel counts its timeouts in jiffies from when it got an answer: a little past the TTL.
const KERNEL_TTL_MARGIN_MS = 50;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
