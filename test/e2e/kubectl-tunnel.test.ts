// The real kubectl through the local control plane and the agent to the sandbox API: get, create, apply
// (twice, the second a patch), delete, and a 2 MB list that must arrive byte for byte.

import test, { type ExecutionContext } from 'ava';
import https from 'node:https';
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/log.js';
import { startControlPlane } from '../../src/local/control-plane/control-plane-server.js';
import { startSandboxApi, type SandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import { loopbackTlsFor } from '../../src/local/tls/local-ca.js';
import { kubectl } from '../helpers/kubectl.js';
import { testConfig } from '../helpers/agent-config.js';
import { failOnFault } from '../helpers/agent-harness.js';

interface Stack {
  readonly sandbox: SandboxApi;
  readonly kubeconfig: string;
  readonly directKubeconfig: string;
  readonly clusterUrl: string;
  readonly planeCa: string | undefined;
}

async function startStack(t: ExecutionContext, workers: number, isTls: boolean): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-tunnel-'));
  const sandbox = await startSandboxApi({ logger: silentLogger() });
  t.teardown(() => sandbox.close());
  const directKubeconfig = join(dir, 'sandbox-kubeconfig');
  await sandbox.writeKubeconfig(directKubeconfig);
  const tls = isTls ? loopbackTlsFor('control-plane') : undefined;
  const plane = await startControlPlane({
    agentToken: 'demo-agent-token',
    logger: silentLogger(),
    ...(tls === undefined ? {} : { tls: { keyPem: tls.server.keyPem, certPem: tls.server.certPem, caPem: tls.caPem } }),
  });
  t.teardown(() => plane.close());
  let caFile: string | undefined;
  if (tls !== undefined) {
    caFile = join(dir, 'control-plane-ca.pem');
    writeFileSync(caFile, tls.caPem);
  }
  const agent = await Agent.start({
    config: testConfig({
      apiUrl: plane.url,
      token: 'demo-agent-token',
      kubeconfig: directKubeconfig,
      workers,
      clusterName: 'e2e',
      ...(caFile === undefined ? {} : { caFile }),
    }),
    logger: silentLogger(),
    onFault: failOnFault(t),
  });
  t.teardown(() => agent.stop());
  await plane.waitForCluster('e2e', 20_000);
  const kubeconfig = join(dir, 'kubeconfig');
  await plane.writeKubeconfig(kubeconfig, 'e2e');
  return { sandbox, kubeconfig, directKubeconfig, clusterUrl: plane.clusterUrl('e2e'), planeCa: tls?.caPem };
}

function fetchBytes(url: string, options: { token?: string; ca?: string | undefined }): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const client = target.protocol === 'https:' ? https : http;
    const request = client.request(
      target,
      {
        headers: { Accept: 'application/json', ...(options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` }) },
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end();
  });
}

const CONFIGMAP = (value: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: e2e-settings
  namespace: default
  labels:
    app: e2e
data:
  mode: "${value}"
`;

async function exercise(t: ExecutionContext, stack: Stack): Promise<void> {
  const run = (args: string[], input?: string) =>
    kubectl(args, { kubeconfig: stack.kubeconfig, timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });

  const namespaces = await run(['get', 'ns', '-o', 'name']);
  t.is(namespaces.code, 0, namespaces.stderr);
  for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) t.true(namespaces.stdout.includes(`namespace/${name}`));

  const pods = await run(['get', 'pods', '-A', '-o', 'json']);
  t.is(pods.code, 0, pods.stderr);
  const podList = JSON.parse(pods.stdout) as { items: { metadata: { name: string; namespace: string } }[] };
  t.true(podList.items.length > 0);
  const direct = await kubectl(['get', 'pods', '-A', '-o', 'json'], { kubeconfig: stack.directKubeconfig });
  t.is(pods.stdout, direct.stdout, 'the tunnel shows what the API server holds');

  const created = await run(['create', '-f', '-'], CONFIGMAP('one'));
  t.is(created.code, 0, created.stderr);
  t.is(created.stdout.trim(), 'configmap/e2e-settings created');

  const firstApply = await run(['apply', '-f', '-'], CONFIGMAP('one'));
  t.is(firstApply.code, 0, firstApply.stderr);
  const before = JSON.parse((await run(['get', 'cm', 'e2e-settings', '-o', 'json'])).stdout) as { metadata: { resourceVersion: string } };
  const secondApply = await run(['apply', '-f', '-'], CONFIGMAP('two'));
  t.is(secondApply.code, 0, secondApply.stderr);
  t.is(secondApply.stdout.trim(), 'configmap/e2e-settings configured');
  const after = JSON.parse((await run(['get', 'cm', 'e2e-settings', '-o', 'json'])).stdout) as {
    data: Record<string, string>;
    metadata: { resourceVersion: string; annotations: Record<string, string> };
  };
  t.is(after.data['mode'], 'two');
  t.not(after.metadata.resourceVersion, before.metadata.resourceVersion);
  t.true('kubectl.kubernetes.io/last-applied-configuration' in after.metadata.annotations);

  const listed = await run(['get', 'cm', '-l', 'app=e2e', '-o', 'name']);
  t.is(listed.stdout.trim(), 'configmap/e2e-settings');
  const deleted = await run(['delete', 'cm', 'e2e-settings']);
  t.is(deleted.code, 0, deleted.stderr);
  const gone = await run(['get', 'cm', 'e2e-settings']);
  t.is(gone.code, 1);
  t.is(gone.stderr.trim(), 'Error from server (NotFound): configmaps "e2e-settings" not found');

  // a ~2 MB list: through the tunnel it must be byte-identical to a direct call
  const namespace = await run(['create', '-f', '-'], 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bulk\n');
  t.is(namespace.code, 0, namespace.stderr);
  for (let i = 0; i < 4; i++) {
    const value = `${i}`.repeat(520 * 1024);
    const file = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bulk-${i}\n  namespace: bulk\ndata:\n  blob: "${value}"\n`;
    const made = await run(['create', '-f', '-'], file);
    t.is(made.code, 0, made.stderr);
  }
  const path = '/api/v1/namespaces/bulk/configmaps';
  const viaTunnel = await fetchBytes(`${stack.clusterUrl}${path}`, { ca: stack.planeCa });
  const viaApi = await fetchBytes(`${stack.sandbox.url}${path}`, { token: stack.sandbox.token, ca: stack.sandbox.caPem });
  t.is(viaTunnel.status, 200);
  t.true(viaApi.body.length > 2 * 1024 * 1024);
  t.true(viaTunnel.body.equals(viaApi.body), 'byte-identical list');
  const bulk = await run(['get', 'cm', '-n', 'bulk', '-o', 'json']);
  const bulkDirect = await kubectl(['get', 'cm', '-n', 'bulk', '-o', 'json'], { kubeconfig: stack.directKubeconfig });
  t.is(bulk.stdout, bulkDirect.stdout);
}

for (const workers of [0, 2]) {
  test(`kubectl get/create/apply/delete through the tunnel (AGENT_WORKERS=${workers})`, async (t) => {
    await exercise(t, await startStack(t, workers, false));
  });
}

test('kubectl through the tunnel with the control plane on wss and its own CA (pipeops.tls.ca_file)', async (t) => {
  await exercise(t, await startStack(t, 2, true));
});
