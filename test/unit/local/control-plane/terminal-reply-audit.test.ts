// The control plane's terminal-reply audit (the fault-injection suite's counter): one terminal reply per
// request or session is counted once, a second one and a reply for an id never sent are violations, a
// cancel before any response owes nothing, and whatever a closed socket carried is lost with it.

import test from 'ava';
import { TerminalReplyAudit } from '../../../../src/local/control-plane/terminal-reply-audit.js';
import type { Envelope } from '../../../../src/protocol/envelope.js';

function envelope(type: string, requestId: string | undefined, payload: Record<string, unknown> = {}): Envelope {
  return { type, requestId, payload } as unknown as Envelope;
}

test('one terminal reply per request is counted; a second is a duplicate', (t) => {
  const audit = new TerminalReplyAudit();
  const socket = {};
  audit.planeSent(socket, 'proxy_request', {}, 'cp-1');
  audit.planeSent(socket, 'proxy_request', {}, 'cp-2');
  audit.agentMessage(socket, envelope('proxy_response', 'cp-1', { status: 200 }));
  audit.agentFrame(socket, 'cp-2');
  t.like(audit.snapshot(), { requestsSent: 2, terminalReplies: 2, outstanding: 0, duplicates: 0 });
  audit.agentMessage(socket, envelope('proxy_error', 'cp-1', { error: 'late' }));
  t.like(audit.snapshot(), { terminalReplies: 2, duplicates: 1 });
  t.deepEqual(audit.snapshot().violations, [{ violation: 'duplicate', id: 'cp-1', type: 'proxy_error' }]);
});

test('a reply for an id not sent on that socket is unknown; streamed chunks are not terminal', (t) => {
  const audit = new TerminalReplyAudit();
  const first = {};
  const second = {};
  audit.planeSent(first, 'proxy_request', {}, 'cp-1');
  audit.agentMessage(first, envelope('proxy_response_header', 'cp-1', { status: 200 }));
  audit.agentMessage(first, envelope('proxy_response_chunk', 'cp-1', { data: 'aGk=' }));
  t.is(audit.snapshot().outstanding, 1);
  audit.agentMessage(second, envelope('proxy_response_end', 'cp-1'));
  t.like(audit.snapshot(), { unknown: 1, outstanding: 1, terminalReplies: 0 });
});

test('a cancel before a response started owes nothing; after the header it owes the abort', (t) => {
  const audit = new TerminalReplyAudit();
  const socket = {};
  audit.planeSent(socket, 'proxy_request', {}, 'cp-1');
  audit.planeSent(socket, 'proxy_cancel', {}, 'cp-1');
  audit.planeSent(socket, 'proxy_request', {}, 'cp-2');
  audit.agentMessage(socket, envelope('proxy_response_header', 'cp-2', { status: 200 }));
  audit.planeSent(socket, 'proxy_cancel', {}, 'cp-2');
  t.like(audit.snapshot(), { canceledWithoutReply: 1, outstanding: 1 });
  audit.agentMessage(socket, envelope('proxy_response_abort', 'cp-2', { error: 'canceled' }));
  t.like(audit.snapshot(), { canceledWithoutReply: 1, outstanding: 0, terminalReplies: 1, duplicates: 0 });
});

test('a session ends with its proxy_websocket_close; a proxy_error before it is not terminal', (t) => {
  const audit = new TerminalReplyAudit();
  const socket = {};
  audit.planeSent(socket, 'proxy_websocket_start', { stream_id: 'ws-1' }, 'ws-1');
  audit.agentMessage(socket, envelope('proxy_error', 'ws-1', { request_id: 'ws-1', error: 'failed to connect to K8s API: refused' }));
  t.like(audit.snapshot(), { sessionsStarted: 1, outstanding: 1, terminalReplies: 0 });
  audit.agentMessage(socket, envelope('proxy_websocket_close', 'ws-1', { stream_id: 'ws-1' }));
  audit.agentMessage(socket, envelope('proxy_websocket_close', 'ws-1', { stream_id: 'ws-1' }));
  t.like(audit.snapshot(), { outstanding: 0, terminalReplies: 1, duplicates: 1 });
});

test('what a closed socket still carried is lost with it, not outstanding', (t) => {
  const audit = new TerminalReplyAudit();
  const socket = {};
  audit.planeSent(socket, 'proxy_request', {}, 'cp-1');
  audit.planeSent(socket, 'proxy_websocket_start', { stream_id: 'ws-1' }, 'ws-1');
  audit.socketClosed(socket);
  t.like(audit.snapshot(), { lostWithSocket: 2, outstanding: 0 });
});
