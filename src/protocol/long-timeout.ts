// Timers armed from values the control plane sends (`deadline`, `timeout`: PROTOCOL.md §9.2, §9.4 C97).
// setTimeout holds at most 2^31-1 ms (about 24.8 days); a longer delay fires after 1 ms with a warning, so a
// watch with `timeout:"8760h"` would end at once. Thread-neutral: actors and the router may both use it.

/** The longest delay a Node.js timer honours. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * Runs `onDue` once, after `delayMs` (never earlier), however long that is. Delays beyond the timer range
 * run as an interval of equal steps that each fit in it, so the result stays one handle that
 * `clearTimeout` cancels. An infinite delay never fires; NaN and negative delays fire at once.
 */
export function setLongTimeout(onDue: () => void, delayMs: number, maxStepMs = MAX_TIMER_DELAY_MS): NodeJS.Timeout {
  const delay = Number.isNaN(delayMs) ? 0 : Math.max(0, delayMs);
  if (delay <= maxStepMs) return setTimeout(onDue, delay);
  const steps = Number.isFinite(delay) ? Math.ceil(delay / maxStepMs) : Infinity;
  const stepMs = Number.isFinite(delay) ? Math.ceil(delay / steps) : maxStepMs;
  let elapsed = 0;
  const timer = setInterval(() => {
    elapsed++;
    if (elapsed < steps) return;
    clearInterval(timer);
    onDue();
  }, stepMs);
  return timer;
}
