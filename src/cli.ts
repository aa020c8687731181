#!/usr/bin/env node
// Entry point; the only reader of process.argv.
// Handlers await S3 on libuv's pool while the kernel waits on them: a larger pool keeps
// filesystem work from starving (docs/notes/fuse-native.md). It must be set before first use.
process.env.UV_THREADPOOL_SIZE ??= '32';
// The SDK warns on Node 20 about versions not yet published; ours is pinned, and the
// warning would break the promise of one clear line on failure.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { main } = await import('./cli/main.js');
// FUSE worker threads keep the loop alive after the mount ended: leave explicitly.
process.exit(await main(process.argv[1], process.argv.slice(2), process.env));
