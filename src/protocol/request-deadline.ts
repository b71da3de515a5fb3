// The effective deadline of a proxy_request (§9.2), shared by the router (which times requests out while
// they wait for an actor, §9.4) and the actors (which bound the upstream call). Thread-neutral.

import { parseGoDuration } from './go-duration.js';
import { MAX_TIMER_DELAY_MS } from './long-timeout.js';

/**
 * A delay a Clock timer can hold: never negative, never beyond the platform's range (C97). Clock timers
 * cannot step like setLongTimeout; a request waiting 24.8 days for a slot is given up then.
 */
export function timerDelayMs(delayMs: number): number {
  if (!(delayMs > 0)) return 0;
  return Math.min(delayMs, MAX_TIMER_DELAY_MS);
}

/**
 * `deadline` (RFC 3339) if valid; else `nowMs + timeout` if valid and > 0 (a number is milliseconds, a string
 * a Go duration); else `nowMs + defaultMs`. Invalid, zero or negative values are ignored.
 */
export function effectiveDeadlineMs(deadline: unknown, timeout: unknown, nowMs: number, defaultMs: number): number {
  if (typeof deadline === 'string' && deadline !== '' && /^\d{4}-\d{2}-\d{2}T/.test(deadline)) {
    const at = Date.parse(deadline);
    if (Number.isFinite(at)) return at;
  }
  let timeoutMs: number | undefined;
  if (typeof timeout === 'number' && Number.isFinite(timeout)) timeoutMs = timeout;
  else if (typeof timeout === 'string') timeoutMs = parseGoDuration(timeout);
  if (timeoutMs !== undefined && timeoutMs > 0) return nowMs + timeoutMs;
  return nowMs + defaultMs;
}
