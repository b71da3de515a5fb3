// What the log says under churn (issue 13 item 6): one line per reconnect attempt, not a warn plus an
// info; an unknown message type is warned about once per socket, however often the control plane sends it.

import test from 'ava';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startHarness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';

interface Line {
  readonly level: number;
  readonly msg: string;
}

function capturingLogger(): { logger: pino.Logger; lines: Line[] } {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) if (text !== '') lines.push(JSON.parse(text) as Line);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

test('each reconnect attempt logs one line at info or above; repeated unknown types warn once per socket', async (t) => {
  const { logger, lines } = capturingLogger();
  const { plane, clock } = await startHarness(t, { logger });
  let socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  for (let i = 0; i < 50; i++) socket.send({ type: 'x_unknown', request_id: `u-${i}`, payload: {} });
  socket.send({ type: 'ping', request_id: 'p', payload: {} });
  await socket.next('pong');
  const loud = (): Line[] => lines.filter((line) => line.level >= 30);
  t.is(loud().filter((line) => line.msg === 'unknown message type').length, 1, 'fifty of one type: one warning');

  for (let attempt = 1; attempt <= 3; attempt++) {
    socket.close(1000);
    // a session was established before each loss, so every wait is the first backoff step
    await eventually(() => clock.pendingDelays().includes(500), 'a redial is scheduled');
    clock.advance(500);
    socket = await plane.nextSocket();
    await socket.next('heartbeat');
  }
  const attempts = loud().filter((line) => /reconnect|socket ended/.test(line.msg));
  t.is(attempts.length, 3, attempts.map((line) => line.msg).join(' | '));
  t.true(lines.some((line) => line.level === 20 && line.msg === 'reconnecting to the control plane'), 'the wait is still there at debug');

  socket.send({ type: 'x_unknown', request_id: 'again', payload: {} });
  socket.send({ type: 'ping', request_id: 'p2', payload: {} });
  await socket.next('pong');
  t.is(loud().filter((line) => line.msg === 'unknown message type').length, 2, 'a new socket warns once more');
});
