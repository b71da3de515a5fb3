// The router's stream table (§12.2 id resolution, recent ids, idleness) and its credit grants (§9.11 water
// marks), each on its own.

import test from 'ava';
import { MessageChannel } from 'node:worker_threads';
import { StreamTable, type StreamEntry } from '../../../src/router/stream-entry.js';
import { CreditGrants, OUTBOUND_HIGH_WATER_BYTES, OUTBOUND_LOW_WATER_BYTES } from '../../../src/router/credit-grants.js';
import { ReplyLedger, StreamKind } from '../../../src/router/reply-ledger.js';
import { ActorKind, type ActorInbound } from '../../../src/messages/actor-messages.js';
import type { EnvelopePeek } from '../../../src/protocol/envelope-peek.js';
import { eventually } from '../../helpers/eventually.js';

function entry(id: string, socket: { bufferedAmount: number; isOpen: boolean } = { bufferedAmount: 0, isOpen: true }) {
  const channel = new MessageChannel();
  const received: ActorInbound[] = [];
  channel.port2.on('message', (message: ActorInbound) => received.push(message));
  const stream: StreamEntry = {
    requestId: id,
    connection: { ...socket, send: () => true, isStreamFramesActive: false, isYamuxActive: false } as unknown as StreamEntry['connection'],
    port: channel.port1,
    actorKind: ActorKind.httpRelay,
    ledger: new ReplyLedger(StreamKind.request, id, false),
    ticket: undefined,
    isDone: false,
    isDetached: false,
    awaitsBinaryBody: false,
    outstandingBytes: 0,
    isAppRelay: false,
    isRelay: true,
    hasStreamFramesOff: false,
  };
  const close = (): void => {
    channel.port1.close();
  };
  return { stream, received, close, socket: stream.connection as unknown as { bufferedAmount: number } };
}

const peek = (fields: Partial<EnvelopePeek>): EnvelopePeek => ({ type: 'proxy_websocket_data', ...fields }) as EnvelopePeek;

test('§12.2: a payload stream_id naming a session wins; else the first id, sessions before requests', (t) => {
  const table = new StreamTable();
  const session = entry('s1');
  const request = entry('r1');
  const shared = entry('x');
  const sharedSession = entry('x');
  table.addSession(session.stream);
  table.addRequest(request.stream);
  table.addRequest(shared.stream);
  table.addSession(sharedSession.stream);
  t.is(table.resolve(peek({ payloadStreamId: 's1', payloadRequestId: 'r1' })), session.stream);
  t.is(table.resolve(peek({ payloadStreamId: 'nope', payloadRequestId: 'r1' })), request.stream);
  t.is(table.resolve(peek({ requestId: 'x' })), sharedSession.stream);
  t.is(table.relay('x'), sharedSession.stream);
  t.is(table.resolve(peek({})), undefined);
  for (const item of [session, request, shared, sharedSession]) item.close();
});

test('removing streams: ids become recent, the table goes idle, and waiters hear it once', async (t) => {
  const table = new StreamTable();
  const first = entry('a');
  const second = entry('b');
  table.addRequest(first.stream);
  table.addSession(second.stream);
  let idle = 0;
  const waiter = table.whenIdle().then(() => idle++);
  table.remove(first.stream);
  t.true(table.isRecent('a'));
  t.false(table.isIdle);
  table.remove(second.stream);
  await waiter;
  t.is(idle, 1);
  t.true(table.isIdle);
  t.is(table.request('a'), undefined);
  first.close();
  second.close();
});

test('§9.11: credit goes back at once below the high-water mark and is held above it until the low mark', async (t) => {
  const grants = new CreditGrants();
  const { stream, received, socket, close } = entry('w');
  stream.outstandingBytes = 300;
  grants.grant(stream, 100);
  await eventually(() => received.length === 1, 'the first grant');
  t.deepEqual(received[0], { type: 'credit', bytes: 100 });
  socket.bufferedAmount = OUTBOUND_HIGH_WATER_BYTES + 1;
  grants.grant(stream, 100);
  socket.bufferedAmount = OUTBOUND_LOW_WATER_BYTES + 1;
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(received.length, 1, 'held while the buffer stays above the low-water mark');
  socket.bufferedAmount = OUTBOUND_LOW_WATER_BYTES;
  await eventually(() => received.length === 2, 'the held grant');
  t.deepEqual(received[1], { type: 'credit', bytes: 100 });
  t.is(stream.outstandingBytes, 100);
  grants.close();
  close();
});

test('a stream that is done gets no credit', async (t) => {
  const grants = new CreditGrants();
  const { stream, received, close } = entry('d');
  stream.isDone = true;
  grants.grant(stream, 10);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.deepEqual(received, []);
  grants.close();
  close();
});
