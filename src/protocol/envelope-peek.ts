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

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

function skipWhitespace(bytes: Uint8Array, index: number): number {
  let i = index;
  while (i < bytes.length && isWhitespace(bytes[i]!)) i++;
  return i;
}

/** Returns the index just past the closing quote of the string that starts at `index`. */
function skipString(bytes: Uint8Array, index: number): number {
  let i = index + 1;
  while (i < bytes.length) {
    const byte = bytes[i]!;
    if (byte === BACKSLASH) i += 2;
    else if (byte === QUOTE) return i + 1;
    else if (byte < 0x20) throw new PeekError('control character in string');
    else i++;
  }
  throw new PeekError('unterminated string');
}

function decodeString(bytes: Uint8Array, start: number, end: number): string {
  const raw = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');
  const value: unknown = JSON.parse(raw);
  if (typeof value !== 'string') throw new PeekError('not a string');
  return value;
}

/** Returns the index just past the value that starts at `index` (after whitespace). */
function skipValue(bytes: Uint8Array, index: number): number {
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
  const literal = Buffer.from(bytes.buffer, bytes.byteOffset + index, i - index).toString('latin1');
  if (!/^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)$/.test(literal)) throw new PeekError('bad literal');
  return i;
}

type KeyVisitor = (key: string, valueStart: number, valueEnd: number) => void;

/** Walks the members of the object at `index`; returns the index just past its closing brace. */
function walkObject(bytes: Uint8Array, index: number, visit: KeyVisitor): number {
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

function stringAt(bytes: Uint8Array, start: number, end: number): string | undefined {
  return bytes[start] === QUOTE ? decodeString(bytes, start, end) : undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Peeks at an envelope (§4.2 keys, case-insensitive, last match wins). Returns undefined when the bytes
 * are not a JSON object or carry no non-empty string `type`: the caller drops and counts the frame.
 */
export function peekEnvelope(bytes: Uint8Array): EnvelopePeek | undefined {
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
    if (payloadStart >= 0) {
      const first = bytes[payloadStart];
      if (first === OPEN_BRACE) {
        walkObject(bytes.subarray(0, payloadEnd), payloadStart, (key, start, valueEnd) => {
          // payload keys are case-sensitive (§4.2 rule 7)
          if (key === 'stream_id') payloadStreamId = stringAt(bytes, start, valueEnd);
          else if (key === 'request_id') payloadRequestId = stringAt(bytes, start, valueEnd);
          else if (key === 'body_binary') payloadBodyBinary = valueEnd - start === 4 && bytes[start] === 0x74;
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
    };
  } catch (error) {
    if (error instanceof PeekError || error instanceof SyntaxError) return undefined;
    throw error;
  }
}
