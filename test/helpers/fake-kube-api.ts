// A scriptable stand-in for the Kubernetes API on 127.0.0.1:0 over HTTPS with its own CA: records every
// request (method, url, headers, body) and answers with the test's handler. Writes a kubeconfig for it.

import https from 'node:https';
import type http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { loopbackTlsFor } from '../../src/local/tls/local-ca.js';

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly body: Buffer;
}

export type FakeHandler = (request: RecordedRequest, response: http.ServerResponse) => void;

const defaultHandler: FakeHandler = (request, response) => {
  response.writeHead(200, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify({ kind: 'Echo', method: request.method, url: request.url }));
};

/** Objects the agent reads with its own token (monitoring discovery), keyed `namespace/name`. */
export interface FakeClusterObjects {
  /**
   * Namespaces whose Services and Secrets this fake answers itself when the agent reads them with its own
   * token (`pipeops-monitoring` from the start); reads in other namespaces go to the test's handler.
   */
  readonly namespaces: Set<string>;
  readonly services: Map<string, Record<string, unknown>>;
  readonly secrets: Map<string, Record<string, unknown>>;
  /**
   * Reads never answered, to test the agent's time bounds: `namespace/kind/name` (kind `services` or
   * `secrets`), or `namespace/services` for the list.
   */
  readonly hanging: Set<string>;
  /** Reads answered 403 Forbidden, keyed like `hanging`. */
  readonly forbidden: Set<string>;
}

/** A Service object as the API returns it, with the given ports. */
export function fakeService(namespace: string, name: string, ports: readonly { name?: string; port: number }[]): Record<string, unknown> {
  return {
    kind: 'Service',
    apiVersion: 'v1',
    metadata: { name, namespace, resourceVersion: '1' },
    spec: { type: 'ClusterIP', clusterIP: '10.43.0.10', ports: ports.map((port) => ({ protocol: 'TCP', targetPort: port.port, ...port })) },
  };
}

/** An Opaque Secret object with `data` base64-encoded, as the API returns it. */
export function fakeSecret(namespace: string, name: string, data: Readonly<Record<string, string>>): Record<string, unknown> {
  const encoded = Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value).toString('base64')]));
  return { kind: 'Secret', apiVersion: 'v1', metadata: { name, namespace, resourceVersion: '1' }, type: 'Opaque', data: encoded };
}

const OWN_OBJECT_READ = /^\/api\/v1\/namespaces\/([^/?]+)\/(services|secrets)(?:\/([^/?]+))?(?:\?.*)?$/;

interface OwnObjectRead {
  readonly namespace: string;
  readonly kind: string;
  /** Undefined for a list. */
  readonly name: string | undefined;
}

/**
 * A get or list of Services or Secrets in one of `objects.namespaces`, made with the agent's own token
 * (proxied requests carry the control plane's).
 */
function ownObjectRead(request: RecordedRequest, token: string, objects: FakeClusterObjects): OwnObjectRead | undefined {
  if (request.method !== 'GET' || request.headers.authorization !== `Bearer ${token}`) return undefined;
  const match = OWN_OBJECT_READ.exec(request.url);
  if (match === null) return undefined;
  const namespace = decodeURIComponent(match[1]!);
  if (!objects.namespaces.has(namespace)) return undefined;
  return { namespace, kind: match[2]!, name: match[3] === undefined ? undefined : decodeURIComponent(match[3]) };
}

function writeStatus(response: http.ServerResponse, code: number, reason: string, message: string): void {
  response.writeHead(code, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}

function answerOwnObjectRead(read: OwnObjectRead, response: http.ServerResponse, objects: FakeClusterObjects): void {
  const key = read.name === undefined ? `${read.namespace}/${read.kind}` : `${read.namespace}/${read.kind}/${read.name}`;
  // Left open on purpose: close() ends it with closeAllConnections.
  if (objects.hanging.has(key)) return;
  if (objects.forbidden.has(key)) {
    writeStatus(response, 403, 'Forbidden', `${read.kind} is forbidden: the fake says no`);
    return;
  }
  const store = read.kind === 'services' ? objects.services : objects.secrets;
  if (read.name === undefined) {
    const items = [...store.entries()].filter(([entry]) => entry.startsWith(`${read.namespace}/`)).map(([, object]) => object);
    const kind = read.kind === 'services' ? 'ServiceList' : 'SecretList';
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify({ kind, apiVersion: 'v1', metadata: { resourceVersion: '1' }, items }));
    return;
  }
  const object = store.get(`${read.namespace}/${read.name}`);
  if (object === undefined) {
    writeStatus(response, 404, 'NotFound', `${read.kind} "${read.name}" not found`);
    return;
  }
  response.writeHead(200, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(object));
}

/** Tunnel discovery's reads of the Gateway API, made with the agent's own token. */
function isOwnGatewayApiRead(request: RecordedRequest, token: string): boolean {
  return request.url.startsWith('/apis/gateway.networking.k8s.io') && request.headers.authorization === `Bearer ${token}`;
}

/** The agent's own calls (version, node and pod counts, monitoring reads) get realistic answers whatever the test's handler. */
function answerAgentOwnCall(request: RecordedRequest, response: http.ServerResponse, objects: FakeClusterObjects, token: string): boolean {
  const read = ownObjectRead(request, token, objects);
  if (read !== undefined) {
    answerOwnObjectRead(read, response, objects);
    return true;
  }
  // A cluster without the Gateway API CRDs: tunnel discovery finds nothing to watch.
  if (isOwnGatewayApiRead(request, token)) {
    writeStatus(response, 404, 'NotFound', 'the server could not find the requested resource');
    return true;
  }
  let body: unknown;
  if (request.url === '/version' || request.url === '/version/') {
    body = { major: '1', minor: '32', gitVersion: 'v1.32.0-fake', platform: 'linux/amd64' };
  } else if (request.url.startsWith('/api/v1/nodes?limit=1')) {
    body = { kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion: '1', remainingItemCount: 2 }, items: [{ metadata: { name: 'n1' } }] };
  } else if (request.url.startsWith('/api/v1/pods?limit=1')) {
    body = { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1', remainingItemCount: 40 }, items: [{ metadata: { name: 'p1' } }] };
  } else {
    return false;
  }
  response.writeHead(200, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(body));
  return true;
}

export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  handler: FakeHandler = defaultHandler;
  readonly kubeconfigPath: string;
  readonly #server: https.Server;
  readonly token: string;
  /** Services and Secrets the agent's own discovery finds; absent ones answer 404. */
  readonly objects: FakeClusterObjects = {
    namespaces: new Set(['pipeops-monitoring']),
    services: new Map(),
    secrets: new Map(),
    hanging: new Set(),
    forbidden: new Set(),
  };
  port = 0;

  private constructor(server: https.Server, kubeconfigPath: string, token: string) {
    this.#server = server;
    this.kubeconfigPath = kubeconfigPath;
    this.token = token;
  }

  static async start(token = 'agent-own-token'): Promise<FakeKubeApi> {
    const tls = loopbackTlsFor('fake-kube-api');
    const dir = mkdtempSync(join(tmpdir(), 'fake-kube-'));
    let api: FakeKubeApi | undefined;
    const server = https.createServer({ key: tls.server.keyPem, cert: tls.server.certPem }, (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const recorded: RecordedRequest = {
          method: request.method ?? '',
          url: request.url ?? '',
          headers: request.headers,
          rawHeaders: request.rawHeaders,
          body: Buffer.concat(chunks),
        };
        api!.requests.push(recorded);
        if (answerAgentOwnCall(recorded, response, api!.objects, api!.token)) return;
        api!.handler(recorded, response);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as AddressInfo).port;
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfigPath,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: fake',
        '  cluster:',
        `    server: https://127.0.0.1:${port}`,
        `    certificate-authority-data: ${Buffer.from(tls.caPem).toString('base64')}`,
        'users:',
        '- name: fake',
        '  user:',
        `    token: ${token}`,
        'contexts:',
        '- name: fake',
        '  context: {cluster: fake, user: fake}',
        'current-context: fake',
        '',
      ].join('\n'),
    );
    api = new FakeKubeApi(server, kubeconfigPath, token);
    api.port = port;
    return api;
  }

  /** Requests other than the agent's own calls (version, node and pod counts, monitoring reads). */
  proxied(): RecordedRequest[] {
    return this.requests.filter(
      (request) =>
        !/^\/(version|api\/v1\/nodes\?limit=1|api\/v1\/pods\?limit=1)/.test(request.url) &&
        ownObjectRead(request, this.token, this.objects) === undefined &&
        !isOwnGatewayApiRead(request, this.token),
    );
  }

  /** The agent's own monitoring reads (Service and Secret gets and lists), in arrival order. */
  ownObjectReads(): RecordedRequest[] {
    return this.requests.filter((request) => ownObjectRead(request, this.token, this.objects) !== undefined);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
