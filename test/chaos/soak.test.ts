// The bounded soak (bench/chaos/soak.ts): steady traffic with RSS and heap sampled. Growth is reported,
// never asserted (the machine is shared); the run fails on a missing or second terminal reply, on leaks
// after the run, or on a crash.

import test from 'ava';
import { runSoak, soakViolations } from '../../bench/chaos/soak.js';

test('a short soak at a steady rate: samples taken, every request answered once, back to zero, no crash', async (t) => {
  t.timeout(300_000);
  const result = await runSoak({ seconds: 15, rate: 100, sampleEverySeconds: 2, warmupSeconds: 2, resetRatio: 0, seed: 13, settleTimeoutMs: 60_000 });
  t.log(`${result.issued} operations, ${result.samples.length} samples, RSS ${result.samples[0]?.rssBytes ?? 0} → ${result.samples.at(-1)?.rssBytes ?? 0}`);
  t.true(result.samples.length >= 2);
  t.true(result.samples.every((sample) => sample.rssBytes > 0 && sample.heapBytes > 0), 'RSS and heap are read');
  t.is(result.audit.terminalReplies, result.audit.requestsSent + result.audit.sessionsStarted - result.audit.canceledWithoutReply - result.audit.lostWithSocket);
  t.deepEqual(soakViolations(result), []);
});
