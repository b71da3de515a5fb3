// The write-stall limit (PROTOCOL.md §9.4, §9.11, checklist C99): a control plane that keeps the socket open
// but stops reading is treated as lost after 30 s without the outbound buffer draining; a slow reader is not.

import test from 'ava';
import { startHarness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';
import { stalledSession } from '../helpers/stalled-session.js';

test('C99: an outbound buffer that does not drain for 30 s ends the socket and the agent reconnects', async (t) => {
  const harness = await startHarness(t);
  const { agent, plane, clock } = harness;
  const socket = await stalledSession(harness);
  const stalled = agent.link.sessionConnection;
  clock.advance(29_000);
  t.is(agent.link.sessionConnection, stalled, 'still the session before the limit');
  clock.advance(2_000);
  t.is(agent.link.sessionConnection, undefined, 'given up at the limit');
  await eventually(() => clock.pendingDelays().includes(500), 'reconnect scheduled');
  clock.advance(500);
  const next = await plane.nextSocket();
  const heartbeat = await next.next('heartbeat');
  t.is(heartbeat.payload['cluster_id'], 'c-1');
  t.is(next.messages.all.filter((m) => m.request_id === 'flood').length, 0, 'nothing of the old stream on the new socket');
  socket.resume();
});

test('C99: a buffer that drains now and then is not a stall, however long it stays non-empty', async (t) => {
  const harness = await startHarness(t);
  const { agent, clock } = harness;
  const socket = await stalledSession(harness);
  const session = agent.link.sessionConnection;
  clock.advance(20_000);
  // the control plane reads for a while (more than the kernel buffers hold, ~8 MiB of chunks), then stops again
  const before = socket.messages.all.length;
  socket.resume();
  await eventually(() => socket.messages.all.length > before + 256, 'the control plane read through the queued data', 30_000);
  socket.pause();
  await eventually(() => (agent.link.sessionConnection?.bufferedAmount ?? 0) > 64 * 1024, 'the buffer filled again');
  clock.advance(20_000);
  t.is(agent.link.sessionConnection, session, 'progress 20 s ago: not stalled');
  clock.advance(11_000);
  t.is(agent.link.sessionConnection, undefined, '30 s without progress: stalled');
  socket.resume();
});
