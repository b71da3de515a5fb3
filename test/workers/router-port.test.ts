// The actor's side of its MessagePort: what it posts (encoded frames with their bytes transferred or
// copied, the final `done`), and how it dispatches what the router sends.

import test, { type ExecutionContext } from 'ava';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { RouterPort, type PortListener } from '../../workers/lib/router-port.js';
import { isActorOutbound, type ActorOutbound, type CancelReason } from '../../src/messages/actor-messages.js';
import { AgentError, ErrorCode } from '../../src/errors.js';
import { eventually } from '../helpers/eventually.js';

interface Pair {
  readonly port: RouterPort;
  /** The router's end. */
  readonly router: MessagePort;
  /** Messages the router's end received, in order. */
  readonly received: ActorOutbound[];
}

function pair(t: ExecutionContext, requestId = 'r-1', shouldUseStreamFrames = false): Pair {
  const { port1, port2 } = new MessageChannel();
  const received: ActorOutbound[] = [];
  port1.on('message', (message: unknown) => {
    if (isActorOutbound(message)) received.push(message);
  });
  const port = new RouterPort(port2, requestId, shouldUseStreamFrames);
  t.teardown(() => {
    port.close();
    port1.close();
  });
  return { port, router: port1, received };
}

async function nth(received: readonly ActorOutbound[], index: number): Promise<ActorOutbound> {
  await eventually(() => received.length > index, `message ${index} at the router`);
  return received[index]!;
}

/** A listener recording each call as `[method, argument]`. */
function recorder(): { listener: PortListener; calls: Array<[string, unknown]> } {
  const calls: Array<[string, unknown]> = [];
  const listener: PortListener = {
    onFrame: (data) => calls.push(['frame', Buffer.from(data).toString('utf8')]),
    onBody: (data) => calls.push(['body', Buffer.from(data).toString('utf8')]),
    onCredit: (bytes) => calls.push(['credit', bytes]),
    onCancel: (reason: CancelReason) => calls.push(['cancel', reason]),
    onWsData: (data) => calls.push(['ws-data', Buffer.from(data).toString('utf8')]),
  };
  return { listener, calls };
}

test('sendJson posts the encoded envelope for its request id and returns its size', async (t) => {
  const { port, received } = pair(t, 'req-7');
  const size = port.sendJson('proxy_response_header', { status: 200 }, true);
  const message = await nth(received, 0);
  t.is(message.type, 'send');
  if (message.type !== 'send') return;
  t.false(message.isBinary);
  t.true(message.needsCredit);
  const text = Buffer.from(message.data).toString('utf8');
  t.is(size, Buffer.byteLength(text));
  const envelope = JSON.parse(text) as Record<string, unknown>;
  t.is(envelope['type'], 'proxy_response_header');
  t.is(envelope['request_id'], 'req-7');
  t.deepEqual(envelope['payload'], { status: 200 });
});

test('a frame that owns its buffer is transferred; a view into a shared buffer is copied and left intact', async (t) => {
  const { port, received } = pair(t);
  const owned = new Uint8Array([1, 2, 3]);
  t.is(port.sendBinary(owned), 3);
  t.is(owned.byteLength, 0, 'transferred: detached on the sender side');
  // a socket's read buffer: other frames share its ArrayBuffer, so it must not be detached
  const slab = new Uint8Array(Buffer.from('..abc..'));
  const view = slab.subarray(2, 5);
  t.is(port.sendBinary(view, true), 3);
  t.is(Buffer.from(view).toString('utf8'), 'abc', 'copied: the shared buffer is still readable');
  t.is(slab.byteLength, 7);
  const first = await nth(received, 0);
  const second = await nth(received, 1);
  t.true(first.type === 'send' && first.isBinary && !first.needsCredit);
  t.deepEqual(first.type === 'send' ? [...first.data] : [], [1, 2, 3]);
  t.true(second.type === 'send' && second.needsCredit);
  t.is(second.type === 'send' ? Buffer.from(second.data).toString('utf8') : '', 'abc');
});

test('done carries the report flat, http-relay by default, optional parts only when present', async (t) => {
  const { port, received } = pair(t);
  port.done({ outcome: 'ok', mode: 'json', durationMs: 12, bytes: { sent: 3, received: 40 } });
  t.deepEqual(await nth(received, 0), {
    type: 'done',
    kind: 'http-relay',
    outcome: 'ok',
    mode: 'json',
    durationMs: 12,
    upstreamBytesSent: 3,
    upstreamBytesReceived: 40,
  });
});

test('done names its actor kind and crosses a failure as {code, message} only', async (t) => {
  const { port, received } = pair(t);
  const failure = new AgentError(ErrorCode.actorFailed, 'the upstream went away', { cause: new Error('inner') });
  port.done({
    outcome: 'upstream_error',
    mode: 'none',
    durationMs: 1,
    bytes: { sent: 0, received: 0 },
    kind: 'ws-session',
    session: { framesIn: 2, framesOut: 5, dropped: 1 },
    compression: { rawBytes: 100, wireBytes: 20, skipReason: undefined },
    failure,
  });
  const message = await nth(received, 0);
  t.is(message.type, 'done');
  if (message.type !== 'done') return;
  t.is(message.kind, 'ws-session');
  t.deepEqual(message.failure, { code: ErrorCode.actorFailed, message: 'the upstream went away' });
  t.deepEqual(message.session, { framesIn: 2, framesOut: 5, dropped: 1 });
  t.is(message.compression?.wireBytes, 20);
});

test('what the router sends reaches the listener by type; anything else is ignored', async (t) => {
  const { port, router } = pair(t);
  const { listener, calls } = recorder();
  port.listen(listener);
  router.postMessage({ type: 'bogus' });
  router.postMessage('not an object');
  router.postMessage({ type: 'frame', data: Buffer.from('{"type":"proxy_cancel"}'), isBinary: false });
  router.postMessage({ type: 'body', data: Buffer.from('body bytes') });
  router.postMessage({ type: 'credit', bytes: 4096 });
  router.postMessage({ type: 'ws-data', data: Buffer.from('\u0000stdin') });
  router.postMessage({ type: 'cancel', reason: 'proxy_cancel' });
  await eventually(() => calls.length >= 5, 'five listener calls');
  t.deepEqual(calls, [
    ['frame', '{"type":"proxy_cancel"}'],
    ['body', 'body bytes'],
    ['credit', 4096],
    ['ws-data', '\u0000stdin'],
    ['cancel', 'proxy_cancel'],
  ]);
});

test('stream frames: the id when the socket opted in, none otherwise, and none after stream-frames-off', async (t) => {
  t.is(pair(t, 'r-json').port.streamFrameId, undefined);
  t.deepEqual(pair(t, 'r-frames', true).port.streamFrameId, Buffer.from('r-frames'));
  t.is(pair(t, 'x'.repeat(70_000), true).port.streamFrameId, undefined, 'an id too long for a frame header');
  // turned off even before anyone listens: the actor may not have attached its listener yet
  const { port, router } = pair(t, 'r-off', true);
  router.postMessage({ type: 'stream-frames-off' });
  await eventually(() => port.streamFrameId === undefined, 'stream frames turned off');
  t.pass();
});

test('close ends the channel: the router end sees it closed', async (t) => {
  const { port, router } = pair(t);
  const closed = new Promise<void>((resolve) => router.once('close', () => resolve()));
  port.close();
  await closed;
  t.pass();
});
