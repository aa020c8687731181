// A reader that keeps one descriptor open across commands, so a test can act on the mount
// between its reads: each stdin line "read OFFSET LENGTH" answers one JSON line with the
// bytes read (base64) or the error code; "close" closes the descriptor and exits.
//   node test/support/held-reader.mjs FILE
import { openSync, readSync, closeSync } from 'node:fs';
import { createInterface } from 'node:readline';

const fd = openSync(process.argv[2], 'r');
const lines = createInterface({ input: process.stdin });
console.log(JSON.stringify({ ready: true }));
for await (const line of lines) {
  const [command, offset, length] = line.trim().split(/\s+/);
  if (command === 'close') break;
  try {
    const buffer = Buffer.alloc(Number(length));
    let got = 0;
    while (got < buffer.length) {
      const n = readSync(fd, buffer, got, buffer.length - got, Number(offset) + got);
      if (n === 0) break;
      got += n;
    }
    console.log(JSON.stringify({ bytes: buffer.subarray(0, got).toString('base64') }));
  } catch (error) {
    console.log(JSON.stringify({ error: error.code ?? String(error) }));
  }
}
closeSync(fd);
process.exit(0);
