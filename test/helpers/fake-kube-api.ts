// A scriptable stand-in for the Kubernetes API on 127.0.0.1:0 over HTTPS with its own CA: records every
// request (method, url, headers, body) and answers with the test's handler. Writes a kubeconfig for it.

import https from 'node:https';
import type http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createLoopbackTls } from '../../src/local/tls/local-ca.js';

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly body: Buffer;
}

export type FakeHandler = (request: RecordedRequest, response: http.ServerResponse) => void;

const defaultHandler: FakeHandler = (request, response) => {
  if (answerAgentOwnCall(request, response)) return;
  response.writeHead(200, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify({ kind: 'Echo', method: request.method, url: request.url }));
};

/** The agent's own calls (version, node and pod counts) get realistic answers whatever the test's handler. */
function answerAgentOwnCall(request: RecordedRequest, response: http.ServerResponse): boolean {
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
  port = 0;

  private constructor(server: https.Server, kubeconfigPath: string, token: string) {
    this.#server = server;
    this.kubeconfigPath = kubeconfigPath;
    this.token = token;
  }

  static async start(token = 'agent-own-token'): Promise<FakeKubeApi> {
    const tls = createLoopbackTls('fake-kube-api');
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
        if (api!.handler !== defaultHandler && answerAgentOwnCall(recorded, response)) return;
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

  /** Requests other than the agent's own heartbeat/registration calls (version, node and pod counts). */
  proxied(): RecordedRequest[] {
    return this.requests.filter((request) => !/^\/(version|api\/v1\/nodes\?limit=1|api\/v1\/pods\?limit=1)/.test(request.url));
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
