// The Ingress informer against the sandbox API: all namespaces listed and watched with the agent's
// credentials, the initial list reported once after its items, and a refused list restarted with backoff
// on the injected clock.

import test from 'ava';
import type { V1Ingress } from '@kubernetes/client-node';
import { silentLogger } from '../../../../src/log.js';
import { IngressWatch } from '../../../../src/cluster/ingress/watch.js';
import { startSandboxApi } from '../../../../src/local/sandbox-api/sandbox-server.js';
import { sandboxKubeconfig } from '../../../../src/local/sandbox-api/kubeconfig.js';
import { eventually } from '../../../helpers/eventually.js';
import { kubeClientOf } from '../../../helpers/kube-client.js';
import { SimulatedClock } from '../../../helpers/simulated-clock.js';

const INGRESSES = { group: 'networking.k8s.io', version: 'v1', resource: 'ingresses' } as const;

function ingress(namespace: string, name: string): { metadata: { namespace: string; name: string }; spec: { rules: { host: string }[] } } {
  return { metadata: { namespace, name }, spec: { rules: [{ host: `${name}.example.com` }] } };
}

test('lists and watches Ingresses in every namespace; the initial list is reported once, after its items', async (t) => {
  const sandbox = await startSandboxApi({ logger: silentLogger() });
  t.teardown(() => sandbox.close());
  sandbox.store.put(INGRESSES, ingress('apps', 'shop'));
  sandbox.store.put(INGRESSES, ingress('blog', 'blog'));
  const kube = kubeClientOf(sandbox.kubeconfigYaml(), t);
  const watch = new IngressWatch({ kube, clock: new SimulatedClock(), logger: silentLogger() });
  t.teardown(() => watch.stop());
  const seen: string[] = [];
  const name = (object: V1Ingress): string => `${object.metadata?.namespace}/${object.metadata?.name}`;
  watch.start({
    onUpsert: (object) => seen.push(`upsert ${name(object)}`),
    onDelete: (object) => seen.push(`delete ${name(object)}`),
    onInitialList: () => seen.push('listed'),
  });
  await eventually(() => seen.includes('listed'), 'the initial list');
  t.deepEqual(seen.sort(), ['listed', 'upsert apps/shop', 'upsert blog/blog'].sort());
  t.is(seen.filter((entry) => entry === 'listed').length, 1);
  seen.length = 0;
  sandbox.store.put(INGRESSES, ingress('docs', 'docs'));
  sandbox.store.delete({ ...INGRESSES, namespace: 'apps', name: 'shop' });
  await eventually(() => seen.length === 2, 'the watch events');
  t.deepEqual(seen, ['upsert docs/docs', 'delete apps/shop']);
  t.deepEqual(watch.list().map(name).sort(), ['blog/blog', 'docs/docs']);
});

test('a refused list is retried after 1 s, then 2 s, on the clock', async (t) => {
  const sandbox = await startSandboxApi({ logger: silentLogger(), seed: false });
  t.teardown(() => sandbox.close());
  const kube = kubeClientOf(sandboxKubeconfig({ server: sandbox.url, caPem: sandbox.caPem, token: 'not-the-token' }), t);
  const clock = new SimulatedClock();
  const watch = new IngressWatch({ kube, clock, logger: silentLogger() });
  t.teardown(() => watch.stop());
  let isListed = false;
  watch.start({ onUpsert: () => {}, onDelete: () => {}, onInitialList: () => (isListed = true) });
  await eventually(() => clock.pendingDelays().includes(1_000), 'the first restart wait');
  clock.advance(1_000);
  await eventually(() => clock.pendingDelays().includes(2_000), 'the second restart wait');
  t.false(isListed);
  await watch.stop();
  t.is(clock.pendingTimers, 0, 'stop cancels the restart');
});
