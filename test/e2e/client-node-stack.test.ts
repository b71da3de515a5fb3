// A second client besides kubectl: @kubernetes/client-node's own Watch, Exec, Attach, Log and
// PortForward classes against the demo, each through the whole stack (local control plane, agent,
// sandbox API), as a program using that library would run them against a real cluster. Also the forms
// of a boolean query value that kube-apiserver accepts (runtime.Convert_Slice_string_To_bool: only "0"
// and "false" in any case are false), for watch and follow, through the same stack.

import { request as httpsRequest } from 'node:https';
import { PassThrough, Writable } from 'node:stream';
import { Attach, CoreV1Api, Exec, KubeConfig, Log, PortForward, Watch, type V1Status } from '@kubernetes/client-node';
import test, { type ExecutionContext } from 'ava';
import { DEMO_GREETING } from '../../src/local/sandbox-api/streams/portforward/demo-pod-server.js';
import { startDemoStack, DEMO_CLUSTER, type DemoStack } from '../helpers/demo-stack.js';
import { eventually } from '../helpers/eventually.js';

async function stackWithClient(t: ExecutionContext): Promise<{ stack: DemoStack; kc: KubeConfig }> {
  const stack = await startDemoStack(t);
  const kc = new KubeConfig();
  kc.loadFromFile(stack.kubeconfig);
  return { stack, kc };
}

/** A Writable that keeps everything written to it. */
function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      callback();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

test('client-node Watch gets events (the existing objects, then a created one), not a list', async (t) => {
  const { kc } = await stackWithClient(t);
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'existing' }, data: { key: 'value' } } });
  const events: { type: string; name: string }[] = [];
  let doneError: unknown = 'not done';
  const controller = await new Watch(kc).watch(
    '/api/v1/namespaces/default/configmaps',
    {},
    (type: string, object: { metadata?: { name?: string } }) => events.push({ type, name: object.metadata?.name ?? '' }),
    (error: unknown) => (doneError = error),
  );
  t.teardown(() => controller.abort());
  await eventually(() => events.some((event) => event.name === 'existing'), 'the existing ConfigMap arrives as an ADDED event');
  t.deepEqual(events[0], { type: 'ADDED', name: 'existing' });
  await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'watched' }, data: { key: 'value' } } });
  await eventually(() => events.some((event) => event.name === 'watched'), 'the created ConfigMap arrives');
  t.deepEqual(events.find((event) => event.name === 'watched'), { type: 'ADDED', name: 'watched' });
  t.true(events.every((event) => ['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK'].includes(event.type)));
  t.is(doneError, 'not done', 'the watch is still open');
});

test('client-node Exec: stdout, stderr and the exit code in the Status; with a tty the command has a terminal', async (t) => {
  const { kc } = await stackWithClient(t);
  const out = collector();
  const err = collector();
  const status = await new Promise<V1Status>((resolve, reject) => {
    void new Exec(kc).exec('default', 'demo', 'demo', ['sh', '-c', 'echo out; echo err >&2; exit 3'], out.stream, err.stream, null, false, resolve).catch(reject);
  });
  t.is(out.text(), 'out\n');
  t.is(err.text(), 'err\n');
  t.is(status.status, 'Failure');
  t.is(status.reason, 'NonZeroExitCode');
  t.deepEqual(status.details?.causes, [{ reason: 'ExitCode', message: '3' }]);

  const ttyOut = collector();
  const input = new PassThrough();
  const ttyStatus = new Promise<V1Status>((resolve, reject) => {
    void new Exec(kc).exec('default', 'demo', 'demo', ['sh', '-c', 'read line; test -t 0 && echo "terminal: $line"'], ttyOut.stream, null, input, true, resolve).catch(reject);
  });
  input.write('typed\r');
  const { status: ttyResult } = await ttyStatus;
  t.is(ttyResult, 'Success');
  // the remote terminal echoes what was typed and ends lines with CRLF
  t.is(ttyOut.text(), 'typed\r\nterminal: typed\r\n');
});

test('client-node Attach joins the demo container and receives its live output', async (t) => {
  const { kc } = await stackWithClient(t);
  const out = collector();
  const socket = await new Attach(kc).attach('default', 'demo', 'demo', out.stream, null, null, false);
  t.teardown(() => socket.close());
  await eventually(() => /^\d+ demo tick\n/m.test(out.text()), 'a demo tick arrives through attach');
  t.regex(out.text(), /^(\d+ demo tick\n)+$/);
});

test('client-node Log follows the demo container log (follow=true is a stream through the control plane)', async (t) => {
  const { kc } = await stackWithClient(t);
  const out = collector();
  const controller = await new Log(kc).log('default', 'demo', 'demo', out.stream, { follow: true, tailLines: 1 });
  t.teardown(() => controller.abort());
  // a followed log keeps delivering: lines written after the request arrive too
  await eventually(() => (out.text().match(/demo tick\n/g) ?? []).length >= 3, 'three tick lines arrive on the followed log');
  t.regex(out.text(), /^(\d+ demo tick\n)+$/);
});

test('client-node PortForward reaches the demo pod port over the WebSocket channel protocol', async (t) => {
  const { kc } = await stackWithClient(t);
  const out = collector();
  const err = collector();
  const input = new PassThrough();
  const opened = await new PortForward(kc).portForward('default', 'demo', [8080], out.stream, err.stream, input);
  // without retries the library hands back the socket itself
  const socket = typeof opened === 'function' ? opened() : opened;
  t.teardown(() => socket?.close());
  input.write('GET / HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n');
  await eventually(() => out.text().endsWith(DEMO_GREETING), 'the demo pod answers through the forwarded port');
  t.regex(out.text(), /^HTTP\/1\.1 200 OK\r\n/);
  t.is(err.text(), '', 'no forwarding error');
});

/** The first bytes of a response through the control plane (a watch never ends by itself), and its status. */
function firstBytes(stack: DemoStack, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(`${stack.plane.clusterUrl(DEMO_CLUSTER)}${path}`, { ca: stack.planeCaPem, headers: { Accept: 'application/json' } }, (response) => {
      let text = '';
      const finish = (): void => {
        request.destroy();
        resolve({ status: response.statusCode ?? 0, text });
      };
      response.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        // a whole list, or the first complete watch event line
        if (text.includes('\n')) finish();
      });
      response.once('end', finish);
    });
    request.setTimeout(30_000, () => request.destroy(new Error(`no answer for ${path}`)));
    request.on('error', reject);
    request.end();
  });
}

test('boolean query values as kube-apiserver reads them: watch=True, TRUE, t, 1 ... watch; watch=False, FALSE, 0 list', async (t) => {
  const { stack } = await stackWithClient(t);
  // the ParseBool forms of true, plus "f" and "", which the apiserver also takes as true (only 0/false are false)
  for (const value of ['1', 't', 'T', 'TRUE', 'true', 'True', 'f', 'F', '']) {
    const { status, text } = await firstBytes(stack, `/api/v1/namespaces/default/pods?watch=${value}`);
    t.is(status, 200, `watch=${value}`);
    t.like(JSON.parse(text.split('\n')[0] ?? ''), { type: 'ADDED', object: { kind: 'Pod', metadata: { name: 'demo' } } }, `watch=${value} is a watch`);
  }
  for (const value of ['0', 'false', 'False', 'FALSE', 'fAlSe']) {
    const { status, text } = await firstBytes(stack, `/api/v1/namespaces/default/pods?watch=${value}`);
    t.is(status, 200, `watch=${value}`);
    t.like(JSON.parse(text), { kind: 'PodList' }, `watch=${value} is a list`);
  }
  // follow=True streams: the control plane treats it as long-lived and the sandbox keeps it open
  for (const value of ['True', 'T', '1']) {
    const { status, text } = await firstBytes(stack, `/api/v1/namespaces/default/pods/demo/log?follow=${value}&tailLines=1`);
    t.is(status, 200);
    t.regex(text, /^\d+ demo tick\n/, `follow=${value}`);
  }
});
