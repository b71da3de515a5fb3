// AgentStateStore (what the link loads and saves), the local state file, and the `auto` fallback rule from
// the cluster objects to the file.

import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { AgentStateStore, MemoryStateBackend, stateNamespace, type AgentStateBackend, type AgentStateRecord } from '../../../../src/cluster/state/store.js';
import { FallbackStateBackend } from '../../../../src/cluster/state/fallback-backend.js';
import { FileStateBackend } from '../../../../src/cluster/state/file-backend.js';
import type { StateSettings } from '../../../../src/config/agent-config.js';
import { silentLogger } from '../../../../src/log.js';

const LINK = { clusterId: 'c-1', clusterUuid: 'uuid-1', gatewayUrl: 'wss://gw.example.test/ws' };

async function storeWith(record: AgentStateRecord): Promise<{ store: AgentStateStore; backend: MemoryStateBackend }> {
  const backend = new MemoryStateBackend();
  await backend.write(record);
  return { store: await AgentStateStore.open(backend, silentLogger()), backend };
}

test('load hands the link the cluster id and gateway; the cluster id stands in for the uuid', async (t) => {
  const { store } = await storeWith({ agentId: 'agent-1', clusterId: 'c-9', gatewayUrl: 'wss://gw/ws' });
  t.deepEqual(await store.load(), { clusterId: 'c-9', clusterUuid: undefined, gatewayUrl: 'wss://gw/ws' });
  store.barResume();
  t.deepEqual(await store.load(), { clusterId: 'c-9', clusterUuid: undefined, gatewayUrl: undefined });
});

test('save writes the link state with the credentials presented at registration, keeping the agent id', async (t) => {
  const { store, backend } = await storeWith({ agentId: 'agent-1', clusterToken: 'old-token' });
  store.present({ clusterToken: 'new-token', clusterCertData: 'Q0E=' });
  await store.save(LINK);
  t.deepEqual(await backend.read(), {
    agentId: 'agent-1',
    clusterId: 'c-1',
    gatewayUrl: 'wss://gw.example.test/ws',
    clusterToken: 'new-token',
    clusterCertData: 'Q0E=',
  });
  // Forgetting the cluster (PROTOCOL.md §5.5) removes it from the store.
  await store.save({ clusterId: undefined, clusterUuid: undefined, gatewayUrl: undefined });
  const after = await backend.read();
  t.is(after.clusterId, undefined);
  t.is(after.gatewayUrl, undefined);
  t.is(after.agentId, 'agent-1');
});

test('writes are serialised in call order, and one failure does not poison the next', async (t) => {
  const written: string[] = [];
  let isFailing = true;
  const backend: AgentStateBackend = {
    description: 'scripted',
    read: () => Promise.resolve({}),
    async write(record) {
      await new Promise((resolve) => setImmediate(resolve));
      if (isFailing) {
        isFailing = false;
        throw new Error('apiserver down');
      }
      written.push(record.clusterId ?? '-');
    },
  };
  const store = await AgentStateStore.open(backend, silentLogger());
  const first = store.save({ ...LINK, clusterId: 'c-a' });
  const second = store.save({ ...LINK, clusterId: 'c-b' });
  const third = store.save({ ...LINK, clusterId: 'c-c' });
  await t.throwsAsync(first, { message: 'apiserver down' });
  await second;
  await third;
  await store.flush();
  t.deepEqual(written, ['c-b', 'c-c']);
});

test('adoptAgentId persists a new id once and leaves an equal one alone', async (t) => {
  let writes = 0;
  const backend = new MemoryStateBackend();
  const counting: AgentStateBackend = { description: 'counting', read: () => backend.read(), write: (record) => (writes++, backend.write(record)) };
  const store = await AgentStateStore.open(counting, silentLogger());
  await store.adoptAgentId('agent-0123456789abcdef');
  await store.adoptAgentId('agent-0123456789abcdef');
  t.is(writes, 1);
  t.is((await backend.read()).agentId, 'agent-0123456789abcdef');
});

test('an unreadable store starts empty rather than stopping the agent', async (t) => {
  const store = await AgentStateStore.open({ description: 'broken', read: () => Promise.reject(new Error('EACCES')), write: () => Promise.resolve() }, silentLogger());
  t.deepEqual(store.persisted, {});
});

const SETTINGS: StateSettings = {
  backend: 'auto',
  namespace: undefined,
  podNamespace: undefined,
  configMapName: 'pipeops-agent-state',
  secretName: 'pipeops-agent-secrets',
  file: '~/.pipeops-agent/state.json',
};

test('state namespace: setting, else the service-account file, else the pod namespace, else pipeops-system', (t) => {
  const noFile = () => {
    throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
  };
  const saFile = () => 'agents\n';
  t.is(stateNamespace({ ...SETTINGS, namespace: 'explicit', podNamespace: 'pod-ns' }, saFile), 'explicit');
  t.is(stateNamespace({ ...SETTINGS, podNamespace: 'pod-ns' }, saFile), 'agents');
  t.is(stateNamespace({ ...SETTINGS, podNamespace: 'pod-ns' }, noFile), 'pod-ns');
  t.is(stateNamespace(SETTINGS, noFile), 'pipeops-system');
});

function tempFile(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'agent-state-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'nested', 'state.json');
}

test('state file: written 600 with the cluster objects\' keys and the stamp, read back', async (t) => {
  const path = tempFile(t);
  const file = new FileStateBackend({ path, apiUrl: 'https://cp.example.test', clusterName: 'edge', logger: silentLogger() });
  t.deepEqual(await file.read(), {}, 'absent file: empty state');
  const record = { agentId: 'agent-1', clusterId: 'c-1', gatewayUrl: 'wss://gw/ws', clusterToken: 'tok', clusterCertData: 'Q0E=' };
  await file.write(record);
  t.is(statSync(path).mode & 0o777, 0o600);
  t.is(statSync(join(path, '..')).mode & 0o777, 0o700);
  t.deepEqual(JSON.parse(readFileSync(path, 'utf8')), {
    agent_id: 'agent-1',
    cluster_id: 'c-1',
    gateway_ws_url: 'wss://gw/ws',
    cluster_token: 'tok',
    cluster_cert_data: 'Q0E=',
    api_url: 'https://cp.example.test',
    cluster_name: 'edge',
  });
  t.deepEqual(await file.read(), record);
});

test('state file: another control plane\'s state keeps only the agent id; garbage is ignored', async (t) => {
  const path = tempFile(t);
  await new FileStateBackend({ path, apiUrl: 'https://other.example.test', clusterName: 'edge', logger: silentLogger() }).write({ agentId: 'agent-1', clusterId: 'c-1' });
  const file = new FileStateBackend({ path, apiUrl: 'https://cp.example.test', clusterName: 'edge', logger: silentLogger() });
  t.deepEqual(await file.read(), { agentId: 'agent-1' });
  writeFileSync(path, 'not json');
  t.deepEqual(await file.read(), {});
});

function failing(description: string): AgentStateBackend & { writes: number } {
  const backend = {
    description,
    writes: 0,
    read: () => Promise.reject(Object.assign(new Error('forbidden'), { code: 'KUBE_STATUS' })),
    write: () => {
      backend.writes++;
      return Promise.reject(new Error('forbidden'));
    },
  };
  return backend;
}

test('auto fallback: the cluster objects while they work; the file from the first failure on', async (t) => {
  const cluster = new MemoryStateBackend();
  await cluster.write({ agentId: 'agent-c', clusterId: 'c-cluster' });
  const file = new MemoryStateBackend();
  await file.write({ agentId: 'agent-f', clusterId: 'c-file' });
  const healthy = new FallbackStateBackend(cluster, file, silentLogger());
  t.deepEqual(await healthy.read(), { agentId: 'agent-c', clusterId: 'c-cluster' });

  const broken = failing('cluster');
  const fallback = new FallbackStateBackend(broken, file, silentLogger());
  t.deepEqual(await fallback.read(), { agentId: 'agent-f', clusterId: 'c-file' });
  await fallback.write({ agentId: 'agent-f', clusterId: 'c-new' });
  t.is(broken.writes, 0, 'no more cluster attempts once on the file');
  t.is((await file.read()).clusterId, 'c-new');
});

test('auto fallback: empty cluster objects take the file\'s state, and a failing write moves to the file', async (t) => {
  const file = new MemoryStateBackend();
  await file.write({ agentId: 'agent-f', clusterId: 'c-file' });
  const emptyButReadOnly: AgentStateBackend & { writes: number } = Object.assign(failing('cluster'), { read: () => Promise.resolve({}) });
  const fallback = new FallbackStateBackend(emptyButReadOnly, file, silentLogger());
  t.deepEqual(await fallback.read(), { agentId: 'agent-f', clusterId: 'c-file' });
  await fallback.write({ agentId: 'agent-f', clusterId: 'c-2' });
  t.is(emptyButReadOnly.writes, 1);
  t.is((await file.read()).clusterId, 'c-2');
});
