// Idle RSS of the agent as its own process (`cli.js run`, AGENT_WORKERS=2 unless set) against an in-process
// sandbox API and local control plane: read from /proc/<pid>/status after it registered and idled 30 s,
// the method of docs/performance.md "At idle". Prints one line per run; `--runs N` repeats.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/log.js';
import { startControlPlane } from '../src/local/control-plane/control-plane-server.js';
import { startSandboxApi } from '../src/local/sandbox-api/sandbox-server.js';
import { AgentProcess } from './chaos/agent-process.js';

const IDLE_MS = 30_000;
const TOKEN = 'idle-rss-token';

async function idleRssMiB(workers: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'idle-rss-'));
  const sandbox = await startSandboxApi({ logger: silentLogger() });
  const plane = await startControlPlane({ agentToken: TOKEN, logger: silentLogger() });
  const kubeconfig = join(dir, 'kubeconfig');
  await sandbox.writeKubeconfig(kubeconfig);
  const agent = await AgentProcess.start({
    controlPlaneUrl: plane.url,
    token: TOKEN,
    clusterName: 'idle',
    kubeconfig,
    env: { AGENT_WORKERS: workers, AGENT_STATE_BACKEND: 'memory', LOG_LEVEL: 'warn' },
  });
  try {
    await plane.waitForCluster('idle', 30_000);
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    return agent.rssBytes() / 1024 / 1024;
  } finally {
    await agent.stop();
    await plane.close();
    await sandbox.close();
  }
}

const runsFlag = process.argv.indexOf('--runs');
const runs = runsFlag >= 0 ? Number(process.argv[runsFlag + 1]) : 1;
const workers = process.env['AGENT_WORKERS'] ?? '2';
for (let run = 1; run <= runs; run++) {
  console.log(`AGENT_WORKERS=${workers} run ${run}: idle RSS ${(await idleRssMiB(workers)).toFixed(1)} MiB`);
}
