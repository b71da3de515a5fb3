// A clock that moves only when the test says so; timers fire in due order during advance().

import type { Clock, TimerHandle } from '../../src/util/clock.js';

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
  isCancelled: boolean;
}

export class SimulatedClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Pending[] = [];

  constructor(startMs = Date.parse('2026-01-02T03:04:05.000Z')) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer: Pending = { at: this.#now + Math.max(0, delayMs), seq: this.#seq++, callback, isCancelled: false };
    this.#timers.push(timer);
    return { cancel: () => (timer.isCancelled = true) };
  }

  /** Timers not yet fired nor cancelled. */
  get pendingTimers(): number {
    return this.#timers.filter((timer) => !timer.isCancelled).length;
  }

  /** Delays (from now) of the pending timers, sorted. */
  pendingDelays(): number[] {
    return this.#timers.filter((timer) => !timer.isCancelled).map((timer) => timer.at - this.#now).sort((a, b) => a - b);
  }

  /** Moves time forward, firing every timer that falls due, in order, including ones scheduled meanwhile. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      this.#timers = this.#timers.filter((timer) => !timer.isCancelled);
      const due = this.#timers.filter((timer) => timer.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.#timers.splice(this.#timers.indexOf(due), 1);
      this.#now = Math.max(this.#now, due.at);
      due.callback();
    }
    this.#now = target;
  }
}
