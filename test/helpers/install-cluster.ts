// A sandbox cluster for scripts/install.sh and scripts/uninstall.sh, driven and checked with the real
// kubectl: the scripts run with a PATH holding the test's kubectl and no helm (or a recording stand-in),
// HOME and TMPDIR in a per-test directory, and a stand-in for the token controller, which the sandbox API
// lacks: a service-account-token Secret gets its token a moment after it is created, as in a real cluster.

import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { parseAllDocuments } from 'yaml';
import type { JsonObject } from '../../src/local/sandbox-api/store/json-value.js';
import { ChangeType } from '../../src/local/sandbox-api/store/object-store.js';
import { startSandboxApi, type SandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import { KUBECTL, kubectl, type KubectlResult } from './kubectl.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const INSTALL = join(ROOT, 'scripts', 'install.sh');
export const UNINSTALL = join(ROOT, 'scripts', 'uninstall.sh');
export const TOKEN = 'tok-8c1f2d3e4b5a69788796a5b4c3d2e1f0';
export const CLUSTER_NAME = 'edge-lab-1';
export const INPUTS = { PIPEOPS_TOKEN: TOKEN, PIPEOPS_CLUSTER_NAME: CLUSTER_NAME } as const;
const SCRIPT_TIMEOUT_MS = 90_000;

interface BuildInstallerModule {
  buildScript(script: string): string;
}
const { buildScript } = (await import(join(ROOT, 'scripts', 'build-installer.mjs'))) as BuildInstallerModule;
export const RELEASED_INSTALL = buildScript('install.sh');
export const CHART_VERSIONS = Object.fromEntries(
  readFileSync(join(ROOT, 'deploy', 'monitoring', 'chart-versions.env'), 'utf8')
    .split('\n')
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => line.split('=') as [string, string]),
);


export interface ScriptResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Cluster {
  readonly dir: string;
  readonly kubeconfig: string;
  run(args: readonly string[], input?: string): Promise<KubectlResult>;
  script(path: string, args: readonly string[], env?: Readonly<Record<string, string>>): Promise<ScriptResult>;
  /** `script | bash -s -- args` in an empty working directory, as `curl -fsSL <url> | bash` runs it. */
  piped(scriptText: string, args: readonly string[], env?: Readonly<Record<string, string>>, path?: string): Promise<ScriptResult>;
  readonly path: string;
}

/** Object identity as kubectl resolves it: `kind/name` plus the namespace. */
export interface ObjectRef {
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
export const CONTROLLER_TOKEN = 'controller-filled-sa-token-5e6f7a8b';

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

export async function cluster(t: ExecutionContext): Promise<Cluster> {
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
export async function baseObjects(c: Cluster): Promise<{ yaml: string; refs: ObjectRef[] }> {
  const rendered = await c.run(['kustomize', join(ROOT, 'deploy', 'base')]);
  if (rendered.code !== 0) throw new Error(`kubectl kustomize failed: ${rendered.stderr}`);
  const refs = parseAllDocuments(rendered.stdout).map((doc) => {
    const object = doc.toJS() as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };
    return { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name, ...(object.metadata.namespace === undefined ? {} : { namespace: object.metadata.namespace }) };
  });
  return { yaml: rendered.stdout, refs };
}

export const TOKEN_SECRET: ObjectRef = { apiVersion: 'v1', kind: 'Secret', name: 'pipeops-agent-token', namespace: 'pipeops-system' };
/** deploy/components/control-plane-access, which the default install adds. */
export const CONTROL_PLANE_ACCESS: readonly ObjectRef[] = [
  { apiVersion: 'v1', kind: 'ServiceAccount', name: 'pipeops-control-plane', namespace: 'pipeops-system' },
  { apiVersion: 'v1', kind: 'Secret', name: 'pipeops-control-plane-token', namespace: 'pipeops-system' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', name: 'pipeops-control-plane' },
];
export const DEPLOYMENT: ObjectRef = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'pipeops-agent', namespace: 'pipeops-system' };

function refArgs(ref: ObjectRef): string[] {
  const group = ref.apiVersion.includes('/') ? `.${ref.apiVersion.split('/')[0] ?? ''}` : '';
  return [`${ref.kind.toLowerCase()}${group}/${ref.name}`, ...(ref.namespace === undefined ? [] : ['-n', ref.namespace])];
}

export function keyOf(ref: { readonly kind: string; readonly name: string; readonly namespace?: string | undefined }): string {
  return `${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
}

/**
 * The live objects among `refs`, by kind/namespace/name, in one `kubectl get -f` (each kubectl start
 * costs a few hundred milliseconds, so per-object gets would dominate the suite).
 */
export async function getObjects(c: Cluster, refs: readonly ObjectRef[]): Promise<Map<string, Record<string, unknown>>> {
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

export async function getObject(c: Cluster, ref: ObjectRef): Promise<Record<string, unknown> | undefined> {
  return (await getObjects(c, [ref])).get(keyOf(ref));
}

export function resourceVersionOf(object: Record<string, unknown> | undefined): string | undefined {
  return (object?.['metadata'] as { resourceVersion?: string } | undefined)?.resourceVersion;
}

export async function resourceVersions(c: Cluster, refs: readonly ObjectRef[]): Promise<Record<string, string | undefined>> {
  const live = await getObjects(c, refs);
  return Object.fromEntries(refs.map((ref) => [keyOf(ref), resourceVersionOf(live.get(keyOf(ref)))]));
}

/** The keys of those `refs` that exist. */
export async function present(c: Cluster, refs: readonly ObjectRef[]): Promise<string[]> {
  const live = await getObjects(c, refs);
  return refs.map(keyOf).filter((key) => live.has(key));
}

export async function configMapData(c: Cluster, namespace = 'pipeops-system'): Promise<Record<string, string>> {
  const object = await getObject(c, { apiVersion: 'v1', kind: 'ConfigMap', name: 'pipeops-agent-config', namespace });
  return (object?.['data'] ?? {}) as Record<string, string>;
}

/** kubectl apply's `<resource>/<name> <verb>` lines. */
export function applyLines(stdout: string): string[] {
  return stdout.trim().split('\n').filter((line) => line !== '');
}

export function envOf(deployment: Record<string, unknown> | undefined): { name: string; valueFrom?: unknown }[] {
  const spec = deployment?.['spec'] as { template: { spec: { containers: { env?: { name: string; valueFrom?: unknown }[] }[] } } } | undefined;
  return spec?.template.spec.containers[0]?.env ?? [];
}

/** The closing summary: what was installed and how to check it. */
export function assertSummary(t: ExecutionContext, stderr: string, monitoring: RegExp): void {
  t.regex(stderr, /install\.sh: installed into context "sandbox":/);
  t.regex(stderr, /^ {2}agent: +ghcr\.io\/pipeops\/pipeops-agent:\S+ in namespace pipeops-system/m);
  t.regex(stderr, new RegExp(`^  monitoring: +${monitoring.source}`, 'm'));
  t.regex(stderr, /^ {2}kubectl -n pipeops-system get pods$/m);
  t.regex(stderr, /^ {2}kubectl get --raw \/api\/v1\/namespaces\/pipeops-system\/services\/pipeops-agent:http\/proxy\/ready /m);
}

export interface RecordingHelm {
  /** PATH with the stand-in helm first. */
  readonly path: string;
  readonly log: string;
  calls(): Promise<string[]>;
}

/** A helm that records its arguments and checks that each --values file exists while it runs. */
export async function recordingHelm(c: Cluster): Promise<RecordingHelm> {
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

