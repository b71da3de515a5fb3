// One stream as the router holds it: its socket, its actor's port, what it still owes (the reply ledger)
// and what it holds of the socket's buffer; and the table of streams by id (§12.2 resolution, recent ids,
// idleness for the drain).

import type { Connection } from '../link/connection.js';
import type { EnvelopePeek } from '../protocol/envelope-peek.js';
import type { ActorKind, ActorPort } from '../messages/actor-messages.js';
import type { Ticket } from './admission.js';
import type { ReplyLedger } from './reply-ledger.js';
import { RecentIds } from './recent-ids.js';

/** What the router uses of a session socket (link/connection.ts): it writes replies there and reads its flow state. */
export type SessionSocket = Pick<Connection, 'send' | 'bufferedAmount' | 'isOpen' | 'isStreamFramesActive' | 'isYamuxActive'>;

export interface StreamEntry {
  readonly requestId: string;
  readonly connection: SessionSocket;
  readonly port: ActorPort;
  readonly actorKind: ActorKind;
  readonly ledger: ReplyLedger;
  ticket: Ticket | undefined;
  isDone: boolean;
  isDetached: boolean;
  /** A `body_binary` request whose request-body frame has not arrived yet (§9.14). */
  awaitsBinaryBody: boolean;
  /** Bytes sent for credit and not yet granted back: what this stream holds in the socket's buffer. */
  outstandingBytes: number;
  /** An application relay (§14): its relay data carries request_id and message_type too. */
  readonly isAppRelay: boolean;
  /** A kubectl session or an application relay: the only streams relay data is for. */
  readonly isRelay: boolean;
  /** The actor was told that its socket no longer uses stream frames. */
  hasStreamFramesOff: boolean;
  /** A short request's shape (dispatch-policy.ts), learned from when it is done. */
  shape?: string;
}

/** Requests by request id and kubectl sessions by stream id; a finished id is remembered as recent. */
export class StreamTable {
  readonly #requests = new Map<string, StreamEntry>();
  /** kubectl sessions by stream id (§13); sessions started through proxy_request live with the requests. */
  readonly #sessions = new Map<string, StreamEntry>();
  readonly #recent = new RecentIds(4096);
  #idleWaiters: (() => void)[] = [];

  get requestCount(): number {
    return this.#requests.size;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  get isIdle(): boolean {
    return this.#requests.size === 0 && this.#sessions.size === 0;
  }

  /** Every stream, requests first; a copy, so callers may end streams while they walk it. */
  all(): StreamEntry[] {
    return [...this.#requests.values(), ...this.#sessions.values()];
  }

  request(id: string | undefined): StreamEntry | undefined {
    return id === undefined ? undefined : this.#requests.get(id);
  }

  session(id: string): StreamEntry | undefined {
    return this.#sessions.get(id);
  }

  /** §12.2: a payload stream_id naming a session wins; else the first non-empty id, sessions then requests. */
  resolve(peek: EnvelopePeek): StreamEntry | undefined {
    if (peek.payloadStreamId !== undefined) {
      const session = this.#sessions.get(peek.payloadStreamId);
      if (session !== undefined) return session;
    }
    const id = peek.payloadRequestId ?? peek.payloadStreamId ?? peek.requestId;
    return id === undefined ? undefined : (this.#sessions.get(id) ?? this.#requests.get(id));
  }

  /** A stream id of relay data (stream frames): kubectl sessions first, then relays started by proxy_request. */
  relay(id: string): StreamEntry | undefined {
    return this.#sessions.get(id) ?? this.#requests.get(id);
  }

  addRequest(entry: StreamEntry): void {
    this.#requests.set(entry.requestId, entry);
  }

  addSession(entry: StreamEntry): void {
    this.#sessions.set(entry.requestId, entry);
  }

  /** True when `id` belonged to a stream that ended lately (its late messages are counted as such). */
  isRecent(id: string): boolean {
    return this.#recent.has(id);
  }

  remove(entry: StreamEntry): void {
    if (this.#requests.get(entry.requestId) === entry) this.#requests.delete(entry.requestId);
    if (this.#sessions.get(entry.requestId) === entry) this.#sessions.delete(entry.requestId);
    this.#recent.add(entry.requestId);
    if (this.isIdle) for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  /** Resolves when no stream is left (at once if none is). */
  whenIdle(): Promise<void> {
    if (this.isIdle) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }
}
