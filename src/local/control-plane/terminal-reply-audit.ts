// Counts, on the control-plane side, the terminal replies the agent sends for every request and kubectl
// session the control plane started (PROTOCOL.md §9.4 "Containment": exactly one terminal reply on every
// path). The fault-injection suite shares one audit across control-plane restarts and reads it at the end.
//
// What counts as terminal:
//   HTTP request (proxy_request)       proxy_response, binary response frame, proxy_error,
//                                      proxy_response_end, proxy_response_abort
//   kubectl session (ws_start)         proxy_websocket_close (a proxy_error before it is a dial failure, §13.4)
//
// What is not a violation: a request still open when its socket goes (§3.4: nothing of an old socket is
// replayed, the request is lost with it), and no reply for a request the control plane cancelled before
// the agent started a response (§9.13: buffered mode and streams without a header get nothing).

import type { Envelope } from '../../protocol/envelope.js';

export const AuditViolation = {
  /** A second terminal reply for the same id on the same socket. */
  duplicate: 'duplicate',
  /** A terminal reply for an id the control plane never sent on that socket (or settled long ago). */
  unknown: 'unknown',
} as const;
export type AuditViolation = (typeof AuditViolation)[keyof typeof AuditViolation];

const StreamKind = { request: 'request', session: 'session' } as const;
type StreamKind = (typeof StreamKind)[keyof typeof StreamKind];

interface AuditEntry {
  readonly kind: StreamKind;
  terminals: number;
  /** The control plane sent proxy_cancel (or closed the session) before any terminal reply. */
  isCanceled: boolean;
  /** proxy_response_header arrived: a cancelled stream still owes its proxy_response_abort. */
  hasHeader: boolean;
  /** The terminal reply, or nothing owed (cancelled before a response started): no longer outstanding. */
  isSettled: boolean;
}

interface SocketAudit {
  readonly entries: Map<string, AuditEntry>;
  /** Settled ids in settling order; the oldest are forgotten past MAX_SETTLED_KEPT so a soak stays bounded. */
  readonly settled: string[];
  settledHead: number;
}

export interface AuditViolationRecord {
  readonly violation: AuditViolation;
  readonly id: string;
  readonly type: string;
}

export interface AuditSnapshot {
  /** proxy_request messages sent on open agent sockets. */
  readonly requestsSent: number;
  /** proxy_websocket_start messages sent on open agent sockets. */
  readonly sessionsStarted: number;
  /** Terminal replies received (first ones only). */
  readonly terminalReplies: number;
  /** Requests and sessions cancelled by the control plane before a response started, without a reply. */
  readonly canceledWithoutReply: number;
  /** Requests and sessions still open when their socket closed (lost with it, §3.4). */
  readonly lostWithSocket: number;
  /** Requests and sessions on open sockets still waiting for their terminal reply. */
  readonly outstanding: number;
  readonly duplicates: number;
  readonly unknown: number;
  /** The first violations, for the report (at most 20). */
  readonly violations: readonly AuditViolationRecord[];
}

const REQUEST_TERMINALS: ReadonlySet<string> = new Set(['proxy_response', 'proxy_error', 'proxy_response_end', 'proxy_response_abort']);
const SESSION_CLOSES: ReadonlySet<string> = new Set(['proxy_websocket_close', 'ws_close']);
const MAX_RECORDED_VIOLATIONS = 20;
/** Settled ids kept per socket to catch a late second reply; one older than this counts as unknown instead. */
const MAX_SETTLED_KEPT = 50_000;

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export class TerminalReplyAudit {
  /** Keyed by the agent socket object (an AgentSession); folded into the totals when it closes. */
  readonly #sockets = new Map<object, SocketAudit>();
  #requestsSent = 0;
  #sessionsStarted = 0;
  #terminalReplies = 0;
  #canceledWithoutReply = 0;
  #lostWithSocket = 0;
  #duplicates = 0;
  #unknown = 0;
  readonly #violations: AuditViolationRecord[] = [];

  /** A message the control plane wrote on an open agent socket. */
  planeSent(socket: object, type: string, payload: Readonly<Record<string, unknown>>, requestId: string | undefined): void {
    const table = this.#table(socket);
    if (type === 'proxy_request' && requestId !== undefined) {
      this.#requestsSent++;
      table.entries.set(requestId, { kind: StreamKind.request, terminals: 0, isCanceled: false, hasHeader: false, isSettled: false });
      return;
    }
    const streamId = nonEmptyString(payload['stream_id']) ?? requestId;
    if ((type === 'proxy_websocket_start' || type === 'ws_start') && streamId !== undefined) {
      this.#sessionsStarted++;
      table.entries.set(streamId, { kind: StreamKind.session, terminals: 0, isCanceled: false, hasHeader: false, isSettled: false });
      return;
    }
    const id = type === 'proxy_cancel' ? requestId : SESSION_CLOSES.has(type) ? streamId : undefined;
    if (id === undefined) return;
    const entry = table.entries.get(id);
    if (entry === undefined || entry.terminals > 0) return;
    entry.isCanceled = true;
    // a cancelled request owes nothing unless its stream header went out (§9.13); a closed session owes its echo (§13.7)
    if (entry.kind === StreamKind.request && !entry.hasHeader && !entry.isSettled) {
      this.#settle(table, id, entry);
      this.#canceledWithoutReply++;
    }
  }

  /** A binary response frame (§10.2) for `requestId`. */
  agentFrame(socket: object, requestId: string): void {
    this.#terminal(socket, requestId, 'binary response frame', StreamKind.request);
  }

  /** A JSON message from the agent (text, or JSON in a binary frame). */
  agentMessage(socket: object, envelope: Envelope): void {
    const { type, payload, requestId } = envelope;
    if (type === 'proxy_response_header' && requestId !== undefined) {
      const entry = this.#table(socket).entries.get(requestId);
      if (entry !== undefined) entry.hasHeader = true;
      return;
    }
    if (SESSION_CLOSES.has(type)) {
      const id = this.#sessionId(socket, payload, requestId);
      if (id !== undefined) this.#terminal(socket, id, type, StreamKind.session);
      return;
    }
    if (!REQUEST_TERMINALS.has(type)) return;
    if (type === 'proxy_error') {
      // a session's proxy_error (payload request_id first) precedes its close; it is not the terminal reply
      const table = this.#table(socket);
      for (const id of [nonEmptyString(payload['request_id']), requestId]) {
        if (id !== undefined && table.entries.get(id)?.kind === StreamKind.session) return;
      }
    }
    if (requestId === undefined) {
      this.#record(AuditViolation.unknown, '', type);
      return;
    }
    this.#terminal(socket, requestId, type, StreamKind.request);
  }

  /** The agent socket closed: whatever it still carried is lost with it. */
  socketClosed(socket: object): void {
    const table = this.#sockets.get(socket);
    if (table === undefined) return;
    this.#sockets.delete(socket);
    for (const entry of table.entries.values()) if (!entry.isSettled) this.#lostWithSocket++;
  }

  snapshot(): AuditSnapshot {
    let outstanding = 0;
    for (const table of this.#sockets.values()) for (const entry of table.entries.values()) if (!entry.isSettled) outstanding++;
    return {
      requestsSent: this.#requestsSent,
      sessionsStarted: this.#sessionsStarted,
      terminalReplies: this.#terminalReplies,
      canceledWithoutReply: this.#canceledWithoutReply,
      lostWithSocket: this.#lostWithSocket,
      outstanding,
      duplicates: this.#duplicates,
      unknown: this.#unknown,
      violations: [...this.#violations],
    };
  }

  /** Ids on open sockets still waiting for their terminal reply (at most `limit`), for the report. */
  outstandingIds(limit = 20): string[] {
    const ids: string[] = [];
    for (const table of this.#sockets.values()) {
      for (const [id, entry] of table.entries) {
        if (!entry.isSettled && ids.length < limit) ids.push(`${entry.kind}:${id}`);
      }
    }
    return ids;
  }

  #table(socket: object): SocketAudit {
    let table = this.#sockets.get(socket);
    if (table === undefined) {
      table = { entries: new Map(), settled: [], settledHead: 0 };
      this.#sockets.set(socket, table);
    }
    return table;
  }

  /** §12.2: a payload stream_id naming a known session wins, else the first non-empty id. */
  #sessionId(socket: object, payload: Readonly<Record<string, unknown>>, requestId: string | undefined): string | undefined {
    const entries = this.#table(socket).entries;
    const streamId = nonEmptyString(payload['stream_id']);
    if (streamId !== undefined && entries.has(streamId)) return streamId;
    return nonEmptyString(payload['request_id']) ?? streamId ?? requestId;
  }

  #settle(table: SocketAudit, id: string, entry: AuditEntry): void {
    entry.isSettled = true;
    table.settled.push(id);
    if (table.settled.length - table.settledHead <= MAX_SETTLED_KEPT) return;
    table.entries.delete(table.settled[table.settledHead]!);
    table.settledHead++;
    if (table.settledHead > MAX_SETTLED_KEPT) {
      table.settled.splice(0, table.settledHead);
      table.settledHead = 0;
    }
  }

  #terminal(socket: object, id: string, type: string, kind: StreamKind): void {
    const table = this.#table(socket);
    const entry = table.entries.get(id);
    if (entry === undefined || entry.kind !== kind) {
      this.#unknown++;
      this.#record(AuditViolation.unknown, id, type);
      return;
    }
    entry.terminals++;
    if (entry.terminals > 1) {
      this.#duplicates++;
      this.#record(AuditViolation.duplicate, id, type);
      return;
    }
    if (entry.isSettled) {
      // cancelled before a response started, and the agent answered anyway (it had not seen the cancel yet)
      this.#canceledWithoutReply--;
    } else {
      this.#settle(table, id, entry);
    }
    this.#terminalReplies++;
  }

  #record(violation: AuditViolation, id: string, type: string): void {
    if (this.#violations.length < MAX_RECORDED_VIOLATIONS) this.#violations.push({ violation, id: id.slice(0, 80), type });
  }
}
