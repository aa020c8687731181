import test from 'ava';
import { BACKGROUND_CHILD_VARIABLE, type ParentChannel, type ReadyMessage, reportToParent } from '../../src/cli/background.js';

/** A channel that behaves as Node's: disconnecting one that is closed throws ERR_IPC_DISCONNECTED. */
function fakeChannel(parentDisconnectsFirst: boolean) {
  const sent: ReadyMessage[] = [];
  let disconnects = 0;
  let callback: ((error: Error | null) => void) | undefined;
  const channel: ParentChannel & { connected: boolean } = {
    connected: true,
    send(message, done) {
      sent.push(message);
      callback = done;
      return true;
    },
    disconnect() {
      if (!channel.connected) throw Object.assign(new Error('IPC channel is already disconnected'), { code: 'ERR_IPC_DISCONNECTED' });
      channel.connected = false;
      disconnects++;
    },
  };
  return {
    channel,
    sent,
    disconnects: () => disconnects,
    /** The write completes, after the parent may have closed the channel. */
    complete() {
      if (parentDisconnectsFirst) channel.connected = false;
      callback?.(null);
    },
  };
}

const env = { [BACKGROUND_CHILD_VARIABLE]: '1' };

// Found in a test run: the parent's disconnect arrived before the send's callback, and the
// callback's disconnect threw, killing the process that served the mount.
test('the parent closing the channel before the send completes does not throw', (t) => {
  const fake = fakeChannel(true);
  reportToParent({ type: 'ready' }, fake.channel, env);
  t.deepEqual(fake.sent, [{ type: 'ready' }]);
  t.notThrows(() => fake.complete());
  t.is(fake.disconnects(), 0);
});

test('the child disconnects once the parent has the message', (t) => {
  const fake = fakeChannel(false);
  reportToParent({ type: 'failed', message: 'no bucket' }, fake.channel, env);
  fake.complete();
  t.is(fake.disconnects(), 1);
  t.false(fake.channel.connected);
});

test('a process started in the foreground sends nothing', (t) => {
  const fake = fakeChannel(false);
  reportToParent({ type: 'ready' }, fake.channel, {});
  t.deepEqual(fake.sent, []);
});
