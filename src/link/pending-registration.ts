// The wait for `register_success` (PROTOCOL.md §5.3): 30 s after `register`, +30 s per
// `register_in_progress`, never beyond 120 s; an `error` fails it at once.

import { REGISTRATION_EXTEND_MS, REGISTRATION_MAX_WAIT_MS, REGISTRATION_WAIT_MS } from '../protocol/constants.js';
import type { Clock, TimerHandle } from '../util/clock.js';

export class PendingRegistration {
  readonly requestId: string;
  readonly #sentAtMs: number;
  #deadlineMs: number;
  #timer: TimerHandle | undefined;
  readonly #clock: Clock;
  readonly #onExpire: () => void;

  constructor(requestId: string, clock: Clock, onExpire: () => void) {
    this.requestId = requestId;
    this.#clock = clock;
    this.#onExpire = onExpire;
    this.#sentAtMs = clock.now();
    this.#deadlineMs = this.#sentAtMs + REGISTRATION_WAIT_MS;
    this.#arm();
  }

  /** A `register_in_progress` arrived: push the deadline out by 30 s, capped at 120 s after `register`. */
  extend(): void {
    this.#deadlineMs = Math.min(this.#deadlineMs + REGISTRATION_EXTEND_MS, this.#sentAtMs + REGISTRATION_MAX_WAIT_MS);
    this.#arm();
  }

  get deadlineMs(): number {
    return this.#deadlineMs;
  }

  cancel(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #arm(): void {
    this.#timer?.cancel();
    this.#timer = this.#clock.setTimer(Math.max(0, this.#deadlineMs - this.#clock.now()), () => {
      this.#timer = undefined;
      this.#onExpire();
    });
  }
}

/** `req_<unix time in ns>_<agent id>`; millisecond precision scaled to nanoseconds (§5.1). */
export function registrationRequestId(nowMs: number, agentId: string): string {
  return `req_${BigInt(Math.trunc(nowMs)) * 1_000_000n}_${agentId}`;
}
