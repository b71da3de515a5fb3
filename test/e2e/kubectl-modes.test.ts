// The real kubectl through the local control plane in every wire mode: a watch sees a change made while
// it watches, `logs -f` prints lines as the pod writes them (deflated binary stream frames in every mode
// but legacy, JSON chunks in legacy), a 900 KB apply arrives byte for byte (binary
// request body in binary mode), and a 2 MB list is byte-identical after gzip and binary frames.

import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/log.js';
import { startControlPlane, WireMode } from '../../src/local/control-plane/control-plane-server.js';
import { startSandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import { KUBECTL, kubectl } from '../helpers/kubectl.js';
import { testConfig } from '../helpers/agent-config.js';
import { failOnFault } from '../helpers/agent-harness.js';
import { countStreamFrames } from '../helpers/stream-frames.js';

interface Stack {
  readonly kubeconfig: string;
  readonly directKubeconfig: string;
  readonly plane: Awaited<ReturnType<typeof startControlPlane>>;
}

async function startStack(t: ExecutionContext, mode: WireMode): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), `e2e-${mode}-`));
  const sandbox = await startSandboxApi({ logger: silentLogger() });
  t.teardown(() => sandbox.close());
  const directKubeconfig = join(dir, 'sandbox-kubeconfig');
  await sandbox.writeKubeconfig(directKubeconfig);
  const plane = await startControlPlane({ agentToken: 'modes-token', mode, logger: silentLogger() });
  t.teardown(() => plane.close());
  const agent = await Agent.start({
    config: testConfig({ apiUrl: plane.url, token: 'modes-token', kubeconfig: directKubeconfig, workers: 2, clusterName: 'modes' }),
    logger: silentLogger(),
    onFault: failOnFault(t),
  });
  t.teardown(() => agent.stop());
  await plane.waitForCluster('modes', 20_000);
  const kubeconfig = join(dir, 'kubeconfig');
  await plane.writeKubeconfig(kubeconfig, 'modes');
  return { kubeconfig, directKubeconfig, plane };
}

/** Runs a long-lived kubectl and resolves when its stdout matches `pattern` (or rejects after `timeoutMs`). */
function watchOutput(t: ExecutionContext, args: string[], kubeconfig: string) {
  const child = spawn(KUBECTL, args, { env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', KUBECONFIG: kubeconfig } });
  t.teardown(() => child.kill('SIGKILL'));
  let output = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: (at: number) => void }[] = [];
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(output)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(Date.now());
      }
    }
  });
  return {
    get output() {
      return output;
    },
    until(pattern: RegExp, timeoutMs = 20_000): Promise<number> {
      if (pattern.test(output)) return Promise.resolve(Date.now());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; stdout: ${output}; stderr: ${stderr}`)), timeoutMs);
        waiters.push({
          pattern,
          resolve: (at) => {
            clearTimeout(timer);
            resolve(at);
          },
        });
      });
    },
    stop: () => child.kill('SIGTERM'),
  };
}

const POD = `apiVersion: v1
kind: Pod
metadata:
  name: watched-pod
  namespace: default
spec:
  containers:
  - name: app
    image: registry.example.com/app:1
`;

for (const mode of [WireMode.legacy, WireMode.binary, WireMode.streaming]) {
  test(`${mode} mode: watch, logs -f, a 900 KB apply and a 2 MB list through the tunnel`, async (t) => {
    const stack = await startStack(t, mode);
    // binary stream frames are on in every mode but legacy, which keeps the wire as PROTOCOL.md alone has it
    const frames = countStreamFrames(stack.plane);
    const direct = (args: string[], input?: string) =>
      kubectl(args, { kubeconfig: stack.directKubeconfig, ...(input === undefined ? {} : { input }) });
    const tunnel = (args: string[], input?: string) => kubectl(args, { kubeconfig: stack.kubeconfig, ...(input === undefined ? {} : { input }) });

    // watch: a pod created while kubectl watches shows up on its output
    const watch = watchOutput(t, ['get', 'pods', '-n', 'default', '-w', '-o', 'name'], stack.kubeconfig);
    await watch.until(/pod\/demo/);
    const createdAt = Date.now();
    const created = await direct(['create', '-f', '-'], POD);
    t.is(created.code, 0, created.stderr);
    const seenAt = await watch.until(/pod\/watched-pod/);
    t.log(`watch event seen ${seenAt - createdAt} ms after the create`);
    watch.stop();
    // watch events are JSON: deflated with the stream's one context when the extension is on
    if (mode === WireMode.legacy) t.is(frames.deflatedChunks, 0);
    else t.true(frames.deflatedChunks >= 1 && frames.chunks === 0, `deflated chunks: ${frames.deflatedChunks}`);
    const watchChunks = frames.deflatedChunks;

    // logs -f: lines arrive one after another while kubectl follows
    const logs = watchOutput(t, ['logs', '-f', 'demo', '-n', 'default', '--tail=1'], stack.kubeconfig);
    await logs.until(/\n.*\n/, 20_000);
    const lines = logs.output.split('\n').filter((line) => line !== '').length;
    await logs.until(new RegExp(`(?:.*\\n){${lines + 2}}`), 20_000);
    logs.stop();
    // log lines are text/plain: deflated too; nothing ever goes as a raw frame here
    if (mode === WireMode.legacy) t.deepEqual(frames, { chunks: 0, deflatedChunks: 0, wsData: 0 });
    else t.true(frames.deflatedChunks >= watchChunks + 2 && frames.chunks === 0, `deflated chunks: ${frames.deflatedChunks}`);

    // a 900 KB ConfigMap applied through the tunnel arrives byte for byte
    const blob = Array.from({ length: 900 * 1024 }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26))).join('');
    const manifest = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big-apply\n  namespace: default\ndata:\n  blob: ${blob}\n`;
    const applied = await tunnel(['apply', '-f', '-'], manifest);
    t.is(applied.code, 0, applied.stderr);
    const stored = JSON.parse((await direct(['get', 'cm', 'big-apply', '-o', 'json'])).stdout) as { data: { blob: string } };
    t.is(stored.data.blob, blob);

    // a ~2 MB list: identical through the tunnel and direct
    for (let i = 0; i < 4; i++) {
      const made = await direct(['create', '-f', '-'], `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bulk-${i}\n  namespace: default\ndata:\n  blob: "${String(i).repeat(520 * 1024)}"\n`);
      t.is(made.code, 0, made.stderr);
    }
    const throughTunnel = await tunnel(['get', 'cm', '-n', 'default', '-o', 'json']);
    const directly = await direct(['get', 'cm', '-n', 'default', '-o', 'json']);
    t.is(throughTunnel.code, 0, throughTunnel.stderr);
    t.true(directly.stdout.length > 2 * 1024 * 1024);
    t.is(throughTunnel.stdout, directly.stdout);
  });
}
