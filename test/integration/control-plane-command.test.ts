// Local control plane as kubectl and operators meet it: kubeconfig contents, https/wss with the local
// CA (driven by the real kubectl), and the `control-plane` command's flags, output and shutdown.

import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { startControlPlane } from '../../src/local/control-plane/control-plane-server.js';
import { parseControlPlaneArgs } from '../../src/local/control-plane/command.js';
import { createLoopbackTls } from '../../src/local/tls/local-ca.js';
import { kubectl } from '../helpers/kubectl.js';
import { DEFAULT_AGENT_TOKEN, ScriptedAgent } from '../helpers/scripted-agent.js';

const COMMAND_MODULE = fileURLToPath(new URL('../../src/local/control-plane/command.js', import.meta.url));

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'cp-test-'));
}

test('kubeconfig points at the cluster URL, with the CA when serving TLS, and no credentials', async (t) => {
  const tls = createLoopbackTls('cp-test');
  const cp = await startControlPlane({ tls: { keyPem: tls.server.keyPem, certPem: tls.server.certPem, caPem: tls.caPem } });
  t.teardown(() => cp.close());
  t.regex(cp.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  t.is(cp.clusterUrl('edge-lab'), `${cp.url}/clusters/edge-lab`);
  const dir = await tempDir();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'nested', 'kubeconfig');
  await cp.writeKubeconfig(path, 'edge-lab');
  const text = await readFile(path, 'utf8');
  t.is(text, cp.kubeconfigYaml('edge-lab'));
  t.deepEqual(parse(text), {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'edge-lab', cluster: { server: `${cp.url}/clusters/edge-lab`, 'certificate-authority-data': Buffer.from(tls.caPem).toString('base64') } }],
    contexts: [{ name: 'edge-lab', context: { cluster: 'edge-lab', user: 'edge-lab' } }],
    'current-context': 'edge-lab',
    users: [{ name: 'edge-lab', user: { username: 'local-control-plane' } }],
    preferences: {},
  });
});

test('over TLS, the real kubectl reaches a scripted agent through wss', async (t) => {
  const tls = createLoopbackTls('cp-test');
  const cp = await startControlPlane({ agentToken: DEFAULT_AGENT_TOKEN, tls: { keyPem: tls.server.keyPem, certPem: tls.server.certPem, caPem: tls.caPem } });
  t.teardown(() => cp.close());
  const agent = await ScriptedAgent.connect({ url: cp.url, caPem: tls.caPem });
  t.teardown(() => agent.terminate());
  await agent.register('edge-lab', { k8s_service_token: 'sa-token-1' });
  const dir = await tempDir();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'kubeconfig');
  await cp.writeKubeconfig(kubeconfig, 'edge-lab');

  const version = { major: '1', minor: '31', gitVersion: 'v1.31.2+k3s1', platform: 'linux/amd64' };
  const seen: { path: unknown; authorization: unknown }[] = [];
  const answering = (async () => {
    // kubectl may ask more than once (its version dispatcher, then the command itself)
    for (;;) {
      const message = await agent.next('proxy_request', 30_000).catch(() => undefined);
      if (message === undefined) return;
      seen.push({ path: message.payload['path'], authorization: (message.payload['headers'] as Record<string, unknown>)['Authorization'] });
      const body = Buffer.from(JSON.stringify(version)).toString('base64');
      agent.send('proxy_response', { status: 200, headers: { 'Content-Type': ['application/json'] }, body, encoding: 'base64' }, message.requestId);
    }
  })();
  const result = await kubectl(['version', '-o', 'json'], { kubeconfig, timeoutMs: 30_000 });
  agent.terminate();
  await answering;
  t.is(result.stderr, '');
  t.is(result.code, 0);
  t.is((JSON.parse(result.stdout) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion, 'v1.31.2+k3s1');
  t.true(seen.length > 0);
  t.deepEqual(seen[seen.length - 1], { path: '/version', authorization: ['Bearer sa-token-1'] });
});

test('flag parsing: defaults, both flag forms, and messages naming the bad flag', (t) => {
  t.deepEqual(parseControlPlaneArgs([]), { ok: true, options: { port: 0, kubeconfig: '.demo/kubeconfig', mode: undefined, cluster: 'local', isTls: false } });
  t.deepEqual(parseControlPlaneArgs(['--port', '8443', '--mode=streaming', '--cluster', 'edge', '--kubeconfig=/tmp/k', '--tls']), {
    ok: true,
    options: { port: 8443, kubeconfig: '/tmp/k', mode: 'streaming', cluster: 'edge', isTls: true },
  });
  t.deepEqual(parseControlPlaneArgs(['--port', 'abc']), { ok: false, message: '--port must be an integer from 0 to 65535 (got "abc")' });
  t.deepEqual(parseControlPlaneArgs(['--mode', 'fast']), { ok: false, message: '--mode must be one of legacy, binary, streaming (got "fast")' });
  t.deepEqual(parseControlPlaneArgs(['--kubeconfig']), { ok: false, message: '--kubeconfig: requires a value' });
  t.deepEqual(parseControlPlaneArgs(['--port', '--tls']), { ok: false, message: '--port: requires a value' });
  t.deepEqual(parseControlPlaneArgs(['--verbose']), { ok: false, message: 'unknown flag --verbose' });
  t.deepEqual(parseControlPlaneArgs(['--tsl']), { ok: false, message: 'unknown flag --tsl (did you mean --tls?)' });
});

function runCommand(args: readonly string[], env: Record<string, string> = {}) {
  const script = `import(${JSON.stringify(COMMAND_MODULE)}).then((m) => m.runControlPlaneCommand(${JSON.stringify(args)}))`;
  return spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

test('the command prints its URL and KUBECONFIG, serves agents with PIPEOPS_TOKEN, and exits 0 on SIGTERM', async (t) => {
  const dir = await tempDir();
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'kc', 'kubeconfig');
  const child = runCommand(['--kubeconfig', kubeconfig, '--cluster', 'demo', '--tls'], { PIPEOPS_TOKEN: 'cmd-token' });
  t.teardown(() => child.kill('SIGKILL'));
  let stdout = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (stdout.includes('KUBECONFIG=')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`exited early with ${String(code)}`)));
  });
  const url = /^control plane: (https:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout)?.[1];
  t.truthy(url);
  t.regex(stdout, new RegExp(`^KUBECONFIG=${kubeconfig}$`, 'm'));
  const caPem = await readFile(join(dir, 'kc', 'control-plane-ca.pem'), 'utf8');
  t.true(caPem.startsWith('-----BEGIN CERTIFICATE-----'));
  const config = parse(await readFile(kubeconfig, 'utf8')) as { clusters: { cluster: { server: string } }[] };
  t.is(config.clusters[0]?.cluster.server, `${url!}/clusters/demo`);

  await t.throwsAsync(ScriptedAgent.connect({ url: url!, caPem }), { message: 'handshake refused: 401' });
  const agent = await ScriptedAgent.connect({ url: url!, caPem, token: 'cmd-token' });
  t.teardown(() => agent.terminate());
  t.is((await agent.register('demo')).type, 'register_success');

  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  t.is(await exited, 0);
  t.is((await agent.closed).code, 1001);
  // the cluster registry is kept beside the kubeconfig, so a restarted control plane knows the cluster
  const registry = JSON.parse(await readFile(join(dir, 'kc', 'control-plane-clusters.json'), 'utf8')) as { clusters: { name: string }[] };
  t.deepEqual(registry.clusters.map((cluster) => cluster.name), ['demo']);

  // restarted on the same kubeconfig: the same CA, so agents and kubeconfigs that trust it still connect
  const again = runCommand(['--kubeconfig', kubeconfig, '--cluster', 'demo', '--tls', '--port', new URL(url!).port], { PIPEOPS_TOKEN: 'cmd-token' });
  t.teardown(() => again.kill('SIGKILL'));
  let stdoutAgain = '';
  await new Promise<void>((resolve, reject) => {
    again.stdout.on('data', (chunk: Buffer) => {
      stdoutAgain += chunk.toString('utf8');
      if (stdoutAgain.includes('KUBECONFIG=')) resolve();
    });
    again.on('exit', (code) => reject(new Error(`exited early with ${String(code)}`)));
  });
  t.is(await readFile(join(dir, 'kc', 'control-plane-ca.pem'), 'utf8'), caPem);
  const resumed = await ScriptedAgent.connect({ url: url!, caPem, token: 'cmd-token' });
  t.teardown(() => resumed.terminate());
  const exitedAgain = new Promise<number | null>((resolve) => again.once('exit', resolve));
  again.kill('SIGTERM');
  t.is(await exitedAgain, 0);
});

test('the command exits 2 with a message naming an invalid flag', async (t) => {
  const child = runCommand(['--mode', 'turbo']);
  t.teardown(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.is(code, 2);
  t.is(
    stderr,
    'pipeops-agent control-plane: --mode must be one of legacy, binary, streaming (got "turbo")\n' +
      "Run 'pipeops-agent control-plane --help' for usage.\n",
  );
});
