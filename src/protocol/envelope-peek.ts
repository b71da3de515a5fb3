// Zero-decode peek at an inbound envelope: finds the top-level `type` and `request_id` (and, inside the
// payload, `stream_id` / `request_id`) by scanning UTF-8 bytes, without building the message or touching
// the body. The router uses it so that body decoding happens in the actors, never on the main thread.
//
//   { "type": "proxy_request", "request_id": "r1", "payload": { ... megabytes ... } }
//     ^ key    ^ string value    ^ key         ^      ^ key      ^ skipped by depth/quote scanning
//
// The scanner validates only what it walks over. A frame it accepts can still be invalid JSON deeper in
// the payload; the actor that parses it fully reports that with the protocol's error.

export interface EnvelopePeek {
  readonly type: string;
  readonly requestId: string | undefined;
  /** `stream_id` inside the payload, when it is a non-empty string. */
  readonly payloadStreamId: string | undefined;
  /** `request_id` inside the payload, when it is a non-empty string. */
  readonly payloadRequestId: string | undefined;
  /** Kind of the payload value: absent/null count as object ({}). */
  readonly payloadKind: 'object' | 'other';
  /** `payload.body_binary` is literally `true`: a request-body frame will follow (§9.14). */
  readonly payloadBodyBinary: boolean;
  /** For a `proxy_request`: what admission needs to place it, read from small payload fields only. */
  readonly request: RequestTraits | undefined;
}

/** The few scalar fields of a `proxy_request` the router reads to place it and to time it out (§9.2, §9.4). */
export interface RequestTraits {
  /** §9.2: is_websocket / isWebSocket, a non-empty protocol, an Upgrade header with `websocket`, or a Sec-WebSocket-* header. */
  readonly isWebSocket: boolean;
  /** A watch (`watch=true` or a `/watch/` path segment) or `follow=true` logs: a stream that lives as long as the client wants. */
  readonly isLongLived: boolean;
  readonly isStreamingResponse: boolean;
  /** §9.5 step 2: a WebSocket upgrade for `/api/…` or `/apis/…` without complete service info is a kubectl session (§13.8). */
  readonly isKubeSession: boolean;
  readonly deadline: string | undefined;
  /** `method` and `path` as sent (empty when absent): the dispatch policy places the request by them. */
  readonly method: string;
  readonly path: string;
  /** Milliseconds (a JSON number) or a Go duration string, as sent. */
  readonly timeout: number | string | undefined;
  /** §9.5 step 1 applies only when `service_name` is empty. */
  readonly hasServiceName: boolean;
  /** Any of `service_name`, `namespace`, `service_port` set (§9.5 step 4 needs none). */
  readonly hasAnyServiceField: boolean;
  /** §9.5: `/api`, `/apis`, or a path under `/api/`, `/apis/`, `/healthz`, `/readyz`, `/livez`, `/version`, `/openapi`. */
  readonly isKubeApiPath: boolean;
  /** The first value of the `Host` header, else of `X-Forwarded-Host` (§9.5 step 1); undefined when neither is set. */
  readonly routingHost: string | undefined;
}

const KUBE_API_PREFIXES = ['/api/', '/apis/', '/healthz', '/readyz', '/livez', '/version', '/openapi'];

/** A Kubernetes API path (§9.5). */
export function isKubernetesApiPath(path: string): boolean {
  if (path === '/api' || path === '/apis') return true;
  return KUBE_API_PREFIXES.some((prefix) => path.startsWith(prefix));
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

class PeekError extends Error {}

/** Values Go's strconv.ParseBool reads as true, which is what kube-apiserver accepts for `watch` and `follow`. */
const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
/** A Host header list longer than this is no host name: not decoded on the main thread. */
const MAX_HEADER_LIST_BYTES = 4096;
const WEBSOCKET_HEADERS = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol']);

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

function skipWhitespace(bytes: Buffer, index: number): number {
  let i = index;
  while (i < bytes.length && isWhitespace(bytes[i]!)) i++;
  return i;
}

/**
 * Returns the index just past the closing quote of the string that starts at `index`. The closing quote is
 * found with Buffer#indexOf (memchr), not a byte-wise walk: a megabyte base64 body costs one native scan.
 * A quote counts as closing when an even number of backslashes precedes it. Control characters inside a
 * skipped string are not looked for; the actor's full parse rejects them (see the header comment).
 */
function skipString(bytes: Buffer, index: number): number {
  let from = index + 1;
  for (;;) {
    const quote = bytes.indexOf(QUOTE, from);
    if (quote < 0) throw new PeekError('unterminated string');
    let before = quote - 1;
    while (before > index && bytes[before] === BACKSLASH) before--;
    if ((quote - 1 - before) % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

function decodeString(bytes: Buffer, start: number, end: number): string {
  // Only keys and small fields are decoded: they are checked for control characters here, and read
  // directly unless they carry an escape (JSON.parse only for those).
  let hasEscape = false;
  for (let i = start + 1; i < end - 1; i++) {
    const byte = bytes[i]!;
    if (byte < 0x20) throw new PeekError('control character in string');
    if (byte === BACKSLASH) hasEscape = true;
  }
  if (!hasEscape) return bytes.toString('utf8', start + 1, end - 1);
  const value: unknown = JSON.parse(bytes.toString('utf8', start, end));
  if (typeof value !== 'string') throw new PeekError('not a string');
  return value;
}

/** Returns the index just past the value that starts at `index` (after whitespace). */
function skipValue(bytes: Buffer, index: number): number {
  const first = bytes[index];
  if (first === undefined) throw new PeekError('value expected');
  if (first === QUOTE) return skipString(bytes, index);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    let i = index;
    while (i < bytes.length) {
      const byte = bytes[i]!;
      if (byte === QUOTE) {
        i = skipString(bytes, i);
        continue;
      }
      if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth++;
      else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    throw new PeekError('unterminated container');
  }
  // number, true, false, null: runs until a delimiter
  let i = index;
  while (i < bytes.length) {
    const byte = bytes[i]!;
    if (byte === COMMA || byte === CLOSE_BRACE || byte === CLOSE_BRACKET || isWhitespace(byte)) break;
    i++;
  }
  if (i === index) throw new PeekError('value expected');
  const literal = bytes.toString('latin1', index, i);
  if (!/^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)$/.test(literal)) throw new PeekError('bad literal');
  return i;
}

type KeyVisitor = (key: string, valueStart: number, valueEnd: number) => void;

/** Walks the members of the object at `index`; returns the index just past its closing brace. */
function walkObject(bytes: Buffer, index: number, visit: KeyVisitor): number {
  let i = skipWhitespace(bytes, index);
  if (bytes[i] !== OPEN_BRACE) throw new PeekError('object expected');
  i = skipWhitespace(bytes, i + 1);
  if (bytes[i] === CLOSE_BRACE) return i + 1;
  for (;;) {
    if (bytes[i] !== QUOTE) throw new PeekError('key expected');
    const keyEnd = skipString(bytes, i);
    const key = decodeString(bytes, i, keyEnd);
    i = skipWhitespace(bytes, keyEnd);
    if (bytes[i] !== COLON) throw new PeekError('colon expected');
    const valueStart = skipWhitespace(bytes, i + 1);
    const valueEnd = skipValue(bytes, valueStart);
    visit(key, valueStart, valueEnd);
    i = skipWhitespace(bytes, valueEnd);
    if (bytes[i] === COMMA) {
      i = skipWhitespace(bytes, i + 1);
      continue;
    }
    if (bytes[i] === CLOSE_BRACE) return i + 1;
    throw new PeekError('comma or brace expected');
  }
}

function stringAt(bytes: Buffer, start: number, end: number): string | undefined {
  return bytes[start] === QUOTE ? decodeString(bytes, start, end) : undefined;
}

function isTrueLiteral(bytes: Buffer, start: number, end: number): boolean {
  return end - start === 4 && bytes[start] === 0x74;
}

/** The payload fields of a proxy_request that admission reads; everything else (the body above all) is skipped. */
class RequestFields {
  #method = '';
  #path = '';
  #query = '';
  #isWebSocketFlag = false;
  #hasProtocol = false;
  #hasUpgradeHeader = false;
  #host: string | undefined;
  #forwardedHost: string | undefined;
  #isStreamingResponse = false;
  #deadline: string | undefined;
  #timeout: number | string | undefined;
  readonly #serviceFields = new Set<string>();

  visit(bytes: Buffer, key: string, start: number, end: number): void {
    switch (key) {
      case 'method':
        this.#method = stringAt(bytes, start, end) ?? '';
        break;
      case 'path':
        this.#path = stringAt(bytes, start, end) ?? '';
        break;
      case 'query':
        this.#query = stringAt(bytes, start, end) ?? '';
        break;
      case 'is_websocket':
      case 'isWebSocket':
        this.#isWebSocketFlag ||= isTrueLiteral(bytes, start, end);
        break;
      case 'protocol':
        this.#hasProtocol = (stringAt(bytes, start, end) ?? '') !== '';
        break;
      case 'supports_response_streaming':
        this.#isStreamingResponse = isTrueLiteral(bytes, start, end);
        break;
      case 'deadline':
        this.#deadline = stringAt(bytes, start, end);
        break;
      case 'timeout':
        this.#timeout = bytes[start] === QUOTE ? stringAt(bytes, start, end) : numberAt(bytes, start, end);
        break;
      case 'service_name':
      case 'namespace':
        if ((stringAt(bytes, start, end) ?? '') !== '') this.#serviceFields.add(key);
        else this.#serviceFields.delete(key);
        break;
      case 'service_port':
        if (bytes[start] !== 0x6e && !(bytes[start] === QUOTE && end - start === 2)) this.#serviceFields.add(key);
        else this.#serviceFields.delete(key);
        break;
      case 'headers':
        if (bytes[start] === OPEN_BRACE) this.#visitHeaders(bytes, start, end);
        break;
      default:
        break;
    }
  }

  traits(): RequestTraits {
    const query = this.#query;
    const params = query.includes('watch') || query.includes('follow') ? new URLSearchParams(query.startsWith('?') ? query.slice(1) : query) : undefined;
    const isTrue = (name: string): boolean => params !== undefined && GO_TRUE.has(params.get(name) ?? '');
    const segments = this.#path.split('/');
    const isWatch = isTrue('watch') || segments.includes('watch');
    const isFollow = segments.at(-1) === 'log' && isTrue('follow');
    const isWebSocket = this.#isWebSocketFlag || this.#hasProtocol || this.#hasUpgradeHeader;
    const isKubePath = this.#path.startsWith('/api/') || this.#path.startsWith('/apis/');
    return {
      isWebSocket,
      isLongLived: isWatch || isFollow,
      isKubeSession: isWebSocket && isKubePath && this.#serviceFields.size < 3,
      isStreamingResponse: this.#isStreamingResponse,
      deadline: this.#deadline,
      method: this.#method,
      path: this.#path,
      timeout: this.#timeout,
      hasServiceName: this.#serviceFields.has('service_name'),
      hasAnyServiceField: this.#serviceFields.size > 0,
      isKubeApiPath: isKubernetesApiPath(this.#path),
      routingHost: this.#host ?? this.#forwardedHost,
    };
  }

  #visitHeaders(bytes: Buffer, start: number, end: number): void {
    walkObject(bytes.subarray(0, end), start, (name, valueStart, valueEnd) => {
      const lower = name.toLowerCase();
      if (WEBSOCKET_HEADERS.has(lower)) this.#hasUpgradeHeader = true;
      else if (lower === 'host') this.#host ??= firstHeaderValue(bytes, valueStart, valueEnd);
      else if (lower === 'x-forwarded-host') this.#forwardedHost ??= firstHeaderValue(bytes, valueStart, valueEnd);
      else if (lower === 'upgrade') {
        const text = bytes.toString('utf8', valueStart, valueEnd);
        if (/websocket/i.test(text)) this.#hasUpgradeHeader = true;
      }
    });
  }
}

/** A header value sent as a string or a list of strings (§4.4): the first non-empty one. */
function firstHeaderValue(bytes: Buffer, start: number, end: number): string | undefined {
  if (bytes[start] === QUOTE) return nonEmpty(stringAt(bytes, start, end)?.trim());
  if (bytes[start] !== OPEN_BRACKET || end - start > MAX_HEADER_LIST_BYTES) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8', start, end));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  const first = value.find((item): item is string => typeof item === 'string' && item.trim() !== '');
  return first?.trim();
}

function numberAt(bytes: Buffer, start: number, end: number): number | undefined {
  const value = Number(bytes.toString('latin1', start, end));
  return Number.isFinite(value) ? value : undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Peeks at an envelope (§4.2 keys, case-insensitive, last match wins). Returns undefined when the bytes
 * are not a JSON object or carry no non-empty string `type`: the caller drops and counts the frame.
 */
export function peekEnvelope(frame: Uint8Array): EnvelopePeek | undefined {
  const bytes = Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  let type: string | undefined;
  let requestId: string | undefined;
  let payloadStart = -1;
  let payloadEnd = -1;
  try {
    const end = walkObject(bytes, 0, (key, start, valueEnd) => {
      switch (key.toLowerCase()) {
        case 'type':
          type = stringAt(bytes, start, valueEnd);
          if (type === undefined) type = '';
          break;
        case 'request_id':
          requestId = stringAt(bytes, start, valueEnd);
          break;
        case 'payload':
          payloadStart = start;
          payloadEnd = valueEnd;
          break;
        default:
          break;
      }
    });
    if (skipWhitespace(bytes, end) !== bytes.length) return undefined;
    if (type === undefined || type === '') return undefined;
    let payloadKind: 'object' | 'other' = 'object';
    let payloadStreamId: string | undefined;
    let payloadRequestId: string | undefined;
    let payloadBodyBinary = false;
    const isRequest = type === 'proxy_request';
    const fields = new RequestFields();
    if (payloadStart >= 0) {
      const first = bytes[payloadStart];
      if (first === OPEN_BRACE) {
        walkObject(bytes.subarray(0, payloadEnd), payloadStart, (key, start, valueEnd) => {
          // payload keys are case-sensitive (§4.2 rule 7)
          if (key === 'stream_id') payloadStreamId = stringAt(bytes, start, valueEnd);
          else if (key === 'request_id') payloadRequestId = stringAt(bytes, start, valueEnd);
          else if (key === 'body_binary') payloadBodyBinary = valueEnd - start === 4 && bytes[start] === 0x74;
          else if (isRequest) fields.visit(bytes, key, start, valueEnd);
        });
      } else if (payloadEnd - payloadStart !== 4 || bytes[payloadStart] !== 0x6e) {
        payloadKind = 'other'; // anything but an object or `null`
      }
    }
    return {
      type,
      requestId: nonEmpty(requestId),
      payloadStreamId: nonEmpty(payloadStreamId),
      payloadRequestId: nonEmpty(payloadRequestId),
      payloadKind,
      payloadBodyBinary,
      request: isRequest ? fields.traits() : undefined,
    };
  } catch (error) {
    if (error instanceof PeekError || error instanceof SyntaxError) return undefined;
    throw error;
  }
}
