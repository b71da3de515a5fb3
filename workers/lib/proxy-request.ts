// Reads a `proxy_request` payload (PROTOCOL.md §9.1–§9.3) into a plain description of the upstream call,
// or the reason it is invalid. Pure: no I/O, the clock comes in as `nowMs`.

import { headerValues, readHeaderMap, type HeaderMap } from '../../src/protocol/headers.js';
import { isJsonObject, type JsonObject } from '../../src/protocol/envelope.js';
import { effectiveDeadlineMs } from '../../src/protocol/request-deadline.js';

export type RequestBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'binary-frame' }
  | { readonly kind: 'stream' };

export interface ServiceTarget {
  readonly name: string;
  readonly namespace: string;
  readonly port: number;
  readonly isHttps: boolean;
}

export interface ProxyRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: HeaderMap;
  readonly body: RequestBody;
  readonly isWebSocket: boolean;
  readonly protocol: string;
  readonly supportsResponseStreaming: boolean;
  /** Absolute deadline in ms since the epoch. */
  readonly deadlineMs: number;
  /** The payload set a valid `deadline` or `timeout` (else the default applied, which differs for relays). */
  readonly hasExplicitDeadline: boolean;
  /** Set when all three service routing fields are present (§9.5). */
  readonly service: ServiceTarget | undefined;
  /** Some but not all service routing fields were given. */
  readonly hasPartialService: boolean;
}

export type ParseResult = { readonly ok: true; readonly request: ProxyRequest } | { readonly ok: false; readonly reason: string };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict standard-alphabet base64: padded, or unpadded with a possible length. */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined;
  const hasPadding = text.endsWith('=');
  if (hasPadding ? text.length % 4 !== 0 : text.length % 4 === 1) return undefined;
  return Buffer.from(text, 'base64');
}

function flag(payload: JsonObject, ...names: string[]): boolean {
  return names.some((name) => payload[name] === true);
}

function stringField(payload: JsonObject, name: string): string {
  const value = payload[name];
  return typeof value === 'string' ? value : '';
}

function numberField(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return undefined;
}

function effectiveDeadline(payload: JsonObject, nowMs: number, defaultTimeoutMs: number): number {
  return effectiveDeadlineMs(payload['deadline'], payload['timeout'], nowMs, defaultTimeoutMs);
}

function isUpgradeRequest(payload: JsonObject, headers: HeaderMap, protocol: string): boolean {
  if (flag(payload, 'is_websocket', 'isWebSocket') || protocol !== '') return true;
  if (headerValues(headers, 'upgrade').some((value) => value.toLowerCase().includes('websocket'))) return true;
  return ['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol'].some(
    (name) => headerValues(headers, name).length > 0,
  );
}

function readBody(payload: JsonObject): RequestBody | string {
  const isStream = flag(payload, 'use_streaming', 'streaming');
  const isBinary = payload['body_binary'] === true;
  if (isStream && isBinary) return 'body_binary cannot be combined with a streamed body';
  if (isStream) return { kind: 'stream' };
  if (isBinary) return { kind: 'binary-frame' };
  const body = payload['body'];
  if (typeof body === 'string') {
    if (body === '') return { kind: 'none' };
    if (stringField(payload, 'body_encoding').toLowerCase() === 'base64') {
      const bytes = decodeBase64Strict(body);
      return bytes === undefined ? 'body is not valid base64' : { kind: 'bytes', bytes };
    }
    return { kind: 'bytes', bytes: Buffer.from(body, 'utf8') };
  }
  if (body === null || body === undefined) return { kind: 'none' };
  if (typeof body === 'object') return { kind: 'bytes', bytes: Buffer.from(JSON.stringify(body), 'utf8') };
  return `body must be a string, object or array, got ${typeof body}`;
}

export function parseProxyRequest(payload: unknown, nowMs: number, defaultTimeoutMs: number): ParseResult {
  if (!isJsonObject(payload)) return { ok: false, reason: 'payload must be a JSON object' };
  const body = readBody(payload);
  if (typeof body === 'string') return { ok: false, reason: body };
  const headers = readHeaderMap(payload['headers']);
  const protocol = stringField(payload, 'protocol');
  if (protocol !== '' && headerValues(headers, 'sec-websocket-protocol').length === 0) {
    headers['Sec-WebSocket-Protocol'] = [protocol];
  }
  const method = stringField(payload, 'method').toUpperCase() || 'GET';
  const path = stringField(payload, 'path') || '/';
  let query = stringField(payload, 'query');
  if (query.startsWith('?')) query = query.slice(1);
  const serviceName = stringField(payload, 'service_name');
  const namespace = stringField(payload, 'namespace');
  const servicePort = numberField(payload['service_port']);
  const hasAllService = serviceName !== '' && namespace !== '' && servicePort !== undefined && servicePort !== 0;
  const hasAnyService = serviceName !== '' || namespace !== '' || (servicePort !== undefined && servicePort !== 0);
  return {
    ok: true,
    request: {
      method,
      path,
      query,
      headers,
      body,
      isWebSocket: isUpgradeRequest(payload, headers, protocol),
      protocol,
      supportsResponseStreaming: payload['supports_response_streaming'] === true,
      deadlineMs: effectiveDeadline(payload, nowMs, defaultTimeoutMs),
      hasExplicitDeadline: effectiveDeadline(payload, nowMs, -1) !== nowMs - 1,
      service: hasAllService
        ? { name: serviceName, namespace, port: servicePort, isHttps: stringField(payload, 'scheme').toLowerCase() === 'https' }
        : undefined,
      hasPartialService: hasAnyService && !hasAllService,
    },
  };
}

/** A Kubernetes API path (§9.5); the router's peek uses the same rule. */
export { isKubernetesApiPath } from '../../src/protocol/envelope-peek.js';
