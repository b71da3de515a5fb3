// The bounded frame fuzzer (bench/chaos/fuzz.ts): mutated control-plane frames at a live agent process.
// Fails when the process exits, a worker thread dies, an unhandled rejection or exception is logged, or a
// plain proxy_request afterwards gets no proxy_response.

import test from 'ava';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fuzzViolations, runFuzz } from '../../bench/chaos/fuzz.js';

test('C93: 15,000 mutated frames: the agent neither exits nor loses a worker, logs nothing unhandled, and still relays', async (t) => {
  t.timeout(300_000);
  const result = await runFuzz({ frames: 15_000, inboundCapBytes: 1024 * 1024, seed: 12, crashDumpPath: join(tmpdir(), `chaos-fuzz-test-${process.pid}.txt`) });
  t.log(`${result.sent} frames, ${result.reconnects} reconnects, replies ${JSON.stringify(result.replies)}`);
  t.is(result.sent, 15_000);
  t.true(result.isAgentAlive, `the agent exited: ${result.exit}`);
  t.is(result.workerCrashes, 0, `worker crashes; frames before the first: ${result.crashDump ?? 'n/a'}`);
  t.is(result.unhandled, 0, result.errorLines.join(' | '));
  t.true(result.stillRelays, JSON.stringify(result.probeAfter));
  t.deepEqual(fuzzViolations(result), []);
});
