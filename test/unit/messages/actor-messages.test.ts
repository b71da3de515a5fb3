// The guards on the router ⇄ actor port: every variant is checked field by field, not only by `type`, and
// what crosses a real MessagePort (a Buffer becomes a Uint8Array) still passes.

import test from 'ava';
import { MessageChannel } from 'node:worker_threads';
import { isActorInbound, isActorOutbound, type ActorDone, type ActorInbound, type ActorOutbound } from '../../../src/messages/actor-messages.js';
import { ErrorCode } from '../../../src/errors.js';

const bytes = new Uint8Array([1, 2, 3]);

const done: ActorDone = {
  type: 'done',
  kind: 'ws-session',
  outcome: 'ok',
  mode: 'none',
  durationMs: 12,
  upstreamBytesSent: 3,
  upstreamBytesReceived: 4,
  compression: { rawBytes: 10, wireBytes: 5, skipReason: undefined },
  session: { framesIn: 1, framesOut: 2, dropped: 0 },
  failure: { code: ErrorCode.upstreamFailed, message: 'refused' },
};

const inbound: readonly ActorInbound[] = [
  { type: 'frame', data: bytes, isBinary: false },
  { type: 'body', data: bytes },
  { type: 'credit', bytes: 0 },
  { type: 'cancel', reason: 'proxy_cancel' },
  { type: 'ws-data', data: bytes },
  { type: 'stream-frames-off' },
];

const outbound: readonly ActorOutbound[] = [
  { type: 'send', data: Buffer.from('x'), isBinary: true, needsCredit: false },
  done,
  { type: 'done', kind: 'http-relay', outcome: 'canceled', mode: 'json', durationMs: 0, upstreamBytesSent: 0, upstreamBytesReceived: 0 },
];

function withField(message: object, key: string, value: unknown): unknown {
  return { ...message, [key]: value };
}

function without(message: object, key: string): unknown {
  const copy: Record<string, unknown> = { ...message };
  delete copy[key];
  return copy;
}

function roundTrip(message: unknown): Promise<unknown> {
  const { port1, port2 } = new MessageChannel();
  return new Promise((resolve) => {
    port2.once('message', (received: unknown) => {
      port1.close();
      resolve(received);
    });
    port1.postMessage(message);
  });
}

test('every router → actor variant passes, also after crossing a MessagePort', async (t) => {
  for (const message of inbound) {
    t.true(isActorInbound(message), message.type);
    t.true(isActorInbound(await roundTrip(message)), `${message.type} after a port`);
  }
});

test('every actor → router variant passes, also after crossing a MessagePort', async (t) => {
  for (const message of outbound) {
    t.true(isActorOutbound(message), message.type);
    t.true(isActorOutbound(await roundTrip(message)), `${message.type} after a port`);
  }
});

test('a router → actor message with a missing or mistyped field is refused', (t) => {
  t.false(isActorInbound(null));
  t.false(isActorInbound({ type: 'unknown' }));
  t.false(isActorInbound(withField(inbound[0]!, 'data', 'text')), 'frame data as a string');
  t.false(isActorInbound(without(inbound[0]!, 'isBinary')), 'frame without isBinary');
  t.false(isActorInbound(without(inbound[1]!, 'data')), 'body without data');
  t.false(isActorInbound(withField(inbound[2]!, 'bytes', -1)), 'negative credit');
  t.false(isActorInbound(withField(inbound[2]!, 'bytes', '5')), 'credit as a string');
  t.false(isActorInbound(withField(inbound[3]!, 'reason', 'bored')), 'unknown cancel reason');
  t.false(isActorInbound(withField(inbound[4]!, 'data', [1, 2])), 'ws-data as an array');
});

test('a send with a missing or mistyped field is refused', (t) => {
  const send = outbound[0]!;
  t.false(isActorOutbound({ type: 'send' }));
  t.false(isActorOutbound(withField(send, 'data', 'text')));
  t.false(isActorOutbound(without(send, 'isBinary')));
  t.false(isActorOutbound(withField(send, 'needsCredit', 1)));
});

test('a done with a missing or mistyped field is refused', (t) => {
  t.false(isActorOutbound({ type: 'done' }));
  t.false(isActorOutbound(withField(done, 'kind', 'tunnel-stream')), 'kind');
  t.false(isActorOutbound(withField(done, 'outcome', 'great')), 'outcome');
  t.false(isActorOutbound(withField(done, 'mode', 'carrier-pigeon')), 'mode');
  t.false(isActorOutbound(without(done, 'durationMs')), 'durationMs');
  t.false(isActorOutbound(withField(done, 'upstreamBytesSent', Number.NaN)), 'upstreamBytesSent');
  t.false(isActorOutbound(without(done, 'upstreamBytesReceived')), 'upstreamBytesReceived');
  t.false(isActorOutbound(withField(done, 'compression', { rawBytes: 1, wireBytes: '1' })), 'compression');
  t.false(isActorOutbound(withField(done, 'compression', { rawBytes: 1, wireBytes: 1, skipReason: 3 })), 'compression skipReason');
  t.false(isActorOutbound(withField(done, 'session', { framesIn: 1, framesOut: 1 })), 'session');
  t.false(isActorOutbound(withField(done, 'failure', { code: 'E_WHATEVER', message: 'x' })), 'failure code');
  t.false(isActorOutbound(withField(done, 'failure', { code: ErrorCode.actorFailed })), 'failure message');
});
