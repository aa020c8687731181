// ListObjectsV2 answers as S3 and its imitators write them, read into pages.

import { isDeepStrictEqual } from 'node:util';
import test from 'ava';
import { parseErrorBody, parseListPage, parseListPageFull } from '../../src/s3/list-xml.js';
import { seededRandom } from '../support/seeded-random.js';

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

const contents = (key: string, size = 3) =>
  `<Contents><Key>${key}</Key><LastModified>2026-11-24T10:00:00.000Z</LastModified><ETag>&quot;abc&quot;</ETag><Size>${size}</Size><Owner><ID>o</ID><DisplayName>Key</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>`;

test('keys with markup characters, references, spaces and non-ASCII come back as they were', (t) => {
  const keys = ['a & b <c> "d" \'e\'.txt', '  spaced  ', 'naïve/😀 emoji', 'tab\there', 'cr\rlf\n'];
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix><KeyCount>7</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>${keys
    .map((key) => contents(escapeXml(key).replace('\r', '&#13;').replace('\n', '&#xA;')))
    .join('')}${contents('&#x1F600;&#65;')}<CommonPrefixes><Prefix>dir &amp; co/</Prefix></CommonPrefixes></ListBucketResult>`;
  const page = parseListPage(xml);
  t.deepEqual(
    page.objects.map((o) => o.key),
    [...keys, '😀A'],
  );
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
  t.deepEqual(
    page.objects.map((o) => o.key),
    ['a b+c%d\n'],
  );
  t.deepEqual(page.commonPrefixes, ['sp ace/']);
  const plain = parseListPage(encoded.replace('<EncodingType>url</EncodingType>', ''));
  t.deepEqual(
    plain.objects.map((o) => o.key),
    ['a+b%2Bc%25d%0A'],
  );
});

test('an empty page, empty elements and a document that is not a listing', (t) => {
  t.deepEqual(parseListPage('<ListBucketResult><Name>b</Name><Prefix/><IsTruncated>false</IsTruncated></ListBucketResult>'), {
    objects: [],
    commonPrefixes: [],
  });
  t.throws(() => parseListPage('<Error><Code>NoSuchBucket</Code></Error>'), { message: /ListBucketResult/ });
  t.throws(() => parseListPage(`<ListBucketResult>${contents('k').replace('</Contents>', '')}`), { message: /unclosed/ });
});

test('error answers give their code and message', (t) => {
  t.deepEqual(parseErrorBody('<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please &amp; slow</Message></Error>'), {
    code: 'SlowDown',
    message: 'Please & slow',
  });
  t.deepEqual(parseErrorBody('not xml'), {});
});

const page = (entries: string, header = '<Name>b</Name><IsTruncated>false</IsTruncated>') =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${header}${entries}</ListBucketResult>`;
const keysOf = (xml: string, onFallback?: (reason: string) => void) => parseListPage(xml, onFallback).objects.map((o) => o.key);

test('entries with attributes or spaces in their tags do not vanish', (t) => {
  const reasons: string[] = [];
  t.deepEqual(
    keysOf(page(`${contents('a')}<Contents ><Key >b</Key ><Size>1</Size></Contents>${contents('c')}`), (r) => reasons.push(r)),
    ['a', 'b', 'c'],
  );
  t.deepEqual(keysOf(page(`<Contents><Key xml:space="preserve">a b</Key></Contents><Contents id="2"><Key>c</Key></Contents>`)), ['a b', 'c']);
  t.deepEqual(parseListPage(page(`<CommonPrefixes\n><Prefix\t>p/</Prefix></CommonPrefixes>`)).commonPrefixes, ['p/']);
  t.deepEqual(parseListPage(page(`<Contents><Key>a</Key><Size >7</Size></Contents>`)).objects[0].size, 7);
  t.is(reasons.length, 1);
  t.regex(reasons[0], /unusual markup/);
});

test('CDATA is read as text, comments and processing instructions as nothing', (t) => {
  t.deepEqual(keysOf(page(`<Contents><Key><![CDATA[a<b>&amp;]]></Key></Contents>`)), ['a<b>&amp;']);
  t.deepEqual(keysOf(page(`<!-- <Contents><Key>ghost</Key></Contents> -->${contents('real')}`)), ['real']);
  t.deepEqual(keysOf(`<?xml version="1.0"?><!-- <Contents><Key>ghost</Key></Contents> --><ListBucketResult>${contents('real')}</ListBucketResult>`), ['real']);
  t.deepEqual(keysOf(page(`<?note <Contents><Key>ghost</Key></Contents>?>${contents('real')}`)), ['real']);
});

test('entities other than the five XML ones and numeric references go to the full parser', (t) => {
  const reasons: string[] = [];
  const xml = `<!DOCTYPE ListBucketResult [<!ENTITY e "x">]>${page(`${contents('a&e;b')}${contents('plain')}`)}`;
  keysOf(xml, (r) => reasons.push(r));
  t.regex(reasons[0], /before the root/);
  reasons.length = 0;
  t.deepEqual(
    parseListPage(page(contents('a&nbsp;b')), (r) => reasons.push(r)),
    parseListPageFull(page(contents('a&nbsp;b'))),
  );
  t.regex(reasons[0], /entity "&nbsp;/);
  reasons.length = 0;
  parseListPage(page(contents('a &amp; &#38; &#x26; b')), (r) => reasons.push(r));
  t.deepEqual(reasons, [], 'the five entities and numeric references are plain markup');
});

test('a page whose entries do not add up to its KeyCount is read by the full parser', (t) => {
  const reasons: string[] = [];
  const header = '<Name>b</Name><KeyCount>3</KeyCount><IsTruncated>false</IsTruncated>';
  t.deepEqual(
    keysOf(page(`${contents('a')}${contents('b')}`, header), (r) => reasons.push(r)),
    ['a', 'b'],
  );
  t.deepEqual(reasons, ['KeyCount 3, 2 entries found']);
  reasons.length = 0;
  // Keys and common prefixes together make the count (AWS, MinIO and fauxqs count both).
  const counted = parseListPage(page(`${contents('a')}${contents('b')}<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes>`, header), (r) => reasons.push(r));
  t.deepEqual(reasons, []);
  t.deepEqual(counted.commonPrefixes, ['p/']);
});

// ---- Property: against the SDK's parser, on generated pages ---------------------------------

// Characters keys are made of: XML's special ones, spaces, URL-special ones, non-ASCII (two-,
// three- and four-byte UTF-8).
const ALPHABET = [
  'a',
  'b',
  'Z',
  '0',
  '9',
  '/',
  '-',
  '_',
  '.',
  ' ',
  '&',
  '<',
  '>',
  '"',
  "'",
  '%',
  '+',
  '=',
  '?',
  '#',
  ';',
  'é',
  'ü',
  'ß',
  '中',
  '☕',
  '😀',
  '𝄞',
];

/**
 * A key's characters escaped as a server may: the five entities, numeric references (decimal
 * or hex), or raw where XML allows. Characters beyond the BMP stay raw: the SDK's parser turns
 * their numeric references into nothing (S3 writes them raw).
 */
function escapeVariant(text: string, random: () => number): string {
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    const pick = random();
    const numeric = pick < 0.5 ? `&#${code};` : `&#x${code.toString(16)};`;
    if (char === '&') out += pick < 0.6 ? '&amp;' : numeric;
    else if (char === '<') out += pick < 0.6 ? '&lt;' : numeric;
    else if (char === '>') out += pick < 0.3 ? '>' : pick < 0.7 ? '&gt;' : numeric;
    else if (char === '"') out += pick < 0.4 ? '"' : pick < 0.8 ? '&quot;' : numeric;
    else if (char === "'") out += pick < 0.4 ? "'" : pick < 0.8 ? '&apos;' : numeric;
    else if (code > 0x7f && code <= 0xffff && pick < 0.2) out += numeric;
    else out += char;
  }
  return out;
}

/** S3's encoding-type=url: every byte but the unreserved ones percent-encoded. */
const urlEncode = (key: string) => encodeURIComponent(key).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function randomKey(random: () => number): string {
  const length = 1 + Math.floor(random() * 12);
  let key = '';
  for (let i = 0; i < length; i++) key += ALPHABET[Math.floor(random() * ALPHABET.length)];
  // The SDK's parser drops text that is only whitespace: such keys are left to the fast path's own tests.
  return key.trim() === '' ? `${key}x` : key;
}

interface Generated {
  xml: string;
  objects: Array<{ key: string; size: number; etag: string; lastModified: string }>;
  commonPrefixes: string[];
  token?: string;
}

function generatePage(random: () => number): Generated {
  const chance = (p: number) => random() < p;
  const urlEncoded = chance(0.3);
  // Half the pages in plain markup (the fast path), half with some unusual markup here and there.
  const unusual = chance(0.5);
  const space = () => (chance(0.3) ? ['\n  ', ' ', '\n', '\t'][Math.floor(random() * 4)] : '');
  // Markup variants for an element's tags: plain, spaces inside the tags, an attribute.
  const tag = (name: string, value: string) => {
    const style = unusual ? random() : 1;
    if (style < 0.06) return `<${name} >${value}</${name} >`;
    if (style < 0.1) return `<${name} x="1">${value}</${name}>`;
    return `<${name}>${value}</${name}>`;
  };
  const textValue = (raw: string) => {
    const shown = urlEncoded ? urlEncode(raw) : raw;
    // CDATA holds text as it is (unless it holds the CDATA end itself).
    if (unusual && chance(0.05) && !shown.includes(']]>')) return `<![CDATA[${shown}]]>`;
    return escapeVariant(shown, random);
  };
  const noise = () => {
    const pick = unusual ? random() : 1;
    if (pick < 0.03) return '<!-- <Contents><Key>ghost</Key><Size>1</Size></Contents> -->';
    if (pick < 0.05) return '<?s3mount-test <Key>ghost</Key>?>';
    return space();
  };
  const objects: Generated['objects'] = [];
  const used = new Set<string>();
  const entryCount = Math.floor(random() * 25);
  for (let i = 0; i < entryCount; i++) {
    const key = randomKey(random);
    if (used.has(key)) continue;
    used.add(key);
    objects.push({
      key,
      size: Math.floor(random() * 1e12),
      etag: `"${Math.floor(random() * 1e15).toString(16)}"`,
      lastModified: new Date(1.7e12 + Math.floor(random() * 1e10)).toISOString(),
    });
  }
  const commonPrefixes = Array.from({ length: Math.floor(random() * 5) }, () => `${randomKey(random)}/`).filter((p, i, all) => all.indexOf(p) === i);
  const truncated = chance(0.4);
  const token = truncated ? `1${randomKey(random).replace(/[^A-Za-z0-9]/g, '')}+/=` : undefined;
  const header: string[] = ['<Name>bucket</Name>', tag('Prefix', ''), '<MaxKeys>1000</MaxKeys>', `<IsTruncated>${truncated}</IsTruncated>`];
  if (urlEncoded) header.push('<EncodingType>url</EncodingType>');
  if (chance(0.8)) header.push(`<KeyCount>${objects.length + commonPrefixes.length}</KeyCount>`);
  const tokenElement = token ? `<NextContinuationToken>${escapeVariant(token, random)}</NextContinuationToken>` : '';
  const tokenFirst = chance(0.5);
  const body = [
    ...header.map((h) => h + noise()),
    tokenFirst ? tokenElement : '',
    ...objects.map(
      (o) =>
        `<Contents>${space()}${tag('Key', textValue(o.key))}${space()}${tag('LastModified', o.lastModified)}${tag('ETag', escapeVariant(o.etag, random))}${tag('Size', String(o.size))}${chance(0.5) ? '<Owner><ID>id</ID><DisplayName>Key</DisplayName></Owner>' : ''}<StorageClass>STANDARD</StorageClass>${space()}</Contents>${noise()}`,
    ),
    ...commonPrefixes.map((p) => `<CommonPrefixes>${tag('Prefix', textValue(p))}</CommonPrefixes>${noise()}`),
    tokenFirst ? '' : tokenElement,
  ].join('');
  const declaration = chance(0.8) ? '<?xml version="1.0" encoding="UTF-8"?>\n' : '';
  const rootAttributes = chance(0.8) ? ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"' : '';
  return { xml: `${declaration}<ListBucketResult${rootAttributes}>${body}</ListBucketResult>`, objects, commonPrefixes, token };
}

test("property: generated pages read alike by the fast path and the SDK's parser, and as generated", (t) => {
  let fallbacks = 0;
  const runs = 600;
  for (let seed = 1; seed <= runs; seed++) {
    const generated = generatePage(seededRandom(seed));
    const expected = {
      objects: generated.objects.map((o) => ({ ...o, lastModified: new Date(o.lastModified) })),
      commonPrefixes: generated.commonPrefixes,
      ...(generated.token ? { nextContinuationToken: generated.token } : {}),
    };
    const fast = parseListPage(generated.xml, () => fallbacks++);
    const full = parseListPageFull(generated.xml);
    // One assertion per property, with the seed to replay a failure.
    if (!isDeepStrictEqual(fast, expected) || !isDeepStrictEqual(full, expected)) {
      t.deepEqual(fast, expected, `seed ${seed}: ${generated.xml}`);
      t.deepEqual(full, expected, `seed ${seed} (SDK parser): ${generated.xml}`);
      return;
    }
  }
  t.log(`${runs} pages, ${fallbacks} read by the full parser`);
  t.true(fallbacks > 0 && fallbacks < runs, 'both ways were exercised');
});
