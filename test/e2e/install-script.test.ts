// scripts/install.sh and scripts/uninstall.sh against the sandbox Kubernetes API, driven and checked with
// the real kubectl (CLUSTER.md §6, issue 6 acceptance): the first run creates every object of deploy/base
// plus the token Secret, a second run changes nothing, --dry-run prints and creates nothing, bad input
// exits 2 naming the variable, the gateway proxy stays off unless asked for, and uninstall removes
// what install created, including the control-plane access the default install adds. PATH has no helm, so
// the monitoring part prints its commands instead. The piped form and the rest of issue 13:
// install-piped.test.ts; the shared set-up: test/helpers/install-cluster.ts.

import test from 'ava';
import { parseAllDocuments } from 'yaml';
import {
  CLUSTER_NAME,
  CONTROL_PLANE_ACCESS,
  INPUTS,
  INSTALL,
  TOKEN,
  TOKEN_SECRET,
  UNINSTALL,
  applyLines,
  baseObjects,
  cluster,
  configMapData,
  getObject,
  keyOf,
  present,
  resourceVersions,
} from '../helpers/install-cluster.js';

test('the first run creates every object of deploy/base and the token Secret holds the token', async (t) => {
  const c = await cluster(t);
  const { refs } = await baseObjects(c);
  const result = await c.script(INSTALL, [], INPUTS);
  t.is(result.code, 0, result.stderr);

  const all = [...refs, TOKEN_SECRET, ...CONTROL_PLANE_ACCESS];
  t.deepEqual(await present(c, all), all.map(keyOf));
  t.is(applyLines(result.stdout).length, all.length);
  t.true(applyLines(result.stdout).every((line) => line.endsWith(' created')), result.stdout);

  const secret = await getObject(c, TOKEN_SECRET);
  const data = secret?.['data'] as Record<string, string>;
  t.deepEqual(Object.keys(data), ['token']);
  t.is(Buffer.from(data['token'] ?? '', 'base64').toString('utf8'), TOKEN);

  const settings = await configMapData(c);
  t.is(settings['PIPEOPS_CLUSTER_NAME'], CLUSTER_NAME);
  t.is(settings['PIPEOPS_API_URL'], 'https://api.pipeops.io');
  t.false(Object.values(settings).some((value) => value.includes(TOKEN)));

  // the Deployment mounts that Secret and reads the token from the file
  const deployment = await getObject(c, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'pipeops-agent', namespace: 'pipeops-system' });
  t.regex(JSON.stringify(deployment), /"secretName":"pipeops-agent-token"/);
  t.regex(JSON.stringify(deployment), /"name":"PIPEOPS_TOKEN_FILE","value":"\/var\/run\/secrets\/pipeops\/token"/);

  // the token never shows in the script's output; the missing helm does, with the commands to run later
  t.false(result.stdout.includes(TOKEN) || result.stderr.includes(TOKEN));
  t.regex(result.stderr, /helm not found on PATH/);
  t.regex(result.stderr, /helm upgrade --install kube-prometheus-stack prometheus-community\/kube-prometheus-stack/);
  t.regex(result.stderr, /helm upgrade --install loki grafana\/loki/);
  t.regex(result.stderr, /--namespace pipeops-monitoring/);
});

test('a second run changes nothing: no resourceVersion moves and kubectl reports the objects unchanged', async (t) => {
  const c = await cluster(t);
  const { refs } = await baseObjects(c);
  const all = [...refs, TOKEN_SECRET, ...CONTROL_PLANE_ACCESS];
  t.is((await c.script(INSTALL, [], INPUTS)).code, 0);
  const before = await resourceVersions(c, all);

  const again = await c.script(INSTALL, [], INPUTS);
  t.is(again.code, 0, again.stderr);
  t.deepEqual(await resourceVersions(c, all), before);
  const lines = applyLines(again.stdout);
  t.is(lines.length, all.length);
  // kubectl always re-sends a PodDisruptionBudget's selector (patchStrategy "replace" in policy/v1), so
  // client-side apply says "configured" for it on every run; the patch is a no-op, as the unchanged
  // resourceVersion above shows. Every other object is reported unchanged.
  t.deepEqual(
    lines.filter((line) => !line.endsWith(' unchanged')),
    ['poddisruptionbudget.policy/pipeops-agent configured'],
  );
});

test('--dry-run prints the manifests with the token redacted and creates nothing', async (t) => {
  const c = await cluster(t);
  const { refs } = await baseObjects(c);
  const namespacesBefore = (await c.run(['get', 'namespaces', '-o', 'name'])).stdout;

  const result = await c.script(INSTALL, ['--dry-run'], INPUTS);
  t.is(result.code, 0, result.stderr);
  t.false(result.stdout.includes(TOKEN) || result.stderr.includes(TOKEN));
  t.false(result.stdout.includes(Buffer.from(TOKEN).toString('base64')));

  const documents = parseAllDocuments(result.stdout).map((doc) => doc.toJS() as { kind: string; metadata: { name: string }; data?: Record<string, string> });
  t.deepEqual(
    documents.map((doc) => `${doc.kind}/${doc.metadata.name}`).sort(),
    [...refs, TOKEN_SECRET, ...CONTROL_PLANE_ACCESS].map((ref) => `${ref.kind}/${ref.name}`).sort(),
  );
  t.deepEqual(documents.find((doc) => doc.kind === 'Secret' && doc.metadata.name === 'pipeops-agent-token')?.data, { token: '<redacted>' });
  t.is(documents.find((doc) => doc.kind === 'ConfigMap')?.data?.['PIPEOPS_CLUSTER_NAME'], CLUSTER_NAME);
  t.regex(result.stderr, /dry run: nothing was applied/);

  t.deepEqual(await present(c, [...refs, TOKEN_SECRET]), []);
  t.is((await c.run(['get', 'namespaces', '-o', 'name'])).stdout, namespacesBefore);
});

test('a missing token exits 2 with a message naming PIPEOPS_TOKEN, and nothing is created', async (t) => {
  const c = await cluster(t);
  const result = await c.script(INSTALL, [], { PIPEOPS_CLUSTER_NAME: CLUSTER_NAME });
  t.is(result.code, 2);
  t.is(result.stdout, '');
  t.regex(result.stderr, /PIPEOPS_TOKEN is required/);
  t.is(await getObject(c, { apiVersion: 'v1', kind: 'Namespace', name: 'pipeops-system' }), undefined);
});

test('an invalid cluster name exits 2 naming PIPEOPS_CLUSTER_NAME; all problems are reported together', async (t) => {
  const c = await cluster(t);
  for (const name of ['Edge Lab', 'edge_lab', 'x'.repeat(64)]) {
    const result = await c.script(INSTALL, [], { ...INPUTS, PIPEOPS_CLUSTER_NAME: name });
    t.is(result.code, 2, name);
    t.regex(result.stderr, /PIPEOPS_CLUSTER_NAME must be 1-63 lowercase letters, digits and '-'/);
  }
  const missing = await c.script(INSTALL, [], { PIPEOPS_TOKEN: TOKEN });
  t.is(missing.code, 2);
  t.regex(missing.stderr, /PIPEOPS_CLUSTER_NAME is required/);

  const several = await c.script(INSTALL, ['--namespace', 'Bad'], { PIPEOPS_CLUSTER_NAME: 'Bad', ENABLE_GATEWAY_PROXY: 'maybe', AGENT_WORKERS: '65' });
  t.is(several.code, 2);
  for (const name of ['PIPEOPS_TOKEN', 'PIPEOPS_CLUSTER_NAME', 'ENABLE_GATEWAY_PROXY', 'AGENT_WORKERS', '--namespace']) t.true(several.stderr.includes(name), name);
  t.is(await getObject(c, { apiVersion: 'v1', kind: 'Namespace', name: 'pipeops-system' }), undefined);
});

test('a token-looking argument is refused without echoing it', async (t) => {
  const c = await cluster(t);
  const result = await c.script(INSTALL, [`--token=${TOKEN}`], INPUTS);
  t.is(result.code, 2);
  t.false(result.stderr.includes(TOKEN));
  t.regex(result.stderr, /never an argument/);
});

test('the gateway proxy stays off unless ENABLE_GATEWAY_PROXY=true; AGENT_WORKERS reaches the ConfigMap', async (t) => {
  const c = await cluster(t);
  t.is((await c.script(INSTALL, [], { ...INPUTS, INSTALL_MONITORING: 'false' })).code, 0);
  const off = await configMapData(c);
  t.is(off['ENABLE_GATEWAY_PROXY'], 'false');
  t.is(off['ENABLE_INGRESS_SYNC'], undefined);
  t.is(off['AGENT_WORKERS'], '2');

  const on = await c.script(INSTALL, [], { ...INPUTS, INSTALL_MONITORING: 'false', ENABLE_GATEWAY_PROXY: 'true', AGENT_WORKERS: '4' });
  t.is(on.code, 0, on.stderr);
  t.regex(on.stderr, /ENABLE_GATEWAY_PROXY=true/);
  const settings = await configMapData(c);
  t.is(settings['ENABLE_GATEWAY_PROXY'], 'true');
  t.is(settings['AGENT_WORKERS'], '4');
  // a change of settings restarts the agent: the pod template's checksum moved, so the Deployment changed
  t.regex(on.stdout, /deployment\.apps\/pipeops-agent configured/);
});

test('INSTALL_MONITORING=false skips the monitoring stack without printing helm commands', async (t) => {
  const c = await cluster(t);
  const result = await c.script(INSTALL, [], { ...INPUTS, INSTALL_MONITORING: 'false' });
  t.is(result.code, 0, result.stderr);
  t.regex(result.stderr, /INSTALL_MONITORING=false: skipping the monitoring stack/);
  t.false(result.stderr.includes('helm upgrade'));
});

test('--namespace moves the agent and its bindings, but the Grafana Secret Role stays in pipeops-monitoring', async (t) => {
  const c = await cluster(t);
  const result = await c.script(INSTALL, ['--namespace', 'agents'], { ...INPUTS, INSTALL_MONITORING: 'false' });
  t.is(result.code, 0, result.stderr);
  t.truthy(await getObject(c, { apiVersion: 'v1', kind: 'Namespace', name: 'agents' }));
  t.truthy(await getObject(c, { ...TOKEN_SECRET, namespace: 'agents' }));
  t.truthy(await getObject(c, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'pipeops-agent', namespace: 'agents' }));
  t.is(await getObject(c, { apiVersion: 'v1', kind: 'Namespace', name: 'pipeops-system' }), undefined);
  t.truthy(await getObject(c, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', name: 'pipeops-agent-monitoring', namespace: 'pipeops-monitoring' }));
  for (const ref of [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', name: 'pipeops-agent' },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', name: 'pipeops-agent-monitoring', namespace: 'pipeops-monitoring' },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', name: 'pipeops-agent-state', namespace: 'agents' },
  ]) {
    const binding = await getObject(c, ref);
    t.deepEqual(binding?.['subjects'], [{ kind: 'ServiceAccount', name: 'pipeops-agent', namespace: 'agents' }], ref.name);
  }
  // the control plane's account and its token move along, and its binding follows them
  t.truthy(await getObject(c, { ...CONTROL_PLANE_ACCESS[1]!, namespace: 'agents' }));
  t.deepEqual((await getObject(c, CONTROL_PLANE_ACCESS[2]!))?.['subjects'], [{ kind: 'ServiceAccount', name: 'pipeops-control-plane', namespace: 'agents' }]);
});

test('uninstall removes what install created and the agent state, keeps the namespaces, and can run twice', async (t) => {
  const c = await cluster(t);
  const { refs } = await baseObjects(c);
  t.is((await c.script(INSTALL, [], { ...INPUTS, INSTALL_MONITORING: 'false' })).code, 0);
  // what the agent itself would have written at start (CLUSTER.md §1)
  const state = [
    { apiVersion: 'v1', kind: 'ConfigMap', name: 'pipeops-agent-state', namespace: 'pipeops-system' },
    { apiVersion: 'v1', kind: 'Secret', name: 'pipeops-agent-secrets', namespace: 'pipeops-system' },
  ] as const;
  t.is((await c.run(['-n', 'pipeops-system', 'create', 'configmap', 'pipeops-agent-state', '--from-literal=agent_id=agent-0123456789abcdef'])).code, 0);
  t.is((await c.run(['-n', 'pipeops-system', 'create', 'secret', 'generic', 'pipeops-agent-secrets', '--from-literal=cluster_token=x'])).code, 0);

  const dryRun = await c.script(UNINSTALL, ['--dry-run']);
  t.is(dryRun.code, 0, dryRun.stderr);
  t.regex(dryRun.stdout, /deployment\.apps "pipeops-agent" deleted \(dry run\)/);
  const installed = [...refs, TOKEN_SECRET, ...CONTROL_PLANE_ACCESS, ...state];
  t.deepEqual(await present(c, installed), installed.map(keyOf));

  const result = await c.script(UNINSTALL, []);
  t.is(result.code, 0, result.stderr);
  const namespaces = refs.filter((ref) => ref.kind === 'Namespace');
  t.is(namespaces.length, 2);
  t.deepEqual(await present(c, installed), namespaces.map(keyOf));
  t.regex(result.stderr, /kept namespace pipeops-system/);

  const again = await c.script(UNINSTALL, []);
  t.is(again.code, 0, again.stderr);
  t.is(again.stdout, '');
});

test('uninstall --keep-state keeps the agent identity for a later install', async (t) => {
  const c = await cluster(t);
  t.is((await c.script(INSTALL, [], { ...INPUTS, INSTALL_MONITORING: 'false' })).code, 0);
  t.is((await c.run(['-n', 'pipeops-system', 'create', 'configmap', 'pipeops-agent-state', '--from-literal=agent_id=agent-0123456789abcdef'])).code, 0);
  const result = await c.script(UNINSTALL, ['--keep-state']);
  t.is(result.code, 0, result.stderr);
  t.truthy(await getObject(c, { apiVersion: 'v1', kind: 'ConfigMap', name: 'pipeops-agent-state', namespace: 'pipeops-system' }));
  t.is(await getObject(c, TOKEN_SECRET), undefined);
});

test('bad arguments exit 2; --help exits 0 and names every input', async (t) => {
  const c = await cluster(t);
  for (const [script, args] of [[INSTALL, ['--bogus']], [INSTALL, ['--namespace']], [UNINSTALL, ['--bogus']], [UNINSTALL, ['--namespace', 'pipeops-monitoring']]] as const) {
    const result = await c.script(script, args);
    t.is(result.code, 2, `${script} ${args.join(' ')}`);
  }
  const help = await c.script(INSTALL, ['--help']);
  t.is(help.code, 0);
  for (const name of ['PIPEOPS_TOKEN', 'PIPEOPS_CLUSTER_NAME', 'PIPEOPS_API_URL', 'CONTROL_PLANE_ACCESS', 'ENABLE_GATEWAY_PROXY', 'INSTALL_MONITORING', 'DISABLE_MONITORING', 'AGENT_WORKERS', '--dry-run', '--namespace', 'curl -fsSL']) {
    t.true(help.stdout.includes(name), name);
  }
});

