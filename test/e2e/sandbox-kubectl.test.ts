// The real kubectl against the sandbox Kubernetes API on loopback: discovery, get (tables and JSON),
// create, apply (create, then a strategic merge patch), label selectors, delete, errors, auth, version,
// large lists, and the sandbox-api command. Each test runs its own server on port 0.

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { startSandboxApi, type SandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import { KUBECTL, kubectl, type KubectlResult } from '../helpers/kubectl.js';

interface Sandbox {
  readonly api: SandboxApi;
  readonly dir: string;
  readonly kubeconfig: string;
  run(args: readonly string[], input?: string): Promise<KubectlResult>;
}

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sandbox-kubectl-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function sandbox(t: ExecutionContext): Promise<Sandbox> {
  const api = await startSandboxApi({ port: 0 });
  t.teardown(() => api.close());
  const dir = await tempDir(t);
  const kubeconfig = join(dir, 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
  // HOME in the temp dir keeps kubectl's discovery cache per test
  const run = (args: readonly string[], input?: string): Promise<KubectlResult> =>
    kubectl(args, { kubeconfig, env: { HOME: dir }, ...(input === undefined ? {} : { input }) });
  return { api, dir, kubeconfig, run };
}

function tableRows(stdout: string): string[][] {
  return stdout
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s{2,}/));
}

function configMap(name: string, labels: Record<string, string>, data: Record<string, string>): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels }, data });
}

const CONFIG_MAPS = { group: '', version: 'v1', resource: 'configmaps' } as const;

test('get ns lists the four seeded namespaces as a table', async (t) => {
  const { run } = await sandbox(t);
  const result = await run(['get', 'ns']);
  t.is(result.stderr, '');
  t.is(result.code, 0);
  const rows = tableRows(result.stdout);
  t.deepEqual(rows[0], ['NAME', 'STATUS', 'AGE']);
  t.deepEqual(
    rows.slice(1).map((row) => row.slice(0, 2)),
    [['default', 'Active'], ['kube-node-lease', 'Active'], ['kube-public', 'Active'], ['kube-system', 'Active']],
  );
});

test('get pods -A -o json returns every pod, the demo pod serving on 8080', async (t) => {
  const { run } = await sandbox(t);
  const result = await run(['get', 'pods', '-A', '-o', 'json']);
  t.is(result.stderr, '');
  const list = JSON.parse(result.stdout) as { kind: string; items: { kind: string; metadata: { namespace: string; name: string }; spec: { containers: { ports?: { containerPort: number }[] }[] }; status: { phase: string; podIP: string } }[] };
  t.is(list.kind, 'List');
  t.deepEqual(
    list.items.map((item) => `${item.metadata.namespace}/${item.metadata.name}`),
    ['default/demo', 'kube-system/coredns-668d6bf9bc-7xk2p', 'kube-system/coredns-668d6bf9bc-m4qzt'],
  );
  const demo = list.items[0];
  t.is(demo?.kind, 'Pod');
  t.is(demo?.status.phase, 'Running');
  t.is(demo?.status.podIP, '10.244.0.10');
  t.is(demo?.spec.containers[0]?.ports?.[0]?.containerPort, 8080);
});

test('create -f - makes a ConfigMap; creating it again is AlreadyExists', async (t) => {
  const { api, run } = await sandbox(t);
  const manifest = configMap('made', { app: 'x' }, { k: 'v' });
  const created = await run(['create', '-f', '-'], manifest);
  t.is(created.stderr, '');
  t.is(created.stdout, 'configmap/made created\n');
  const stored = api.store.get({ ...CONFIG_MAPS, namespace: 'default', name: 'made' });
  t.deepEqual(stored?.['data'], { k: 'v' });
  const again = await run(['create', '-f', '-'], manifest);
  t.is(again.code, 1);
  t.is(again.stderr, 'Error from server (AlreadyExists): error when creating "STDIN": configmaps "made" already exists\n');
});

test('apply creates, then patches with a strategic merge patch without warnings', async (t) => {
  const { api, dir, run } = await sandbox(t);
  const file = join(dir, 'cm.json');
  await writeFile(file, configMap('applied', { app: 'x' }, { color: 'red' }));
  const first = await run(['apply', '-f', file]);
  t.is(first.stderr, '');
  t.is(first.stdout, 'configmap/applied created\n');
  const before = api.store.get({ ...CONFIG_MAPS, namespace: 'default', name: 'applied' });

  await writeFile(file, configMap('applied', { app: 'x' }, { color: 'blue' }));
  const second = await run(['apply', '-f', file, '-v=8']);
  t.is(second.code, 0);
  t.is(second.stdout, 'configmap/applied configured\n');
  t.regex(second.stderr, /PATCH https:\/\/127\.0\.0\.1:\d+\/api\/v1\/namespaces\/default\/configmaps\/applied\?fieldManager=kubectl-client-side-apply&fieldValidation=Strict/);
  t.regex(second.stderr, /Content-Type: application\/strategic-merge-patch\+json/);
  // user-facing warnings: klog W/E lines and kubectl's own "warning:" lines. Verbose info lines (I…) are
  // not warnings; at -v=5 kubectl notes there that PATCH does not list the strategic-merge type, which is
  // how the sandbox keeps apply on kubectl's compiled-in merge keys (openapi.ts)
  const warnings = second.stderr.split('\n').filter((line) => /^[WE]\d{4} /.test(line) || (/warning/i.test(line) && !/^I\d{4} /.test(line)));
  t.deepEqual(warnings, []);

  const after = api.store.get({ ...CONFIG_MAPS, namespace: 'default', name: 'applied' });
  const meta = (object: typeof after): Record<string, unknown> => (object?.['metadata'] ?? {}) as Record<string, unknown>;
  t.deepEqual(after?.['data'], { color: 'blue' });
  t.is(meta(after)['uid'], meta(before)['uid']);
  t.true(Number(meta(after)['resourceVersion']) > Number(meta(before)['resourceVersion']));
  const unchanged = await run(['apply', '-f', file]);
  t.is(unchanged.stdout, 'configmap/applied unchanged\n');
});

test('get cm -l selects by label, delete removes, get of a missing object is NotFound', async (t) => {
  const { api, run } = await sandbox(t);
  for (const [name, app] of [['one', 'x'], ['two', 'x'], ['three', 'y']] as const) {
    t.is((await run(['create', '-f', '-'], configMap(name, { app }, {}))).code, 0);
  }
  const selected = await run(['get', 'cm', '-l', 'app=x', '-o', 'name']);
  t.is(selected.stdout, 'configmap/one\nconfigmap/two\n');
  const notX = await run(['get', 'cm', '-l', 'app notin (x)', '-o', 'name']);
  t.is(notX.stdout, 'configmap/three\n');

  const deleted = await run(['delete', 'cm', 'one']);
  t.is(deleted.stdout, 'configmap "one" deleted\n');
  t.is(api.store.get({ ...CONFIG_MAPS, namespace: 'default', name: 'one' }), undefined);

  const missing = await run(['get', 'cm', 'nope']);
  t.is(missing.code, 1);
  t.is(missing.stdout, '');
  t.is(missing.stderr, 'Error from server (NotFound): configmaps "nope" not found\n');
});

test('a wrong token is Unauthorized, with the apiserver Status body', async (t) => {
  const { api, dir, kubeconfig } = await sandbox(t);
  const badKubeconfig = join(dir, 'bad-kubeconfig');
  await writeFile(badKubeconfig, (await readFile(kubeconfig, 'utf8')).replace(`token: ${api.token}`, 'token: not-the-token'));
  const result = await kubectl(['get', 'ns'], { kubeconfig: badKubeconfig, env: { HOME: dir } });
  t.is(result.code, 1);
  t.regex(result.stderr, /error: You must be logged in to the server \((Unauthorized|the server has asked for the client to provide credentials)\)/);

  const body = await new Promise<{ status: number | undefined; text: string }>((resolve, reject) => {
    const url = new URL('/api/v1/namespaces', api.url);
    const req = request(url, { ca: api.caPem, headers: { Authorization: 'Bearer not-the-token' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
  t.is(body.status, 401);
  t.is(body.text, '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}\n');
});

test('kubectl version -o json reports server minor 32', async (t) => {
  const { run } = await sandbox(t);
  const result = await run(['version', '-o', 'json']);
  t.is(result.code, 0);
  const version = JSON.parse(result.stdout) as { serverVersion: { major: string; minor: string; gitVersion: string } };
  t.is(version.serverVersion.major, '1');
  t.is(version.serverVersion.minor, '32');
  t.is(version.serverVersion.gitVersion, 'v1.32.0');
});

test('a 2 MB list of ConfigMaps comes through kubectl whole and encodes to the same bytes twice', async (t) => {
  const { api, run } = await sandbox(t);
  const value = 'x'.repeat(50 * 1024);
  for (let i = 0; i < 42; i += 1) {
    api.store.put(CONFIG_MAPS, { metadata: { name: `big-${String(i).padStart(2, '0')}`, namespace: 'default' }, data: { blob: value } });
  }
  const result = await run(['get', 'cm', '-o', 'json']);
  t.is(result.code, 0);
  const list = JSON.parse(result.stdout) as { items: { data: { blob: string } }[] };
  t.is(list.items.length, 42);
  t.true(list.items.every((item) => item.data.blob === value));

  const fetchList = (): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const req = request(new URL('/api/v1/namespaces/default/configmaps', api.url), { ca: api.caPem, headers: { Authorization: `Bearer ${api.token}` } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(Buffer.concat(chunks)));
      });
      req.on('error', reject);
      req.end();
    });
  const [a, b] = await Promise.all([fetchList(), fetchList()]);
  t.true((a?.length ?? 0) > 2 * 1024 * 1024);
  t.true(a?.equals(b ?? Buffer.alloc(0)));
});

test('the sandbox-api command prints its URL and kubeconfig and stops cleanly on SIGTERM', async (t) => {
  const dir = await tempDir(t);
  const kubeconfig = join(dir, 'nested', 'kubeconfig');
  const commandModule = fileURLToPath(new URL('../../src/local/sandbox-api/command.js', import.meta.url));
  const script = `import(${JSON.stringify(commandModule)}).then((m) => m.runSandboxApiCommand(process.argv.slice(1)))`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--', '--port', '0', '--minor', '31', '--kubeconfig', kubeconfig], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (stdout.includes('KUBECONFIG=')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`sandbox-api exited early with ${String(code)}`)));
  });
  t.regex(stdout, /^sandbox api: https:\/\/127\.0\.0\.1:\d+\nKUBECONFIG=/);
  t.true(stdout.includes(`KUBECONFIG=${kubeconfig}\n`));
  const version = await kubectl(['version', '-o', 'json'], { kubeconfig, env: { HOME: dir } });
  t.is((JSON.parse(version.stdout) as { serverVersion: { minor: string } }).serverVersion.minor, '31');
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  t.is(await exited, 0);
});

test('kubectl create <kind> sends protobuf bodies, which are decoded like JSON ones', async (t) => {
  const { api, run } = await sandbox(t);
  t.is((await run(['create', 'configmap', 'typed', '--from-literal=k=v'])).stdout, 'configmap/typed created\n');
  t.is((await run(['create', 'namespace', 'team-a'])).stdout, 'namespace/team-a created\n');
  t.is((await run(['create', 'secret', 'generic', 'creds', '--from-literal=user=admin', '-n', 'team-a'])).stdout, 'secret/creds created\n');
  const deployment = await run(['create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=2', '--port=80']);
  t.is(deployment.stderr, '');
  t.is(deployment.stdout, 'deployment.apps/web created\n');

  t.deepEqual(api.store.get({ ...CONFIG_MAPS, namespace: 'default', name: 'typed' })?.['data'], { k: 'v' });
  const namespace = api.store.get({ group: '', version: 'v1', resource: 'namespaces', namespace: '', name: 'team-a' });
  t.deepEqual(namespace?.['status'], { phase: 'Active' });
  const secret = api.store.get({ group: '', version: 'v1', resource: 'secrets', namespace: 'team-a', name: 'creds' });
  t.deepEqual(secret?.['data'], { user: Buffer.from('admin').toString('base64') });
  t.is(secret?.['type'], 'Opaque');
  const stored = api.store.get({ group: 'apps', version: 'v1', resource: 'deployments', namespace: 'default', name: 'web' });
  const spec = stored?.['spec'] as { replicas: number; selector: unknown; template: { spec: { containers: { image: string; ports: unknown }[] } } };
  t.is(spec.replicas, 2);
  t.deepEqual(spec.selector, { matchLabels: { app: 'web' } });
  t.is(spec.template.spec.containers[0]?.image, 'nginx:1.27');
  t.deepEqual(spec.template.spec.containers[0]?.ports, [{ containerPort: 80, protocol: 'TCP' }]);
  // the sandbox's controllers run the deployment: once rolled out, both replicas are ready
  t.is((await run(['rollout', 'status', 'deployment/web', '--timeout=60s'])).stdout, 'deployment "web" successfully rolled out\n');
  const table = await run(['get', 'deploy', 'web']);
  t.deepEqual(tableRows(table.stdout)[1]?.slice(0, 4), ['web', '2/2', '2', '2']);
});

test('patch (merge, json, strategic) and replace with a stale resourceVersion', async (t) => {
  const { api, dir, run } = await sandbox(t);
  t.is((await run(['create', '-f', '-'], configMap('target', {}, { a: '1', b: '2' }))).code, 0);
  t.is((await run(['patch', 'cm', 'target', '--type', 'merge', '-p', '{"data":{"c":"3"}}'])).stdout, 'configmap/target patched\n');
  t.is((await run(['patch', 'cm', 'target', '--type', 'json', '-p', '[{"op":"remove","path":"/data/a"}]'])).stdout, 'configmap/target patched\n');
  t.is((await run(['patch', 'cm', 'target', '-p', '{"data":{"b":null}}'])).stdout, 'configmap/target patched\n');
  t.is((await run(['patch', 'cm', 'target', '-p', '{"data":{"c":"3"}}'])).stdout, 'configmap/target patched (no change)\n');
  t.deepEqual(api.store.get({ ...CONFIG_MAPS, namespace: 'default', name: 'target' })?.['data'], { c: '3' });

  const current = await run(['get', 'cm', 'target', '-o', 'json']);
  const file = join(dir, 'replace.json');
  await writeFile(file, current.stdout.replace('"c": "3"', '"c": "4"'));
  t.is((await run(['replace', '-f', file])).stdout, 'configmap/target replaced\n');
  const stale = await run(['replace', '-f', file]);
  t.is(stale.code, 1);
  t.is(
    stale.stderr,
    'Error from server (Conflict): error when replacing "' + file + '": Operation cannot be fulfilled on configmaps "target": the object has been modified; please apply your changes to the latest version and try again\n',
  );
});

test('kubectl get -w lists, then streams a change made after the list', async (t) => {
  const { api, dir, kubeconfig } = await sandbox(t);
  const child = spawn(KUBECTL, ['get', 'cm', '-w'], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir, KUBECONFIG: kubeconfig } });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  const sawChange = new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (stdout.includes('watched')) resolve();
    });
  });
  // kubectl lists (nothing to print), then opens the watch from the list's resourceVersion
  while (api.store.subscriberCount === 0) await new Promise((resolve) => setTimeout(resolve, 50));
  api.store.put(CONFIG_MAPS, { metadata: { name: 'watched', namespace: 'default' }, data: { a: '1' } });
  await sawChange;
  const rows = tableRows(stdout);
  t.deepEqual(rows[0], ['NAME', 'DATA', 'AGE']);
  t.deepEqual(rows[1]?.slice(0, 2), ['watched', '1']);
});
