// Where a mount's reader of the invalidation stream stands, and whether, after a lost
// connection, it can catch up from there or must drop what it cached because it may have
// missed entries. Stream ids are "MILLISECONDS-SEQUENCE".

/** -1, 0 or 1 as stream id `a` is before, equal to or after `b`. */
export function compareIds(a: string, b: string): number {
  const [aMs, aSeq] = splitId(a);
  const [bMs, bSeq] = splitId(b);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1;
  return 0;
}

function splitId(id: string): [bigint, bigint] {
  const match = /^(\d+)-(\d+)$/.exec(id);
  if (!match) throw new Error(`not a stream id: ${id}`);
  return [BigInt(match[1]), BigInt(match[2])];
}

/** The milliseconds part of a stream id: when the server added the entry. */
export function idTime(id: string): number {
  return Number(splitId(id)[0]);
}

/** What the server says about the stream when the reader (re)connects. */
export interface StreamFacts {
  /** The server's run_id (changes at every restart). */
  runId: string;
  /** Undefined when the stream does not exist. */
  stream?: {
    lastGeneratedId: string;
    /**
     * Whether nothing after the reader's position can have been trimmed: the entry at the
     * position is still there (trimming removes the oldest first), or, for a reader that never
     * saw an entry, nothing was ever trimmed.
     */
    holdsPosition: boolean;
  };
}

export type SyncDecision =
  /** Read on from `from`: nothing after it was lost. */
  | { action: 'catch-up'; from: string }
  /** Entries after the reader's position may be gone: drop what is cached, read on from `from`. */
  | { action: 'drop'; from: string; reason: string };

/**
 * How the reader goes on after connecting. `position` is the last id it applied (undefined: it
 * never read the stream), `runId` the server it read it from, `missedBefore` whether the mount
 * served before ever reading the stream (Redis was down at start).
 */
export function decideSync(facts: StreamFacts, reader: { position?: string; runId?: string; missedBefore: boolean }): SyncDecision {
  const end = facts.stream?.lastGeneratedId ?? '0-0';
  const { position } = reader;
  if (position === undefined) {
    return reader.missedBefore ? { action: 'drop', from: end, reason: 'the mount served before it could read the stream' } : { action: 'catch-up', from: end };
  }
  if (reader.runId !== undefined && reader.runId !== facts.runId) return { action: 'drop', from: end, reason: 'Redis restarted' };
  if (!facts.stream) {
    return position === '0-0' ? { action: 'catch-up', from: '0-0' } : { action: 'drop', from: '0-0', reason: 'the stream is gone' };
  }
  if (compareIds(facts.stream.lastGeneratedId, position) < 0) return { action: 'drop', from: end, reason: 'the stream is not the one read before' };
  return facts.stream.holdsPosition
    ? { action: 'catch-up', from: position }
    : { action: 'drop', from: end, reason: 'the stream was trimmed past the last entry read' };
}
