// A ListObjectsV2 answer (XML) as a ListPage, and the code of an S3 error answer (with the
// SDK's own XML parser: error answers are small and rare).
//
// Listing pages are read by a fast search for the few elements they need, which knows only
// the plain markup S3 and its imitators write. Anything else (attributes or spaces inside a tag
// below the root, CDATA, comments, processing instructions, a DOCTYPE, entities other than the
// five XML ones and numeric references), or a count of entries different from the page's
// KeyCount, sends the page to the SDK's own XML parser instead, so that no entry vanishes and
// no markup is read as a key.
import { parseXML } from '@aws-sdk/xml-builder';
import type { ListPage, ObjectInfo } from './object-store.js';

type XmlValue = string | XmlObject | XmlValue[];
interface XmlObject {
  [name: string]: XmlValue;
}

function text(value: XmlValue | undefined): string {
  return typeof value === 'string' ? value : '';
}

/** The text of an element as the SDK's parser gives it: a string, or `#text` beside attributes. */
function textOf(value: XmlValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (value !== undefined && typeof value === 'object' && !Array.isArray(value)) return typeof value['#text'] === 'string' ? value['#text'] : '';
  return undefined;
}

function listOf(value: XmlValue | undefined): XmlValue[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function field(value: XmlValue | undefined, name: string): XmlValue | undefined {
  return value !== undefined && typeof value === 'object' && !Array.isArray(value) ? value[name] : undefined;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Markup the fast search does not know: the page goes to the full parser. */
class UnusualMarkup extends Error {}

/** XML character and entity references in element text; any other "&" is unusual markup. */
function unescapeXml(raw: string): string {
  if (!raw.includes('&')) return raw;
  return raw.replace(/&(?:(#x[0-9a-fA-F]{1,6}|#\d{1,7}|amp|lt|gt|quot|apos);)?/g, (whole, name: string | undefined) => {
    if (name === undefined) throw new UnusualMarkup(`entity ${JSON.stringify(raw.slice(raw.indexOf(whole), raw.indexOf(whole) + 12))}`);
    if (name[0] !== '#') return ENTITIES[name];
    const code = name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    if (code > 0x10ffff) throw new UnusualMarkup(`character reference ${whole}`);
    return String.fromCodePoint(code);
  });
}

/**
 * The text of the first <tag>...</tag> in xml[from, to), or undefined. S3 escapes "<" in text,
 * so the first "</tag>" after "<tag>" closes it.
 */
function element(xml: string, tag: string, from: number, to: number): string | undefined {
  const open = xml.indexOf(`<${tag}>`, from);
  if (open < 0 || open >= to) {
    // <tag/> is an empty value.
    const empty = xml.indexOf(`<${tag}/>`, from);
    return empty >= 0 && empty < to ? '' : undefined;
  }
  const start = open + tag.length + 2;
  const close = xml.indexOf(`</${tag}>`, start);
  if (close < 0 || close > to) throw new Error(`unclosed <${tag}>`);
  return unescapeXml(xml.slice(start, close));
}

/** Each <tag>...</tag> block in xml[from, to), as [start, end) of its content. */
function* blocks(xml: string, tag: string, from: number, to: number): Iterable<[number, number]> {
  const openTag = `<${tag}>`;
  const closeTag = `</${tag}>`;
  let at = from;
  for (;;) {
    const open = xml.indexOf(openTag, at);
    if (open < 0 || open >= to) return;
    const close = xml.indexOf(closeTag, open + openTag.length);
    if (close < 0 || close > to) throw new Error(`unclosed <${tag}>`);
    yield [open + openTag.length, close];
    at = close + closeTag.length;
  }
}

/**
 * A ListObjectsV2 answer as a ListPage. Its shape is flat and fixed, so it is read by
 * searching for the few elements it needs: the SDK's general XML parser took 15 ms per page
 * of 1,000 keys, a quarter of a cold `ls -l` of 5,000 files; this takes about a tenth of that.
 */
export function parseListPage(xml: string, onFallback?: (reason: string) => void): ListPage {
  const rootStart = xml.indexOf('<ListBucketResult');
  if (rootStart < 0) throw new Error('ListObjectsV2 answer without ListBucketResult');
  const unusual = unusualMarkup(xml, rootStart);
  if (unusual) {
    onFallback?.(unusual);
    return parseListPageFull(xml);
  }
  try {
    return parseListPageFast(xml, rootStart, onFallback);
  } catch (error) {
    if (!(error instanceof UnusualMarkup)) throw error;
    onFallback?.(error.message);
    return parseListPageFull(xml);
  }
}

function parseListPageFast(xml: string, rootStart: number, onFallback?: (reason: string) => void): ListPage {
  const end = xml.length;
  // The page's own fields come before the first entry; entries hold their own Key, Prefix...
  const firstEntry = Math.min(...['<Contents>', '<CommonPrefixes>'].map((tag) => xml.indexOf(tag, rootStart)).map((at) => (at < 0 ? end : at)));
  const headerField = (tag: string) => element(xml, tag, rootStart, firstEntry) ?? trailerField(xml, tag, firstEntry);
  // With encoding-type=url the server escapes keys and prefixes, so that keys holding
  // characters XML cannot carry survive; a server that ignores the request says so by
  // leaving EncodingType out, and its keys are taken as they are.
  const decode = headerField('EncodingType') === 'url' ? (value: string) => decodeURIComponent(value.replace(/\+/g, ' ')) : (value: string) => value;
  const objects: ObjectInfo[] = [];
  let entries = 0;
  for (const [from, to] of blocks(xml, 'Contents', firstEntry, end)) {
    entries++;
    const key = element(xml, 'Key', from, to);
    if (!key) continue;
    objects.push({
      key: decode(key),
      size: Number(element(xml, 'Size', from, to)) || 0,
      etag: element(xml, 'ETag', from, to) ?? '',
      lastModified: new Date(element(xml, 'LastModified', from, to) || 0),
    });
  }
  const commonPrefixes: string[] = [];
  for (const [from, to] of blocks(xml, 'CommonPrefixes', firstEntry, end)) {
    entries++;
    const prefix = element(xml, 'Prefix', from, to);
    if (prefix) commonPrefixes.push(decode(prefix));
  }
  // KeyCount counts keys and common prefixes (AWS, MinIO, fauxqs): any other count means
  // entries this search did not see.
  const keyCount = headerField('KeyCount');
  if (keyCount !== undefined && Number(keyCount) !== entries) {
    onFallback?.(`KeyCount ${keyCount}, ${entries} entries found`);
    return parseListPageFull(xml);
  }
  const page: ListPage = { objects, commonPrefixes };
  const token = headerField('NextContinuationToken');
  if (headerField('IsTruncated') === 'true' && token) page.nextContinuationToken = token;
  return page;
}

// Markup the fast search does not know. "<" is always escaped in text, so every "<" opens
// markup: one followed by "!" (comment, CDATA, DOCTYPE) or "?" (processing instruction), or a
// tag holding whitespace (attributes, `<Key >`) is unusual.
const UNUSUAL_BODY = /<[!?]|<[^>]*\s/g;

/** What a page holds besides plain elements, entities and the declaration, if anything. */
function unusualMarkup(xml: string, rootStart: number): string | undefined {
  // Before the root: only the XML declaration (and whitespace).
  if (rootStart > 0 && !/^\s*(?:<\?xml\s[^<>]*\?>)?\s*$/.test(xml.slice(0, rootStart))) return 'markup before the root element';
  // The root's own start tag may carry attributes (xmlns).
  const rootEnd = xml.indexOf('>', rootStart);
  if (rootEnd < 0) return 'unclosed root element';
  UNUSUAL_BODY.lastIndex = rootEnd + 1;
  const markup = UNUSUAL_BODY.exec(xml);
  if (markup) return `unusual markup ${JSON.stringify(markup[0].slice(0, 20))}`;
  // Entities are checked where text is read (unescapeXml).
  return undefined;
}

/**
 * A ListObjectsV2 answer through the SDK's XML parser: slower (15 ms per 1,000 keys) but
 * general. Used for pages with unusual markup or a count that does not add up.
 */
export function parseListPageFull(xml: string): ListPage {
  let root: XmlValue | undefined;
  try {
    root = (parseXML(xml) as XmlObject).ListBucketResult;
  } catch (error) {
    throw new Error(`unreadable ListObjectsV2 answer: ${(error as Error).message}`);
  }
  if (root === undefined || typeof root !== 'object' || Array.isArray(root)) throw new Error('ListObjectsV2 answer without ListBucketResult');
  const decode = textOf(root.EncodingType) === 'url' ? (value: string) => decodeURIComponent(value.replace(/\+/g, ' ')) : (value: string) => value;
  const objects: ObjectInfo[] = [];
  for (const entry of listOf(root.Contents)) {
    const key = textOf(field(entry, 'Key'));
    if (!key) continue;
    objects.push({
      key: decode(key),
      size: Number(textOf(field(entry, 'Size'))) || 0,
      etag: textOf(field(entry, 'ETag')) ?? '',
      lastModified: new Date(textOf(field(entry, 'LastModified')) || 0),
    });
  }
  const commonPrefixes: string[] = [];
  for (const entry of listOf(root.CommonPrefixes)) {
    const prefix = textOf(field(entry, 'Prefix'));
    if (prefix) commonPrefixes.push(decode(prefix));
  }
  const page: ListPage = { objects, commonPrefixes };
  const token = textOf(root.NextContinuationToken);
  if (textOf(root.IsTruncated) === 'true' && token) page.nextContinuationToken = token;
  return page;
}

/** A page field that a server put after the entries: searched past the last entry. */
function trailerField(xml: string, tag: string, from: number): string | undefined {
  const lastEntry = Math.max(xml.lastIndexOf('</Contents>'), xml.lastIndexOf('</CommonPrefixes>'));
  return element(xml, tag, Math.max(from, lastEntry), xml.length);
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
