// Directory listings derived from a listing without delimiter: one page of up to 1,000 keys
// under a directory may hold whole subdirectories, and then each of them is known without a
// LIST of its own (goofys calls this slurping). `find` over a tree of 111 directories and
// 1,000 files costs one or two LISTs instead of 111.
import type { ObjectInfo } from '../../s3/object-store.js';
import { type DirNode, type FsNode, fileNode } from '../nodes.js';
import { addFolderMarker, folderMarkerName } from './object-kinds.js';
import { unusableNameReason } from './paths.js';

/** Called for each key left out of a listing, with the reason. */
export type SkippedKey = (key: string, reason: string) => void;

export class SubtreeListings {
  /** Entries per directory prefix, in key order. */
  readonly listings = new Map<string, Map<string, FsNode>>();
  /** The node of each directory below the root, by prefix. */
  private readonly dirNodes = new Map<string, DirNode>();

  constructor(
    private readonly root: string,
    private readonly skipped: SkippedKey,
  ) {
    this.listings.set(root, new Map());
  }

  /** Adds keys under the root, in the order S3 lists them. */
  add(objects: readonly ObjectInfo[]): void {
    for (const object of objects) this.addOne(object);
  }

  /**
   * The directories below the root whose every key sorts before `lastKey`: a listing that
   * stopped at `lastKey` holds all of them. Every directory, when nothing was cut off.
   */
  *complete(lastKey: string | undefined): Iterable<[string, Map<string, FsNode>]> {
    const last = lastKey === undefined ? undefined : Buffer.from(lastKey);
    for (const entry of this.listings) {
      const [prefix] = entry;
      if (prefix === this.root) continue;
      // S3 orders keys by their UTF-8 bytes (not by UTF-16 units, as < would).
      if (last === undefined || (Buffer.compare(last, Buffer.from(prefix)) > 0 && !lastKey?.startsWith(prefix))) {
        // All of its keys were seen: no `dir/` marker among them means there is none.
        const node = this.dirNodes.get(prefix);
        if (node && node.marker === undefined) node.marker = null;
        yield entry;
      }
    }
  }

  private addOne(object: ObjectInfo): void {
    const parts = object.key.slice(this.root.length).split('/');
    let dir = this.root;
    let parent: string | undefined;
    for (let i = 0; i < parts.length - 1; i++) {
      const name = parts[i];
      const reason = unusableNameReason(name);
      if (reason) return this.skipped(object.key, reason);
      const child = `${dir}${name}/`;
      this.setDir(dir, name, child);
      parent = dir;
      dir = child;
      if (!this.listings.has(dir)) this.listings.set(dir, new Map());
    }
    // A key ending in "/" is the marker of the directory just entered, not an entry; its
    // LastModified is the directory's time when its metadata names none.
    const name = parts[parts.length - 1];
    if (name === '') {
      if (parent !== undefined) this.markerTime(parent, parts[parts.length - 2], object.lastModified);
      const node = this.dirNodes.get(dir);
      if (node) node.marker = object;
      return;
    }
    const reason = unusableNameReason(name);
    if (reason) return this.skipped(object.key, reason);
    const entries = this.listings.get(dir) as Map<string, FsNode>;
    const folder = folderMarkerName(name);
    if (folder !== undefined && !unusableNameReason(folder)) {
      const node = addFolderMarker(entries, folder, `${dir}${folder}/`, object);
      if (node) this.dirNodes.set(node.prefix, node);
      return;
    }
    const existing = entries.get(name);
    if (existing?.type === 'dir') {
      existing.shadowsFile = true;
      return this.skipped(object.key, 'file shadowed by a directory of the same name');
    }
    entries.set(name, fileNode(object));
  }

  private markerTime(parent: string, name: string, mtime: Date): void {
    const entries = this.listings.get(parent) as Map<string, FsNode>;
    const node = entries.get(name);
    // In place: the same node is kept by prefix (dirNodes) to receive its marker.
    if (node?.type === 'dir') node.mtime = mtime;
  }

  private setDir(parent: string, name: string, prefix: string): void {
    const entries = this.listings.get(parent) as Map<string, FsNode>;
    const existing = entries.get(name);
    if (existing?.type === 'dir') return;
    if (existing) this.skipped(`${parent}${name}`, 'file shadowed by a directory of the same name');
    const node: DirNode = { type: 'dir', prefix };
    if (existing) node.shadowsFile = true;
    entries.set(name, node);
    this.dirNodes.set(prefix, node);
  }
}
