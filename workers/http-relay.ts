// The HTTP relay actor: one `proxy_request` from decode to the last response message (PROTOCOL.md §9).
// It runs in a pool worker or inline; either way it talks to the router only through its MessagePort:
// `frame`/`cancel` in, already-encoded `send` frames and one `done` out.

import type { IncomingMessage } from 'node:http';
import type { MessagePort } from 'node:worker_threads';
import {
  type ActorOutbound,
  type HttpRelayTask,
  type RelayOutcome,
  type ResponseMode,
  CancelReason,
  isActorInbound,
  ownedCopy,
} from '../src/messages/actor-messages.js';
import { encodeEnvelope, parseEnvelope } from '../src/protocol/envelope.js';
import { OutboundType } from '../src/protocol/message-types.js';
import { responseHeadersFromRaw, upstreamRequestHeaders, firstHeader } from '../src/protocol/headers.js';
import { ActorContext, workerActorContext } from './lib/actor-context.js';
import { parseProxyRequest, type ProxyRequest } from './lib/proxy-request.js';
import { detectClusterDomain, serviceCallError, serviceOrigin } from './lib/service-target.js';
import { serviceUpstream, type Upstream } from './lib/upstream.js';

export { ActorContext } from './lib/actor-context.js';

/** Largest upstream body a buffered response holds (the control plane's inbound cap is 64 MiB). */
const MAX_BUFFERED_BODY_BYTES = 48 * 1024 * 1024;

class RelayFailure extends Error {
  readonly outcome: RelayOutcome;
  constructor(outcome: RelayOutcome, message: string) {
    super(message);
    this.outcome = outcome;
  }
}

/** Posts encoded frames to the router; the byte buffers are transferred, never shared. */
class RouterPort {
  readonly #port: MessagePort;
  readonly #requestId: string;
  constructor(port: MessagePort, requestId: string) {
    this.#port = port;
    this.#requestId = requestId;
  }

  sendJson(type: string, payload: Record<string, unknown>): void {
    const text = encodeEnvelope(type, payload, this.#requestId, Date.now());
    const bytes = ownedCopy(Buffer.from(text, 'utf8'));
    const message: ActorOutbound = { type: 'send', data: bytes, isBinary: false };
    this.#port.postMessage(message, [bytes.buffer as ArrayBuffer]);
  }

  done(outcome: RelayOutcome, mode: ResponseMode, durationMs: number): void {
    const message: ActorOutbound = { type: 'done', outcome, mode, durationMs };
    this.#port.postMessage(message);
  }
}

interface Cancellation {
  readonly signal: AbortSignal;
  reason: CancelReason | undefined;
}

function listenForCancel(port: MessagePort, controller: AbortController, cancellation: Cancellation): void {
  port.on('message', function portOnMessage(message: unknown) {
    if (!isActorInbound(message)) return;
    if (message.type === 'cancel') {
      cancellation.reason = message.reason;
      controller.abort();
    }
  });
}

function chooseUpstream(request: ProxyRequest, context: ActorContext): Upstream | string {
  if (request.service !== undefined) {
    const error = serviceCallError(request.service, request.path, request.query);
    if (error !== undefined) return error;
    return serviceUpstream(serviceOrigin(request.service, detectClusterDomain()));
  }
  const kube = context.kubeUpstream();
  if (kube instanceof Error) return 'kubernetes client not initialized';
  return kube;
}

interface UpstreamResponse {
  readonly status: number;
  readonly rawHeaders: string[];
  readonly body: Buffer;
}

/** One buffered upstream call, bounded by the deadline and the cancel signal. */
function callUpstream(
  upstream: Upstream,
  request: ProxyRequest,
  signal: AbortSignal,
  isKube: boolean,
  shouldDropAcceptEncoding: boolean,
): Promise<UpstreamResponse> {
  const body = request.body.kind === 'bytes' ? request.body.bytes : new Uint8Array(0);
  const target = (request.path.startsWith('/') ? request.path : `/${request.path}`) + (request.query === '' ? '' : `?${request.query}`);
  const label = isKube ? 'kubernetes API request failed' : 'service request failed';
  return new Promise((resolve, reject) => {
    const outgoing = upstream.request({
      method: request.method,
      target,
      headers: upstreamRequestHeaders(request.headers, isKube && shouldDropAcceptEncoding),
      bodyLength: body.length,
      host: isKube ? undefined : firstHeader(request.headers, 'host'),
    });
    const remainingMs = request.deadlineMs - Date.now();
    const deadline = setTimeout(() => fail(new RelayFailure('timeout', 'context deadline exceeded')), Math.max(0, remainingMs));
    const onAbort = (): void => fail(new RelayFailure('canceled', 'canceled'));
    signal.addEventListener('abort', onAbort, { once: true });
    let isSettled = false;
    function fail(error: RelayFailure): void {
      if (isSettled) return;
      isSettled = true;
      clearTimeout(deadline);
      signal.removeEventListener('abort', onAbort);
      outgoing.destroy();
      reject(error);
    }
    outgoing.on('error', (error: Error) => fail(new RelayFailure('upstream_error', `${label}: ${error.message}`)));
    outgoing.on('response', (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BUFFERED_BODY_BYTES) fail(new RelayFailure('upstream_error', 'response body too large'));
        else chunks.push(chunk);
      });
      response.on('error', (error: Error) => fail(new RelayFailure('upstream_error', `${label}: ${error.message}`)));
      response.on('aborted', () => fail(new RelayFailure('upstream_error', `${label}: response aborted`)));
      response.on('end', () => {
        if (isSettled) return;
        isSettled = true;
        clearTimeout(deadline);
        signal.removeEventListener('abort', onAbort);
        resolve({ status: response.statusCode ?? 502, rawHeaders: response.rawHeaders, body: Buffer.concat(chunks, size) });
      });
    });
    if (signal.aborted) onAbort();
    else outgoing.end(body.length > 0 ? body : undefined);
  });
}

/** The actor. `context` is given by the inline host; pool workers use their thread's. */
export default async function httpRelay(task: HttpRelayTask, context: ActorContext = workerActorContext()): Promise<void> {
  const startedMs = Date.now();
  const router = new RouterPort(task.port, task.requestId);
  const controller = new AbortController();
  const cancellation: Cancellation = { signal: controller.signal, reason: undefined };
  listenForCancel(task.port, controller, cancellation);
  const { config, logger } = context;
  let outcome: RelayOutcome = 'ok';
  let mode: ResponseMode = 'none';
  try {
    const envelope = parseEnvelope(task.frame);
    if (envelope === undefined) throw new RelayFailure('invalid', 'invalid proxy_request: not a JSON object with a type');
    if (!envelope.payloadIsObject) throw new RelayFailure('invalid', 'invalid proxy_request: payload must be a JSON object');
    const parsed = parseProxyRequest(envelope.payload, startedMs, config.requestTimeoutMs);
    if (!parsed.ok) throw new RelayFailure('invalid', `invalid proxy_request: ${parsed.reason}`);
    const request = parsed.request;
    if (request.body.kind === 'binary-frame' || request.body.kind === 'stream') {
      throw new RelayFailure('invalid', 'invalid proxy_request: streamed and binary request bodies are not supported by this agent version');
    }
    if (request.isWebSocket) {
      throw new RelayFailure('invalid', 'invalid proxy_request: WebSocket upgrades are not supported by this agent version');
    }
    if (request.deadlineMs <= startedMs) throw new RelayFailure('timeout', 'context deadline exceeded');
    const upstream = chooseUpstream(request, context);
    if (typeof upstream === 'string') throw new RelayFailure('upstream_error', upstream);
    const isKube = request.service === undefined;
    logger.debug({ requestId: task.requestId, method: request.method, isKube }, 'relaying request');
    const response = await callUpstream(upstream, request, cancellation.signal, isKube, config.dropAcceptEncoding);
    const payload: Record<string, unknown> = {
      status: response.status,
      headers: responseHeadersFromRaw(response.rawHeaders, response.status),
    };
    if (response.body.length > 0) {
      payload['body'] = response.body.toString('base64');
      payload['encoding'] = 'base64';
    }
    mode = 'json';
    router.sendJson(OutboundType.proxyResponse, payload);
  } catch (error) {
    const failure = error instanceof RelayFailure ? error : new RelayFailure('upstream_error', `agent error: ${(error as Error).message}`);
    outcome = failure.outcome;
    if (cancellation.reason !== undefined) {
      outcome = 'canceled'; // buffered mode sends nothing more after a cancel (§9.13)
    } else {
      router.sendJson(OutboundType.proxyError, { error: failure.message });
    }
    logger.debug({ requestId: task.requestId, outcome, reason: cancellation.reason }, 'request failed');
  } finally {
    router.done(outcome, mode, Date.now() - startedMs);
    task.port.close();
  }
}
