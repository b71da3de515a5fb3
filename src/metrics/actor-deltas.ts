// The actors' metric deltas, flushed with their `done` message and applied on the main thread to the one
// registry. An actor that never reports `done` (its thread died) loses its deltas; that loss is counted.

import { ActorKind, type ActorDone } from '../messages/actor-messages.js';
import type { AgentMetrics } from './agent-metrics.js';

export type { ActorDone } from '../messages/actor-messages.js';

export function applyActorDone(metrics: AgentMetrics, done: ActorDone): void {
  if (done.failure !== undefined) metrics.inc('streamErrors', { code: done.failure.code });
  if (done.kind === ActorKind.wsSession) {
    metrics.inc('actorTasks', { kind: done.kind, outcome: done.outcome });
    metrics.inc('sessionsEnded', { outcome: done.outcome });
    metrics.observe('sessionDuration', done.durationMs / 1000);
    metrics.inc('sessionFrames', { direction: 'to_cluster' }, done.session?.framesIn ?? 0);
    metrics.inc('sessionFrames', { direction: 'to_control_plane' }, done.session?.framesOut ?? 0);
    metrics.inc('sessionBytes', { direction: 'to_cluster' }, done.upstreamBytesSent);
    metrics.inc('sessionBytes', { direction: 'to_control_plane' }, done.upstreamBytesReceived);
    metrics.inc('wsDataUnknownStream', {}, done.session?.dropped ?? 0);
    return;
  }
  metrics.inc('relayRequests', { outcome: done.outcome, mode: done.mode });
  metrics.observe('relayDuration', done.durationMs / 1000, { mode: done.mode });
  metrics.inc('actorTasks', { kind: ActorKind.httpRelay, outcome: done.outcome });
  metrics.inc('kubeApiBytes', { direction: 'sent' }, done.upstreamBytesSent);
  metrics.inc('kubeApiBytes', { direction: 'received' }, done.upstreamBytesReceived);
  // Frames a session started through proxy_request (§13.8) dropped count like any session's (§12.1).
  if (done.session !== undefined) metrics.inc('wsDataUnknownStream', {}, done.session.dropped);
  if (done.mode === 'binary') metrics.inc('binaryProtocolRequests', { direction: 'response' });
  const compression = done.compression;
  if (compression === undefined) return;
  if (compression.skipReason === undefined) {
    metrics.inc('compressionDecisions', { outcome: 'compressed', reason: 'none' });
    metrics.observe('compressionRatio', compression.rawBytes === 0 ? 1 : compression.wireBytes / compression.rawBytes);
    metrics.inc('bandwidthSaved', {}, compression.rawBytes - compression.wireBytes);
  } else {
    metrics.inc('compressionDecisions', { outcome: 'skipped', reason: compression.skipReason });
  }
}

/** An actor that ended without `done`: its error, and the deltas it could not flush. */
export function countActorFailure(metrics: AgentMetrics, kind: ActorKind, code: string, isCrash: boolean): void {
  if (kind === ActorKind.httpRelay) metrics.inc('relayRequests', { outcome: 'actor_error', mode: 'none' });
  metrics.inc('actorTasks', { kind, outcome: 'actor_error' });
  metrics.inc('actorErrors', { code });
  if (isCrash) {
    metrics.inc('workerCrashes');
    metrics.inc('metricDeltasLost');
  }
}
