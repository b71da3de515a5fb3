// The real kubectl against the local control plane, with a scripted agent playing the API server side:
// `kubectl exec` over v5.channel.k8s.io prints the pod's output and takes its exit code from the channel-3
// Status, and kubectl's SPDY attempt shows the control plane's explanation to the user.

import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Envelope } from '../../src/protocol/envelope.js';
import { kubectl } from '../helpers/kubectl.js';
import type { ScriptedAgent } from '../helpers/scripted-agent.js';
import { connectedStack, type ControlPlaneStack } from '../helpers/control-plane-stack.js';

const POD_PATH = '/api/v1/namespaces/default/pods/x';
const POD = {
  kind: 'Pod',
  apiVersion: 'v1',
  metadata: { name: 'x', namespace: 'default', uid: '0b6c1f3e-2a4d-4c4e-9f7a-1d2e3f4a5b6c', resourceVersion: '1' },
  spec: { containers: [{ name: 'main', image: 'busybox' }] },
  status: { phase: 'Running' },
};

/** Just enough discovery for kubectl to resolve `pods` (it asks before the exec in 1.32). */
const DISCOVERY: Readonly<Record<string, object>> = {
  '/api': { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1:6443' }] },
  '/apis': { kind: 'APIGroupList', apiVersion: 'v1', groups: [] },
  '/api/v1': {
    kind: 'APIResourceList',
    groupVersion: 'v1',
    resources: [
      { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'], shortNames: ['po'] },
      { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
    ],
  },
  [POD_PATH]: POD,
};

interface Stack extends ControlPlaneStack {
  readonly kubeconfig: string;
}

async function kubectlStack(t: ExecutionContext): Promise<Stack> {
  const { cp, agent } = await connectedStack(t);
  const dir = await mkdtemp(join(tmpdir(), 'cp-ws-kubectl-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'kubeconfig');
  await cp.writeKubeconfig(kubeconfig, 'edge-lab');
  // kubectl reads discovery and the pod before it execs: answer those (anything else with 404) like an API server
  agent.onEnvelope('proxy_request', function answerRequest(request: Envelope): void {
    const document = DISCOVERY[request.payload['path'] as string];
    const body = JSON.stringify(document ?? { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404 });
    agent.send(
      'proxy_response',
      {
        status: document === undefined ? 404 : 200,
        headers: { 'Content-Type': ['application/json'] },
        body: Buffer.from(body).toString('base64'),
        encoding: 'base64',
      },
      request.requestId,
    );
  });
  return { cp, agent, kubeconfig };
}

/** v5.channel.k8s.io data as the agent relays it: a binary message `[channel][bytes]`, framed as type 2. */
function channelData(channel: number, bytes: string): string {
  return Buffer.concat([Buffer.from([2, channel]), Buffer.from(bytes, 'utf8')]).toString('base64');
}

/** Plays the API server's side of one exec: output on channels 1 and 2, the Status on 3, then the close. */
function playExec(agent: ScriptedAgent, stdout: string, stderr: string, status: object): void {
  agent.onEnvelope('proxy_websocket_start', function answerStart(start: Envelope): void {
    const streamId = start.payload['stream_id'] as string;
    if (stdout !== '') agent.send('proxy_websocket_data', { stream_id: streamId, data: channelData(1, stdout) }, streamId);
    if (stderr !== '') agent.send('proxy_websocket_data', { stream_id: streamId, data: channelData(2, stderr) }, streamId);
    agent.send('proxy_websocket_data', { stream_id: streamId, data: channelData(3, JSON.stringify(status)) }, streamId);
    agent.send('proxy_websocket_close', { stream_id: streamId }, streamId);
  });
}

test('kubectl exec prints the output relayed over v5.channel.k8s.io and exits 0', async (t) => {
  const { agent, kubeconfig } = await kubectlStack(t);
  playExec(agent, 'hello\n', '', { metadata: {}, status: 'Success' });
  const result = await kubectl(['exec', 'x', '--', 'echo', 'hello'], { kubeconfig, timeoutMs: 30_000 });
  t.is(result.stdout, 'hello\n', result.stderr);
  t.is(result.code, 0);
  const start = await agent.next('proxy_websocket_start');
  t.is(start.payload['path'], `${POD_PATH}/exec`);
  t.is(start.payload['query'], 'command=echo&command=hello&container=main&stderr=true&stdout=true');
  const headers = start.payload['headers'] as Record<string, string[]>;
  t.deepEqual(headers['Sec-Websocket-Protocol'], ['v5.channel.k8s.io']);
  t.deepEqual(headers['Authorization'], ['Bearer sa-token-1']);
});

test('kubectl exec takes its exit code and stderr from the relayed Status', async (t) => {
  const { agent, kubeconfig } = await kubectlStack(t);
  playExec(agent, 'out\n', 'err\n', {
    metadata: {},
    status: 'Failure',
    message: 'command terminated with non-zero exit code: exit status 3',
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: '3' }] },
  });
  const result = await kubectl(['exec', 'x', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3'], { kubeconfig, timeoutMs: 30_000 });
  t.is(result.stdout, 'out\n');
  t.true(result.stderr.startsWith('err\n'), result.stderr);
  t.is(result.code, 3);
});

test('with WebSockets turned off, kubectl shows the SPDY refusal and fails', async (t) => {
  const { agent, kubeconfig } = await kubectlStack(t);
  const result = await kubectl(['exec', 'x', '--', 'ls'], {
    kubeconfig,
    timeoutMs: 30_000,
    env: { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' },
  });
  t.is(result.code, 1);
  t.is(result.stdout, '');
  t.is(
    result.stderr,
    'Error from server (BadRequest): SPDY upgrades are not tunnelled by the local control plane; use kubectl >= 1.31 ' +
      'with WebSocket sessions (unset KUBECTL_REMOTE_COMMAND_WEBSOCKETS / KUBECTL_PORT_FORWARD_WEBSOCKETS)\n',
  );
  t.is(agent.countOf('proxy_websocket_start'), 0);
});

test('kubectl port-forward accepts the SPDY/3.1+portforward.k8s.io answer and forwards until the agent ends it', async (t) => {
  const { agent, kubeconfig } = await kubectlStack(t);
  agent.onEnvelope('proxy_websocket_start', function endLater(start: Envelope): void {
    const streamId = start.payload['stream_id'] as string;
    // long enough for kubectl to announce the forward; the close then ends kubectl without a signal
    setTimeout(() => agent.send('proxy_websocket_close', { stream_id: streamId }, streamId), 1000);
  });
  const result = await kubectl(['port-forward', 'x', ':80'], { kubeconfig, timeoutMs: 30_000 });
  t.regex(result.stdout, /^Forwarding from 127\.0\.0\.1:\d+ -> 80\n/, result.stderr);
  const start = await agent.next('proxy_websocket_start');
  t.is(start.payload['path'], `${POD_PATH}/portforward`);
  t.deepEqual((start.payload['headers'] as Record<string, string[]>)['Sec-Websocket-Protocol'], ['SPDY/3.1+portforward.k8s.io']);
  // ended by the agent's close, not by a fallback to SPDY
  t.is(result.code, 1);
  t.regex(result.stderr, /lost connection to pod/);
  t.notRegex(result.stderr, /SPDY upgrades are not tunnelled/);
});
