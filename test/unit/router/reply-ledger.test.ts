// The reply ledger on its own: from the types of the frames an actor sent, the one terminal reply a stream
// still owes when the router has to end it (C93, §9.4, §7.7), and none when it owes nothing.

import test from 'ava';
import { ReplyLedger, StreamKind, outboundType } from '../../../src/router/reply-ledger.js';
import { encodeEnvelope } from '../../../src/protocol/envelope.js';

const ERROR = 'AGENT_ERR_EXAMPLE: the actor ended';

test('outboundType reads the type of an envelope the agent encoded, and nothing else', (t) => {
  const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');
  t.is(outboundType(bytes(encodeEnvelope('proxy_response_header', { status: 200 }, 'r1', 0))), 'proxy_response_header');
  t.is(outboundType(bytes(encodeEnvelope('proxy_websocket_close', {}, 's1', 0))), 'proxy_websocket_close');
  // a view into a larger buffer is read from its own offset
  const padded = Buffer.concat([bytes('xxxx'), bytes('{"type":"proxy_error","payload":{}}')]);
  t.is(outboundType(padded.subarray(4)), 'proxy_error');
  t.is(outboundType(bytes('{"payload":{},"type":"proxy_error"}')), undefined, 'type not first');
  t.is(outboundType(bytes('{"type":"')), undefined, 'too short');
  t.is(outboundType(bytes('{"type":"unterminated')), undefined);
  t.is(outboundType(bytes(`{"type":"${'x'.repeat(65)}"}`)), undefined, 'longer than any type');
  t.is(outboundType(Buffer.from([0x00, 0x01, 0x72, 0x31, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00])), undefined, 'a binary frame');
});

test('a request that sent nothing owes proxy_error; after a header, proxy_response_abort; once answered, nothing', (t) => {
  const ledger = new ReplyLedger(StreamKind.request, 'r1', false);
  t.false(ledger.isSettled);
  t.deepEqual(ledger.owed(ERROR), [{ type: 'proxy_error', payload: { error: ERROR } }]);
  ledger.note(false, 'proxy_response_header');
  ledger.note(false, 'proxy_response_chunk');
  t.deepEqual(ledger.owed(ERROR), [{ type: 'proxy_response_abort', payload: { error: ERROR } }]);
  ledger.note(false, 'proxy_response_end');
  t.deepEqual(ledger.owed(ERROR), []);
  t.true(ledger.isSettled);
});

test('every terminal reply of the actor settles a request: proxy_response, proxy_error, abort, a binary response', (t) => {
  for (const type of ['proxy_response', 'proxy_error', 'proxy_response_abort']) {
    const ledger = new ReplyLedger(StreamKind.request, 'r1', false);
    ledger.note(false, type);
    t.deepEqual(ledger.owed(ERROR), [], type);
  }
  const binary = new ReplyLedger(StreamKind.request, 'r1', false);
  binary.note(true, undefined);
  t.true(binary.isSettled, 'a binary frame is a whole buffered response (§9.10)');
  const other = new ReplyLedger(StreamKind.request, 'r1', false);
  other.note(false, 'proxy_response_chunk');
  other.note(false, undefined);
  t.deepEqual(other.owed(ERROR), [{ type: 'proxy_error', payload: { error: ERROR } }], 'neither a chunk nor an unknown frame answers');
});

test('a kubectl session owes one proxy_websocket_close with only its stream_id, until it sent one', (t) => {
  const ledger = new ReplyLedger(StreamKind.session, 's1', false);
  t.deepEqual(ledger.owed(ERROR), [{ type: 'proxy_websocket_close', payload: { stream_id: 's1' } }]);
  ledger.note(false, 'proxy_websocket_data');
  t.false(ledger.isSettled);
  ledger.note(false, 'proxy_websocket_close');
  t.deepEqual(ledger.owed(ERROR), []);
});

test('a kubectl session echoes a close from the control plane (§13.7): the peer close releases nothing', (t) => {
  const ledger = new ReplyLedger(StreamKind.session, 's1', false);
  ledger.noteCloseFromPeer();
  ledger.noteCancel();
  t.deepEqual(ledger.owed(ERROR), [{ type: 'proxy_websocket_close', payload: { stream_id: 's1' } }]);
});

test('an upgrade is a request until its HTTP side completes, then owes a close', (t) => {
  const ledger = new ReplyLedger(StreamKind.upgrade, 'u1', false);
  t.deepEqual(ledger.owed(ERROR), [{ type: 'proxy_error', payload: { error: ERROR } }]);
  ledger.note(false, 'proxy_response');
  t.deepEqual(ledger.owed(ERROR), [{ type: 'proxy_websocket_close', payload: { stream_id: 'u1' } }]);
  ledger.note(false, 'proxy_websocket_close');
  t.true(ledger.isSettled);
});

test('an upgrade refused on its HTTP side (proxy_error) owes no close', (t) => {
  const ledger = new ReplyLedger(StreamKind.upgrade, 'u1', false);
  ledger.note(false, 'proxy_error');
  t.true(ledger.isSettled);
});

test('an application relay closes with request_id too (§14.5), and a CP close or cancel asks for no reply', (t) => {
  const open = (): ReplyLedger => {
    const ledger = new ReplyLedger(StreamKind.upgrade, 'a1', true);
    ledger.note(false, 'proxy_response_end');
    return ledger;
  };
  t.deepEqual(open().owed(ERROR), [{ type: 'proxy_websocket_close', payload: { stream_id: 'a1', request_id: 'a1' } }]);
  const closedByPeer = open();
  closedByPeer.noteCloseFromPeer();
  t.true(closedByPeer.isSettled);
  const cancelled = open();
  cancelled.noteCancel();
  t.true(cancelled.isSettled);
});

test('proxy_cancel before a header releases a request (§9.12); after a header the abort is still owed', (t) => {
  const early = new ReplyLedger(StreamKind.request, 'r1', false);
  early.noteCancel();
  t.true(early.isSettled);
  const late = new ReplyLedger(StreamKind.request, 'r2', false);
  late.note(false, 'proxy_response_header');
  late.noteCancel();
  t.deepEqual(late.owed(ERROR), [{ type: 'proxy_response_abort', payload: { error: ERROR } }]);
  // a CP close means nothing to a plain request
  const request = new ReplyLedger(StreamKind.request, 'r3', false);
  request.noteCloseFromPeer();
  t.false(request.isSettled);
});

test('settle() marks the owed reply sent: nothing the actor sends later makes another one owed', (t) => {
  const request = new ReplyLedger(StreamKind.request, 'r1', false);
  request.settle();
  request.note(false, 'proxy_response_header');
  t.deepEqual(request.owed(ERROR), []);
  const upgrade = new ReplyLedger(StreamKind.upgrade, 'u1', false);
  upgrade.settle();
  upgrade.note(false, 'proxy_response');
  t.deepEqual(upgrade.owed(ERROR), []);
});
