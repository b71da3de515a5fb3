// The actors' metric deltas applied on the main thread: a relay's and a session's `done` land in their
// own series, failures count their code, and an actor that died without `done` counts the lost deltas.

import test from 'ava';
import { applyActorDone, countActorFailure, type ActorDone } from '../../../src/metrics/actor-deltas.js';
import { AgentMetrics } from '../../../src/metrics/agent-metrics.js';
import { METRICS } from '../../../src/metrics/catalog.js';
import { ErrorCode } from '../../../src/errors.js';

const relayDone: ActorDone = {
  type: 'done',
  kind: 'http-relay',
  outcome: 'ok',
  mode: 'binary',
  durationMs: 250,
  upstreamBytesSent: 10,
  upstreamBytesReceived: 4000,
  compression: { rawBytes: 4000, wireBytes: 1000, skipReason: undefined },
};

async function histogramCount(metrics: AgentMetrics, name: string): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (metric === undefined) return -1;
  const data = await metric.get();
  const samples = data.values as ReadonlyArray<{ readonly value: number; readonly metricName?: string }>;
  return samples.filter((sample) => sample.metricName === `${name}_count`).reduce((sum, sample) => sum + sample.value, 0);
}

test('a relay done counts the request by outcome and mode, its bytes, its duration and the compression saved', async (t) => {
  const metrics = new AgentMetrics();
  applyActorDone(metrics, relayDone);
  t.is(await metrics.value('relayRequests', { outcome: 'ok', mode: 'binary' }), 1);
  t.is(await metrics.value('actorTasks', { kind: 'http-relay', outcome: 'ok' }), 1);
  t.is(await metrics.value('kubeApiBytes', { direction: 'sent' }), 10);
  t.is(await metrics.value('kubeApiBytes', { direction: 'received' }), 4000);
  t.is(await metrics.value('binaryProtocolRequests', { direction: 'response' }), 1);
  t.is(await metrics.value('compressionDecisions', { outcome: 'compressed', reason: 'none' }), 1);
  t.is(await metrics.value('bandwidthSaved'), 3000);
  t.is(await histogramCount(metrics, METRICS.relayDuration.name), 1);
  t.is(await histogramCount(metrics, METRICS.compressionRatio.name), 1);
  t.is(await metrics.value('sessionsEnded'), 0, 'a relay is not a session');
  t.is(await metrics.value('streamErrors'), 0);
});

test('a skipped compression counts its reason and saves nothing; a JSON relay is no binary response', async (t) => {
  const metrics = new AgentMetrics();
  applyActorDone(metrics, { ...relayDone, mode: 'json', compression: { rawBytes: 50, wireBytes: 50, skipReason: 'too_small' } });
  t.is(await metrics.value('compressionDecisions', { outcome: 'skipped', reason: 'too_small' }), 1);
  t.is(await metrics.value('compressionDecisions', { outcome: 'compressed' }), 0);
  t.is(await metrics.value('bandwidthSaved'), 0);
  t.is(await metrics.value('binaryProtocolRequests'), 0);
});

test('a session done counts the session, its frames and bytes per direction, and dropped frames', async (t) => {
  const metrics = new AgentMetrics();
  applyActorDone(metrics, {
    type: 'done',
    kind: 'ws-session',
    outcome: 'canceled',
    mode: 'none',
    durationMs: 3000,
    upstreamBytesSent: 7,
    upstreamBytesReceived: 90,
    session: { framesIn: 2, framesOut: 9, dropped: 1 },
  });
  t.is(await metrics.value('sessionsEnded', { outcome: 'canceled' }), 1);
  t.is(await metrics.value('actorTasks', { kind: 'ws-session', outcome: 'canceled' }), 1);
  t.is(await metrics.value('sessionFrames', { direction: 'to_cluster' }), 2);
  t.is(await metrics.value('sessionFrames', { direction: 'to_control_plane' }), 9);
  t.is(await metrics.value('sessionBytes', { direction: 'to_cluster' }), 7);
  t.is(await metrics.value('sessionBytes', { direction: 'to_control_plane' }), 90);
  t.is(await metrics.value('wsDataUnknownStream'), 1);
  t.is(await histogramCount(metrics, METRICS.sessionDuration.name), 1);
  t.is(await metrics.value('relayRequests'), 0, 'a session is not a relay request');
  t.is(await metrics.value('kubeApiBytes'), 0);
});

test('a relay that carried a session (§13.8) counts its dropped frames too; a failure counts its code', async (t) => {
  const metrics = new AgentMetrics();
  const { compression: _compression, ...uncompressed } = relayDone;
  applyActorDone(metrics, {
    ...uncompressed,
    outcome: 'upstream_error',
    session: { framesIn: 0, framesOut: 0, dropped: 3 },
    failure: { code: ErrorCode.actorFailed, message: 'x' },
  });
  t.is(await metrics.value('wsDataUnknownStream'), 3);
  t.is(await metrics.value('streamErrors', { code: ErrorCode.actorFailed }), 1);
  t.is(await metrics.value('compressionDecisions'), 0);
});

test('an actor that ended without done: actor_error for its kind; a crash also counts the lost deltas', async (t) => {
  const metrics = new AgentMetrics();
  countActorFailure(metrics, 'http-relay', ErrorCode.actorFailed, false);
  t.is(await metrics.value('relayRequests', { outcome: 'actor_error', mode: 'none' }), 1);
  t.is(await metrics.value('actorTasks', { kind: 'http-relay', outcome: 'actor_error' }), 1);
  t.is(await metrics.value('actorErrors', { code: ErrorCode.actorFailed }), 1);
  t.is(await metrics.value('workerCrashes'), 0);
  countActorFailure(metrics, 'ws-session', ErrorCode.actorFailed, true);
  t.is(await metrics.value('relayRequests'), 1, 'a session is no relay request');
  t.is(await metrics.value('actorTasks', { kind: 'ws-session', outcome: 'actor_error' }), 1);
  t.is(await metrics.value('workerCrashes'), 1);
  t.is(await metrics.value('metricDeltasLost'), 1);
});
