import test from 'ava';
import { effectiveDeadlineMs, timerDelayMs } from '../../../src/protocol/request-deadline.js';
import { MAX_TIMER_DELAY_MS } from '../../../src/protocol/long-timeout.js';

const NOW = Date.parse('2026-01-02T03:04:05.000Z');

test('§9.2: deadline wins, then a timeout in ms or as a Go duration, else the default; invalid values are ignored', (t) => {
  t.is(effectiveDeadlineMs('2026-01-02T03:05:00Z', 10, NOW, 120_000), Date.parse('2026-01-02T03:05:00Z'));
  t.is(effectiveDeadlineMs(undefined, 1500, NOW, 120_000), NOW + 1500);
  t.is(effectiveDeadlineMs(undefined, '1m30s', NOW, 120_000), NOW + 90_000);
  for (const timeout of [0, -5, 'soon', '', null, true]) t.is(effectiveDeadlineMs('yesterday', timeout, NOW, 120_000), NOW + 120_000, String(timeout));
});

test('C97: timer delays beyond the platform range are clamped, never turned into an immediate firing', (t) => {
  const year = effectiveDeadlineMs(undefined, '8760h', NOW, 120_000) - NOW;
  t.is(year, 8760 * 3_600_000);
  t.is(timerDelayMs(year), MAX_TIMER_DELAY_MS);
  t.is(timerDelayMs(-1), 0);
  t.is(timerDelayMs(Number.NaN), 0);
  t.is(timerDelayMs(1000), 1000);
});
