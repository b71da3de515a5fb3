// The same-thread channel of inline actors keeps a MessagePort's contract: asynchronous, ordered delivery
// both ways; what was posted before a close is still delivered; 'close' on both ends; nothing after.

import test from 'ava';
import { localChannel } from '../../../src/pool/local-channel.js';

function record(port: ReturnType<typeof localChannel>['port1']): string[] {
  const seen: string[] = [];
  port.on('message', (message) => seen.push(String(message)));
  port.on('close', () => seen.push('close'));
  return seen;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('messages arrive later, in order, on the other end only', async (t) => {
  const { port1, port2 } = localChannel();
  const one = record(port1);
  const two = record(port2);
  port1.postMessage('a');
  port1.postMessage('b');
  port2.postMessage('x');
  t.deepEqual(two, [], 'never synchronously');
  await turn();
  t.deepEqual(two, ['a', 'b']);
  t.deepEqual(one, ['x']);
});

test('a close delivers what was posted before it, then closes both ends once; later posts are dropped', async (t) => {
  const { port1, port2 } = localChannel();
  const one = record(port1);
  const two = record(port2);
  port2.postMessage('done');
  port2.close();
  port2.postMessage('late');
  port1.postMessage('late too');
  port1.close();
  await turn();
  t.deepEqual(one, ['done', 'close']);
  t.deepEqual(two, ['close']);
});

test('a listener that answers sees its answer delivered after everything already queued', async (t) => {
  const { port1, port2 } = localChannel();
  const order: string[] = [];
  port2.on('message', (message) => {
    order.push(`2:${String(message)}`);
    if (message === 'ping') port2.postMessage('pong');
  });
  port1.on('message', (message) => order.push(`1:${String(message)}`));
  port1.postMessage('ping');
  port1.postMessage('second');
  await turn();
  t.deepEqual(order, ['2:ping', '2:second', '1:pong']);
});
