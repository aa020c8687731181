// The block cache: object content in fixed-size units, keyed by bucket + key + ETag + unit
// size + index. An ETag names one version, so a block never goes stale: only the bounds and
// invalidations push it out. The filesystem's read/ layer is its only reader.

/** One unit of one version of an object. */
export interface BlockId {
  bucket: string;
  key: string;
  etag: string;
  /** Bytes per unit: blocks and the smaller pieces of random reads are different grids. */
  unitSize: number;
  index: number;
}

export interface BlockCache {
  /**
   * The cached bytes of `id`, or the loader's, kept within the byte bound. Concurrent calls
   * for one block share one loader call; errors are never kept. The loader is called before
   * fetch returns when the block is neither cached nor loading, so a caller fetching several
   * blocks learns which are missing at once and can fetch them with one request.
   */
  fetch(id: BlockId, load: () => Promise<Buffer>): Promise<Buffer>;
  /** Whether fetch would answer without calling its loader. Counts nothing. */
  has(id: BlockId): boolean;
}

/** The parameters that tell one block of a key from another: ETag, index and unit size. */
export function blockParams(id: BlockId): string {
  return `${id.etag}:${id.index}/${id.unitSize}`;
}
