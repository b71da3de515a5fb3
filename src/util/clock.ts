// Time as a dependency: protocol state machines take a Clock so tests can drive them with a simulated one
// and never sleep.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `callback` once after `delayMs`; the handle cancels it. */
  setTimer(delayMs: number, callback: () => void): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(delayMs, callback) {
    const timer = setTimeout(callback, delayMs);
    return { cancel: () => clearTimeout(timer) };
  },
};

/** Repeats `callback` every `intervalMs` on the given clock until cancelled. */
export function setRepeating(clock: Clock, intervalMs: number, callback: () => void): TimerHandle {
  let current: TimerHandle | undefined;
  let isCancelled = false;
  const schedule = (): void => {
    current = clock.setTimer(intervalMs, () => {
      if (isCancelled) return;
      schedule();
      callback();
    });
  };
  schedule();
  return {
    cancel() {
      isCancelled = true;
      current?.cancel();
    },
  };
}
