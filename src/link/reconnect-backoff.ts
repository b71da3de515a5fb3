// Reconnect delays of PROTOCOL.md §7.1: 0.5 s doubling to 60 s, each wait stretched by a uniform 0–25 %
// jitter, reset once a session is established (a socket the control plane accepts but whose registration
// it rejects does not count).

import { BACKOFF_INITIAL_MS, BACKOFF_JITTER, BACKOFF_MAX_MS } from '../protocol/constants.js';

export class ReconnectBackoff {
  #delayMs = BACKOFF_INITIAL_MS;
  readonly #random: () => number;

  /** `random` returns a uniform value in [0, 1); injectable for tests. */
  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /** The next wait in ms; advances the nominal delay for the attempt after it. */
  next(): number {
    const wait = this.#delayMs * (1 + BACKOFF_JITTER * this.#random());
    this.#delayMs = Math.min(this.#delayMs * 2, BACKOFF_MAX_MS);
    return wait;
  }

  reset(): void {
    this.#delayMs = BACKOFF_INITIAL_MS;
  }
}
