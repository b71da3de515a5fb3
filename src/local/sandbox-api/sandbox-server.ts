// The sandbox Kubernetes API: an HTTPS server on 127.0.0.1 (HTTP/2 and HTTP/1.1 on one port, chosen by ALPN,
// as kube-apiserver serves them) that authenticates a bearer token and serves
// the in-memory store through kube-apiserver's REST surface, plus the streaming pod subresources (logs,
// exec, attach, port-forward) over plain requests and HTTP upgrades. Owns the listening socket, every
// connection, session and child process, so close() leaves nothing behind.

import { timingSafeEqual, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { AgentError, ErrorCode } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { loopbackTlsFor } from '../tls/local-ca.js';
import { ApiStatusError, internalError, unauthorized } from './http/api-status.js';
import { encodeJson, encodeYaml, readBody, sendBytes, sendText } from './http/http-exchange.js';
import { sandboxKubeconfig, writeKubeconfigFile } from './kubeconfig.js';
import { ObjectStore } from './store/object-store.js';
import { PodKubelet } from './runtime/pod-kubelet.js';
import { WorkloadController } from './runtime/workload-controller.js';
import { PodRuntime } from './runtime/pod-runtime.js';
import { RequestRouter, type Outcome } from './http/request-router.js';
import type { EndpointContext } from './resources/resource-request.js';
import { DEMO_POD_NAME, DEMO_POD_NAMESPACE, seedSandbox } from './store/seed.js';
import { ServiceAddressAllocator } from './store/service-address-allocator.js';
import { upgradeExchange, type UpgradeExchange } from './http/upgrade-exchange.js';
import { streamWatch } from './resources/watch-stream.js';

/** How long an idle HTTP/1.1 keep-alive connection stays open: node:http's own default. */
const HTTP1_KEEP_ALIVE_TIMEOUT_MS = 5_000;

export { ObjectStore } from './store/object-store.js';

export interface SandboxApiOptions {
  /** only 127.0.0.1 is accepted */
  host?: string;
  /** 0 (default) picks a free port */
  port?: number;
  /** the bearer token every request must carry; default 32 random bytes as hex */
  token?: string;
  /** the minor version /version reports (default 32); the kubectl dispatcher picks its kubectl by it */
  minorVersion?: number;
  /** start with the seeded one-node cluster (default true) */
  seed?: boolean;
  logger?: Logger;
}

export interface SandboxApi {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  /** the CA that signed the serving certificate */
  readonly caPem: string;
  /** the bearer token the server demands */
  readonly token: string;
  /** a kubeconfig with CA data, server, token user and current context "sandbox" */
  kubeconfigYaml(): string;
  writeKubeconfig(path: string): Promise<void>;
  /** the objects; tests may seed or read them directly */
  readonly store: ObjectStore;
  /** per-pod logs and sandbox directories; tests may write log lines directly */
  readonly pods: PodRuntime;
  /** open log follows, exec/attach connections and forwarded ports (0 once all have ended) */
  activeStreamSessions(): number;
  /** ends every session and child process, removes pod directories, closes the listener and every connection */
  close(): Promise<void>;
}

export const DEFAULT_MINOR_VERSION = 32;
const LOOPBACK_HOST = '127.0.0.1';

interface ValidOptions {
  readonly port: number;
  readonly token: string;
  readonly minorVersion: number;
  readonly seed: boolean;
  readonly logger: Logger;
}

function validateOptions(options: SandboxApiOptions): ValidOptions {
  const problems: string[] = [];
  if (options.host !== undefined && options.host !== LOOPBACK_HOST) problems.push(`sandbox api host must be 127.0.0.1 (got "${options.host}")`);
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) problems.push(`sandbox api port must be an integer from 0 to 65535 (got "${String(options.port)}")`);
  const token = options.token ?? randomBytes(32).toString('hex');
  if (token === '' || /\s/.test(token)) problems.push('sandbox api token must be non-empty and contain no whitespace');
  const minorVersion = options.minorVersion ?? DEFAULT_MINOR_VERSION;
  if (!Number.isInteger(minorVersion) || minorVersion < 0) problems.push(`sandbox api minorVersion must be a non-negative integer (got "${String(options.minorVersion)}")`);
  if (problems.length > 0) throw new AgentError(ErrorCode.configInvalid, problems.join('; '));
  return { port, token, minorVersion, seed: options.seed ?? true, logger: options.logger ?? silentLogger() };
}

function isAuthorized(request: IncomingMessage, expected: Buffer): boolean {
  const header = request.headers.authorization ?? '';
  const match = /^bearer\s+(.+)$/i.exec(header);
  if (match === null) return false;
  const presented = Buffer.from((match[1] ?? '').trim());
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

function writeOutcome(request: IncomingMessage, response: ServerResponse, outcome: Exclude<Outcome, { type: 'watch' | 'podStream' }>): void {
  switch (outcome.type) {
    case 'object': {
      const body = outcome.rendering === 'yaml' ? encodeYaml(outcome.body) : encodeJson(outcome.body);
      sendBytes(request, response, { statusCode: outcome.statusCode, contentType: outcome.contentType, ...optional(outcome) }, body);
      return;
    }
    case 'bytes':
      sendBytes(request, response, { statusCode: outcome.statusCode, contentType: outcome.contentType, ...optional(outcome) }, outcome.body);
      return;
    case 'text':
      if (outcome.headers !== undefined) for (const [name, value] of Object.entries(outcome.headers)) response.setHeader(name, value);
      sendText(request, response, outcome.statusCode, outcome.text);
      return;
  }
}

function optional(outcome: { readonly warnings?: readonly string[]; readonly headers?: Readonly<Record<string, string>> }): {
  warnings?: readonly string[];
  headers?: Readonly<Record<string, string>>;
} {
  return { ...(outcome.warnings === undefined ? {} : { warnings: outcome.warnings }), ...(outcome.headers === undefined ? {} : { headers: outcome.headers }) };
}

export async function startSandboxApi(options: SandboxApiOptions = {}): Promise<SandboxApi> {
  const valid = validateOptions(options);
  const logger = valid.logger.child({ component: 'sandbox-api' });
  const tls = loopbackTlsFor('sandbox-api');
  const store = new ObjectStore();
  const pods = new PodRuntime(store, logger);
  const kubelet = new PodKubelet(store, pods, logger);
  if (valid.seed) {
    seedSandbox(store, valid.minorVersion);
    pods.startDemoTicker(DEMO_POD_NAMESPACE, DEMO_POD_NAME, DEMO_POD_NAME);
  }
  const allocator = new ServiceAddressAllocator(store);
  const context: EndpointContext = {
    store,
    allocateClusterIp: () => allocator.allocateClusterIp(),
    allocateNodePort: (taken) => allocator.allocateNodePort(taken),
  };
  // after the seed: only workloads created from now on are managed
  const controllers = new WorkloadController(store, context, logger);
  const expectedToken = Buffer.from(valid.token);
  const sockets = new Set<Socket>();
  let port = valid.port;
  const router = new RequestRouter({
    context,
    minorVersion: valid.minorVersion,
    serverAddress: () => `${LOOPBACK_HOST}:${port}`,
    podStreams: { store, runtime: pods, logger },
  });

  /** One request; `upgrade` is set when it arrived as an HTTP upgrade (its body is then never read). */
  async function serve(request: IncomingMessage, response: () => ServerResponse, upgrade?: UpgradeExchange): Promise<void> {
    const url = new URL(request.url ?? '/', `https://${LOOPBACK_HOST}`);
    if (!isAuthorized(request, expectedToken)) {
      if (upgrade === undefined) request.resume();
      const error = unauthorized();
      sendBytes(request, response(), { statusCode: error.code, contentType: 'application/json' }, encodeJson(error.body));
      return;
    }
    const body = upgrade === undefined ? await readBody(request) : Buffer.alloc(0);
    const outcome = router.route({
      method: request.method ?? 'GET',
      url,
      accept: request.headers.accept,
      contentType: request.headers['content-type'],
      body,
    });
    logger.debug({ method: request.method, path: url.pathname, outcome: outcome.type, statusCode: 'statusCode' in outcome ? outcome.statusCode : 200 }, 'request');
    if (outcome.type === 'podStream') {
      if (upgrade === undefined) await outcome.handler.serveRequest(outcome.target, request, response());
      else await outcome.handler.serveUpgrade(outcome.target, upgrade);
    } else if (outcome.type === 'watch') streamWatch(context, outcome.request, request, response());
    else writeOutcome(request, response(), outcome);
  }

  function answerFailure(request: IncomingMessage, response: ServerResponse, error: unknown): void {
    if (response.headersSent) {
      response.destroy();
      return;
    }
    if (!(error instanceof ApiStatusError)) logger.error({ err: error }, 'sandbox api request failed');
    const status = error instanceof ApiStatusError ? error : internalError(error instanceof Error ? error.message : String(error));
    sendBytes(request, response, { statusCode: status.code, contentType: 'application/json' }, encodeJson(status.body));
  }

  // An HTTP/2 exchange arrives as Node's compatibility objects, which answer the calls made here as an
  // HTTP/1.1 request and response do (connection-level headers are HTTP/1.1's alone and are never set).
  function serverOnRequest(either: IncomingMessage | Http2ServerRequest, eitherResponse: ServerResponse | Http2ServerResponse): void {
    const request = either as IncomingMessage;
    const response = eitherResponse as ServerResponse;
    serve(request, () => response).catch((error: unknown) => answerFailure(request, response, error));
  }

  // WebSocket (exec, attach) and SPDY upgrades arrive here instead of as requests; whatever is not
  // switched to another protocol is answered as HTTP on the same socket, which then closes
  function serverOnUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    function upgradeSocketOnError(error: Error): void {
      logger.debug({ err: error }, 'upgrade socket error');
    }
    socket.on('error', upgradeSocketOnError);
    const exchange = upgradeExchange(request, socket, head);
    serve(request, () => exchange.response(), exchange).catch((error: unknown) => {
      if (socket.destroyed) return;
      answerFailure(request, exchange.response(), error);
    });
  }

  function serverOnConnection(socket: Socket): void {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  }

  function serverOnTlsClientError(error: Error): void {
    logger.debug({ err: error }, 'tls client error');
  }

  // Exec, attach and port-forward upgrades are HTTP/1.1 (kubectl dials them on a connection of their own).
  const server: Http2SecureServer = createSecureServer({ key: tls.server.keyPem, cert: tls.server.certPem, allowHTTP1: true }, serverOnRequest);
  // HTTP/1.1 connections are served by node:http's connection handler, which closes an idle keep-alive
  // connection after the server's keepAliveTimeout; an HTTP/2 server has none unless it is set, and idle
  // HTTP/1.1 clients would then keep their sockets forever (node:http's own default is 5 s).
  Object.assign(server, { keepAliveTimeout: HTTP1_KEEP_ALIVE_TIMEOUT_MS });
  server.on('connection', serverOnConnection);
  server.on('upgrade', serverOnUpgrade);
  server.on('tlsClientError', serverOnTlsClientError);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(valid.port, LOOPBACK_HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    // nothing was served, but the demo ticker and the handlers already exist
    await router.close();
    controllers.close();
    await kubelet.close();
    await pods.close();
    throw error;
  }
  const address = server.address();
  port = typeof address === 'object' && address !== null ? address.port : valid.port;
  const url = `https://${LOOPBACK_HOST}:${port}`;
  logger.info({ url }, 'sandbox api listening');

  const kubeconfigYaml = (): string => sandboxKubeconfig({ server: url, caPem: tls.caPem, token: valid.token });
  let closing: Promise<void> | undefined;
  return {
    url,
    caPem: tls.caPem,
    token: valid.token,
    store,
    pods,
    kubeconfigYaml,
    writeKubeconfig: (path) => writeKubeconfigFile(path, kubeconfigYaml()),
    activeStreamSessions: () => router.activeStreamSessions,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // sessions first: their processes must be gone before the pod directories are removed
        await router.close();
        controllers.close();
        await kubelet.close();
        await pods.close();
        for (const socket of sockets) socket.destroy();
        await closed;
        logger.info({ url }, 'sandbox api closed');
      })();
      return closing;
    },
  };
}
