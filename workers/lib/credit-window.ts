// A sender's credit: bytes it may still post before the router confirms the socket took earlier ones.
// The sender takes before posting and pauses its source at zero; the router grants only after consumption,
// which ties the Kubernetes socket's TCP backpressure to the control-plane socket (STYLE §1 Credits).

import { DEFAULT_WORKER_TUNING } from '../../src/config/agent-config.js';

/** The configured default (`tuning.streamCreditBytes`); actors pass the configured value. */
export const DEFAULT_STREAM_CREDIT_BYTES = DEFAULT_WORKER_TUNING.streamCreditBytes;

export class CreditWindow {
  #available: number;
  #onAvailable: (() => void) | undefined;

  constructor(initialBytes = DEFAULT_STREAM_CREDIT_BYTES) {
    this.#available = initialBytes;
  }

  get available(): number {
    return this.#available;
  }

  get isExhausted(): boolean {
    return this.#available <= 0;
  }

  take(bytes: number): void {
    this.#available -= bytes;
  }

  /** Adds credit; wakes the waiting sender when the window opens again. */
  grant(bytes: number): void {
    const wasExhausted = this.isExhausted;
    this.#available += bytes;
    if (wasExhausted && !this.isExhausted) {
      const wake = this.#onAvailable;
      this.#onAvailable = undefined;
      wake?.();
    }
  }

  /** Runs `callback` once when credit becomes available (at once if it already is). */
  whenAvailable(callback: () => void): void {
    if (!this.isExhausted) callback();
    else this.#onAvailable = callback;
  }
}
