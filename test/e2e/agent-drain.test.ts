// SIGTERM drains (PROTOCOL.md §7.7) with the real kubectl and the agent as its own process: an exec in
// progress finishes and prints its output, a `kubectl get` started after the signal gets a clear error
// rather than a hang, and the agent exits 0.

import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/log.js';
import { startControlPlane } from '../../src/local/control-plane/control-plane-server.js';
import { startSandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import { kubectl } from '../helpers/kubectl.js';
import { eventually } from '../helpers/eventually.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const TOKEN = 'drain-agent-token';

test('SIGTERM during `kubectl exec demo -- sh -c "sleep 2; echo done"`: kubectl prints done and exits 0, a later get fails clearly, the agent exits 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-drain-'));
  const sandbox = await startSandboxApi({ logger: silentLogger() });
  t.teardown(() => sandbox.close());
  const directKubeconfig = join(dir, 'sandbox-kubeconfig');
  await sandbox.writeKubeconfig(directKubeconfig);
  const plane = await startControlPlane({ agentToken: TOKEN, logger: silentLogger() });
  t.teardown(() => plane.close());
  const agent = spawn(process.execPath, [CLI, 'run'], {
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: dir,
      PIPEOPS_API_URL: plane.url,
      PIPEOPS_TOKEN: TOKEN,
      PIPEOPS_CLUSTER_NAME: 'drain',
      KUBECONFIG: directKubeconfig,
      AGENT_PORT: '0',
      AGENT_BIND_ADDRESS: '127.0.0.1',
      AGENT_STATE_BACKEND: 'memory',
      AGENT_WORKERS: '1',
      AGENT_DRAIN_TIMEOUT: '20s',
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
  await plane.waitForCluster('drain', 30_000);
  const kubeconfig = join(dir, 'kubeconfig');
  await plane.writeKubeconfig(kubeconfig, 'drain');

  const exec = kubectl(['exec', 'demo', '--', 'sh', '-c', 'sleep 2; echo done'], { kubeconfig, timeoutMs: 60_000 });
  await eventually(() => sandbox.activeStreamSessions() === 1, 'the exec session reached the API server', 30_000);
  agent.kill('SIGTERM');
  await eventually(() => logs.join('').includes('shutdown signal: draining'), 'the agent began draining', 10_000);
  const get = await kubectl(['get', 'pods', '--request-timeout=20s'], { kubeconfig, timeoutMs: 60_000 });
  t.log(get.stderr.trim());
  t.not(get.code, 0);
  t.regex(get.stderr, /agent shutting down|cluster not found|not connected/i, get.stderr);
  const result = await exec;
  t.is(result.stdout, 'done\n', result.stderr);
  t.is(result.code, 0);
  t.is(await exited, 0, logs.join(''));
  t.true(logs.join('').includes('agent stopped'));
});
