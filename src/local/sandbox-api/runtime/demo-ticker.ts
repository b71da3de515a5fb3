// The seeded demo pod's main process: writes `<n> demo tick` to its container log once a second from the
// moment the sandbox starts, so `kubectl logs -f` and `kubectl attach` have something live to show.
// The text is fixed apart from the counter so tests can match it.

import type { PodLogBuffer } from './pod-log-buffer.js';

export const DEMO_TICK_INTERVAL_MS = 1000;

export function demoTickLine(counter: number): string {
  return `${counter} demo tick`;
}

export interface DemoTicker {
  stop(): void;
}

/** Starts writing at once (line 1), then every interval; the timer never keeps the process alive. */
export function startDemoTicker(log: PodLogBuffer, intervalMs = DEMO_TICK_INTERVAL_MS): DemoTicker {
  let counter = 0;
  function writeTick(): void {
    counter += 1;
    log.append(demoTickLine(counter));
  }
  writeTick();
  const timer = setInterval(writeTick, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
    },
  };
}
