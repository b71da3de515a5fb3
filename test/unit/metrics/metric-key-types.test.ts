// The recording calls are typed by the catalog: a counter cannot be set, a gauge cannot be counted, and a
// series carries exactly the labels its row declares. The `@ts-expect-error` lines are the test: if the
// types ever accept them again, the build (and so `npm test`) fails on an unused directive.

import test from 'ava';
import { AgentMetrics } from '../../../src/metrics/agent-metrics.js';

test('calls that break the catalog do not compile; the ones that follow it record', async (t) => {
  const metrics = new AgentMetrics();
  const misuse = (): void => {
    // @ts-expect-error a gauge is not a counter
    metrics.inc('connectionState');
    // @ts-expect-error a counter is not a gauge
    metrics.set('reconnections', 1);
    // @ts-expect-error a counter is not a histogram
    metrics.observe('reconnections', 1);
    // @ts-expect-error a label the row does not declare
    metrics.inc('reconnections', { target: 'gateway' });
    // @ts-expect-error a label missing (relayRequests has outcome and mode)
    metrics.inc('relayRequests', { outcome: 'ok' });
    // @ts-expect-error labels required when the row has some
    metrics.inc('controlPlaneBytes');
    // @ts-expect-error a gauge read at scrape time takes its own labels only
    metrics.collectOnScrape('poolThreads', () => 1, { lane: 'short' });
  };
  t.is(typeof misuse, 'function');
  metrics.inc('relayRequests', { outcome: 'ok', mode: 'json' }, 2);
  metrics.inc('reconnections');
  metrics.set('connectionState', 2);
  metrics.collectOnScrape('poolThreads', () => 3, { pool: 'short' });
  t.is(await metrics.value('relayRequests', { outcome: 'ok', mode: 'json' }), 2);
  t.is(await metrics.value('relayRequests', { mode: 'json' }), 2);
  t.is(await metrics.value('reconnections'), 1);
  t.is(await metrics.value('connectionState'), 2);
  t.is(await metrics.value('poolThreads', { pool: 'short' }), 3);
});
