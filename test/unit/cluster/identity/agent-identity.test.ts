// Identity kept in the agent state (CLUSTER.md §1–§2): the derived agent id and its precedence, and the
// token and CA candidates with the resume bar on a change.

import test from 'ava';
import { AgentStateStore, MemoryStateBackend, type AgentStateRecord } from '../../../../src/cluster/state/store.js';
import {
  ClusterCredentials,
  hostIdentityFacts,
  isSameCa,
  resolveAgentId,
  stableAgentId,
  type CredentialSources,
} from '../../../../src/cluster/identity/agent-identity.js';
import { TokenVerdict, type TokenReviewer } from '../../../../src/cluster/identity/token-review.js';
import { silentLogger } from '../../../../src/log.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const CA = Buffer.from(PEM).toString('base64');

async function stateWith(record: AgentStateRecord): Promise<AgentStateStore> {
  const backend = new MemoryStateBackend();
  await backend.write(record);
  return AgentStateStore.open(backend, silentLogger());
}

test('derived agent id: agent- + 16 hex, stable, and blind to a pod\'s changing hostname', (t) => {
  const facts = (hostname: string, isOutOfCluster: boolean) =>
    hostIdentityFacts({ clusterName: 'edge', namespace: 'pipeops-system', kube: undefined, isOutOfCluster, hostname, readFile: () => 'machine-1' });
  const inPodA = stableAgentId(facts('pipeops-agent-5c7f9-abcde', false));
  const inPodB = stableAgentId(facts('pipeops-agent-5c7f9-fghij', false));
  t.regex(inPodA, /^agent-[0-9a-f]{16}$/);
  t.is(inPodA, inPodB, 'a rollout (new pod name) keeps the id');
  t.not(stableAgentId(facts('laptop-a', true)), stableAgentId(facts('laptop-b', true)), 'two hosts outside a cluster differ');
  t.not(
    stableAgentId({ ...facts('x', false), clusterName: 'other' }),
    inPodA,
    'the cluster name is part of it',
  );
});

test('agent id precedence: configured > persisted > derived; the winner is persisted', async (t) => {
  const fresh = await stateWith({});
  t.is(await resolveAgentId(undefined, fresh, () => 'agent-derived'), 'agent-derived');
  t.is(fresh.persisted.agentId, 'agent-derived', 'persisted on first start');
  const stored = await stateWith({ agentId: 'agent-stored' });
  t.is(await resolveAgentId(undefined, stored, () => 'agent-derived'), 'agent-stored');
  t.is(await resolveAgentId('agent-pinned', stored, () => 'agent-derived'), 'agent-pinned');
  t.is(stored.persisted.agentId, 'agent-pinned');
});

function sources(overrides: Partial<CredentialSources>): CredentialSources {
  return { configuredToken: undefined, configuredCa: undefined, mountedToken: () => undefined, mountedCa: () => undefined, ...overrides };
}

function reviewer(verdicts: Readonly<Record<string, TokenVerdict>>, asked: string[] = []): TokenReviewer {
  return {
    canCreateNamespaces(token) {
      asked.push(token);
      return Promise.resolve(verdicts[token] ?? TokenVerdict.unknown);
    },
  };
}

async function chosen(record: AgentStateRecord, source: Partial<CredentialSources>, review?: TokenReviewer): Promise<{ token: string | undefined; state: AgentStateStore }> {
  const state = await stateWith(record);
  const credentials = new ClusterCredentials({ sources: sources(source), state, reviewer: review ?? reviewer({}), logger: silentLogger() });
  const picked = await credentials.prepare();
  return { token: picked.clusterToken, state };
}

test('token candidates: persisted (if valid) > configured > mounted; a rotated mounted token goes first', async (t) => {
  t.is((await chosen({}, { configuredToken: 'cfg', mountedToken: () => 'sa' })).token, 'cfg');
  t.is((await chosen({}, { mountedToken: () => 'sa' })).token, 'sa');
  t.is((await chosen({ clusterToken: 'kept' }, { configuredToken: 'cfg' })).token, 'kept');
  // Projected service-account tokens rotate: the mounted one wins over a different persisted one.
  t.is((await chosen({ clusterToken: 'old-sa' }, { configuredToken: 'cfg', mountedToken: () => 'new-sa' })).token, 'new-sa');
  // A persisted token that fails the namespace-create check gives way.
  t.is((await chosen({ clusterToken: 'revoked' }, { configuredToken: 'cfg' }, reviewer({ revoked: TokenVerdict.denied }))).token, 'cfg');
  t.is((await chosen({ clusterToken: 'a' }, { configuredToken: 'b' }, reviewer({ a: TokenVerdict.denied, b: TokenVerdict.denied }))).token, undefined);
});

test('the namespace-create check runs only when there is a choice to make', async (t) => {
  const asked: string[] = [];
  await chosen({ clusterToken: 'same' }, { configuredToken: 'same', mountedToken: () => 'same' }, reviewer({}, asked));
  t.deepEqual(asked, []);
  await chosen({ clusterToken: 'p' }, { configuredToken: 'c' }, reviewer({}, asked));
  t.deepEqual(asked, ['p'], 'stops at the first candidate not refused');
});

test('CA candidates: configured > persisted > mounted; compared by PEM text', async (t) => {
  const pick = async (record: AgentStateRecord, source: Partial<CredentialSources>) => {
    const state = await stateWith(record);
    return (await new ClusterCredentials({ sources: sources(source), state, reviewer: undefined, logger: silentLogger() }).prepare()).clusterCertData;
  };
  t.is(await pick({ clusterCertData: 'persisted' }, { configuredCa: 'configured', mountedCa: () => 'mounted' }), 'configured');
  t.is(await pick({ clusterCertData: 'persisted' }, { mountedCa: () => 'mounted' }), 'persisted');
  t.is(await pick({}, { mountedCa: () => 'mounted' }), 'mounted');
  t.true(isSameCa(CA, Buffer.from(PEM.trimEnd()).toString('base64')));
  t.false(isSameCa(CA, undefined));
});

test('a changed token or CA bars the gateway resume; unchanged ones keep it', async (t) => {
  const stored = { clusterId: 'c-1', gatewayUrl: 'wss://gw/ws', clusterToken: 'tok', clusterCertData: CA };
  const same = await chosen(stored, { mountedToken: () => 'tok', mountedCa: () => CA });
  t.true(same.state.isResumeAllowed);
  t.is((await same.state.load()).gatewayUrl, 'wss://gw/ws');

  const rotated = await chosen(stored, { mountedToken: () => 'tok-2' });
  t.false(rotated.state.isResumeAllowed);
  t.deepEqual(await rotated.state.load(), { clusterId: 'c-1', clusterUuid: undefined, gatewayUrl: undefined });

  const newCa = Buffer.from(PEM.replace('MIIB', 'MIIC')).toString('base64');
  const recertified = await chosen(stored, { configuredCa: newCa, mountedToken: () => 'tok' });
  t.false(recertified.state.isResumeAllowed);

  // The reference agent's state may lack the Secret: nothing to compare, so register to be sure.
  const noSecret = await chosen({ clusterId: 'c-1', gatewayUrl: 'wss://gw/ws' }, { mountedToken: () => 'tok' });
  t.false(noSecret.state.isResumeAllowed);
});
