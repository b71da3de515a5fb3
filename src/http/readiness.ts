// The /ready verdict: from the link's status and the age of its last heartbeat, whether the agent should
// count as ready, and why not. Pure: it reads no clock and no socket, so the HTTP server passes `nowMs`.

import { LinkStatus } from '../link/control-plane-link.js';

/** A heartbeat older than this many intervals means the session is stuck even if the socket looks open. */
export const READY_HEARTBEAT_INTERVALS = 2;

export interface ReadinessInput {
  readonly status: LinkStatus;
  readonly lastHeartbeatMs: number | undefined;
  readonly nowMs: number;
  readonly heartbeatIntervalMs: number;
  readonly isLenient: boolean;
  /** The agent is shutting down (§7.7): not ready, so the Service stops sending it anything new. */
  readonly isDraining?: boolean;
}

/** The JSON body of /ready; `reason` is present exactly when `status` is `not ready`. */
export interface ReadinessBody {
  readonly status: 'ready' | 'not ready';
  readonly mode: 'strict' | 'lenient';
  /** The link status by name: disconnected, connecting, connected or reconnecting. */
  readonly link: string;
  readonly reason?: string;
  /** Whole seconds since the last heartbeat was written, when there was one. */
  readonly last_heartbeat_age_seconds?: number;
}

export interface Readiness {
  readonly isReady: boolean;
  readonly body: ReadinessBody;
}

const STATUS_NAMES = new Map<LinkStatus, string>(
  Object.entries(LinkStatus).map(([name, value]) => [value, name] as const),
);

/** Lenient mode only needs the agent to be trying: a cluster that starts before the control plane stays ready. */
const LENIENT_STATUSES: ReadonlySet<LinkStatus> = new Set([
  LinkStatus.connecting,
  LinkStatus.reconnecting,
  LinkStatus.connected,
]);

export function readinessOf(input: ReadinessInput): Readiness {
  const mode = input.isLenient ? 'lenient' : 'strict';
  const link = STATUS_NAMES.get(input.status) ?? 'unknown';
  // A clock stepping backwards must not report a negative age.
  const ageSeconds =
    input.lastHeartbeatMs === undefined ? undefined : Math.floor(Math.max(0, input.nowMs - input.lastHeartbeatMs) / 1000);
  const age = ageSeconds === undefined ? {} : { last_heartbeat_age_seconds: ageSeconds };
  const notReady = (reason: string): Readiness => ({
    isReady: false,
    body: { status: 'not ready', mode, link, reason, ...age },
  });
  const ready: Readiness = { isReady: true, body: { status: 'ready', mode, link, ...age } };

  if (input.isDraining === true) return notReady('shutting down');
  if (input.isLenient) return LENIENT_STATUSES.has(input.status) ? ready : notReady('not connected');
  if (input.status !== LinkStatus.connected) return notReady('not connected');
  if (input.lastHeartbeatMs === undefined || ageSeconds === undefined) return notReady('no heartbeat yet');
  const maxAgeMs = READY_HEARTBEAT_INTERVALS * input.heartbeatIntervalMs;
  if (input.nowMs - input.lastHeartbeatMs > maxAgeMs) return notReady(`last heartbeat ${ageSeconds} s ago`);
  return ready;
}
