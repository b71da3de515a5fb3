// The local control plane survives its own restart (issue: robustness, item 9): its cluster registry is kept
// in a file beside the kubeconfig, so an agent that resumes without registering is reachable again under its
// cluster name, on the controller and on the gateway.

import test from 'ava';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/log.js';
import { MemoryStateStore } from '../../src/link/link-state.js';
import { REGISTRY_FILE_NAME } from '../../src/local/control-plane/command.js';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../src/local/control-plane/control-plane-server.js';
import { testConfig } from '../helpers/agent-config.js';
import { FakeKubeApi } from '../helpers/fake-kube-api.js';

const CLUSTER = 'restart-lab';

async function getThrough(plane: ControlPlane): Promise<{ status: number; body: string }> {
  const response = await fetch(`${plane.clusterUrl(CLUSTER)}/api/v1/namespaces/default/pods`);
  return { status: response.status, body: await response.text() };
}

for (const isGateway of [false, true]) {
  test(`a restarted control plane knows the resumed agent under its cluster name (${isGateway ? 'gateway' : 'controller'})`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'cp-restart-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const kubeconfig = join(dir, 'kubeconfig');
    const options: ControlPlaneOptions = { gateway: isGateway, registryFile: join(dir, REGISTRY_FILE_NAME), logger: silentLogger() };
    const kube = await FakeKubeApi.start();
    t.teardown(() => kube.close());
    let plane = await startControlPlane(options);
    const port = Number(new URL(plane.url).port);
    await plane.writeKubeconfig(kubeconfig, CLUSTER);
    t.teardown(() => plane.close());
    const agent = await Agent.start({
      config: testConfig({ apiUrl: plane.url, kubeconfig: kube.kubeconfigPath, clusterName: CLUSTER, serviceToken: 'sa-token-restart' }),
      logger: silentLogger(),
      random: () => 0,
      stateStore: new MemoryStateStore(),
    });
    t.teardown(() => agent.stop());
    const registered = await plane.waitForCluster(CLUSTER, 20_000);
    t.is((await getThrough(plane)).status, 200);

    await plane.close();
    plane = await startControlPlane({ ...options, port });
    const resumed = await plane.waitForCluster(CLUSTER, 20_000);
    t.is(resumed.registrations, 0, 'the agent resumed without registering');
    t.is(resumed.clusterId, registered.clusterId);
    t.is(resumed.clusterUuid, registered.clusterUuid);
    const answer = await getThrough(plane);
    t.is(answer.status, 200, answer.body);
    const relayed = kube.proxied().at(-1);
    t.is(relayed?.headers.authorization, 'Bearer sa-token-restart', 'the registered cluster token is used after the restart');
    t.is((await stat(join(dir, REGISTRY_FILE_NAME))).mode & 0o777, 0o600);
    t.false((await readFile(join(dir, REGISTRY_FILE_NAME), 'utf8')).includes('k8s_service_token'));
  });
}

test('without a registry file, a restarted control plane tells the resuming agent its cluster is unknown, and it registers again', async (t) => {
  const kube = await FakeKubeApi.start();
  t.teardown(() => kube.close());
  let plane = await startControlPlane({ logger: silentLogger() });
  const port = Number(new URL(plane.url).port);
  t.teardown(() => plane.close());
  const agent = await Agent.start({
    config: testConfig({ apiUrl: plane.url, kubeconfig: kube.kubeconfigPath, clusterName: CLUSTER }),
    logger: silentLogger(),
    random: () => 0,
    stateStore: new MemoryStateStore(),
  });
  t.teardown(() => agent.stop());
  await plane.waitForCluster(CLUSTER, 20_000);
  await plane.close();
  plane = await startControlPlane({ port, logger: silentLogger() });
  const info = await plane.waitForCluster(CLUSTER, 20_000);
  t.is(info.registrations, 1, 'registered afresh after "cluster not found"');
  t.is((await getThrough(plane)).status, 200);
});
