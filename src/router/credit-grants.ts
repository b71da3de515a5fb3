// Credit back to streaming actors (§9.11, C99): bytes a stream sent are granted back once the socket took
// them, unless the socket's buffer is above the high-water mark; then every grant waits until it falls to
// the low-water mark, so no stream adds to a buffer the control plane is not draining.

import type { ActorInbound } from '../messages/actor-messages.js';
import { systemClock, type TimerHandle } from '../util/clock.js';
import type { StreamEntry } from './stream-entry.js';

/** Outbound-buffer water marks (§9.11): above the high mark no credit is granted until the low mark. */
export const OUTBOUND_HIGH_WATER_BYTES = 4 * 1024 * 1024;
export const OUTBOUND_LOW_WATER_BYTES = 1024 * 1024;
/** Flow control is not a protocol timer: the drain poll runs on real time even under a simulated clock. */
const DRAIN_POLL_MS = 20;

export class CreditGrants {
  /** Credit held back while the socket's buffer is above the high-water mark. */
  readonly #held: { entry: StreamEntry; bytes: number }[] = [];
  #drainTimer: TimerHandle | undefined;

  /** The socket took `bytes` of this stream. */
  grant(entry: StreamEntry, bytes: number): void {
    if (entry.isDone) return;
    if (this.#held.length === 0 && entry.connection.bufferedAmount <= OUTBOUND_HIGH_WATER_BYTES) {
      this.#post(entry, bytes);
      return;
    }
    this.#held.push({ entry, bytes });
    this.#drainTimer ??= systemClock.setTimer(DRAIN_POLL_MS, () => this.#release());
  }

  /** Drops what is held and stops polling (the router is closing). */
  close(): void {
    this.#drainTimer?.cancel();
    this.#drainTimer = undefined;
    this.#held.length = 0;
  }

  #release(): void {
    this.#drainTimer = undefined;
    const connection = this.#held[0]?.entry.connection;
    if (connection !== undefined && connection.isOpen && connection.bufferedAmount > OUTBOUND_LOW_WATER_BYTES) {
      this.#drainTimer = systemClock.setTimer(DRAIN_POLL_MS, () => this.#release());
      return;
    }
    for (const { entry, bytes } of this.#held.splice(0)) this.#post(entry, bytes);
  }

  #post(entry: StreamEntry, bytes: number): void {
    entry.outstandingBytes -= bytes;
    if (entry.isDone) return;
    const message: ActorInbound = { type: 'credit', bytes };
    entry.port.postMessage(message);
  }
}
