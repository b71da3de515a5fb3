// What the agent process loads, recorded by a module resolve hook in the child process: `cli.js run` with a
// plain kubeconfig registers, watches and reads its cluster facts without ever loading
// @kubernetes/client-node (+68 MB RSS, docs/performance.md); a kubeconfig user with an exec credential
// plugin is the case that loads it.

import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { silentLogger } from '../../src/log.js';
import { startControlPlane } from '../../src/local/control-plane/control-plane-server.js';
import { startSandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const TOKEN = 'modules-agent-token';
const CLIENT_NODE = '/node_modules/@kubernetes/client-node/';

/** Writes a resolve hook that appends every resolved URL to `logPath`, and the --import module that registers it. */
function resolveRecorder(dir: string, logPath: string): string {
  const hooks = join(dir, 'record-resolve-hooks.mjs');
  writeFileSync(
    hooks,
    [
      "import { appendFileSync } from 'node:fs';",
      'export async function resolve(specifier, context, nextResolve) {',
      '  const resolved = await nextResolve(specifier, context);',
      `  appendFileSync(${JSON.stringify(logPath)}, resolved.url + '\\n');`,
      '  return resolved;',
      '}',
      '',
    ].join('\n'),
  );
  const register = join(dir, 'record-resolve.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  return register;
}

/** Runs `cli.js run` against a sandbox API and a local control plane until it registered; returns what it resolved. */
async function modulesOfAgentRun(t: ExecutionContext, kubeconfigOf: (sandboxKubeconfig: string, dir: string) => string): Promise<{ resolved: string[]; logs: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'agent-modules-'));
  const logPath = join(dir, 'resolved.log');
  writeFileSync(logPath, '');
  const sandbox = await startSandboxApi({ logger: silentLogger() });
  t.teardown(() => sandbox.close());
  const plane = await startControlPlane({ agentToken: TOKEN, logger: silentLogger() });
  t.teardown(() => plane.close());
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigOf(sandbox.kubeconfigYaml(), dir), { mode: 0o600 });
  const agent = spawn(process.execPath, ['--import', resolveRecorder(dir, logPath), CLI, 'run'], {
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: dir,
      PIPEOPS_API_URL: plane.url,
      PIPEOPS_TOKEN: TOKEN,
      PIPEOPS_CLUSTER_NAME: 'modules',
      KUBECONFIG: kubeconfig,
      AGENT_PORT: '0',
      AGENT_BIND_ADDRESS: '127.0.0.1',
      AGENT_STATE_BACKEND: 'memory',
      AGENT_WORKERS: '1',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  agent.stdout.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
  agent.stderr.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => agent.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (agent.exitCode === null) agent.kill('SIGKILL');
  });
  // Registration carries the Kubernetes version the agent read with its own client, so by now every module
  // of the agent's start (state, identity, facts, informers) was loaded.
  await plane.waitForCluster('modules', 30_000);
  agent.kill('SIGTERM');
  t.is(await exited, 0, logs.join(''));
  return { resolved: readFileSync(logPath, 'utf8').split('\n').filter((line) => line !== ''), logs: logs.join('') };
}

test('`cli.js run` with a token kubeconfig registers without loading @kubernetes/client-node', async (t) => {
  const { resolved, logs } = await modulesOfAgentRun(t, (yaml) => yaml);
  t.true(resolved.some((url) => url.endsWith('/src/kube/kube-client.js')), 'the recorder saw the agent\'s own client');
  t.deepEqual(resolved.filter((url) => url.includes(CLIENT_NODE)), []);
  t.false(logs.includes('full Kubernetes client'));
});

test('a kubeconfig user with an exec credential plugin is what loads @kubernetes/client-node', async (t) => {
  const { resolved, logs } = await modulesOfAgentRun(t, (yaml, dir) => {
    const token = /token: (\S+)/.exec(yaml)?.[1] ?? '';
    const plugin = join(dir, 'credential.cjs');
    writeFileSync(plugin, `process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: ${JSON.stringify(token)} } }));\n`);
    const exec = ['    exec:', '      apiVersion: client.authentication.k8s.io/v1', `      command: ${JSON.stringify(process.execPath)}`, '      args:', `      - ${JSON.stringify(plugin)}`, '      interactiveMode: Never'].join('\n');
    return yaml.replace(/^ {4}token: .*$/m, exec);
  });
  t.true(resolved.some((url) => url.includes(CLIENT_NODE)));
  const told = logs.split('\n').filter((line) => line.includes('full Kubernetes client'));
  t.is(told.length, 1, 'said once');
  t.regex(told[0] ?? '', /"level":30.*"reason":"exec credential plugin"/);
});
