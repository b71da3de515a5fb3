// The serial queue under both platform syncs: steps run one at a time in order, a failing step is reported
// and does not stop the ones after it, settled() waits for steps queued by steps, stop() skips what is left.

import test from 'ava';
import { SerialQueue } from '../../../src/util/serial-queue.js';

test('steps run one at a time, in the order queued, and a failing step does not stop the next', async (t) => {
  const errors: unknown[] = [];
  const queue = new SerialQueue((error) => errors.push(error));
  const order: string[] = [];
  let running = 0;
  const step = (name: string) => async () => {
    running++;
    t.is(running, 1);
    await new Promise((resolve) => setImmediate(resolve));
    order.push(name);
    running--;
  };
  queue.enqueue(step('a'));
  queue.enqueue(() => Promise.reject(new Error('boom')));
  queue.enqueue(step('b'));
  await queue.settled();
  t.deepEqual(order, ['a', 'b']);
  t.is((errors[0] as Error).message, 'boom');
});

test('settled() waits for steps queued by steps; after stop() queued steps are skipped', async (t) => {
  const queue = new SerialQueue(() => t.fail());
  const order: string[] = [];
  queue.enqueue(async () => {
    order.push('outer');
    queue.enqueue(async () => {
      order.push('inner');
    });
  });
  await queue.settled();
  t.deepEqual(order, ['outer', 'inner']);
  queue.enqueue(async () => {
    order.push('before stop');
    queue.stop();
  });
  queue.enqueue(async () => {
    order.push('after stop');
  });
  await queue.tail();
  t.true(queue.isStopped);
  t.deepEqual(order, ['outer', 'inner', 'before stop']);
});
