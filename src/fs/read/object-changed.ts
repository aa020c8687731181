// An object replaced or removed by another writer while a handle works on an older version
// of it: S3 refused a GET carrying the old ETag (If-Match → 412) or found no key (404).
import { FsError } from '../errors.js';
import type { ReadTarget } from '../nodes.js';

/** EIO unless the filesystem can move the handle to the new version (no byte served yet). */
export class ObjectChangedError extends FsError {
  constructor(readonly target: ReadTarget) {
    super('EIO', `object changed or removed while open: ${target.key}`);
  }
}
