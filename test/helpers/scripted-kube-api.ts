// A loopback HTTPS API server whose answers a test scripts request by request, for the agent's own
// Kubernetes client: it records each request (method, path, query, Authorization, the client certificate's
// CN) and hands it to the test's handler. Serves with the shared loopback identity (loopbackTlsFor).

import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ExecutionContext } from 'ava';
import { loopbackTlsFor } from '../../src/local/tls/local-ca.js';

export interface ScriptedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly authorization: string | undefined;
  readonly clientCommonName: string | undefined;
  readonly body: string;
  readonly contentType: string | undefined;
  /** The client's port: equal for two requests on one kept-alive connection. */
  readonly remotePort: number | undefined;
}

export type ScriptedHandler = (request: ScriptedRequest, response: ServerResponse) => void;

export interface ScriptedKubeApi {
  readonly url: string;
  readonly caPem: string;
  readonly requests: ScriptedRequest[];
  handle: ScriptedHandler;
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'Content-Type': 'application/json' });
  response.end(JSON.stringify(body));
}

export function sendStatus(response: ServerResponse, code: number, reason: string, message: string): void {
  sendJson(response, code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code });
}

export async function startScriptedKubeApi(t: ExecutionContext, handle: ScriptedHandler = (_, response) => sendStatus(response, 404, 'NotFound', 'no script')): Promise<ScriptedKubeApi> {
  const tls = loopbackTlsFor('scripted-kube-api');
  const requests: ScriptedRequest[] = [];
  const api: ScriptedKubeApi = { url: '', caPem: tls.caPem, requests, handle };
  // Client certificates are asked for but not verified: the tests check which one was presented.
  const server: Server = createServer({ key: tls.server.keyPem, cert: tls.server.certPem, requestCert: true, rejectUnauthorized: false }, (request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'https://x');
      const peer = (request.socket as TLSSocket).getPeerCertificate();
      const commonName = peer?.subject?.CN;
      const scripted: ScriptedRequest = {
        method: request.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        authorization: request.headers.authorization,
        clientCommonName: typeof commonName === 'string' ? commonName : undefined,
        body: Buffer.concat(chunks).toString('utf8'),
        contentType: request.headers['content-type'],
        remotePort: request.socket.remotePort,
      };
      requests.push(scripted);
      api.handle(scripted, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return Object.assign(api, { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}` });
}
