// The real kubectl against the sandbox's Gateway API kinds (gateway.networking.k8s.io Gateway v1,
// TCPRoute/UDPRoute v1alpha2): discovery, apply (create, then a JSON merge patch as for any CRD), get as
// tables, a strategic merge patch refused with 415 as kube-apiserver refuses it for custom resources,
// and delete.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { startSandboxApi, type SandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import { kubectl, type KubectlResult } from '../helpers/kubectl.js';

async function sandbox(t: ExecutionContext): Promise<{ api: SandboxApi; run: (args: readonly string[], input?: string) => Promise<KubectlResult> }> {
  const api = await startSandboxApi({ port: 0 });
  t.teardown(() => api.close());
  const dir = await mkdtemp(join(tmpdir(), 'sandbox-gateway-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
  const run = (args: readonly string[], input?: string): Promise<KubectlResult> =>
    kubectl(args, { kubeconfig, env: { HOME: dir }, ...(input === undefined ? {} : { input }) });
  return { api, run };
}

function rows(stdout: string): string[][] {
  return stdout.trim().split('\n').map((line) => line.trim().split(/\s{2,}/));
}

export const POSTGRES_YAML = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: databases
  namespace: default
  labels:
    pipeops.io/managed: "true"
spec:
  gatewayClassName: pipeops
  listeners:
  - name: postgres
    protocol: TCP
    port: 5432
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: postgres
  namespace: default
spec:
  parentRefs:
  - name: databases
    sectionName: postgres
  rules:
  - backendRefs:
    - name: postgres
      port: 5432
`;

test('kubectl apply creates a Gateway and a TCPRoute, get lists them with the CRD columns, apply again merge-patches', async (t) => {
  const { api, run } = await sandbox(t);
  const resources = await run(['api-resources', '--api-group=gateway.networking.k8s.io']);
  t.is(resources.code, 0, resources.stderr);
  const names = rows(resources.stdout).slice(1).map((row) => row[0]);
  t.deepEqual(names, ['gateways', 'tcproutes', 'udproutes']);

  const created = await run(['apply', '-f', '-'], POSTGRES_YAML);
  t.is(created.code, 0, created.stderr);
  t.is(created.stdout, 'gateway.gateway.networking.k8s.io/databases created\ntcproute.gateway.networking.k8s.io/postgres created\n');

  const listed = await run(['get', 'gateways,tcproutes']);
  t.is(listed.code, 0, listed.stderr);
  const table = rows(listed.stdout);
  t.deepEqual(table[0], ['NAME', 'CLASS', 'ADDRESS', 'PROGRAMMED', 'AGE']);
  t.is(table[1]?.[0], 'gateway.gateway.networking.k8s.io/databases');
  t.is(table[1]?.[1], 'pipeops');
  t.true(table.some((row) => row[0] === 'tcproute.gateway.networking.k8s.io/postgres'), listed.stdout);

  // A changed port: kubectl computes a JSON merge patch (a CRD has no strategic merge metadata).
  const changed = await run(['apply', '-f', '-'], POSTGRES_YAML.replace(/port: 5432\n$/, 'port: 6543\n'));
  t.is(changed.code, 0, changed.stderr);
  t.regex(changed.stdout, /tcproute.gateway.networking.k8s.io\/postgres configured/);
  const route = api.store.get({ group: 'gateway.networking.k8s.io', version: 'v1alpha2', resource: 'tcproutes', namespace: 'default', name: 'postgres' });
  t.deepEqual((route?.['spec'] as { rules: unknown[] }).rules, [{ backendRefs: [{ name: 'postgres', port: 6543 }] }]);
  t.is((route?.['metadata'] as { generation: number }).generation, 2);

  const json = await run(['get', 'gateway', 'databases', '-o', 'jsonpath={.spec.listeners[0].port}']);
  t.is(json.stdout, '5432');
});

test('a strategic merge patch of a Gateway is refused with 415 as for any custom resource; merge patch and delete work', async (t) => {
  const { run } = await sandbox(t);
  t.is((await run(['apply', '-f', '-'], POSTGRES_YAML)).code, 0);
  const strategic = await run(['patch', 'gateway', 'databases', '--type=strategic', '-p', '{"spec":{"gatewayClassName":"other"}}']);
  t.not(strategic.code, 0);
  t.regex(strategic.stderr, /the body of the request was in an unknown format - accepted media types include: application\/json-patch\+json, application\/merge-patch\+json, application\/apply-patch\+yaml/);
  const merge = await run(['patch', 'gateway', 'databases', '--type=merge', '-p', '{"spec":{"gatewayClassName":"other"}}']);
  t.is(merge.code, 0, merge.stderr);
  t.is((await run(['get', 'gtw', 'databases', '-o', 'jsonpath={.spec.gatewayClassName}'])).stdout, 'other');
  const deleted = await run(['delete', 'tcproute', 'postgres']);
  t.is(deleted.code, 0, deleted.stderr);
  t.is(deleted.stdout, 'tcproute.gateway.networking.k8s.io "postgres" deleted\n');
  const missing = await run(['get', 'tcproutes']);
  t.is(missing.stderr.trim(), 'No resources found in default namespace.');
});
