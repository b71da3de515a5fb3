// The link's part of the drain (PROTOCOL.md §7.7): after beginDrain the session keeps its heartbeats and
// pings, nothing is re-dialled, and the caller learns once when the session socket is gone.

import test from 'ava';
import { startHarness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';

test('§7.7: while draining, heartbeats and pings go on; a lost session is reported once and never re-dialled', async (t) => {
  const { agent, plane, clock } = await startHarness(t);
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  let lostCalls = 0;
  agent.link.beginDrain(() => lostCalls++);
  t.is(lostCalls, 0, 'a live session is not lost');
  clock.advance(30_000);
  await socket.next('heartbeat');
  await eventually(() => socket.pings === 3, 'pings every 10 s while draining');
  socket.send({ type: 'ping', request_id: 'p-d', payload: {} });
  await socket.next('pong');
  socket.close(1001);
  await socket.closed;
  await eventually(() => lostCalls === 1, 'session loss reported');
  t.deepEqual(clock.pendingDelays(), [], 'no reconnect scheduled');
  clock.advance(120_000);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(plane.handshakes.length, 1, 'never dialled again');
  t.is(lostCalls, 1);
});

test('§7.7: with no session, beginDrain reports the loss synchronously and closes a socket still registering', async (t) => {
  const { agent, plane, clock } = await startHarness(t);
  const socket = await plane.nextSocket();
  await socket.next('register');
  let lostCalls = 0;
  agent.link.beginDrain(() => lostCalls++);
  t.is(lostCalls, 1, 'called before beginDrain returned');
  t.is((await socket.closed).code, 1000);
  clock.advance(120_000);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(plane.handshakes.length, 1);
  t.is(lostCalls, 1);
});

test('§7.7: a reconnect that was already scheduled is dropped by beginDrain', async (t) => {
  const { agent, plane, clock } = await startHarness(t);
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  socket.close(1000);
  await eventually(() => clock.pendingDelays().includes(500), 'reconnect scheduled');
  let lostCalls = 0;
  agent.link.beginDrain(() => lostCalls++);
  t.is(lostCalls, 1);
  clock.advance(60_000);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(plane.handshakes.length, 1);
});

test('§7.7: stop() after beginDrain closes with 1000 and does not report a loss', async (t) => {
  const { agent, plane } = await startHarness(t);
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  let lostCalls = 0;
  agent.link.beginDrain(() => lostCalls++);
  await agent.link.stop();
  t.is((await socket.closed).code, 1000);
  t.is(lostCalls, 0);
});
