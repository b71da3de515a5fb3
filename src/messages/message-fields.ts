// Field checks shared by the message guards and the workerData parser. Structured clone keeps typed
// arrays, plain objects and primitives, so a received message is checked field by field against these.

export type Fields = Readonly<Record<string, unknown>>;

export function isRecord(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Bytes arrive as a Uint8Array (a Buffer posted across a port is cloned as its Uint8Array view). */
export function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

/** A byte count, a frame count or a duration: finite and never negative. */
export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

export function isOneOf<T extends string>(values: Readonly<Record<string, T>>, value: unknown): value is T {
  return typeof value === 'string' && (Object.values(values) as readonly string[]).includes(value);
}

export function isOptional<T>(value: unknown, check: (value: unknown) => value is T): value is T | undefined {
  return value === undefined || check(value);
}
