// One JSON request per connection, one JSON response back.
import type { MountStats } from '../stats.js';

export type ControlRequest = { command: 'stats' } | { command: 'clear' };

export type ControlResponse = { ok: true; stats?: MountStats } | { ok: false; error: string };
