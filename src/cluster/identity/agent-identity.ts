// Who the agent is to the control plane (CLUSTER.md §1–§2): the agent id (configured > persisted >
// derived from stable host facts, never the pod UID), and the cluster token and CA it hands over at
// registration. A token or CA that differs from the persisted one bars the gateway resume, so the control
// plane hears about it through a full registration.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Logger } from 'pino';
import type { AgentConfig } from '../../config/agent-config.js';
import { SERVICE_ACCOUNT_TOKEN_FILE, kubeUserToken } from '../../kube/kube-endpoint.js';
import type { KubeClient } from '../../kube/kube-client.js';
import type { KubeAccess } from '../../kube/kubeconfig.js';
import type { StateStore } from '../../link/link-state.js';
import { DEFAULT_STATE_NAMESPACE, openAgentState, nonEmptyText, stateNamespace, type AgentCredentials, type AgentStateStore } from '../state/store.js';
import { SelfSubjectAccessReviewer, TokenVerdict, type TokenReviewer } from './token-review.js';

export const SERVICE_ACCOUNT_CA_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';
const MACHINE_ID_FILES = ['/etc/machine-id', '/var/lib/dbus/machine-id'];

type ReadFile = (path: string) => string;
const readUtf8: ReadFile = (path) => readFileSync(path, 'utf8');

function readOptional(readFile: ReadFile, path: string): string | undefined {
  try {
    return nonEmptyText(readFile(path));
  } catch {
    return undefined;
  }
}

/** What the derived agent id hashes; every field must survive a restart of the agent. */
export interface HostIdentityFacts {
  readonly clusterName: string;
  readonly namespace: string;
  readonly apiServer: string | undefined;
  /** Outside a pod only: a pod's hostname is its name, which changes with every rollout. */
  readonly hostname: string | undefined;
  /** Outside a pod only: inside one it would be the image's or the node's, neither tied to this agent. */
  readonly machineId: string | undefined;
}

export function hostIdentityFacts(input: {
  readonly clusterName: string;
  readonly namespace: string;
  readonly kube: KubeAccess | undefined;
  readonly isOutOfCluster: boolean;
  readonly readFile?: ReadFile;
  readonly hostname?: string;
}): HostIdentityFacts {
  const readFile = input.readFile ?? readUtf8;
  const machineId = input.isOutOfCluster ? MACHINE_ID_FILES.map((path) => readOptional(readFile, path)).find((id) => id !== undefined) : undefined;
  return {
    clusterName: input.clusterName,
    namespace: input.namespace,
    apiServer: input.kube?.server,
    hostname: input.isOutOfCluster ? (input.hostname ?? os.hostname()) : undefined,
    machineId,
  };
}

/** `agent-` + 16 lowercase hex digits of a SHA-256 over the facts (PROTOCOL.md §5.1). */
export function stableAgentId(facts: HostIdentityFacts): string {
  const text = ['pipeops-agent', facts.clusterName, facts.namespace, facts.apiServer ?? '', facts.hostname ?? '', facts.machineId ?? ''].join('\n');
  return `agent-${createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16)}`;
}

/** Configured > persisted > derived; the winner is persisted, so the id survives restarts from then on. */
export async function resolveAgentId(configured: string | undefined, state: AgentStateStore, derive: () => string): Promise<string> {
  const agentId = configured ?? state.persisted.agentId ?? derive();
  await state.adoptAgentId(agentId);
  return agentId;
}

/** Where the token and CA candidates come from; the mounted ones are re-read at every call. */
export interface CredentialSources {
  readonly configuredToken: string | undefined;
  /** base64 PEM */
  readonly configuredCa: string | undefined;
  /** The service-account token (projected tokens rotate), else outside a pod the kubeconfig user's. */
  readonly mountedToken: () => string | undefined;
  /** base64 PEM of the service-account ca.crt, else outside a pod the kubeconfig cluster's CA. */
  readonly mountedCa: () => string | undefined;
}

function kubeconfigCa(access: KubeAccess | undefined, readFile: ReadFile): string | undefined {
  if (access === undefined) return undefined;
  if (nonEmptyText(access.caData) !== undefined) return nonEmptyText(access.caData);
  if (access.caFile === undefined) return undefined;
  const pem = readOptional(readFile, access.caFile);
  return pem === undefined ? undefined : Buffer.from(`${pem}\n`, 'utf8').toString('base64');
}

export function credentialSourcesFor(config: AgentConfig, kube: KubeAccess | undefined, readFile: ReadFile = readUtf8): CredentialSources {
  return {
    configuredToken: config.kubernetes.serviceToken,
    configuredCa: config.kubernetes.caCertData,
    mountedToken: () => readOptional(readFile, SERVICE_ACCOUNT_TOKEN_FILE) ?? (kube === undefined ? undefined : kubeUserToken(kube)),
    mountedCa: () => {
      const pem = readOptional(readFile, SERVICE_ACCOUNT_CA_FILE);
      return pem === undefined ? kubeconfigCa(kube, readFile) : Buffer.from(`${pem}\n`, 'utf8').toString('base64');
    },
  };
}

/** Compares CA bundles by their PEM text, so re-encoding (line breaks, trailing newline) is no change. */
export function isSameCa(a: string | undefined, b: string | undefined): boolean {
  const pemOf = (value: string | undefined) =>
    value === undefined ? undefined : Buffer.from(value.replace(/\s+/g, ''), 'base64').toString('utf8').replace(/\s+/g, '');
  return pemOf(a) === pemOf(b);
}

export interface ClusterCredentialsOptions {
  readonly sources: CredentialSources;
  readonly state: AgentStateStore;
  /** Absent (no Kubernetes access): every candidate counts as unchecked. */
  readonly reviewer: TokenReviewer | undefined;
  readonly logger: Logger;
}

export class ClusterCredentials {
  readonly #options: ClusterCredentialsOptions;
  /** A token adopted from register_success in this process: the freshest candidate, persisted or not. */
  #adoptedToken: string | undefined;

  constructor(options: ClusterCredentialsOptions) {
    this.#options = options;
  }

  /** Before the first dial: picks the credentials and bars the resume when they changed since they were stored. */
  async prepare(): Promise<AgentCredentials> {
    const { state, logger } = this.#options;
    const chosen = await this.#choose();
    state.present(chosen);
    const stored = state.persisted;
    if (stored.clusterId !== undefined && stored.gatewayUrl !== undefined) {
      const isTokenChanged = chosen.clusterToken !== stored.clusterToken;
      const isCaChanged = !isSameCa(chosen.clusterCertData, stored.clusterCertData);
      if (isTokenChanged || isCaChanged) {
        state.barResume();
        logger.info({ isTokenChanged, isCaChanged }, 'cluster token or CA changed since the last registration: registering instead of resuming');
      }
    }
    return chosen;
  }

  /**
   * §5.2: a `register_success.token` replaces the stored cluster token if it passes the namespace-create
   * check (a clear "no" keeps the old one). It is persisted with the next save and used from the next
   * registration on. Returns whether it was adopted.
   */
  async adopt(token: string): Promise<boolean> {
    const { reviewer, state, logger } = this.#options;
    if (reviewer !== undefined && (await reviewer.canCreateNamespaces(token)) === TokenVerdict.denied) {
      logger.warn('the cluster token from register_success failed the namespace-create check; keeping the current one');
      return false;
    }
    const current = await this.#choose();
    this.#adoptedToken = token;
    state.present({ clusterToken: token, clusterCertData: current.clusterCertData });
    logger.info('adopted the cluster token from register_success');
    return true;
  }

  /** The `k8s_service_token` for a registration about to be sent; what it returns is persisted after success. */
  async serviceToken(): Promise<string | undefined> {
    const chosen = await this.#choose();
    this.#options.state.present(chosen);
    return chosen.clusterToken;
  }

  async #choose(): Promise<AgentCredentials> {
    const { sources, state } = this.#options;
    const stored = state.persisted;
    const clusterCertData = sources.configuredCa ?? stored.clusterCertData ?? sources.mountedCa();
    return { clusterToken: await this.#chooseToken(this.#adoptedToken ?? stored.clusterToken), clusterCertData };
  }

  /**
   * Candidates in CLUSTER.md §2 order: the persisted token, the configured one, the mounted one; but a
   * mounted token that differs from the persisted one goes first, because projected tokens rotate.
   * The namespace-create check runs only when there is a choice to make; a clear "no" skips a candidate.
   */
  async #chooseToken(persisted: string | undefined): Promise<string | undefined> {
    const { sources, reviewer, logger } = this.#options;
    const mounted = sources.mountedToken();
    const ordered: (string | undefined)[] = [];
    // A token the control plane issued in this process was just checked: it goes before a rotated mount.
    if (this.#adoptedToken !== undefined) ordered.push(this.#adoptedToken);
    if (persisted !== undefined && mounted !== undefined && mounted !== persisted) ordered.push(mounted);
    ordered.push(persisted, sources.configuredToken, mounted);
    const candidates = [...new Set(ordered.filter((token): token is string => token !== undefined))];
    if (candidates.length <= 1 || reviewer === undefined) return candidates[0];
    for (const candidate of candidates) {
      const verdict = await reviewer.canCreateNamespaces(candidate);
      if (verdict !== TokenVerdict.denied) return candidate;
      logger.info({ candidate: candidate === persisted ? 'persisted' : candidate === mounted ? 'mounted' : 'configured' }, 'token candidate failed the namespace-create check');
    }
    logger.warn('no cluster token passed the namespace-create check; registering without k8s_service_token');
    return undefined;
  }
}

export interface ClusterIdentity {
  readonly agentId: string;
  /** The agent's state, for the agent's own use (credentials, flushing at stop). */
  readonly state: AgentStateStore;
  /** What the link loads and saves: the state itself, unless the caller supplied its own store. */
  readonly linkStore: StateStore;
  readonly credentials: ClusterCredentials;
}

export interface OpenClusterIdentityOptions {
  readonly config: AgentConfig;
  readonly kube: KubeClient | undefined;
  readonly logger: Logger;
  /** A store supplied by the embedder (tests): the link uses it and nothing else is persisted. */
  readonly stateStore?: StateStore;
  readonly readFile?: ReadFile;
}

/** Loads the state, settles the agent id and the credentials: everything the first dial depends on. */
export async function openClusterIdentity(options: OpenClusterIdentityOptions): Promise<ClusterIdentity> {
  const { config, kube, logger } = options;
  const readFile = options.readFile ?? readUtf8;
  const isOutOfCluster = config.kubernetes.kubeconfig !== undefined;
  const settings = options.stateStore === undefined ? config.state : undefined;
  const state = await openAgentState({
    settings,
    kube,
    isOutOfCluster,
    apiUrl: config.pipeops.apiUrl,
    clusterName: config.agent.clusterName,
    logger,
    readFile,
  });
  const namespace = config.state === undefined ? DEFAULT_STATE_NAMESPACE : stateNamespace(config.state, readFile);
  const agentId = await resolveAgentId(config.agent.id, state, () =>
    stableAgentId(hostIdentityFacts({ clusterName: config.agent.clusterName, namespace, kube: kube?.access, isOutOfCluster, readFile })),
  );
  const credentials = new ClusterCredentials({
    sources: credentialSourcesFor(config, kube?.access, readFile),
    state,
    reviewer: kube === undefined ? undefined : new SelfSubjectAccessReviewer({ kube }),
    logger,
  });
  await credentials.prepare();
  return { agentId, state, linkStore: options.stateStore ?? state, credentials };
}
