// Which cache entries belong to which object key, so that invalidating a key finds its
// entries (HEAD, listing pages, blocks of every ETag) without scanning the whole cache.
export class KeyIndex {
  private readonly entries = new Map<string, Set<string>>();

  add(indexKey: string, cacheKey: string): void {
    let set = this.entries.get(indexKey);
    if (!set) this.entries.set(indexKey, (set = new Set()));
    set.add(cacheKey);
  }

  remove(indexKey: string, cacheKey: string): void {
    const set = this.entries.get(indexKey);
    if (!set) return;
    set.delete(cacheKey);
    if (set.size === 0) this.entries.delete(indexKey);
  }

  /** Cache keys under one index key. */
  of(indexKey: string): string[] {
    return [...(this.entries.get(indexKey) ?? [])];
  }

  /** Cache keys under every index key that starts with `prefix`. */
  under(prefix: string): string[] {
    const found: string[] = [];
    for (const [indexKey, set] of this.entries) if (indexKey.startsWith(prefix)) found.push(...set);
    return found;
  }

  clear(): void {
    this.entries.clear();
  }
}
