// The agent's own Kubernetes calls: the bound that rejects with UPSTREAM_TIMEOUT and aborts the request, and
// the failure summary that goes into logs without the API server's body or headers.

import test from 'ava';
import { AgentError, ErrorCode } from '../../../src/errors.js';
import { boundedKubeCall } from '../../../src/kube/bounded-call.js';
import { isKubeStatus, KubeStatusError, kubeFailureOf } from '../../../src/kube/kube-failure.js';
import { eventually } from '../../helpers/eventually.js';
import { SimulatedClock } from '../../helpers/simulated-clock.js';

test('a call past its bound rejects with UPSTREAM_TIMEOUT naming the call, and its signal is aborted', async (t) => {
  const clock = new SimulatedClock();
  let signal: AbortSignal | undefined;
  const call = boundedKubeCall(clock, 5_000, 'state configmap read', async (callSignal) => {
    signal = callSignal;
    return new Promise<never>(() => undefined);
  });
  await eventually(() => signal !== undefined, 'the call attached its signal');
  t.false(signal!.aborted, 'the request carries a live signal before the bound');
  clock.advance(4_999);
  t.false(signal!.aborted);
  clock.advance(1);
  const error = await t.throwsAsync(call, { instanceOf: AgentError });
  t.is(error.code, ErrorCode.upstreamTimeout);
  t.is(error.message, 'state configmap read timed out after 5000 ms');
  t.true(signal!.aborted);
});

test('a call that settles in time keeps its value or its error and leaves no timer behind', async (t) => {
  const clock = new SimulatedClock();
  t.is(await boundedKubeCall(clock, 5_000, 'version', () => Promise.resolve('v1.31.0')), 'v1.31.0');
  const refused = new KubeStatusError(404, 'NotFound');
  t.is(await t.throwsAsync(boundedKubeCall(clock, 5_000, 'version', () => Promise.reject(refused))), refused);
  t.is(clock.pendingTimers, 0);
});

test('a failure summary carries the status or code, never the API server\'s body or headers', (t) => {
  const refused = new KubeStatusError(403, 'Forbidden');
  t.deepEqual(kubeFailureOf(refused), { code: 'KUBE_STATUS', status: 403 });
  t.deepEqual(kubeFailureOf(new AgentError(ErrorCode.upstreamTimeout, 'version timed out after 5000 ms')), { code: ErrorCode.upstreamTimeout });
  t.deepEqual(kubeFailureOf(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' })), { code: 'ECONNREFUSED' });
  t.deepEqual(kubeFailureOf(new TypeError('x'.repeat(300))), { code: 'TypeError', detail: 'x'.repeat(200) });
  t.deepEqual(kubeFailureOf('nope'), { code: 'unknown' });
});

test('isKubeStatus matches the API server\'s answer only', (t) => {
  t.true(isKubeStatus(new KubeStatusError(409, 'Conflict'), 409));
  t.false(isKubeStatus(new KubeStatusError(409, 'Conflict'), 404));
  t.false(isKubeStatus(Object.assign(new Error('x'), { code: 404 }), 404));
});
