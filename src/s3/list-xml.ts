// A ListObjectsV2 answer (XML) as a ListPage, and the code of an S3 error answer, with the
// SDK's own XML parser.
import { parseXML } from '@aws-sdk/xml-builder';
import type { ListPage, ObjectInfo } from './object-store.js';

type XmlValue = string | XmlObject | XmlValue[];
interface XmlObject {
  [name: string]: XmlValue;
}

function asList(value: XmlValue | undefined): XmlValue[] {
  if (value === undefined || value === '') return [];
  return Array.isArray(value) ? value : [value];
}

function text(value: XmlValue | undefined): string {
  return typeof value === 'string' ? value : '';
}

function field(value: XmlValue | undefined, name: string): XmlValue | undefined {
  return value !== undefined && typeof value === 'object' && !Array.isArray(value) ? value[name] : undefined;
}

export function parseListPage(xml: string): ListPage {
  const root = (parseXML(xml) as XmlObject).ListBucketResult;
  if (root === undefined || typeof root !== 'object') throw new Error('ListObjectsV2 answer without ListBucketResult');
  // With encoding-type=url the server escapes keys and prefixes, so that keys holding
  // characters XML cannot carry survive; a server that ignores the request says so by
  // leaving EncodingType out, and its keys are taken as they are.
  const decode = text(field(root, 'EncodingType')) === 'url' ? (value: string) => decodeURIComponent(value.replace(/\+/g, ' ')) : (value: string) => value;
  const objects: ObjectInfo[] = [];
  for (const entry of asList(field(root, 'Contents'))) {
    const key = text(field(entry, 'Key'));
    if (key === '') continue;
    objects.push({
      key: decode(key),
      size: Number(text(field(entry, 'Size'))) || 0,
      etag: text(field(entry, 'ETag')),
      lastModified: new Date(text(field(entry, 'LastModified')) || 0),
    });
  }
  const commonPrefixes: string[] = [];
  for (const common of asList(field(root, 'CommonPrefixes'))) {
    const prefix = text(field(common, 'Prefix'));
    if (prefix !== '') commonPrefixes.push(decode(prefix));
  }
  const page: ListPage = { objects, commonPrefixes };
  const token = text(field(root, 'NextContinuationToken'));
  if (text(field(root, 'IsTruncated')) === 'true' && token !== '') page.nextContinuationToken = token;
  return page;
}

/** The S3 error code and message of an error answer's body, when it has them. */
export function parseErrorBody(body: string): { code?: string; message?: string } {
  if (!body.includes('<Error')) return {};
  try {
    const error = (parseXML(body) as XmlObject).Error;
    return { code: text(field(error, 'Code')) || undefined, message: text(field(error, 'Message')) || undefined };
  } catch {
    return {};
  }
}
