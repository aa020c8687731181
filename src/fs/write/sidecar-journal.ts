// Writes of one staged copy's sidecar, one at a time and always of the copy's latest state,
// and none once the copy is gone: two writes racing on the temporary name would fail (the
// second rename finds nothing), and a write finishing after the removal would leave a
// sidecar for bytes that no longer exist.
import { removeFile } from './remove-file.js';
import { type Sidecar, writeSidecar } from './staged-sidecar.js';

export class SidecarJournal {
  private tail: Promise<void> = Promise.resolve();
  private removed = false;

  constructor(
    private readonly path: string,
    /** The sidecar as it should read now (key and state at the time of writing). */
    private readonly current: () => Sidecar,
  ) {}

  /** Records the latest state; resolves once it is on disk. */
  write(): Promise<void> {
    const done = this.tail.then(() => (this.removed ? undefined : writeSidecar(this.path, this.current())));
    this.tail = done.catch(() => undefined);
    return done;
  }

  /** Removes the sidecar after any write in progress; later writes do nothing. */
  async remove(): Promise<void> {
    this.removed = true;
    await this.tail;
    await removeFile(this.path);
    await removeFile(`${this.path}.tmp`);
  }
}
