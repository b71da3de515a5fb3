// `kubectl run` as a new user types it, through the local control plane and the agent: the sandbox
// schedules a pod created through the API, runs its command as a real process whose output is the
// container log, and reports what a kubelet reports: Completed/Succeeded for exit 0, Error/Failed with
// the exit code otherwise, CrashLoopBackOff for a restarting container, and a container without a
// command running (exec works in it) until the pod is deleted, which kills its processes.

import test from 'ava';
import { kubectl } from '../helpers/kubectl.js';
import { startDemoStack, type DemoStack } from '../helpers/demo-stack.js';
import { eventually } from '../helpers/eventually.js';

function runner(stack: DemoStack): (args: readonly string[]) => ReturnType<typeof kubectl> {
  return (args) => kubectl(args, { kubeconfig: stack.kubeconfig, env: { HOME: stack.dir } });
}

test('kubectl run --restart=Never -- echo hi: the command runs, its output is the log, the pod completes', async (t) => {
  const stack = await startDemoStack(t);
  const run = runner(stack);
  t.is((await run(['run', 'tmp', '--image=busybox', '--restart=Never', '--', 'echo', 'hi'])).stdout, 'pod/tmp created\n');
  const waited = await run(['wait', '--for=jsonpath={.status.phase}=Succeeded', 'pod/tmp', '--timeout=30s']);
  t.is(waited.stdout, 'pod/tmp condition met\n', waited.stderr);
  t.is((await run(['logs', 'tmp'])).stdout, 'hi\n');
  const pods = await run(['get', 'pod', 'tmp', '--no-headers']);
  t.regex(pods.stdout, /^tmp\s+0\/1\s+Completed\s+0\s+/);
  const state = JSON.parse((await run(['get', 'pod', 'tmp', '-o', 'jsonpath={.status.containerStatuses[0].state.terminated}'])).stdout) as Record<string, unknown>;
  t.like(state, { exitCode: 0, reason: 'Completed' });
  t.is((await run(['get', 'pod', 'tmp', '-o', 'jsonpath={.spec.nodeName}'])).stdout, 'sandbox-node-1');
});

test('a failing command: Error with its exit code and stderr in the log; a restarting one backs off', async (t) => {
  const stack = await startDemoStack(t);
  const run = runner(stack);
  await run(['run', 'bad', '--image=busybox', '--restart=Never', '--', 'sh', '-c', 'echo oops >&2; exit 3']);
  const waited = await run(['wait', '--for=jsonpath={.status.phase}=Failed', 'pod/bad', '--timeout=30s']);
  t.is(waited.code, 0, waited.stderr);
  t.is((await run(['logs', 'bad'])).stdout, 'oops\n');
  t.regex((await run(['get', 'pod', 'bad', '--no-headers'])).stdout, /^bad\s+0\/1\s+Error\s+0\s+/);
  const terminated = JSON.parse((await run(['get', 'pod', 'bad', '-o', 'jsonpath={.status.containerStatuses[0].state.terminated}'])).stdout) as Record<string, unknown>;
  t.like(terminated, { exitCode: 3, reason: 'Error' });

  // restartPolicy Always (kubectl run's default): the kubelet waits before restarting a container that exited
  await run(['run', 'crash', '--image=busybox', '--', 'sh', '-c', 'exit 1']);
  const waitedCrash = await run(['wait', '--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=CrashLoopBackOff', 'pod/crash', '--timeout=30s']);
  t.is(waitedCrash.code, 0, waitedCrash.stderr);
  t.regex((await run(['get', 'pod', 'crash', '--no-headers'])).stdout, /^crash\s+0\/1\s+CrashLoopBackOff\s+0\s+/);
  t.is((await run(['get', 'pod', 'crash', '-o', 'jsonpath={.status.containerStatuses[0].lastState.terminated.exitCode}'])).stdout, '1');
});

test('a container without a command keeps running: ready, exec works, deleting the pod ends it', async (t) => {
  const stack = await startDemoStack(t);
  const run = runner(stack);
  await run(['run', 'web', '--image=nginx', '--port=80']);
  const ready = await run(['wait', '--for=condition=Ready', 'pod/web', '--timeout=30s']);
  t.is(ready.code, 0, ready.stderr);
  t.regex((await run(['get', 'pod', 'web', '-o', 'wide', '--no-headers'])).stdout, /^web\s+1\/1\s+Running\s+0\s+\S+\s+10\.244\.0\.\d+\s+sandbox-node-1\s/);
  t.is((await run(['exec', 'web', '--', 'sh', '-c', 'echo inside $HOSTNAME'])).stdout, 'inside web\n');

  // a long-running command is killed with its pod
  await run(['run', 'sleeper', '--image=busybox', '--restart=Never', '--', 'sleep', '300']);
  t.is((await run(['wait', '--for=condition=Ready', 'pod/sleeper', '--timeout=30s'])).code, 0);
  const deleted = await run(['delete', 'pod', 'web', 'sleeper', '--wait=true']);
  t.is(deleted.code, 0, deleted.stderr);
  await eventually(() => stack.sandbox.pods.podCount === 1, 'only the demo pod has runtime state left');
});
