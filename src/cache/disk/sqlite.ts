// SQLite through better-sqlite3, an optional dependency (a native build, like zstd-napi):
// without it the metadata disk tier is off and the mount says so once.
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

export type SqliteDatabase = BetterSqlite3.Database;
export type SqliteStatement = BetterSqlite3.Statement;
type Open = (path: string) => SqliteDatabase;

function loadSqlite(): Open | undefined {
  try {
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
    return (path) => new Database(path);
  } catch {
    return undefined;
  }
}

/** Opens (creating) a database file, or undefined when better-sqlite3 is not installed. */
export const openSqlite: Open | undefined = loadSqlite();

/** SQLite's code for an error thrown by better-sqlite3 (`SQLITE_CORRUPT`, `SQLITE_FULL`…), else undefined. */
export function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}
