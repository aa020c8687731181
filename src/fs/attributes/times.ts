// POSIX times to the nanosecond, and their s3fs-compatible metadata form
// (x-amz-meta-atime / -mtime / -ctime: epoch seconds, possibly with a decimal fraction).

/** A point in time: whole seconds since the epoch and the nanoseconds past them (0..999,999,999). */
export interface Timespec {
  sec: number;
  nsec: number;
}

/** The three times of a file. */
export interface FileTimes {
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
}

// utimensat's special nanosecond values, as libfuse passes them on (flag_utime_omit_ok).
export const UTIME_NOW = (1 << 30) - 1;
export const UTIME_OMIT = (1 << 30) - 2;

export function fromDate(date: Date): Timespec {
  const ms = date.getTime();
  const sec = Math.floor(ms / 1000);
  return { sec, nsec: (ms - sec * 1000) * 1_000_000 };
}

/** The present, to the millisecond (what Node's clock gives). */
export function now(): Timespec {
  return fromDate(new Date());
}

/** The whole milliseconds of a time (what a Date holds). */
export function toDate(time: Timespec): Date {
  return new Date(time.sec * 1000 + Math.floor(time.nsec / 1_000_000));
}

/** The nanoseconds past `toDate(time)`'s millisecond (0..999,999). */
export function subMillisecondNs(time: Timespec): number {
  return time.nsec % 1_000_000;
}

export function compareTimes(a: Timespec, b: Timespec): number {
  return a.sec - b.sec || a.nsec - b.nsec;
}

/**
 * Epoch seconds as s3fs writes them: "1700000000", or with a fraction ("1700000000.5",
 * "1700000000.123456789"; digits past the ninth are dropped). Before 1970 the seconds are
 * negative and the fraction still counts forward from them, as in a timespec (s3fs writes and
 * reads tv_sec and tv_nsec apart): "-2.500000000" is 1.5 s before the epoch. Anything else is
 * undefined.
 */
export function parseEpochSeconds(value: string | undefined): Timespec | undefined {
  if (value === undefined) return undefined;
  const match = /^(-?\d+)(?:\.(\d+))?$/.exec(value.trim());
  if (!match) return undefined;
  const sec = Number(match[1]);
  if (!Number.isSafeInteger(sec)) return undefined;
  const nsec = match[2] ? Number(match[2].slice(0, 9).padEnd(9, '0')) : 0;
  return { sec, nsec };
}

/** Whole seconds when there is no fraction (what every s3fs reads), else nine decimals. */
export function formatEpochSeconds(time: Timespec): string {
  return time.nsec === 0 ? String(time.sec) : `${time.sec}.${String(time.nsec).padStart(9, '0')}`;
}

/**
 * The time utimens asks for: `requested` itself, the present for UTIME_NOW, `current` for
 * UTIME_OMIT.
 */
export function resolveRequestedTime(requested: Timespec, current: Timespec, present: Timespec): Timespec {
  if (requested.nsec === UTIME_NOW) return present;
  if (requested.nsec === UTIME_OMIT) return current;
  return { sec: requested.sec, nsec: requested.nsec };
}

/**
 * relatime: a read moves atime only when atime is not after mtime or ctime, or is more than a
 * day old (as Linux does by default). Returns the new atime, or undefined to leave it.
 */
export function relatimeAfterRead(times: FileTimes, present: Timespec): Timespec | undefined {
  const { atime, mtime, ctime } = times;
  if (compareTimes(atime, mtime) <= 0 || compareTimes(atime, ctime) <= 0) return present;
  if (present.sec - atime.sec >= 24 * 60 * 60) return present;
  return undefined;
}
