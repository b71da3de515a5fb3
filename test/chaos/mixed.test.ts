// The bounded mixed chaos run (bench/chaos/mixed.ts): kubectl traffic through the local control plane
// while it restarts every 3 s and 1 % of the agent's API connections are reset. Fails when a request or
// session gets no terminal reply on a live socket or a second one, when the agent's actors, sessions,
// pending requests or API connections are not back to zero, or when the agent crashes.

import test from 'ava';
import { mixedViolations, runMixed } from '../../bench/chaos/mixed.js';

test('C93: mixed traffic through control-plane restarts and API resets: exactly one terminal reply each, back to zero, no crash', async (t) => {
  t.timeout(300_000);
  const result = await runMixed({
    requests: 1500,
    warmupRequests: 200,
    concurrency: 32,
    restartEveryMs: 3000,
    resetRatio: 0.01,
    kubectlRuns: 0,
    seed: 11,
    settleTimeoutMs: 60_000,
  });
  t.log(`sent ${result.audit.requestsSent} requests + ${result.audit.sessionsStarted} sessions, ${result.audit.terminalReplies} terminal replies, ${result.restarts} restarts, ${result.apiResets} resets`);
  t.true(result.restarts >= 1, 'the control plane restarted during the run');
  t.true(result.audit.terminalReplies > 0, 'requests reached the agent and were answered');
  t.is(result.audit.duplicates, 0, 'no second terminal reply');
  t.is(result.audit.unknown, 0, 'no reply for an id not sent on that socket');
  t.is(result.audit.outstanding, 0, `never answered: ${result.outstandingIds.join(', ')}`);
  t.true(result.leaks.isZero, JSON.stringify(result.leaks));
  t.deepEqual(mixedViolations(result, false), []);
});
