// The installer as issue 13 asks for it, against the sandbox Kubernetes API: the released install.sh piped
// into bash from an empty directory, both monitoring switches (with and without a recording helm that
// checks the pinned chart versions), the control-plane access by default and CONTROL_PLANE_ACCESS=none,
// the closing summary, and uninstall --all. Helpers: test/helpers/install-cluster.ts.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { parseAllDocuments } from 'yaml';
import {
  CHART_VERSIONS,
  CONTROLLER_TOKEN,
  CONTROL_PLANE_ACCESS,
  DEPLOYMENT,
  INPUTS,
  INSTALL,
  RELEASED_INSTALL,
  ROOT,
  TOKEN,
  TOKEN_SECRET,
  UNINSTALL,
  applyLines,
  assertSummary,
  baseObjects,
  cluster,
  envOf,
  getObject,
  keyOf,
  present,
  recordingHelm,
  resourceVersionOf,
} from '../helpers/install-cluster.js';

test('piped into bash from an empty directory, the released script installs everything and sums it up', async (t) => {
  const c = await cluster(t);
  const { refs } = await baseObjects(c);
  // without helm, and with neither monitoring switch: the agent goes in, monitoring is explained
  const result = await c.piped(RELEASED_INSTALL, [], INPUTS);
  t.is(result.code, 0, result.stderr);
  t.notRegex(result.stderr, /unbound variable|cannot find deploy/);
  const all = [...refs, TOKEN_SECRET, ...CONTROL_PLANE_ACCESS];
  t.deepEqual(await present(c, all), all.map(keyOf));
  t.regex(result.stderr, /helm not found on PATH/);
  // the values files of a piped run are gone when it ends, so it says to run it again instead
  t.regex(result.stderr, /run this installer again with the same inputs/);
  t.false(result.stderr.includes('--values /'));
  assertSummary(t, result.stderr, /not installed: helm not found on PATH/);
  t.regex(result.stderr, /control-plane access: ServiceAccount pipeops-control-plane bound to cluster-admin/);
  t.false(result.stdout.includes(TOKEN) || result.stderr.includes(TOKEN));

  // the same script, piped again, changes nothing
  const again = await c.piped(RELEASED_INSTALL, [], INPUTS);
  t.is(again.code, 0, again.stderr);
  t.deepEqual(applyLines(again.stdout).filter((line) => !line.endsWith(' unchanged')), ['poddisruptionbudget.policy/pipeops-agent configured']);
});

test('the unreleased script piped into bash stops with a clear message instead of an unbound variable', async (t) => {
  const c = await cluster(t);
  const result = await c.piped(await readFile(INSTALL, 'utf8'), [], INPUTS);
  t.is(result.code, 1);
  t.regex(result.stderr, /this is the unreleased script: run it from a checkout, or use the released install\.sh/);
  t.is(await getObject(c, { apiVersion: 'v1', kind: 'Namespace', name: 'pipeops-system' }), undefined);
});

for (const [name, value] of [['INSTALL_MONITORING', 'false'], ['DISABLE_MONITORING', 'true']] as const) {
  test(`${name}=${value} skips the monitoring stack, piped or not, and the summary says so`, async (t) => {
    const c = await cluster(t);
    const helm = await recordingHelm(c);
    for (const run of [() => c.script(INSTALL, [], { ...INPUTS, [name]: value, HELM_LOG: helm.log }), () => c.piped(RELEASED_INSTALL, [], { ...INPUTS, [name]: value, HELM_LOG: helm.log }, helm.path)]) {
      const result = await run();
      t.is(result.code, 0, result.stderr);
      t.regex(result.stderr, new RegExp(`${name}=${value}: skipping the monitoring stack`));
      t.false(result.stderr.includes('helm upgrade'));
      assertSummary(t, result.stderr, new RegExp(`skipped \\(${name}=${value}\\)`));
    }
    t.deepEqual(await helm.calls(), []);
  });
}

test('contradicting monitoring switches and an unknown CONTROL_PLANE_ACCESS exit 2 naming the variables', async (t) => {
  const c = await cluster(t);
  const result = await c.script(INSTALL, [], { ...INPUTS, INSTALL_MONITORING: 'true', DISABLE_MONITORING: 'yes', CONTROL_PLANE_ACCESS: 'admin' });
  t.is(result.code, 2);
  t.regex(result.stderr, /INSTALL_MONITORING=true and DISABLE_MONITORING=true contradict each other/);
  t.regex(result.stderr, /CONTROL_PLANE_ACCESS must be cluster-admin or none \(got "admin"\)/);
  const bad = await c.script(INSTALL, [], { ...INPUTS, DISABLE_MONITORING: 'maybe' });
  t.is(bad.code, 2);
  t.regex(bad.stderr, /DISABLE_MONITORING must be true or false/);
});

test('with helm, the monitoring stack is installed at the pinned chart versions, Alloy shipping logs to Loki', async (t) => {
  const c = await cluster(t);
  const helm = await recordingHelm(c);
  const result = await c.piped(RELEASED_INSTALL, [], { ...INPUTS, HELM_LOG: helm.log }, helm.path);
  t.is(result.code, 0, result.stderr);
  const installs = (await helm.calls()).filter((call) => call.startsWith('upgrade --install'));
  t.deepEqual(
    installs.map((call) => call.replace(/--values \S+\/monitoring\//, '--values ')),
    [
      `upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack --version ${CHART_VERSIONS['KUBE_PROMETHEUS_STACK_VERSION']} --namespace pipeops-monitoring --create-namespace --values kube-prometheus-stack-values.yaml`,
      `upgrade --install loki grafana/loki --version ${CHART_VERSIONS['LOKI_VERSION']} --namespace pipeops-monitoring --create-namespace --values loki-values.yaml`,
      `upgrade --install alloy grafana/alloy --version ${CHART_VERSIONS['ALLOY_VERSION']} --namespace pipeops-monitoring --create-namespace --values alloy-values.yaml`,
    ],
  );
  assertSummary(t, result.stderr, /kube-prometheus-stack \S+, loki \S+ and alloy \S+ in pipeops-monitoring/);
  // the collector's values point it at the Loki the agent reports
  const alloyValues = await readFile(join(ROOT, 'deploy', 'monitoring', 'alloy-values.yaml'), 'utf8');
  t.regex(alloyValues, /url = "http:\/\/loki\.pipeops-monitoring\.svc\.cluster\.local:3100\/loki\/api\/v1\/push"/);
  t.regex(alloyValues, /loki\.source\.kubernetes "pods"/);
});

test('the default install hands the control plane its token; the agent starts only once the token is there', async (t) => {
  const c = await cluster(t);
  const result = await c.script(INSTALL, [], { ...INPUTS, INSTALL_MONITORING: 'false' });
  t.is(result.code, 0, result.stderr);
  const binding = await getObject(c, CONTROL_PLANE_ACCESS[2]!);
  t.like(binding, { roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: 'pipeops-control-plane', namespace: 'pipeops-system' }] });
  const deployment = await getObject(c, DEPLOYMENT);
  t.deepEqual(envOf(deployment).find((entry) => entry.name === 'PIPEOPS_K8S_SERVICE_TOKEN')?.valueFrom, {
    secretKeyRef: { name: 'pipeops-control-plane-token', key: 'token', optional: true },
  });
  // the token was filled in (by the controller) before the Deployment was created
  const tokenSecret = await getObject(c, CONTROL_PLANE_ACCESS[1]!);
  t.is(Buffer.from((tokenSecret?.['data'] as Record<string, string>)['token'] ?? '', 'base64').toString(), CONTROLLER_TOKEN);
  t.true(Number(resourceVersionOf(tokenSecret)) < Number(resourceVersionOf(deployment)));
  // and the controller's token is never printed
  t.false(result.stdout.includes(CONTROLLER_TOKEN) || result.stderr.includes(CONTROLLER_TOKEN));
});

test('CONTROL_PLANE_ACCESS=none keeps the least-privilege install: no control-plane account, binding or token', async (t) => {
  const c = await cluster(t);
  const { refs } = await baseObjects(c);
  const dryRun = await c.script(INSTALL, ['--dry-run'], { ...INPUTS, CONTROL_PLANE_ACCESS: 'none' });
  t.is(dryRun.code, 0, dryRun.stderr);
  const rendered = parseAllDocuments(dryRun.stdout).map((doc) => doc.toJS() as { kind: string; metadata: { name: string } });
  t.deepEqual(rendered.map((doc) => `${doc.kind}/${doc.metadata.name}`).sort(), [...refs, TOKEN_SECRET].map((ref) => `${ref.kind}/${ref.name}`).sort());
  t.false(dryRun.stdout.includes('cluster-admin'));

  const result = await c.script(INSTALL, [], { ...INPUTS, INSTALL_MONITORING: 'false', CONTROL_PLANE_ACCESS: 'none' });
  t.is(result.code, 0, result.stderr);
  t.deepEqual(await present(c, CONTROL_PLANE_ACCESS), []);
  t.is(envOf(await getObject(c, DEPLOYMENT)).find((entry) => entry.name === 'PIPEOPS_K8S_SERVICE_TOKEN'), undefined);
  t.regex(result.stderr, /control-plane access: none \(CONTROL_PLANE_ACCESS=none\)/);
});

test('uninstall --all removes the three monitoring releases, the collector first, with the same helm list', async (t) => {
  const c = await cluster(t);
  const helm = await recordingHelm(c);
  t.is((await c.script(INSTALL, [], { ...INPUTS, HELM_LOG: helm.log, PATH: helm.path })).code, 0);
  const result = await c.script(UNINSTALL, ['--all'], { HELM_LOG: helm.log, PATH: helm.path });
  t.is(result.code, 0, result.stderr);
  t.deepEqual(
    (await helm.calls()).filter((call) => call.startsWith('uninstall')),
    ['uninstall alloy --namespace pipeops-monitoring', 'uninstall loki --namespace pipeops-monitoring', 'uninstall kube-prometheus-stack --namespace pipeops-monitoring'],
  );
  t.deepEqual(await present(c, CONTROL_PLANE_ACCESS), []);
});

