// §5.2: a `register_success.token` replaces the cluster token handed over as `k8s_service_token` on the
// next registration (C14's register_success fields).

import test from 'ava';
import { startHarness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';

test('a token from register_success is presented as k8s_service_token on the next registration', async (t) => {
  const { plane, clock } = await startHarness(t);
  const first = await plane.nextSocket();
  const register = await first.acceptRegistration({ cluster_id: 'c-1', token: 'issued-by-the-control-plane' });
  t.is(register.payload['k8s_service_token'], 'agent-own-token');
  await first.next('heartbeat');
  first.send({ type: 'error', payload: { error: 'cluster not found' } }); // forces a fresh registration
  await first.closed;
  await eventually(() => clock.pendingDelays().includes(500), 'reconnect scheduled');
  clock.advance(500);
  const second = await plane.nextSocket();
  const again = await second.next('register');
  t.is(again.payload['k8s_service_token'], 'issued-by-the-control-plane');
});
