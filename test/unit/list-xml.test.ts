// ListObjectsV2 answers as S3 and its imitators write them, read into pages.
import test from 'ava';
import { parseErrorBody, parseListPage } from '../../src/s3/list-xml.js';

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

const contents = (key: string, size = 3) =>
  `<Contents><Key>${key}</Key><LastModified>2026-11-24T10:00:00.000Z</LastModified><ETag>&quot;abc&quot;</ETag><Size>${size}</Size><Owner><ID>o</ID><DisplayName>Key</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>`;

test('keys with markup characters, references, spaces and non-ASCII come back as they were', (t) => {
  const keys = ['a & b <c> "d" \'e\'.txt', '  spaced  ', 'naïve/😀 emoji', 'tab\there', 'cr\rlf\n'];
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix><KeyCount>6</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>${keys
    .map((key) => contents(escape(key).replace('\r', '&#13;').replace('\n', '&#xA;')))
    .join('')}${contents('&#x1F600;&#65;')}<CommonPrefixes><Prefix>dir &amp; co/</Prefix></CommonPrefixes></ListBucketResult>`;
  const page = parseListPage(xml);
  t.deepEqual(page.objects.map((o) => o.key), [...keys, '😀A']);
  t.deepEqual(page.commonPrefixes, ['dir & co/']);
  t.like(page.objects[0], { size: 3, etag: '"abc"' });
  t.is(page.objects[0].lastModified.toISOString(), '2026-11-24T10:00:00.000Z');
  t.is(page.nextContinuationToken, undefined);
});

test('the continuation token is found before the entries (AWS) or after them', (t) => {
  const before = `<ListBucketResult><Name>b</Name><NextContinuationToken>tok/+=</NextContinuationToken><IsTruncated>true</IsTruncated>${contents('k')}</ListBucketResult>`;
  const after = `<ListBucketResult><Name>b</Name><IsTruncated>true</IsTruncated>${contents('k')}<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes><KeyCount>2</KeyCount><NextContinuationToken>tok2</NextContinuationToken></ListBucketResult>`;
  t.is(parseListPage(before).nextContinuationToken, 'tok/+=');
  t.is(parseListPage(after).nextContinuationToken, 'tok2');
  // A token on a page that says it is the last one is not followed.
  t.is(parseListPage(after.replace('<IsTruncated>true', '<IsTruncated>false')).nextContinuationToken, undefined);
});

test('with EncodingType url, keys and prefixes are decoded; without it, "%" and "+" stay', (t) => {
  const encoded = `<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>${contents('a+b%2Bc%25d%0A')}<CommonPrefixes><Prefix>sp+ace/</Prefix></CommonPrefixes></ListBucketResult>`;
  const page = parseListPage(encoded);
  t.deepEqual(page.objects.map((o) => o.key), ['a b+c%d\n']);
  t.deepEqual(page.commonPrefixes, ['sp ace/']);
  const plain = parseListPage(encoded.replace('<EncodingType>url</EncodingType>', ''));
  t.deepEqual(plain.objects.map((o) => o.key), ['a+b%2Bc%25d%0A']);
});

test('an empty page, empty elements and a document that is not a listing', (t) => {
  t.deepEqual(parseListPage('<ListBucketResult><Name>b</Name><Prefix/><IsTruncated>false</IsTruncated></ListBucketResult>'), { objects: [], commonPrefixes: [] });
  t.throws(() => parseListPage('<Error><Code>NoSuchBucket</Code></Error>'), { message: /ListBucketResult/ });
  t.throws(() => parseListPage(`<ListBucketResult>${contents('k').replace('</Contents>', '')}`), { message: /unclosed/ });
});

test('error answers give their code and message', (t) => {
  t.deepEqual(parseErrorBody('<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please &amp; slow</Message></Error>'), { code: 'SlowDown', message: 'Please & slow' });
  t.deepEqual(parseErrorBody('not xml'), {});
});
