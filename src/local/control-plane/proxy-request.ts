// Builds the `proxy_request` for one kubectl HTTP request (§9.1) and sends it with its body in the
// form the wire mode asks for: inline base64 (legacy), a request-body frame (binary), or
// proxy_request_chunk messages (streaming).

import type { IncomingMessage } from 'node:http';
import { encodeRequestBodyFrame } from '../../protocol/binary-frame.js';
import type { JsonObject } from '../../protocol/envelope.js';
import { REQUEST_HOP_BY_HOP, canonicalHeaderName, type HeaderMap } from '../../protocol/headers.js';
import type { AgentSession } from './agent-session.js';
import type { PendingRequest } from './pending-request.js';

export const WireMode = { legacy: 'legacy', binary: 'binary', streaming: 'streaming' } as const;
export type WireMode = (typeof WireMode)[keyof typeof WireMode];

/** Client request headers that describe the client's own connection, never forwarded (§9.6). */

/**
 * The client's headers as a §4.4 map (canonical names, repeated lines kept in order) minus hop-by-hop
 * headers, names listed in `Connection`, `Host` and any client `Authorization`, which is replaced by the
 * cluster token when there is one. Host-routed application requests (`/apps/<cluster>/…`) keep `Host`:
 * it is what the agent routes them by (§9.5 step 1).
 */
export function proxyRequestHeaders(rawHeaders: readonly string[], bearerToken: string | undefined, isHostKept = false): HeaderMap {
  const listed = new Set<string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== 'connection') continue;
    for (const token of rawHeaders[i + 1]!.split(',')) listed.add(token.trim().toLowerCase());
  }
  const headers: HeaderMap = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const lower = rawHeaders[i]!.toLowerCase();
    if (REQUEST_HOP_BY_HOP.has(lower) || listed.has(lower) || (lower === 'host' && !isHostKept) || lower === 'authorization') continue;
    (headers[canonicalHeaderName(rawHeaders[i]!)] ??= []).push(rawHeaders[i + 1]!);
  }
  if (bearerToken !== undefined && bearerToken !== '') headers['Authorization'] = [`Bearer ${bearerToken}`];
  return headers;
}

export interface ProxyRequestSpec {
  readonly requestId: string;
  readonly method: string;
  /** Kubernetes path, starting with `/`. */
  readonly path: string;
  /** Raw query without `?`; empty when there is none. */
  readonly query: string;
  readonly headers: HeaderMap;
  /** Sent as `timeout` (milliseconds). */
  readonly timeoutMs: number;
  readonly mode: WireMode;
}

export function proxyRequestPayload(spec: ProxyRequestSpec): JsonObject {
  const payload: JsonObject = { method: spec.method, path: spec.path };
  if (spec.query !== '') payload['query'] = spec.query;
  payload['headers'] = spec.headers;
  payload['timeout'] = spec.timeoutMs;
  if (spec.mode === WireMode.streaming) payload['supports_response_streaming'] = true;
  return payload;
}

/** Whether the client announced a body (a Content-Length above zero, or a chunked upload). */
export function hasRequestBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Sends the request to the agent and wires its answer to `res`. `begin` registers the pending request
 * on the session; it is called before the first message goes out, so no answer can arrive unclaimed.
 */
export async function sendProxyRequest(
  session: AgentSession,
  spec: ProxyRequestSpec,
  req: IncomingMessage,
  begin: () => PendingRequest,
): Promise<void> {
  const payload = proxyRequestPayload(spec);
  const hasBody = hasRequestBody(req);
  if (spec.mode === WireMode.streaming && hasBody) {
    payload['use_streaming'] = true;
    const pending = begin();
    if (!session.isOpen) {
      pending.agentDisconnected();
      return;
    }
    session.sendJson('proxy_request', payload, spec.requestId);
    try {
      for await (const chunk of req) {
        // keep draining after an early answer: leaving the loop would destroy the socket under that answer
        if (pending.isDone) continue;
        session.sendJson('proxy_request_chunk', { data: (chunk as Buffer).toString('base64') }, spec.requestId);
      }
    } catch (error) {
      // a broken upload ends the request on both sides
      pending.clientClosed();
      throw error;
    }
    if (!pending.isDone) session.sendJson('proxy_request_stream_end', {}, spec.requestId);
    return;
  }
  const body = hasBody ? await readBody(req) : Buffer.alloc(0);
  if (body.length > 0 && spec.mode === WireMode.binary) {
    payload['body_binary'] = true;
    payload['body_size'] = body.length;
  } else if (body.length > 0) {
    payload['body'] = body.toString('base64');
    payload['body_encoding'] = 'base64';
  }
  const pending = begin();
  // the body upload may have outlived the agent's socket
  if (!session.isOpen) {
    pending.agentDisconnected();
    return;
  }
  session.sendJson('proxy_request', payload, spec.requestId);
  if (payload['body_binary'] === true) session.send(encodeRequestBodyFrame(spec.requestId, body), true);
}
