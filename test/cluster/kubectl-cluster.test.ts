// The e2e kubectl checks, run against a real cluster whose agent is connected to a real control plane.
// Configure with env: PIPEOPS_TEST_KUBECONFIG (a kubeconfig whose server is the control plane's endpoint
// for the cluster), optionally PIPEOPS_TEST_NAMESPACE (created and deleted, default pipeops-agent-e2e) and
// PIPEOPS_TEST_IMAGE (default busybox:1.36). Run with `npm run test:cluster`.

import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KUBECTL, kubectl } from '../helpers/kubectl.js';

const kubeconfig = process.env['PIPEOPS_TEST_KUBECONFIG'];
const namespace = process.env['PIPEOPS_TEST_NAMESPACE'] ?? 'pipeops-agent-e2e';
const image = process.env['PIPEOPS_TEST_IMAGE'] ?? 'busybox:1.36';

if (kubeconfig === undefined || kubeconfig === '') {
  throw new Error('PIPEOPS_TEST_KUBECONFIG is not set: point it at a kubeconfig for the control plane endpoint of a cluster with the agent installed');
}
const config: string = kubeconfig;

const run = (args: string[], input?: string, timeoutMs = 120_000) => kubectl(args, { kubeconfig: config, timeoutMs, ...(input === undefined ? {} : { input }) });

test.before(async () => {
  await run(['delete', 'namespace', namespace, '--ignore-not-found', '--wait=true'], undefined, 300_000);
  const created = await run(['create', 'namespace', namespace]);
  if (created.code !== 0) throw new Error(`could not create ${namespace}: ${created.stderr}`);
  const pod = await run(['-n', namespace, 'run', 'e2e', `--image=${image}`, '--restart=Never', '--', 'sh', '-c', 'while true; do echo tick; sleep 1; done']);
  if (pod.code !== 0) throw new Error(`could not start the test pod: ${pod.stderr}`);
  const ready = await run(['-n', namespace, 'wait', '--for=condition=Ready', 'pod/e2e', '--timeout=180s'], undefined, 200_000);
  if (ready.code !== 0) throw new Error(`test pod not ready: ${ready.stderr}`);
});

test.after.always(async () => {
  await run(['delete', 'namespace', namespace, '--ignore-not-found', '--wait=false']);
});

test.serial('get, create, apply twice, delete', async (t) => {
  t.is((await run(['get', 'ns', namespace])).code, 0);
  const manifest = (value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: e2e\n  namespace: ${namespace}\ndata:\n  mode: "${value}"\n`;
  t.is((await run(['apply', '-f', '-'], manifest('one'))).code, 0);
  const second = await run(['apply', '-f', '-'], manifest('two'));
  t.is(second.stdout.trim(), 'configmap/e2e configured');
  const value = await run(['-n', namespace, 'get', 'cm', 'e2e', '-o', 'jsonpath={.data.mode}']);
  t.is(value.stdout, 'two');
  t.is((await run(['-n', namespace, 'delete', 'cm', 'e2e'])).code, 0);
});

test.serial('logs -f streams lines as the pod writes them', async (t) => {
  const child = spawn(KUBECTL, ['-n', namespace, 'logs', '-f', 'e2e', '--tail=1'], { env: { ...process.env, KUBECONFIG: config } });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (output.split('\n').filter((line) => line === 'tick').length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
  child.kill('SIGTERM');
  t.true(output.split('\n').filter((line) => line === 'tick').length >= 3, output);
});

test.serial('exec: stdin EOF, stderr and exit codes', async (t) => {
  const cat = await run(['-n', namespace, 'exec', '-i', 'e2e', '--', 'cat'], 'hello\n');
  t.is(cat.stdout, 'hello\n');
  t.is(cat.code, 0);
  const failing = await run(['-n', namespace, 'exec', 'e2e', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  t.is(failing.code, 3);
  t.is(failing.stdout, 'out\n');
  t.true(failing.stderr.startsWith('err'));
});

test.serial('cp of a 5 MB file into the pod and back is byte-identical', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cluster-cp-'));
  const payload = randomBytes(5 * 1024 * 1024);
  writeFileSync(join(dir, 'in.bin'), payload);
  t.is((await run(['cp', join(dir, 'in.bin'), `${namespace}/e2e:/tmp/in.bin`], undefined, 300_000)).code, 0);
  t.is((await run(['cp', `${namespace}/e2e:/tmp/in.bin`, join(dir, 'out.bin')], undefined, 300_000)).code, 0);
  const digest = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
  t.is(digest(readFileSync(join(dir, 'out.bin'))), digest(payload));
});

test.serial('watch sees a change made while it watches', async (t) => {
  const child = spawn(KUBECTL, ['-n', namespace, 'get', 'configmaps', '-w', '-o', 'name'], { env: { ...process.env, KUBECONFIG: config } });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  await run(['-n', namespace, 'create', 'configmap', 'watched', '--from-literal=a=b']);
  const deadline = Date.now() + 30_000;
  while (!output.includes('configmap/watched') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
  child.kill('SIGTERM');
  t.true(output.includes('configmap/watched'), output);
});
