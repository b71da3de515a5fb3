// When an informer that failed starts again: capped doubling waits (1 s, 2 s … 60 s) on the injected clock,
// at most one restart pending, and the waits start afresh once the watch proves it works (a list or an event).

import type { Clock, TimerHandle } from '../util/clock.js';

export const RESTART_INITIAL_MS = 1_000;
export const RESTART_MAX_MS = 60_000;

export class InformerRestart {
  readonly #clock: Clock;
  #timer: TimerHandle | undefined;
  #delayMs = RESTART_INITIAL_MS;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** A restart is already scheduled: a second failure report of the same run must not schedule another. */
  get isPending(): boolean {
    return this.#timer !== undefined;
  }

  /** The watch works again: the next failure waits the initial delay. */
  reset(): void {
    this.#delayMs = RESTART_INITIAL_MS;
  }

  /** The backoff wait for this failure; the one after it waits twice as long, up to the cap. */
  nextDelayMs(): number {
    const waitMs = this.#delayMs;
    this.#delayMs = Math.min(RESTART_MAX_MS, this.#delayMs * 2);
    return waitMs;
  }

  schedule(waitMs: number, run: () => void): void {
    this.#timer = this.#clock.setTimer(waitMs, () => {
      this.#timer = undefined;
      run();
    });
  }

  cancel(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }
}
