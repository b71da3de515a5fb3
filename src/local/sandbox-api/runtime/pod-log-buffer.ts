// One container's log: a bounded ring of timestamped lines (what the kubelet would read back from the
// CRI log file) plus live subscribers for `follow` and attach. Also owns the RFC 3339Nano rendering of
// a line's time, because `timestamps=true` prints exactly that.

import { EventEmitter } from 'node:events';

export interface LogLine {
  /** nanoseconds since the epoch, as the runtime stamps each line */
  readonly timeNs: bigint;
  /** the line without its newline */
  readonly text: string;
}

/** Keeps memory bounded however long a sandbox runs; the kubelet rotates its files for the same reason. */
export const DEFAULT_LOG_CAPACITY = 5000;

const LINE_EVENT = 'line';
const END_EVENT = 'end';

let lastNowNs = 0n;

/** Wall-clock nanoseconds, strictly increasing so lines written in one millisecond keep their order. */
export function nowNs(): bigint {
  const wallMs = performance.timeOrigin + performance.now();
  const candidate = BigInt(Math.floor(wallMs)) * 1_000_000n + BigInt(Math.floor((wallMs % 1) * 1_000_000));
  lastNowNs = candidate > lastNowNs ? candidate : lastNowNs + 1n;
  return lastNowNs;
}

/** Go's time.RFC3339Nano in UTC: fractional seconds with trailing zeros dropped (none at all when zero). */
export function formatRfc3339Nano(timeNs: bigint): string {
  const seconds = timeNs / 1_000_000_000n;
  const nanos = timeNs % 1_000_000_000n;
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  const fraction = nanos === 0n ? '' : `.${nanos.toString().padStart(9, '0').replace(/0+$/, '')}`;
  return `${base}${fraction}Z`;
}

export class PodLogBuffer {
  readonly #capacity: number;
  readonly #lines: LogLine[] = [];
  readonly #events = new EventEmitter();
  #hasEnded = false;

  constructor(capacity = DEFAULT_LOG_CAPACITY) {
    this.#capacity = capacity;
    this.#events.setMaxListeners(0);
  }

  /** Appends one line (a trailing newline, if any, is not part of it). Ignored once the log has ended. */
  append(text: string, timeNs: bigint = nowNs()): void {
    if (this.#hasEnded) return;
    const line: LogLine = { timeNs, text: text.replace(/\r?\n$/, '') };
    this.#lines.push(line);
    if (this.#lines.length > this.#capacity) this.#lines.shift();
    this.#events.emit(LINE_EVENT, line);
  }

  /** The retained lines, oldest first. */
  lines(): readonly LogLine[] {
    return [...this.#lines];
  }

  get hasEnded(): boolean {
    return this.#hasEnded;
  }

  /** Calls `onLine` for every later line and `onEnd` once when the log ends; returns the unsubscribe. */
  subscribe(onLine: (line: LogLine) => void, onEnd: () => void): () => void {
    if (this.#hasEnded) {
      queueMicrotask(onEnd);
      return () => undefined;
    }
    this.#events.on(LINE_EVENT, onLine);
    this.#events.once(END_EVENT, onEnd);
    return () => {
      this.#events.off(LINE_EVENT, onLine);
      this.#events.off(END_EVENT, onEnd);
    };
  }

  /** The container is gone (pod deleted or sandbox closed): followers finish. */
  end(): void {
    if (this.#hasEnded) return;
    this.#hasEnded = true;
    this.#events.emit(END_EVENT);
    this.#events.removeAllListeners();
  }

  get subscriberCount(): number {
    return this.#events.listenerCount(LINE_EVENT);
  }
}
