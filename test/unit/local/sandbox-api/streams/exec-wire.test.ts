// The exec/attach/log wire of the sandbox API with a raw WebSocket and HTTPS client, where kubectl
// cannot reach: v4 negotiation and its Status wording, refusals before the upgrade (403 for
// subprotocols, 401, 400), the readiness frame, tty merging with resizes, a pod deleted mid-session,
// raw log answers, the port-forward hook, and close() while a process runs.

import { request as httpsRequest } from 'node:https';
import test, { type ExecutionContext } from 'ava';
import WebSocket from 'ws';
import { registerPortForwardHandler } from '../../../../../src/local/sandbox-api/http/request-router.js';
import { startSandboxApi, type SandboxApi } from '../../../../../src/local/sandbox-api/sandbox-server.js';

const DEMO = '/api/v1/namespaces/default/pods/demo';

async function sandbox(t: ExecutionContext): Promise<SandboxApi> {
  const api = await startSandboxApi({ port: 0 });
  t.teardown(() => api.close());
  return api;
}

interface Session {
  readonly protocol: string;
  /** every message until the server closed, as [channel, text] */
  readonly frames: Promise<{ frames: [number, string][]; code: number }>;
  readonly ws: WebSocket;
}

function open(api: SandboxApi, path: string, protocols: string[]): Promise<Session> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${api.url.replace('https', 'wss')}${path}`, protocols, { ca: api.caPem, headers: { Authorization: `Bearer ${api.token}` } });
    const frames: [number, string][] = [];
    const done = new Promise<{ frames: [number, string][]; code: number }>((resolveDone) => {
      ws.on('message', (data: Buffer) => frames.push([data[0] ?? -1, data.subarray(1).toString('utf8')]));
      ws.once('close', (code) => resolveDone({ frames, code }));
    });
    ws.once('open', () => resolve({ protocol: ws.protocol, frames: done, ws }));
    ws.once('error', reject);
  });
}

/** An upgrade the server refuses: status, headers and body of its answer. */
function refused(api: SandboxApi, path: string, protocols: string[], token = api.token): Promise<{ status: number; body: string; upgrade: string | undefined }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${api.url.replace('https', 'wss')}${path}`, protocols, { ca: api.caPem, headers: { Authorization: `Bearer ${token}` } });
    ws.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      response.once('end', () => resolve({ status: response.statusCode ?? 0, body, upgrade: response.headers.upgrade }));
    });
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('error', () => undefined);
  });
}

function get(api: SandboxApi, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${api.url}${path}`, { method, ca: api.caPem, headers: { Authorization: `Bearer ${api.token}`, ...headers } }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      response.once('end', () => resolve({ status: response.statusCode ?? 0, type: response.headers['content-type'], body }));
    });
    req.once('error', reject);
    req.end();
  });
}

function command(...argv: string[]): string {
  return argv.map((arg) => `command=${encodeURIComponent(arg)}`).join('&');
}

test('v5: a readiness frame, stdout and stderr frames, the Success status, a normal close', async (t) => {
  const api = await sandbox(t);
  const session = await open(api, `${DEMO}/exec?${command('sh', '-c', 'echo out; echo err >&2')}&stdout=true&stderr=true`, ['v5.channel.k8s.io']);
  t.is(session.protocol, 'v5.channel.k8s.io');
  const { frames, code } = await session.frames;
  t.deepEqual(frames[0], [1, ''], 'the first frame is an empty stdout frame');
  t.deepEqual(frames.filter(([channel]) => channel === 1).map(([, text]) => text).join(''), 'out\n');
  t.deepEqual(frames.filter(([channel]) => channel === 2).map(([, text]) => text).join(''), 'err\n');
  t.deepEqual(frames.at(-1), [3, '{"metadata":{},"status":"Success"}']);
  t.is(code, 1000);
});

test('v4 is chosen when offered first, and its exit Status carries the runtime wording', async (t) => {
  const api = await sandbox(t);
  const session = await open(api, `${DEMO}/exec?${command('sh', '-c', 'exit 3')}&stdout=1`, ['v4.channel.k8s.io', 'v5.channel.k8s.io']);
  t.is(session.protocol, 'v4.channel.k8s.io');
  const { frames } = await session.frames;
  t.deepEqual(frames.at(-1), [
    3,
    '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}',
  ]);
});

test('v5 stdin: data on channel 0, then the close signal ends the process input', async (t) => {
  const api = await sandbox(t);
  const session = await open(api, `${DEMO}/exec?command=cat&stdin=true&stdout=true`, ['v5.channel.k8s.io']);
  session.ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('abc')]));
  session.ws.send(Buffer.from([255, 0]));
  const { frames } = await session.frames;
  t.is(frames.filter(([channel]) => channel === 1).map(([, text]) => text).join(''), 'abc');
  t.deepEqual(frames.at(-1), [3, '{"metadata":{},"status":"Success"}']);
});

test('tty: a pseudo-terminal echoes input, merges stderr into stdout with CRLF and takes the resize as its size', async (t) => {
  const api = await sandbox(t);
  const session = await open(api, `${DEMO}/exec?${command('sh', '-c', 'read line; stty size; echo "got $line"; echo e >&2')}&stdin=true&stdout=true&stderr=true&tty=true`, ['v5.channel.k8s.io']);
  session.ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":120,"Height":40}')]));
  session.ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('x\r')]));
  const { frames } = await session.frames;
  t.is(frames.filter(([channel]) => channel === 2).length, 0);
  // the line discipline echoes "x", turns the typed CR into the newline `read` waits for, and writes CRLF
  t.is(frames.filter(([channel]) => channel === 1).map(([, text]) => text).join(''), 'x\r\n40 120\r\ngot x\r\ne\r\n');
  t.deepEqual(frames.at(-1), [3, '{"metadata":{},"status":"Success"}']);
});

test('refusals before any upgrade: 403 for unknown subprotocols, 401 without the token, 400 for SPDY and bad options', async (t) => {
  const api = await sandbox(t);
  const exec = `${DEMO}/exec?command=true&stdout=true`;
  t.deepEqual(await refused(api, exec, ['channel.k8s.io', 'base64.channel.k8s.io']), { status: 403, body: '', upgrade: undefined });
  const noToken = await refused(api, exec, ['v5.channel.k8s.io'], 'wrong');
  t.is(noToken.status, 401);
  t.is(JSON.parse(noToken.body).message, 'Unauthorized');
  const badContainer = await refused(api, `${exec}&container=nope`, ['v5.channel.k8s.io']);
  t.is(badContainer.status, 400);
  t.is(JSON.parse(badContainer.body).message, 'container nope is not valid for pod demo');
  const noStreams = await refused(api, `${DEMO}/exec?command=true`, ['v5.channel.k8s.io']);
  t.is(JSON.parse(noStreams.body).message, 'you must specify at least 1 of stdin, stdout, stderr');
  const missingPod = await refused(api, '/api/v1/namespaces/default/pods/nope/attach?stdout=true', ['v5.channel.k8s.io']);
  t.is(missingPod.status, 404);
  t.is(JSON.parse(missingPod.body).message, 'pods "nope" not found');
  const spdy = await get(api, exec, 'POST', { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' });
  t.is(spdy.status, 400);
  t.regex(JSON.parse(spdy.body).message, /^the sandbox API serves exec and attach over WebSocket only .*SPDY\/3\.1 upgrades are not supported$/);
  const plain = await get(api, exec, 'POST');
  t.is(plain.status, 400);
  t.is(JSON.parse(plain.body).message, 'Upgrade request required');
});

test('a pod deleted mid-exec kills the process: exit 137 reaches the client', async (t) => {
  const api = await sandbox(t);
  const session = await open(api, `${DEMO}/exec?${command('sleep', '300')}&stdout=true`, ['v5.channel.k8s.io']);
  await new Promise((resolve) => setTimeout(resolve, 200));
  api.store.delete({ group: '', version: 'v1', resource: 'pods', namespace: 'default', name: 'demo' });
  const { frames } = await session.frames;
  t.regex(frames.at(-1)?.[1] ?? '', /"message":"command terminated with non-zero exit code: command terminated with exit code 137"/);
});

test('close() ends running sessions and their processes', async (t) => {
  const api = await sandbox(t);
  const session = await open(api, `${DEMO}/exec?${command('sleep', '300')}&stdout=true`, ['v5.channel.k8s.io']);
  t.is(api.activeStreamSessions(), 1);
  await api.close();
  t.is(api.activeStreamSessions(), 0);
  const { code } = await session.frames;
  t.not(code, 1000, 'the connection is dropped, not finished');
});

test('raw log answers: text/plain body, the 400 for an ambiguous container, previous, 404', async (t) => {
  const api = await sandbox(t);
  const ok = await get(api, `${DEMO}/log?tailLines=1`);
  t.is(ok.status, 200);
  t.is(ok.type, 'text/plain');
  t.regex(ok.body, /^\d+ demo tick\n$/);
  api.store.put({ group: '', version: 'v1', resource: 'pods' }, { metadata: { name: 'pair', namespace: 'default' }, spec: { containers: [{ name: 'a' }, { name: 'b' }] } });
  const ambiguous = await get(api, '/api/v1/namespaces/default/pods/pair/log');
  t.is(ambiguous.status, 400);
  t.is(ambiguous.body, '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"a container name must be specified for pod pair, choose one of: [a b]","reason":"BadRequest","code":400}\n');
  const previous = await get(api, `${DEMO}/log?previous=true`);
  t.is(JSON.parse(previous.body).message, 'previous terminated container "demo" in pod "demo" not found');
  const missing = await get(api, '/api/v1/namespaces/default/pods/nope/log');
  t.is(missing.status, 404);
  t.is(JSON.parse(missing.body).message, 'pods "nope" not found');
  t.is((await get(api, `${DEMO}/log`, 'POST')).status, 405);
});

test.serial('the port-forward hook: a registered handler serves pods/<name>/portforward, and restore undoes it', async (t) => {
  const before = await get(await sandbox(t), `${DEMO}/portforward?ports=8080`);
  const restore = registerPortForwardHandler(() => ({
    serveRequest: (target, _request, response) => void response.end(`forwarding ${target.name} ${target.query.get('ports') ?? ''}`),
    serveUpgrade: (_target, exchange) => void exchange.response().end('upgrade'),
    activeSessions: 0,
    close: async () => undefined,
  }));
  t.teardown(restore);
  const answer = await get(await sandbox(t), `${DEMO}/portforward?ports=8080`);
  t.is(answer.body, 'forwarding demo 8080');
  restore();
  const after = await get(await sandbox(t), `${DEMO}/portforward?ports=8080`);
  t.is(after.status, before.status);
  t.is(after.body, before.body);
  const missingPod = await get(await sandbox(t), '/api/v1/namespaces/default/pods/nope/portforward');
  t.is(missingPod.status, 404, 'the router checks the pod before any handler runs');
});

test('tty: a pod deleted mid-exec kills the terminal\'s process group: exit 137; close() leaves no process', async (t) => {
  const api = await sandbox(t);
  const deleted = await open(api, `${DEMO}/exec?${command('sh', '-c', 'echo started; sleep 300')}&stdout=true&tty=true`, ['v5.channel.k8s.io']);
  deleted.ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":80,"Height":24}')]));
  api.store.delete({ group: '', version: 'v1', resource: 'pods', namespace: 'default', name: 'demo' });
  const { frames } = await deleted.frames;
  t.regex(frames.at(-1)?.[1] ?? '', /command terminated with exit code 137/);

  const other = await sandbox(t);
  const running = await open(other, `${DEMO}/exec?${command('sleep', '300')}&stdout=true&tty=true`, ['v5.channel.k8s.io']);
  running.ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":80,"Height":24}')]));
  await other.close();
  t.is(other.activeStreamSessions(), 0);
  t.not((await running.frames).code, 1000, 'the connection is dropped, not finished');
});

test('tty: a resize reaches the running process (SIGWINCH, new size); ^C is SIGINT to its process group', async (t) => {
  const api = await sandbox(t);
  // the trap runs between the short sleeps; the loop is bounded so nothing can run on
  const script = 'trap "stty size" WINCH; echo ready; i=0; while [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done';
  const session = await open(api, `${DEMO}/exec?${command('sh', '-c', script)}&stdin=true&stdout=true&tty=true`, ['v5.channel.k8s.io']);
  const seen: string[] = [];
  session.ws.on('message', (data: Buffer) => {
    if (data[0] === 1) seen.push(data.subarray(1).toString('utf8'));
  });
  const waitFor = async (pattern: RegExp): Promise<void> => {
    for (let attempt = 0; attempt < 400 && !pattern.test(seen.join('')); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 25));
    t.regex(seen.join(''), pattern);
  };
  session.ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":100,"Height":30}')]));
  await waitFor(/ready\r\n/);
  session.ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":132,"Height":43}')]));
  await waitFor(/43 132\r\n/);
  // the terminal's ISIG turns the ^C byte into SIGINT for the foreground process group: sh and its sleep
  session.ws.send(Buffer.from([0, 0x03]));
  const { frames, code } = await session.frames;
  t.regex(frames.at(-1)?.[1] ?? '', /command terminated with exit code 130/);
  t.is(code, 1000);
});

test('tty: a program that does not exist fails before it starts, with the runtime\'s message', async (t) => {
  const api = await sandbox(t);
  const session = await open(api, `${DEMO}/exec?${command('no-such-program')}&stdout=true&tty=true`, ['v5.channel.k8s.io']);
  session.ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":80,"Height":24}')]));
  const { frames } = await session.frames;
  t.regex(frames.at(-1)?.[1] ?? '', /exec: \\"no-such-program\\": executable file not found in \$PATH: unknown/);
  t.regex(frames.at(-1)?.[1] ?? '', /"reason":"InternalError"/);
});
