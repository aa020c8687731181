// Times to the nanosecond and their s3fs metadata form.
import test from 'ava';
import { formatEpochSeconds, parseEpochSeconds, relatimeAfterRead, resolveRequestedTime, UTIME_NOW, UTIME_OMIT } from '../../src/fs/attributes/times.js';

test('epoch seconds as s3fs writes them are read, with or without a fraction', (t) => {
  t.deepEqual(parseEpochSeconds('1700000000'), { sec: 1_700_000_000, nsec: 0 });
  t.deepEqual(parseEpochSeconds('1700000000.5'), { sec: 1_700_000_000, nsec: 500_000_000 });
  t.deepEqual(parseEpochSeconds('1700000000.123456789'), { sec: 1_700_000_000, nsec: 123_456_789 });
  t.deepEqual(parseEpochSeconds('1700000000.1234567891'), { sec: 1_700_000_000, nsec: 123_456_789 }, 'digits past the ninth are dropped');
  for (const bad of ['', 'x', '--1', '- 1', '1e9', '1700000000.', '.5', '-.5', undefined]) t.is(parseEpochSeconds(bad), undefined, String(bad));
});

test('times before 1970 are negative seconds with a fraction counting forward, as s3fs writes a timespec', (t) => {
  t.deepEqual(parseEpochSeconds('-1'), { sec: -1, nsec: 0 });
  t.deepEqual(parseEpochSeconds('-300000000'), { sec: -300_000_000, nsec: 0 });
  t.deepEqual(parseEpochSeconds('-2.500000000'), { sec: -2, nsec: 500_000_000 }, '1.5 s before the epoch');
  t.is(formatEpochSeconds({ sec: -2, nsec: 500_000_000 }), '-2.500000000');
  t.deepEqual(parseEpochSeconds(formatEpochSeconds({ sec: -300_000_000, nsec: 7 })), { sec: -300_000_000, nsec: 7 });
});

test('times are written as whole seconds, or with nine decimals when they have a fraction', (t) => {
  t.is(formatEpochSeconds({ sec: 1_700_000_000, nsec: 0 }), '1700000000');
  t.is(formatEpochSeconds({ sec: 1_700_000_000, nsec: 5 }), '1700000000.000000005');
  t.deepEqual(parseEpochSeconds(formatEpochSeconds({ sec: 1_700_000_000, nsec: 987_654_321 })), { sec: 1_700_000_000, nsec: 987_654_321 });
});

test('utimens: UTIME_NOW is the present, UTIME_OMIT the current time, anything else itself', (t) => {
  const current = { sec: 1, nsec: 2 };
  const present = { sec: 3, nsec: 4 };
  t.deepEqual(resolveRequestedTime({ sec: 0, nsec: UTIME_NOW }, current, present), present);
  t.deepEqual(resolveRequestedTime({ sec: 0, nsec: UTIME_OMIT }, current, present), current);
  t.deepEqual(resolveRequestedTime({ sec: 9, nsec: 8 }, current, present), { sec: 9, nsec: 8 });
});

test('relatime: a read moves atime when it is not after mtime or ctime, or a day old', (t) => {
  const at = (sec: number) => ({ sec, nsec: 0 });
  const present = at(1_000_000);
  t.deepEqual(relatimeAfterRead({ atime: at(10), mtime: at(20), ctime: at(5) }, present), present);
  t.deepEqual(relatimeAfterRead({ atime: at(10), mtime: at(5), ctime: at(10) }, present), present);
  t.is(relatimeAfterRead({ atime: at(999_000), mtime: at(5), ctime: at(5) }, present), undefined);
  t.deepEqual(relatimeAfterRead({ atime: at(1_000_000 - 86_400), mtime: at(5), ctime: at(5) }, present), present);
});
