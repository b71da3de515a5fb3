// `kubectl get --raw /healthz` (and /livez, /readyz), one of the first things a new user types, against
// the demo: kubectl replaces the server's whole path with the raw one, so the request reaches the local
// control plane's root, which hands it to its one connected cluster; the sandbox answers like kube-apiserver.

import test from 'ava';
import { kubectl } from '../helpers/kubectl.js';
import { startDemoStack } from '../helpers/demo-stack.js';

test('kubectl get --raw /healthz, /livez and /readyz answer ok through the control plane and the agent', async (t) => {
  const stack = await startDemoStack(t);
  for (const path of ['/healthz', '/livez', '/readyz']) {
    const result = await kubectl(['get', '--raw', path], { kubeconfig: stack.kubeconfig, env: { HOME: stack.dir } });
    t.is(result.code, 0, `${path}: ${result.stderr}`);
    t.is(result.stdout.trim(), 'ok', path);
  }
  const unknown = await kubectl(['get', '--raw', '/no-such-path'], { kubeconfig: stack.kubeconfig, env: { HOME: stack.dir } });
  t.not(unknown.code, 0, 'other root paths stay unknown');
});
