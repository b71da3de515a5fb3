// Where the agent's own Kubernetes access comes from: the pod's service account (in-cluster) or a
// kubeconfig file. The common kubeconfig forms (server, CA, client certificate, token, token file) are read
// here, so the main thread never loads @kubernetes/client-node (+68 MB RSS, docs/performance.md). A user
// entry this reader does not understand (exec credential plugins, auth-provider, basic auth, impersonation)
// is handed to client-node, loaded on demand, which then authorizes every request: nothing that worked
// with the full client stops working.

import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';

/** Where a pod's (projected, rotating) service-account token is mounted; read at every use. */
export const SERVICE_ACCOUNT_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';
export const SERVICE_ACCOUNT_CA_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';
export const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export const KubeAccessSource = { inCluster: 'in-cluster', kubeconfig: 'kubeconfig', fullClient: 'full-client' } as const;
export type KubeAccessSource = (typeof KubeAccessSource)[keyof typeof KubeAccessSource];

/** What a request needs on top of the access's fixed TLS settings; filled per request by `authorize`. */
export interface KubeRequestAuth {
  headers: Record<string, string>;
  cert?: string | Buffer;
  key?: string | Buffer;
}

/** The API server, how to trust it and who the agent is there. Holds no open resources. */
export interface KubeAccess {
  readonly source: KubeAccessSource;
  /** API server URL as written, less a trailing slash (path prefix kept, e.g. a proxy's /k8s/clusters/x). */
  readonly server: string;
  /** certificate-authority-data exactly as the kubeconfig has it (base64 PEM); it feeds CLUSTER.md §2's CA candidate. */
  readonly caData: string | undefined;
  /** PEM bundle to trust; undefined means the system store. */
  readonly ca: string | undefined;
  /** Where `ca` was read from, when it came from a file (re-read by the actor threads for every upstream). */
  readonly caFile: string | undefined;
  readonly rejectUnauthorized: boolean;
  readonly tlsServerName: string | undefined;
  readonly clientCert: string | undefined;
  readonly clientKey: string | undefined;
  /** A fixed bearer token. */
  readonly token: string | undefined;
  /** Re-read at every request when set (a projected service-account token rotates). */
  readonly tokenFile: string | undefined;
  /** The context's namespace, when it names one. */
  readonly namespace: string | undefined;
  /** Per-request credentials the full client computes (exec plugins, auth-provider); absent otherwise. */
  readonly authorize?: (auth: KubeRequestAuth) => Promise<void>;
}

/** Why the full client was needed, or undefined when this reader understands the user entry. */
export type FullClientReason = string | undefined;

type YamlMap = Record<string, unknown>;

function asMap(value: unknown): YamlMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as YamlMap) : {};
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The entry called `name` in a kubeconfig list (`clusters`, `users`, `contexts`), unwrapped from its key. */
function named(document: YamlMap, list: string, key: string, name: string | undefined): YamlMap | undefined {
  if (name === undefined) return undefined;
  const entries = Array.isArray(document[list]) ? (document[list] as unknown[]) : [];
  const entry = entries.map(asMap).find((candidate) => candidate['name'] === name);
  return entry === undefined ? undefined : asMap(entry[key]);
}

export class KubeconfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeconfigError';
  }
}

/** A file's text, or base64 data decoded; file paths are relative to the kubeconfig's directory. */
function fileOrData(map: YamlMap, fileKey: string, dataKey: string, baseDir: string): { value: string | undefined; file: string | undefined } {
  const data = text(map[dataKey]);
  if (data !== undefined) return { value: Buffer.from(data, 'base64').toString('utf8'), file: undefined };
  const file = text(map[fileKey]);
  if (file === undefined) return { value: undefined, file: undefined };
  const path = isAbsolute(file) ? file : join(baseDir, file);
  return { value: readFileSync(path, 'utf8'), file: path };
}

function validServer(server: string): string {
  try {
    new URL(server);
  } catch {
    throw new KubeconfigError('the kubeconfig cluster server is not a URL');
  }
  return server.replace(/\/$/, '');
}

/** The user entry's features this reader leaves to the full client. */
export function fullClientReasonOf(user: YamlMap): FullClientReason {
  if (user['exec'] !== undefined && user['exec'] !== null) return 'exec credential plugin';
  if (user['auth-provider'] !== undefined && user['auth-provider'] !== null) return 'auth-provider';
  if (text(user['username']) !== undefined) return 'basic auth';
  if (text(user['as']) !== undefined) return 'impersonation';
  return undefined;
}

export interface ParsedKubeconfig {
  /** Set when the current user needs the full client; `access` then lacks its credentials. */
  readonly fullClientReason: FullClientReason;
  readonly access: KubeAccess;
}

/** Reads the current context of a kubeconfig document; `baseDir` resolves relative file paths. */
export function parseKubeconfig(yamlText: string, baseDir: string): ParsedKubeconfig {
  const document = asMap(parse(yamlText));
  const contextName = text(document['current-context']);
  if (contextName === undefined) throw new KubeconfigError('the kubeconfig has no current-context');
  const context = named(document, 'contexts', 'context', contextName);
  if (context === undefined) throw new KubeconfigError(`the kubeconfig has no context named ${contextName}`);
  const cluster = named(document, 'clusters', 'cluster', text(context['cluster']));
  const server = cluster === undefined ? undefined : text(cluster['server']);
  if (cluster === undefined || server === undefined) throw new KubeconfigError('the kubeconfig has no current cluster');
  const user = named(document, 'users', 'user', text(context['user'])) ?? {};
  const ca = fileOrData(cluster, 'certificate-authority', 'certificate-authority-data', baseDir);
  const cert = fileOrData(user, 'client-certificate', 'client-certificate-data', baseDir);
  const key = fileOrData(user, 'client-key', 'client-key-data', baseDir);
  // kubectl writes `tokenFile`; client-node also read `token-file`.
  const tokenFile = text(user['tokenFile']) ?? text(user['token-file']);
  return {
    fullClientReason: fullClientReasonOf(user),
    access: {
      source: KubeAccessSource.kubeconfig,
      // Kept as written: the stable agent id hashes it (PROTOCOL.md §5.1), so it must not be normalized.
      server: validServer(server),
      caData: text(cluster['certificate-authority-data']),
      ca: ca.value,
      caFile: ca.file,
      rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true,
      tlsServerName: text(cluster['tls-server-name']),
      clientCert: cert.value,
      clientKey: key.value,
      token: text(user['token']),
      tokenFile: tokenFile === undefined || isAbsolute(tokenFile) ? tokenFile : join(baseDir, tokenFile),
      namespace: text(context['namespace']),
    },
  };
}

/** In a pod: KUBERNETES_SERVICE_HOST/PORT, the mounted CA and the rotating mounted token. */
export function inClusterAccess(env: NodeJS.ProcessEnv = process.env, readFile: (path: string) => string = (path) => readFileSync(path, 'utf8')): KubeAccess {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (host === undefined || host === '' || port === undefined || port === '') {
    throw new KubeconfigError('not in a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set, and no kubeconfig was given');
  }
  // As client-go and client-node do: the well-known plain-HTTP proxy ports mean http.
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  let namespace: string | undefined;
  try {
    namespace = text(readFile(SERVICE_ACCOUNT_NAMESPACE_FILE).trim());
  } catch {
    namespace = undefined;
  }
  return {
    source: KubeAccessSource.inCluster,
    server: `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    caData: undefined,
    ca: readFile(SERVICE_ACCOUNT_CA_FILE),
    caFile: SERVICE_ACCOUNT_CA_FILE,
    rejectUnauthorized: true,
    tlsServerName: undefined,
    clientCert: undefined,
    clientKey: undefined,
    token: undefined,
    tokenFile: SERVICE_ACCOUNT_TOKEN_FILE,
    namespace,
  };
}

/** The same cluster and trust with only `token` as the identity (no client certificate, no plugin). */
export function accessWithToken(access: KubeAccess, token: string): KubeAccess {
  return {
    source: access.source,
    server: access.server,
    caData: access.caData,
    ca: access.ca,
    caFile: access.caFile,
    rejectUnauthorized: access.rejectUnauthorized,
    tlsServerName: access.tlsServerName,
    clientCert: undefined,
    clientKey: undefined,
    token,
    tokenFile: undefined,
    namespace: access.namespace,
  };
}

/** The bearer token of a request right now: the token file re-read, else the fixed token. */
export function currentToken(access: KubeAccess): string | undefined {
  if (access.tokenFile !== undefined) {
    try {
      const token = readFileSync(access.tokenFile, 'utf8').trim();
      if (token !== '') return token;
    } catch {
      // a token file that is being rotated or is gone: fall through to the fixed token, if any
    }
  }
  return access.token;
}

export interface LoadKubeAccessOptions {
  /** Told once, at info, when the full client had to be loaded and why. */
  readonly onFullClient?: (reason: string) => void;
}

/**
 * The in-cluster access when `kubeconfigPath` is undefined, else the kubeconfig's current context. A user
 * entry this reader does not understand loads @kubernetes/client-node (see kube-full-client.ts).
 */
export async function loadKubeAccess(kubeconfigPath: string | undefined, options: LoadKubeAccessOptions = {}): Promise<KubeAccess> {
  if (kubeconfigPath === undefined) return inClusterAccess();
  const parsed = parseKubeconfig(readFileSync(kubeconfigPath, 'utf8'), dirname(kubeconfigPath));
  if (parsed.fullClientReason === undefined) return parsed.access;
  options.onFullClient?.(parsed.fullClientReason);
  const { fullClientAccess } = await import('./kube-full-client.js');
  return fullClientAccess(kubeconfigPath, parsed.access);
}
