// One LIST that tells what a name is when nothing about it is cached: with the name's key as
// prefix and "/" as delimiter, S3 shows the object `name`, the prefix `name/` (a directory)
// and s3fs's marker `name_$folder$` in one answer, beside any other key starting with the
// name. A name that is none of them (every new file's lookup) costs that one request instead
// of a HEAD, a one-key LIST of `name/` and a HEAD of `name_$folder$`.
import type { ListPage, ObjectInfo } from '../../s3/object-store.js';
import { FOLDER_SUFFIX } from './object-kinds.js';

/**
 * Keys asked for. A page cut short says nothing about what it does not show (servers may not
 * list in byte order: fauxqs does not), and the lookup then asks the usual way; 100 keeps the
 * answer small for a short name among many longer ones starting with it.
 */
export const NAME_PAGE_KEYS = 100;

/** What a name page says about one name. */
export interface NameFacts {
  /** The object named exactly so (a file, a link, or an s3fs directory object). */
  object?: ObjectInfo;
  /** Keys under `name/`: a directory. */
  directory: boolean;
  /** s3fs's `name_$folder$` marker. */
  folderMarker?: ObjectInfo;
}

/** What a page listed with `key` as prefix and "/" as delimiter says of `key`; undefined when it was cut short. */
export function readNamePage(key: string, page: ListPage): NameFacts | undefined {
  if (page.nextContinuationToken !== undefined) return undefined;
  const folderKey = `${key}${FOLDER_SUFFIX}`;
  return {
    object: page.objects.find((object) => object.key === key),
    directory: page.commonPrefixes.includes(`${key}/`),
    folderMarker: page.objects.find((object) => object.key === folderKey),
  };
}
