// The whole demo stack for end-to-end tests: the sandbox Kubernetes API, the local control plane and a
// real agent between them, with a kubeconfig that reaches the sandbox through all three. Everything
// listens on 127.0.0.1 port 0 and is stopped in teardown.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/log.js';
import { startControlPlane, type ControlPlane } from '../../src/local/control-plane/control-plane-server.js';
import { startSandboxApi, type SandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import { loopbackTlsFor } from '../../src/local/tls/local-ca.js';
import { testConfig } from './agent-config.js';

export interface DemoStack {
  readonly sandbox: SandboxApi;
  readonly plane: ControlPlane;
  /** a scratch directory removed in teardown */
  readonly dir: string;
  /** kubeconfig for the cluster behind the control plane */
  readonly kubeconfig: string;
  /** PEM of the CA that signed the control plane's certificate (it serves https, as the demo does) */
  readonly planeCaPem: string;
}

export const DEMO_CLUSTER = 'e2e';

export async function startDemoStack(t: ExecutionContext): Promise<DemoStack> {
  const dir = await mkdtemp(join(tmpdir(), 'e2e-demo-stack-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const sandbox = await startSandboxApi({ port: 0, logger: silentLogger() });
  t.teardown(() => sandbox.close());
  const directKubeconfig = join(dir, 'sandbox-kubeconfig');
  await sandbox.writeKubeconfig(directKubeconfig);
  const tls = loopbackTlsFor('control-plane');
  const plane = await startControlPlane({
    agentToken: 'demo-agent-token',
    logger: silentLogger(),
    tls: { keyPem: tls.server.keyPem, certPem: tls.server.certPem, caPem: tls.caPem },
  });
  t.teardown(() => plane.close());
  const caFile = join(dir, 'control-plane-ca.pem');
  await writeFile(caFile, tls.caPem);
  const agent = await Agent.start({
    // the installed agent's default dispatch (small requests inline, large ones on workers)
    config: testConfig({ apiUrl: plane.url, token: 'demo-agent-token', kubeconfig: directKubeconfig, clusterName: DEMO_CLUSTER, caFile, dispatch: 'auto' }),
    logger: silentLogger(),
  });
  t.teardown(() => agent.stop());
  await plane.waitForCluster(DEMO_CLUSTER, 20_000);
  const kubeconfig = join(dir, 'kubeconfig');
  await plane.writeKubeconfig(kubeconfig, DEMO_CLUSTER);
  return { sandbox, plane, dir, kubeconfig, planeCaPem: tls.caPem };
}
