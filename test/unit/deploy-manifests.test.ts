// deploy/ as `kubectl kustomize` renders it (the real kubectl; no cluster needed): the Deployment's probes,
// security context, resources and token mount, a pinned image, least-privilege RBAC, the PDB, and that
// the example overlay and the control-plane-access component still render.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { parseAllDocuments } from 'yaml';
import { kubectl } from '../helpers/kubectl.js';
import { DEFAULT_DRAIN_TIMEOUT_MS } from '../../src/config/env-spec.js';

// dist/test/unit/ → repo root.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BASE = join(ROOT, 'deploy', 'base');

type Json = Record<string, unknown>;

interface Rule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

async function render(t: ExecutionContext, path: string): Promise<Json[]> {
  const dir = await mkdtemp(join(tmpdir(), 'deploy-manifests-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // a kubeconfig that points nowhere: rendering must not need a cluster
  const result = await kubectl(['kustomize', path], { kubeconfig: join(dir, 'absent'), env: { HOME: dir } });
  t.is(result.stderr, '');
  t.is(result.code, 0);
  return parseAllDocuments(result.stdout).map((doc) => doc.toJS() as Json);
}

function meta(object: Json): { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> } {
  return object['metadata'] as { name: string; namespace?: string };
}

function find(objects: readonly Json[], kind: string, name: string): Json {
  const found = objects.find((object) => object['kind'] === kind && meta(object).name === name);
  if (found === undefined) throw new Error(`${kind}/${name} not rendered`);
  return found;
}

function at(value: unknown, ...path: (string | number)[]): unknown {
  let current = value;
  for (const key of path) current = (current as Record<string | number, unknown> | undefined)?.[key];
  return current;
}

test('deploy/base renders the agent objects, and no Secret (the token never lives in the base)', async (t) => {
  const objects = await render(t, BASE);
  t.deepEqual(
    objects.map((object) => `${String(object['kind'])}/${meta(object).namespace ?? ''}/${meta(object).name}`).sort(),
    [
      'ClusterRole//pipeops-agent',
      'ClusterRoleBinding//pipeops-agent',
      'ConfigMap/pipeops-system/pipeops-agent-config',
      'Deployment/pipeops-system/pipeops-agent',
      'Namespace//pipeops-monitoring',
      'Namespace//pipeops-system',
      'PodDisruptionBudget/pipeops-system/pipeops-agent',
      'Role/pipeops-monitoring/pipeops-agent-monitoring',
      'Role/pipeops-system/pipeops-agent-state',
      'RoleBinding/pipeops-monitoring/pipeops-agent-monitoring',
      'RoleBinding/pipeops-system/pipeops-agent-state',
      'Service/pipeops-system/pipeops-agent',
      'ServiceAccount/pipeops-system/pipeops-agent',
    ],
  );
});

test('the Deployment: probes on /health and /ready, port 8080 named http, one replica, graceful stop', async (t) => {
  const deployment = find(await render(t, BASE), 'Deployment', 'pipeops-agent');
  t.is(at(deployment, 'spec', 'replicas'), 1);
  const pod = at(deployment, 'spec', 'template', 'spec') as Json;
  const containers = pod['containers'] as Json[];
  t.is(containers.length, 1);
  const container = containers[0] as Json;
  t.deepEqual(container['ports'], [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
  t.deepEqual(at(container, 'livenessProbe', 'httpGet'), { path: '/health', port: 'http' });
  t.deepEqual(at(container, 'readinessProbe', 'httpGet'), { path: '/ready', port: 'http' });
  // §7.7: the grace period covers the default drain limit plus the 5 s close
  t.true(Number(pod['terminationGracePeriodSeconds']) * 1000 > DEFAULT_DRAIN_TIMEOUT_MS + 5_000);
  t.is(pod['serviceAccountName'], 'pipeops-agent');
  t.is(pod['enableServiceLinks'], false);
});

test('the Deployment runs the image the Dockerfile builds, as its user, with its CMD', async (t) => {
  const container = at(find(await render(t, BASE), 'Deployment', 'pipeops-agent'), 'spec', 'template', 'spec', 'containers', 0) as Json;
  const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
  // node:*-slim's user `node` is uid 1000; runAsNonRoot needs the number to verify it
  t.regex(dockerfile, /^USER node$/m);
  t.regex(dockerfile, /^EXPOSE 8080$/m);
  t.regex(dockerfile, /^CMD \["node", "dist\/src\/cli\.js", "run"\]$/m);
  // `args` would replace that CMD, and `command` the entrypoint
  t.is(container['command'], undefined);
  t.is(container['args'], undefined);
});

test('the Deployment runs as non-root on a read-only root with no capabilities and the runtime seccomp profile', async (t) => {
  const deployment = find(await render(t, BASE), 'Deployment', 'pipeops-agent');
  const pod = at(deployment, 'spec', 'template', 'spec') as Json;
  t.like(pod['securityContext'] as Json, { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
  const container = (pod['containers'] as Json[])[0] as Json;
  t.deepEqual(container['securityContext'], {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    privileged: false,
    capabilities: { drop: ['ALL'] },
  });
  const resources = container['resources'] as { requests: Json; limits: Json };
  t.truthy(resources.requests['cpu']);
  t.truthy(resources.requests['memory']);
  t.truthy(resources.limits['cpu']);
  t.truthy(resources.limits['memory']);
});

test('the token comes from the Secret mounted as a file; the namespace from the downward API', async (t) => {
  const objects = await render(t, BASE);
  const pod = at(find(objects, 'Deployment', 'pipeops-agent'), 'spec', 'template', 'spec') as Json;
  const container = (pod['containers'] as Json[])[0] as Json;
  const env = container['env'] as Json[];
  t.deepEqual(env.find((entry) => entry['name'] === 'PIPEOPS_TOKEN_FILE'), { name: 'PIPEOPS_TOKEN_FILE', value: '/var/run/secrets/pipeops/token' });
  t.deepEqual(env.find((entry) => entry['name'] === 'PIPEOPS_POD_NAMESPACE'), {
    name: 'PIPEOPS_POD_NAMESPACE',
    valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } },
  });
  t.false(env.some((entry) => entry['name'] === 'PIPEOPS_TOKEN'));
  t.deepEqual(container['envFrom'], [{ configMapRef: { name: 'pipeops-agent-config' } }]);
  const mount = (container['volumeMounts'] as Json[]).find((entry) => entry['name'] === 'token');
  t.like(mount as Json, { mountPath: '/var/run/secrets/pipeops', readOnly: true });
  const volume = (pod['volumes'] as Json[]).find((entry) => entry['name'] === 'token');
  t.like(at(volume, 'secret') as Json, { secretName: 'pipeops-agent-token', items: [{ key: 'token', path: 'token' }] });

  const settings = find(objects, 'ConfigMap', 'pipeops-agent-config')['data'] as Record<string, string>;
  t.is(settings['ENABLE_GATEWAY_PROXY'], 'false');
  t.is(settings['PIPEOPS_API_URL'], 'https://api.pipeops.io');
  t.is(settings['AGENT_WORKERS'], '2');
  t.false(Object.keys(settings).some((key) => /TOKEN/.test(key)));
});

test('every image is pinned to a version: no :latest and no bare name', async (t) => {
  for (const path of [BASE, join(ROOT, 'deploy', 'overlays', 'example')]) {
    const objects = await render(t, path);
    const images = objects.flatMap((object) => ((at(object, 'spec', 'template', 'spec', 'containers') ?? []) as Json[]).map((c) => String(c['image'])));
    t.deepEqual(images, ['ghcr.io/pipeops/pipeops-agent:0.1.0']);
    for (const image of images) {
      t.false(image.endsWith(':latest'), image);
      t.regex(image, /:[0-9]+\.[0-9]+\.[0-9]+/);
    }
  }
});

test('RBAC is read-only except the pinned state objects, session subresources and access reviews', async (t) => {
  const objects = await render(t, BASE);
  const rulesOf = (kind: string, name: string): Rule[] => find(objects, kind, name)['rules'] as Rule[];
  const all = [
    ...rulesOf('ClusterRole', 'pipeops-agent'),
    ...rulesOf('Role', 'pipeops-agent-state'),
    ...rulesOf('Role', 'pipeops-agent-monitoring'),
  ];
  for (const rule of all) {
    t.false([...rule.apiGroups, ...rule.resources, ...rule.verbs].includes('*'), JSON.stringify(rule));
    t.false(rule.verbs.some((verb) => ['delete', 'deletecollection', 'escalate', 'bind', 'impersonate'].includes(verb)), JSON.stringify(rule));
  }
  // cluster-wide: reads, plus create only on the session subresources and SelfSubjectAccessReviews
  for (const rule of rulesOf('ClusterRole', 'pipeops-agent')) {
    const writes = rule.verbs.filter((verb) => !['get', 'list', 'watch'].includes(verb));
    if (writes.length === 0) continue;
    t.deepEqual(writes, ['create'], JSON.stringify(rule));
    t.true(rule.resources.every((resource) => ['pods/exec', 'pods/attach', 'pods/portforward', 'selfsubjectaccessreviews'].includes(resource)), JSON.stringify(rule));
  }
  t.true(rulesOf('ClusterRole', 'pipeops-agent').some((rule) => ['pods/exec', 'pods/attach', 'pods/portforward'].every((resource) => rule.resources.includes(resource)) && rule.verbs.includes('create')));
  // Secrets: never in the ClusterRole; in Roles only by name, except create (which RBAC cannot pin)
  t.false(rulesOf('ClusterRole', 'pipeops-agent').some((rule) => rule.resources.includes('secrets')));
  for (const rule of all.filter((r) => r.resources.includes('secrets'))) {
    if (rule.verbs.length === 1 && rule.verbs[0] === 'create') continue;
    t.true((rule.resourceNames ?? []).length > 0, JSON.stringify(rule));
  }
  t.deepEqual(rulesOf('Role', 'pipeops-agent-monitoring'), [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['kube-prometheus-stack-grafana'], verbs: ['get'] }]);
  // every binding names the agent's service account and nothing else
  for (const binding of objects.filter((object) => String(object['kind']).endsWith('Binding'))) {
    t.deepEqual(binding['subjects'], [{ kind: 'ServiceAccount', name: 'pipeops-agent', namespace: 'pipeops-system' }]);
  }
});

test('the PodDisruptionBudget uses maxUnavailable 1, so a single replica can still be drained', async (t) => {
  const objects = await render(t, BASE);
  const pdb = find(objects, 'PodDisruptionBudget', 'pipeops-agent');
  t.is(pdb['apiVersion'], 'policy/v1');
  t.deepEqual(pdb['spec'], {
    maxUnavailable: 1,
    selector: { matchLabels: { 'app.kubernetes.io/name': 'pipeops-agent', 'app.kubernetes.io/component': 'agent' } },
  });
  const podLabels = at(find(objects, 'Deployment', 'pipeops-agent'), 'spec', 'template', 'metadata', 'labels') as Json;
  t.like(podLabels, at(pdb, 'spec', 'selector', 'matchLabels') as Json);
});

test('the metrics Service exposes port http (8080) with Prometheus scrape annotations', async (t) => {
  const service = find(await render(t, BASE), 'Service', 'pipeops-agent');
  t.deepEqual(at(service, 'spec', 'ports'), [{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }]);
  t.deepEqual(meta(service).annotations, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics' });
});

test('the example overlay adds the token Secret and merges settings without moving the monitoring Role', async (t) => {
  const objects = await render(t, join(ROOT, 'deploy', 'overlays', 'example'));
  const secret = find(objects, 'Secret', 'pipeops-agent-token');
  t.is(meta(secret).namespace, 'pipeops-system');
  t.deepEqual(Object.keys(secret['data'] as Json), ['token']);
  const settings = find(objects, 'ConfigMap', 'pipeops-agent-config')['data'] as Record<string, string>;
  t.like(settings, { PIPEOPS_CLUSTER_NAME: 'my-cluster', AGENT_WORKERS: '4', ENABLE_GATEWAY_PROXY: 'false', LOG_LEVEL: 'info' });
  t.is(meta(find(objects, 'Role', 'pipeops-agent-monitoring')).namespace, 'pipeops-monitoring');
  const container = (at(find(objects, 'Deployment', 'pipeops-agent'), 'spec', 'template', 'spec', 'containers') as Json[])[0];
  t.is(at(container, 'resources', 'limits', 'cpu'), '4');
});

test('the control-plane-access component renders on top of the base', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'deploy-component-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // kustomize only accepts relative paths to bases and components
  await writeFile(
    join(dir, 'kustomization.yaml'),
    `resources:\n- ${relative(dir, BASE)}\ncomponents:\n- ${relative(dir, join(ROOT, 'deploy', 'components', 'control-plane-access'))}\n`,
  );
  const objects = await render(t, dir);
  t.like(find(objects, 'ClusterRoleBinding', 'pipeops-control-plane'), { roleRef: { kind: 'ClusterRole', name: 'cluster-admin' } });
  const env = at(find(objects, 'Deployment', 'pipeops-agent'), 'spec', 'template', 'spec', 'containers', 0, 'env') as Json[];
  t.like(env.find((entry) => entry['name'] === 'PIPEOPS_K8S_SERVICE_TOKEN') as Json, {
    valueFrom: { secretKeyRef: { name: 'pipeops-control-plane-token', key: 'token', optional: true } },
  });
  // the agent's own account gains nothing
  t.deepEqual(
    find(objects, 'ClusterRoleBinding', 'pipeops-agent')['subjects'],
    [{ kind: 'ServiceAccount', name: 'pipeops-agent', namespace: 'pipeops-system' }],
  );
});

const CONTROL_PLANE_ACCESS = ['ServiceAccount/pipeops-control-plane', 'Secret/pipeops-control-plane-token', 'ClusterRoleBinding/pipeops-control-plane'];

function kindNames(objects: readonly Json[]): string[] {
  return objects.map((object) => `${String(object['kind'])}/${meta(object).name}`);
}

test('the example overlay gives the control plane its access by default; least-privilege is the same without it', async (t) => {
  const example = await render(t, join(ROOT, 'deploy', 'overlays', 'example'));
  const leastPrivilege = await render(t, join(ROOT, 'deploy', 'overlays', 'least-privilege'));
  for (const name of CONTROL_PLANE_ACCESS) t.true(kindNames(example).includes(name), name);
  t.like(find(example, 'ClusterRoleBinding', 'pipeops-control-plane'), { roleRef: { name: 'cluster-admin' } });
  const tokenEnv = (objects: readonly Json[]) =>
    (at(find(objects, 'Deployment', 'pipeops-agent'), 'spec', 'template', 'spec', 'containers', 0, 'env') as Json[]).find((entry) => entry['name'] === 'PIPEOPS_K8S_SERVICE_TOKEN');
  t.like(tokenEnv(example) as Json, { valueFrom: { secretKeyRef: { name: 'pipeops-control-plane-token', key: 'token' } } });

  t.deepEqual(kindNames(leastPrivilege).filter((name) => CONTROL_PLANE_ACCESS.includes(name)), []);
  t.is(tokenEnv(leastPrivilege), undefined);
  t.deepEqual(kindNames(leastPrivilege).sort(), kindNames(example).filter((name) => !CONTROL_PLANE_ACCESS.includes(name)).sort());
  // nothing in the least-privilege install is bound to cluster-admin
  t.false(leastPrivilege.some((object) => (object['roleRef'] as Json | undefined)?.['name'] === 'cluster-admin'));
});
