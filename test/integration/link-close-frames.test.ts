// Close frames that must reach the control plane even when the agent's outbound buffer is full
// (PROTOCOL.md §3.4, checklist C10): a real ws server records the code it received.

import test from 'ava';
import { startHarness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';
import { stalledSession } from '../helpers/stalled-session.js';

test('C10: the 1009 close frame reaches the control plane behind queued data, then the agent reconnects', async (t) => {
  const harness = await startHarness(t, { config: { inboundCapBytes: 4096 } });
  const socket = await stalledSession(harness);
  socket.send({ type: 'proxy_request', request_id: 'big', payload: { body: 'x'.repeat(10_000) } });
  await eventually(() => harness.clock.pendingDelays().includes(500), 'the agent gave the socket up and schedules a reconnect');
  socket.resume();
  const closed = await socket.closed;
  t.is(closed.code, 1009);
  harness.clock.advance(500);
  const next = await harness.plane.nextSocket();
  await next.next('heartbeat');
});

test('C10: a control plane that never reads again does not keep the closing socket beyond the 5 s close wait', async (t) => {
  const harness = await startHarness(t, { config: { inboundCapBytes: 4096 } });
  const socket = await stalledSession(harness);
  socket.send({ type: 'proxy_request', request_id: 'big', payload: { body: 'x'.repeat(10_000) } });
  await eventually(() => harness.clock.pendingDelays().includes(500), 'reconnect scheduled');
  harness.clock.advance(500);
  const next = await harness.plane.nextSocket();
  await next.next('heartbeat');
  t.is(harness.plane.openSockets, 2, 'the old socket is still closing');
  harness.clock.advance(4_500);
  socket.resume(); // lets the server see the end of the socket
  t.is((await socket.closed).code, 1006, 'terminated before its close frame could leave');
  await eventually(() => harness.plane.openSockets === 1, 'only the new socket left');
});
