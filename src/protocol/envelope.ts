// JSON envelope of PROTOCOL.md §4: strict on output, lenient on input. Thread-neutral.

export type JsonObject = { [key: string]: unknown };

export interface Envelope {
  readonly type: string;
  readonly requestId: string | undefined;
  /** `{}` when the payload was absent or null; any other non-object is reported as `payloadIsObject: false`. */
  readonly payload: JsonObject;
  readonly payloadIsObject: boolean;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 3339 UTC with milliseconds, as every agent timestamp is written. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Serialises one outbound message (§4.1): `request_id` only when non-empty, `payload` always present.
 * Key order is fixed (type, request_id, payload, timestamp) so the output is stable for tests and diffs.
 */
export function encodeEnvelope(
  type: string,
  payload: JsonObject,
  requestId: string | undefined,
  nowMs: number,
): string {
  const message: JsonObject = { type };
  if (requestId !== undefined && requestId !== '') message['request_id'] = requestId;
  message['payload'] = payload;
  message['timestamp'] = rfc3339(nowMs);
  return JSON.stringify(message);
}

/**
 * Reads an already-parsed JSON value as an envelope (§4.2). Keys match case-insensitively and the last
 * match in document order wins; `timestamp` is never validated. Returns undefined when the value is not
 * an object or has no non-empty string `type` (the caller drops and counts it).
 */
export function readEnvelope(value: unknown): Envelope | undefined {
  if (!isJsonObject(value)) return undefined;
  let type: unknown;
  let requestId: unknown;
  let payload: unknown;
  for (const key of Object.keys(value)) {
    switch (key.toLowerCase()) {
      case 'type':
        type = value[key];
        break;
      case 'request_id':
        requestId = value[key];
        break;
      case 'payload':
        payload = value[key];
        break;
      default:
        break;
    }
  }
  if (typeof type !== 'string' || type === '') return undefined;
  const isNullish = payload === undefined || payload === null;
  return {
    type,
    requestId: typeof requestId === 'string' && requestId !== '' ? requestId : undefined,
    payload: isJsonObject(payload) ? payload : {},
    payloadIsObject: isNullish || isJsonObject(payload),
  };
}

/** Parses text or UTF-8 bytes into an envelope; undefined for anything that is not a JSON object with a type. */
export function parseEnvelope(input: string | Uint8Array): Envelope | undefined {
  const text = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return readEnvelope(value);
}
