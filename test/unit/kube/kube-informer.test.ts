// The informer against a scripted loopback API: list then watch from the list's resourceVersion with
// bookmarks asked for, bookmarks moving the resourceVersion the next watch starts from, a relist on 410
// Gone (refused watch or ERROR event) that reports what vanished, a refused list reported once as 'error',
// and stop() reporting nothing. Plus the sandbox API's real list and watch.

import test, { type ExecutionContext } from 'ava';
import type { ServerResponse } from 'node:http';
import { KubeClient } from '../../../src/kube/kube-client.js';
import { KubeStatusError } from '../../../src/kube/kube-failure.js';
import { KubeInformer, type KubeList, type KubeObject } from '../../../src/kube/kube-informer.js';
import { silentLogger } from '../../../src/log.js';
import { startSandboxApi } from '../../../src/local/sandbox-api/sandbox-server.js';
import { eventually } from '../../helpers/eventually.js';
import { kubeAccessOf, kubeClientOf } from '../../helpers/kube-client.js';
import { sendJson, sendStatus, startScriptedKubeApi, type ScriptedKubeApi, type ScriptedRequest } from '../../helpers/scripted-kube-api.js';

const PATH = '/apis/example.io/v1/things';

function thing(name: string, resourceVersion: string): KubeObject {
  return { apiVersion: 'example.io/v1', kind: 'Thing', metadata: { namespace: 'ns', name, resourceVersion } };
}

function listOf(items: KubeObject[], resourceVersion: string): KubeList<KubeObject> {
  return { items, metadata: { resourceVersion } };
}

function writeEvents(response: ServerResponse, events: { type: string; object: unknown }[], shouldEnd: boolean): void {
  response.writeHead(200, { 'Content-Type': 'application/json' });
  // A watch client waits for the headers; Node holds them until the first write otherwise.
  response.flushHeaders();
  for (const event of events) response.write(`${JSON.stringify(event)}\n`);
  if (shouldEnd) response.end();
}

interface Recorder {
  readonly seen: string[];
  readonly errors: unknown[];
}

function informerOn(t: ExecutionContext, api: ScriptedKubeApi): { informer: KubeInformer<KubeObject>; recorder: Recorder } {
  const client = new KubeClient(kubeAccessOf(api.url, 'agent-token', api.caPem));

  const informer = new KubeInformer<KubeObject>(client, PATH, () => client.get<KubeList<KubeObject>>(PATH));
  t.teardown(async () => {
    await informer.stop();
    client.close();
  });
  const recorder: Recorder = { seen: [], errors: [] };
  informer.on('add', (object) => recorder.seen.push(`add ${object.metadata?.name}`));
  informer.on('update', (object) => recorder.seen.push(`update ${object.metadata?.name}`));
  informer.on('delete', (object) => recorder.seen.push(`delete ${object.metadata?.name}`));
  informer.on('error', (error) => recorder.errors.push(error));
  return { informer, recorder };
}

const isWatch = (request: ScriptedRequest): boolean => request.query.get('watch') === 'true';
const watchVersions = (api: ScriptedKubeApi): (string | null)[] => api.requests.filter(isWatch).map((request) => request.query.get('resourceVersion'));

test('lists, then watches from the list\'s resourceVersion with bookmarks; a bookmark moves where the next watch starts', async (t) => {
  let watches = 0;
  const api = await startScriptedKubeApi(t, (request, response) => {
    if (!isWatch(request)) return sendJson(response, 200, listOf([thing('a', '3'), thing('b', '4')], '5'));
    watches++;
    if (watches === 1) {
      // Ends cleanly, as an API server does at its watch timeout: the informer watches again.
      return writeEvents(
        response,
        [
          { type: 'ADDED', object: thing('c', '6') },
          { type: 'MODIFIED', object: thing('a', '7') },
          { type: 'DELETED', object: thing('b', '8') },
          { type: 'BOOKMARK', object: { kind: 'Thing', apiVersion: 'example.io/v1', metadata: { resourceVersion: '12' } } },
        ],
        true,
      );
    }
    writeEvents(response, [], false);
  });
  const { informer, recorder } = informerOn(t, api);
  await informer.start();
  await eventually(() => watchVersions(api).length === 2, 'the second watch');
  t.deepEqual(recorder.seen, ['add a', 'add b', 'add c', 'update a', 'delete b']);
  t.deepEqual(watchVersions(api), ['5', '12']);
  t.true(api.requests.filter(isWatch).every((request) => request.query.get('allowWatchBookmarks') === 'true'));
  t.is(api.requests.filter((request) => !isWatch(request)).length, 1, 'no second list');
  t.deepEqual(informer.list().map((object) => object.metadata?.name).sort(), ['a', 'c']);
  t.deepEqual(recorder.errors, []);
});

test('a watch refused with 410 Gone lists again: what vanished is deleted, what is new is added', async (t) => {
  let lists = 0;
  let watchesFrom5 = 0;
  const api = await startScriptedKubeApi(t, (request, response) => {
    if (!isWatch(request)) {
      lists++;
      return sendJson(response, 200, lists === 1 ? listOf([thing('a', '3'), thing('b', '4')], '5') : listOf([thing('b', '4'), thing('d', '20')], '21'));
    }
    if (request.query.get('resourceVersion') !== '5') return writeEvents(response, [], false);
    // The first watch ends cleanly after a bookmark at 5; the next one, from 5 again, finds that version
    // compacted away.
    if (++watchesFrom5 === 1) return writeEvents(response, [{ type: 'BOOKMARK', object: { kind: 'Thing', apiVersion: 'example.io/v1', metadata: { resourceVersion: '5' } } }], true);
    sendStatus(response, 410, 'Expired', 'too old resource version');
  });
  const { informer, recorder } = informerOn(t, api);
  await informer.start();
  await eventually(() => watchVersions(api).includes('21'), 'the watch after the relist');
  t.deepEqual(recorder.seen, ['add a', 'add b', 'delete a', 'add d']);
  t.is(lists, 2);
  t.deepEqual(watchVersions(api), ['5', '5', '21']);
  t.deepEqual(recorder.errors, [], 'a relist is not a failure');
});

test('an ERROR event with 410 in the stream lists again', async (t) => {
  let lists = 0;
  const api = await startScriptedKubeApi(t, (request, response) => {
    if (!isWatch(request)) {
      lists++;
      return sendJson(response, 200, lists === 1 ? listOf([thing('a', '3')], '5') : listOf([thing('e', '30')], '31'));
    }
    if (request.query.get('resourceVersion') === '5') {
      return writeEvents(response, [{ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410 } }], false);
    }
    writeEvents(response, [], false);
  });
  const { informer, recorder } = informerOn(t, api);
  await informer.start();
  await eventually(() => watchVersions(api).includes('31'), 'the watch after the relist');
  t.deepEqual(recorder.seen, ['add a', 'delete a', 'add e']);
  t.deepEqual(recorder.errors, []);
});

test('a refused list is reported once as an error, start() resolves, no watch is opened; stop() reports nothing', async (t) => {
  const api = await startScriptedKubeApi(t, (_, response) => sendStatus(response, 403, 'Forbidden', 'things is forbidden'));
  const { informer, recorder } = informerOn(t, api);
  await informer.start();
  t.is(recorder.errors.length, 1);
  t.true(recorder.errors[0] instanceof KubeStatusError);
  t.is((recorder.errors[0] as KubeStatusError).statusCode, 403);
  t.deepEqual(watchVersions(api), []);
  // A watch that is open when stop() aborts it is no failure.
  api.handle = (request, response) => (isWatch(request) ? writeEvents(response, [], false) : sendJson(response, 200, listOf([], '7')));
  await informer.start();
  await eventually(() => watchVersions(api).length === 1, 'the watch');
  await informer.stop();
  await new Promise((resolve) => setImmediate(resolve));
  t.is(recorder.errors.length, 1);
});

test('against the sandbox API: its list and watch, across namespaces', async (t) => {
  const sandbox = await startSandboxApi({ logger: silentLogger(), seed: false });
  t.teardown(() => sandbox.close());
  const configMaps = { group: '', version: 'v1', resource: 'configmaps' } as const;
  sandbox.store.put(configMaps, { metadata: { namespace: 'one', name: 'first' }, data: {} });
  const client = kubeClientOf(sandbox.kubeconfigYaml(), t);
  const informer = new KubeInformer<KubeObject>(client, '/api/v1/configmaps', () => client.get<KubeList<KubeObject>>('/api/v1/configmaps'));
  t.teardown(() => informer.stop());
  const seen: string[] = [];
  informer.on('add', (object) => seen.push(`add ${object.metadata?.namespace}/${object.metadata?.name}`));
  informer.on('update', (object) => seen.push(`update ${object.metadata?.namespace}/${object.metadata?.name}`));
  informer.on('delete', (object) => seen.push(`delete ${object.metadata?.namespace}/${object.metadata?.name}`));
  await informer.start();
  sandbox.store.put(configMaps, { metadata: { namespace: 'two', name: 'second' }, data: {} });
  sandbox.store.put(configMaps, { metadata: { namespace: 'one', name: 'first' }, data: { changed: 'yes' } });
  sandbox.store.delete({ ...configMaps, namespace: 'two', name: 'second' });
  await eventually(() => seen.length === 4, 'the watch events');
  t.deepEqual(seen, ['add one/first', 'add two/second', 'update one/first', 'delete two/second']);
  t.deepEqual(informer.list().map((object) => object.metadata?.name), ['first']);
});

test('a watch the server ends at once without an event is reported as an error, not watched again in a loop', async (t) => {
  const api = await startScriptedKubeApi(t, (request, response) => {
    if (!isWatch(request)) return sendJson(response, 200, listOf([thing('a', '3')], '5'));
    writeEvents(response, [], true);
  });
  const { informer, recorder } = informerOn(t, api);
  await informer.start();
  await eventually(() => recorder.errors.length === 1, 'the short watch is reported');
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.is(api.requests.filter(isWatch).length, 1, 'no second watch until the caller starts again');
  t.regex(String((recorder.errors[0] as Error).message), /ended a watch at once/);
  t.deepEqual(recorder.seen, ['add a']);
});
