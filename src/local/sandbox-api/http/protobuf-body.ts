// Request bodies in application/vnd.kubernetes.protobuf (what kubectl's typed clients send): the
// `k8s\0` + runtime.Unknown envelope, the protobuf wire format, and a schema-driven decode into the same
// JSON object a JSON client would have sent. Kinds without a schema are refused with a 415.

import { badRequest, unsupportedMediaType } from './api-status.js';
import type { JsonObject, JsonValue } from '../store/json-value.js';
import { MESSAGES, PROTOBUF_KINDS, type FieldSpec, type MessageSchema } from './protobuf-schemas.js';

const ENVELOPE_MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

interface WireField {
  readonly number: number;
  readonly wireType: number;
  /** the varint value (wire type 0) */
  readonly varint: bigint;
  /** the payload (wire type 2) */
  readonly bytes: Buffer;
}

function malformed(): Error {
  return badRequest('the protobuf body could not be decoded');
}

function readVarint(buffer: Buffer, start: number): { value: bigint; next: number } {
  let value = 0n;
  let shift = 0n;
  let at = start;
  for (;;) {
    const byte = buffer[at];
    if (byte === undefined || shift > 63n) throw malformed();
    value |= BigInt(byte & 0x7f) << shift;
    at += 1;
    if ((byte & 0x80) === 0) return { value, next: at };
    shift += 7n;
  }
}

function readFields(buffer: Buffer): WireField[] {
  const fields: WireField[] = [];
  let at = 0;
  while (at < buffer.length) {
    const key = readVarint(buffer, at);
    at = key.next;
    const number = Number(key.value >> 3n);
    const wireType = Number(key.value & 7n);
    if (wireType === WIRE_VARINT) {
      const value = readVarint(buffer, at);
      at = value.next;
      fields.push({ number, wireType, varint: value.value, bytes: Buffer.alloc(0) });
    } else if (wireType === WIRE_BYTES) {
      const length = readVarint(buffer, at);
      const end = length.next + Number(length.value);
      if (end > buffer.length) throw malformed();
      fields.push({ number, wireType, varint: 0n, bytes: buffer.subarray(length.next, end) });
      at = end;
    } else if (wireType === WIRE_FIXED64 || wireType === WIRE_FIXED32) {
      at += wireType === WIRE_FIXED64 ? 8 : 4;
    } else {
      throw malformed();
    }
  }
  return fields;
}

function isZero(value: JsonValue): boolean {
  return value === '' || value === 0 || value === false;
}

function scalar(field: WireField, type: FieldSpec['type']): JsonValue {
  switch (type) {
    case 'string':
      return field.bytes.toString('utf8');
    case 'bytes':
      return field.bytes.toString('base64');
    case 'int':
      return Number(BigInt.asIntN(64, field.varint));
    case 'bool':
      return field.varint !== 0n;
    case 'time': {
      const seconds = readFields(field.bytes).find((inner) => inner.number === 1);
      if (seconds === undefined) return null;
      return new Date(Number(BigInt.asIntN(64, seconds.varint)) * 1000).toISOString().replace('.000Z', 'Z');
    }
    case 'quantity':
      return readFields(field.bytes).find((inner) => inner.number === 1)?.bytes.toString('utf8') ?? '';
    case 'intOrString': {
      const inner = readFields(field.bytes);
      const kind = inner.find((part) => part.number === 1)?.varint ?? 0n;
      if (kind === 1n) return inner.find((part) => part.number === 3)?.bytes.toString('utf8') ?? '';
      return Number(BigInt.asIntN(32, inner.find((part) => part.number === 2)?.varint ?? 0n));
    }
    default:
      return decodeMessage(field.bytes, MESSAGES[type.message] ?? {});
  }
}

function mapEntry(field: WireField, spec: FieldSpec): [string, JsonValue] {
  const inner = readFields(field.bytes);
  const key = inner.find((part) => part.number === 1)?.bytes.toString('utf8') ?? '';
  const value = inner.find((part) => part.number === 2);
  const valueType = spec.mapOf === 'bytes' ? 'bytes' : spec.mapOf === 'quantity' ? 'quantity' : 'string';
  return [key, value === undefined ? (valueType === 'bytes' ? '' : '') : scalar(value, valueType)];
}

function decodeMessage(buffer: Buffer, schema: MessageSchema): JsonObject {
  const out: JsonObject = {};
  for (const field of readFields(buffer)) {
    const spec = schema[field.number];
    if (spec === undefined) continue;
    if (spec.mapOf !== undefined) {
      const map = (out[spec.name] ?? {}) as JsonObject;
      const [key, value] = mapEntry(field, spec);
      map[key] = value;
      out[spec.name] = map;
      continue;
    }
    const value = scalar(field, spec.type);
    if (spec.repeated === true) {
      const list = (out[spec.name] ?? []) as JsonValue[];
      list.push(value);
      out[spec.name] = list;
    } else if (spec.isInline === true && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      Object.assign(out, value);
    } else if (value !== null && (spec.isPointer === true || !isZero(value))) {
      out[spec.name] = value;
    }
  }
  return out;
}

/** Decodes a protobuf request body into the JSON object it stands for. */
export function decodeProtobufObject(body: Buffer): JsonObject {
  if (body.length < ENVELOPE_MAGIC.length || !body.subarray(0, ENVELOPE_MAGIC.length).equals(ENVELOPE_MAGIC)) throw malformed();
  const envelope = readFields(body.subarray(ENVELOPE_MAGIC.length));
  const typeMeta = envelope.find((field) => field.number === 1);
  const raw = envelope.find((field) => field.number === 2);
  const meta = typeMeta === undefined ? {} : decodeMessage(typeMeta.bytes, MESSAGES['TypeMeta'] ?? {});
  const kind = typeof meta['kind'] === 'string' ? meta['kind'] : '';
  const root = PROTOBUF_KINDS[kind];
  if (root === undefined || raw === undefined) {
    throw unsupportedMediaType(['application/json', 'application/yaml']);
  }
  return { apiVersion: meta['apiVersion'] ?? '', kind, ...decodeMessage(raw.bytes, MESSAGES[root] ?? {}) };
}
