// scripts/install.sh and scripts/uninstall.sh against the sandbox Kubernetes API, driven and checked with
// the real kubectl (CLUSTER.md §6, issue 6 acceptance): the first run creates every object of deploy/base
// plus the token Secret, a second run changes nothing, --dry-run prints and creates nothing, bad input
// exits 2 naming the variable, the gateway proxy stays off unless asked for, and uninstall removes
// what install created. PATH has no helm, so the monitoring part prints its commands instead, unless a test
// puts a recording stand-in for helm there. Issue 13: the released script piped into bash from an empty
// directory, both monitoring switches, the control-plane access by default and its opt-out, and the summary.
// The sandbox has no token controller, so the tests play its part: a service-account-token Secret gets its
// token a moment after it is created, as in a real cluster.

import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { parseAllDocuments } from 'yaml';
import type { JsonObject } from '../../src/local/sandbox-api/json-value.js';
import { ChangeType } from '../../src/local/sandbox-api/object-store.js';
import { startSandboxApi, type SandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import { KUBECTL, kubectl, type KubectlResult } from '../helpers/kubectl.js';

// dist/test/e2e/ → repo root.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const INSTALL = join(ROOT, 'scripts', 'install.sh');
const UNINSTALL = join(ROOT, 'scripts', 'uninstall.sh');
const TOKEN = 'tok-8c1f2d3e4b5a69788796a5b4c3d2e1f0';
const CLUSTER_NAME = 'edge-lab-1';
const INPUTS = { PIPEOPS_TOKEN: TOKEN, PIPEOPS_CLUSTER_NAME: CLUSTER_NAME } as const;
const SCRIPT_TIMEOUT_MS = 90_000;

interface BuildInstallerModule {
  buildScript(script: string): string;
}
const { buildScript } = (await import(join(ROOT, 'scripts', 'build-installer.mjs'))) as BuildInstallerModule;
const RELEASED_INSTALL = buildScript('install.sh');
const CHART_VERSIONS = Object.fromEntries(
  readFileSync(join(ROOT, 'deploy', 'monitoring', 'chart-versions.env'), 'utf8')
    .split('\n')
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => line.split('=') as [string, string]),
);


interface ScriptResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface Cluster {
  readonly dir: string;
  readonly kubeconfig: string;
  run(args: readonly string[], input?: string): Promise<KubectlResult>;
  script(path: string, args: readonly string[], env?: Readonly<Record<string, string>>): Promise<ScriptResult>;
  /** `script | bash -s -- args` in an empty working directory, as `curl -fsSL <url> | bash` runs it. */
  piped(scriptText: string, args: readonly string[], env?: Readonly<Record<string, string>>, path?: string): Promise<ScriptResult>;
  readonly path: string;
}

/** Object identity as kubectl resolves it: `kind/name` plus the namespace. */
interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

function hasHelm(dir: string): boolean {
  try {
    accessSync(join(dir, 'helm'), constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The caller's PATH without any directory holding helm, behind a directory holding the test's kubectl. */
async function pathWithoutHelm(dir: string): Promise<string> {
  const bin = join(dir, 'bin');
  await mkdir(bin);
  await symlink(KUBECTL, join(bin, 'kubectl'));
  const rest = (process.env['PATH'] ?? '/usr/bin:/bin').split(delimiter).filter((entry) => entry !== '' && !hasHelm(entry));
  return [bin, ...rest].join(delimiter);
}

function runProcess(command: string, args: readonly string[], env: NodeJS.ProcessEnv, options: { input?: string; cwd?: string } = {}): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { env, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...(options.cwd === undefined ? {} : { cwd: options.cwd }) });
    if (options.input !== undefined) child.stdin?.end(options.input);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), SCRIPT_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') });
    });
  });
}

const SECRETS = { group: '', version: 'v1', resource: 'secrets' } as const;
/** What the stand-in token controller writes into a service-account-token Secret. */
const CONTROLLER_TOKEN = 'controller-filled-sa-token-5e6f7a8b';

/** Fills each new service-account-token Secret's token a moment later, as the token controller does. */
function runTokenController(api: SandboxApi): () => void {
  return api.store.onChange((change) => {
    if (change.key.resource !== 'secrets' || change.type === ChangeType.deleted) return;
    if (change.object['type'] !== 'kubernetes.io/service-account-token') return;
    setTimeout(() => {
      const current = api.store.get(change.key);
      const data = (current?.['data'] ?? {}) as Record<string, string>;
      if (current === undefined || data['token'] !== undefined) return;
      api.store.put(SECRETS, { ...current, data: { ...data, token: Buffer.from(CONTROLLER_TOKEN).toString('base64') } } as JsonObject);
    }, 200);
  });
}

async function cluster(t: ExecutionContext): Promise<Cluster> {
  const api = await startSandboxApi({ port: 0 });
  t.teardown(() => api.close());
  t.teardown(runTokenController(api));
  const dir = await mkdtemp(join(tmpdir(), 'install-script-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
  const path = await pathWithoutHelm(dir);
  // HOME and TMPDIR in the temp dir: kubectl's discovery cache and the scripts' scratch files stay per test
  const baseEnv = { PATH: path, HOME: dir, TMPDIR: dir, KUBECONFIG: kubeconfig };
  return {
    dir,
    kubeconfig,
    run: (args, input) => kubectl(args, { kubeconfig, env: { HOME: dir }, ...(input === undefined ? {} : { input }) }),
    script: (script, args, env = {}) => runProcess('bash', [script, ...args], { ...baseEnv, ...env }),
    piped: async (scriptText, args, env = {}, pathOverride = path) => {
      const empty = await mkdtemp(join(dir, 'empty-'));
      return runProcess('bash', ['-s', '--', ...args], { ...baseEnv, PATH: pathOverride, ...env }, { input: scriptText, cwd: empty });
    },
    path,
  };
}

/** `kubectl kustomize deploy/base`, parsed: what install.sh must create, besides the token Secret. */
async function baseObjects(c: Cluster): Promise<{ yaml: string; refs: ObjectRef[] }> {
  const rendered = await c.run(['kustomize', join(ROOT, 'deploy', 'base')]);
  if (rendered.code !== 0) throw new Error(`kubectl kustomize failed: ${rendered.stderr}`);
  const refs = parseAllDocuments(rendered.stdout).map((doc) => {
    const object = doc.toJS() as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };
    return { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name, ...(object.metadata.namespace === undefined ? {} : { namespace: object.metadata.namespace }) };
  });
  return { yaml: rendered.stdout, refs };
}

const TOKEN_SECRET: ObjectRef = { apiVersion: 'v1', kind: 'Secret', name: 'pipeops-agent-token', namespace: 'pipeops-system' };
/** deploy/components/control-plane-access, which the default install adds. */
const CONTROL_PLANE_ACCESS: readonly ObjectRef[] = [
  { apiVersion: 'v1', kind: 'ServiceAccount', name: 'pipeops-control-plane', namespace: 'pipeops-system' },
  { apiVersion: 'v1', kind: 'Secret', name: 'pipeops-control-plane-token', namespace: 'pipeops-system' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', name: 'pipeops-control-plane' },
];
const DEPLOYMENT: ObjectRef = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'pipeops-agent', namespace: 'pipeops-system' };

function refArgs(ref: ObjectRef): string[] {
  const group = ref.apiVersion.includes('/') ? `.${ref.apiVersion.split('/')[0] ?? ''}` : '';
  return [`${ref.kind.toLowerCase()}${group}/${ref.name}`, ...(ref.namespace === undefined ? [] : ['-n', ref.namespace])];
}

function keyOf(ref: { readonly kind: string; readonly name: string; readonly namespace?: string | undefined }): string {
  return `${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
}

/**
 * The live objects among `refs`, by kind/namespace/name, in one `kubectl get -f` (each kubectl start
 * costs a few hundred milliseconds, so per-object gets would dominate the suite).
 */
async function getObjects(c: Cluster, refs: readonly ObjectRef[]): Promise<Map<string, Record<string, unknown>>> {
  const file = join(c.dir, `refs-${Math.random().toString(16).slice(2)}.json`);
  const list = { apiVersion: 'v1', kind: 'List', items: refs.map((ref) => ({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, ...(ref.namespace === undefined ? {} : { namespace: ref.namespace }) } })) };
  await writeFile(file, JSON.stringify(list));
  const result = await c.run(['get', '-f', file, '-o', 'json', '--ignore-not-found']);
  if (result.code !== 0) throw new Error(`kubectl get -f failed: ${result.stderr}`);
  const found = new Map<string, Record<string, unknown>>();
  if (result.stdout.trim() === '') return found;
  const parsed = JSON.parse(result.stdout) as Record<string, unknown>;
  const items = parsed['kind'] === 'List' ? (parsed['items'] as Record<string, unknown>[]) : [parsed];
  for (const item of items) {
    const metadata = item['metadata'] as { name: string; namespace?: string };
    found.set(keyOf({ kind: String(item['kind']), name: metadata.name, namespace: metadata.namespace }), item);
  }
  return found;
}

async function getObject(c: Cluster, ref: ObjectRef): Promise<Record<string, unknown> | undefined> {
  return (await getObjects(c, [ref])).get(keyOf(ref));
}

function resourceVersionOf(object: Record<string, unknown> | undefined): string | undefined {
  return (object?.['metadata'] as { resourceVersion?: string } | undefined)?.resourceVersion;
}

async function resourceVersions(c: Cluster, refs: readonly ObjectRef[]): Promise<Record<string, string | undefined>> {
  const live = await getObjects(c, refs);
  return Object.fromEntries(refs.map((ref) => [keyOf(ref), resourceVersionOf(live.get(keyOf(ref)))]));
}

/** The keys of those `refs` that exist. */
async function present(c: Cluster, refs: readonly ObjectRef[]): Promise<string[]> {
  const live = await getObjects(c, refs);
  return refs.map(keyOf).filter((key) => live.has(key));
}

async function configMapData(c: Cluster, namespace = 'pipeops-system'): Promise<Record<string, string>> {
  const object = await getObject(c, { apiVersion: 'v1', kind: 'ConfigMap', name: 'pipeops-agent-config', namespace });
  return (object?.['data'] ?? {}) as Record<string, string>;
}

/** kubectl apply's `<resource>/<name> <verb>` lines. */
function applyLines(stdout: string): string[] {
  return stdout.trim().split('\n').filter((line) => line !== '');
}

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

function envOf(deployment: Record<string, unknown> | undefined): { name: string; valueFrom?: unknown }[] {
  const spec = deployment?.['spec'] as { template: { spec: { containers: { env?: { name: string; valueFrom?: unknown }[] }[] } } } | undefined;
  return spec?.template.spec.containers[0]?.env ?? [];
}

/** The closing summary: what was installed and how to check it. */
function assertSummary(t: ExecutionContext, stderr: string, monitoring: RegExp): void {
  t.regex(stderr, /install\.sh: installed into context "sandbox":/);
  t.regex(stderr, /^ {2}agent: +ghcr\.io\/pipeops\/pipeops-agent:\S+ in namespace pipeops-system/m);
  t.regex(stderr, new RegExp(`^  monitoring: +${monitoring.source}`, 'm'));
  t.regex(stderr, /^ {2}kubectl -n pipeops-system get pods$/m);
  t.regex(stderr, /^ {2}kubectl get --raw \/api\/v1\/namespaces\/pipeops-system\/services\/pipeops-agent:http\/proxy\/ready /m);
}

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

interface RecordingHelm {
  /** PATH with the stand-in helm first. */
  readonly path: string;
  readonly log: string;
  calls(): Promise<string[]>;
}

/** A helm that records its arguments and checks that each --values file exists while it runs. */
async function recordingHelm(c: Cluster): Promise<RecordingHelm> {
  const bin = await mkdtemp(join(c.dir, 'helm-bin-'));
  const log = join(bin, 'calls.log');
  await writeFile(
    join(bin, 'helm'),
    '#!/usr/bin/env bash\nprintf \'%s\\n\' "$*" >>"$HELM_LOG"\nargs=("$@")\nfor ((i = 0; i < ${#args[@]}; i++)); do\n  if [[ ${args[i]} == --values && ! -s ${args[i + 1]} ]]; then echo "missing values file" >&2; exit 1; fi\ndone\n',
    { mode: 0o755 },
  );
  return {
    path: `${bin}${delimiter}${c.path}`,
    log,
    calls: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((line) => line !== ''),
  };
}

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
