// Header maps of PROTOCOL.md §4.4 and the hop-by-hop filters of §9.6/§9.7. Thread-neutral.

/** A header map on the wire: name → values in received order. */
export type HeaderMap = Record<string, string[]>;

const TOKEN_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;

/** `content-type` → `Content-Type`; names with non-token characters are left unchanged. */
export function canonicalHeaderName(name: string): string {
  if (!TOKEN_NAME.test(name)) return name;
  let out = '';
  let upper = true;
  for (const ch of name) {
    out += upper ? ch.toUpperCase() : ch.toLowerCase();
    upper = ch === '-';
  }
  return out;
}

/**
 * Reads an inbound header map: a single string value counts as a one-item list, non-string items are
 * ignored, and anything that is not an object means no headers. Names keep their case.
 */
export function readHeaderMap(value: unknown): HeaderMap {
  const out: HeaderMap = {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return out;
  for (const [name, raw] of Object.entries(value as Record<string, unknown>)) {
    if (typeof raw === 'string') out[name] = [raw];
    else if (Array.isArray(raw)) {
      const items = raw.filter((item): item is string => typeof item === 'string');
      if (items.length > 0) out[name] = items;
    }
  }
  return out;
}

/** Case-insensitive lookup of every value of one header. */
export function headerValues(headers: HeaderMap, name: string): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const [key, list] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) values.push(...list);
  }
  return values;
}

export function firstHeader(headers: HeaderMap, name: string): string | undefined {
  return headerValues(headers, name)[0];
}

/** Request headers never copied upstream (§9.6), besides the names listed in `Connection`. */
export const REQUEST_HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
]);

/** Response headers removed before they go to the control plane (§9.7). */
const RESPONSE_HOP_BY_HOP = new Set([
  'connection',
  'upgrade',
  'transfer-encoding',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailers',
]);

function connectionListed(headers: HeaderMap): Set<string> {
  const listed = new Set<string>();
  for (const value of headerValues(headers, 'connection')) {
    for (const token of value.split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '') listed.add(name);
    }
  }
  return listed;
}

/**
 * Headers to send upstream for a proxied HTTP request: everything except hop-by-hop headers, names listed
 * in `Connection`, `Host`, `Content-Length` (recomputed) and, for Kubernetes API calls, `Accept-Encoding`.
 */
export function upstreamRequestHeaders(headers: HeaderMap, shouldDropAcceptEncoding: boolean): HeaderMap {
  const listed = connectionListed(headers);
  const out: HeaderMap = {};
  for (const [name, values] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (REQUEST_HOP_BY_HOP.has(lower) || listed.has(lower)) continue;
    if (lower === 'host' || lower === 'content-length') continue;
    if (shouldDropAcceptEncoding && lower === 'accept-encoding') continue;
    out[name] = [...(out[name] ?? []), ...values];
  }
  return out;
}

/**
 * Response headers for the control plane from Node's raw header list (name, value, name, value, …):
 * canonical names, repeated lines kept in order, hop-by-hop removed (Connection/Upgrade kept for 101).
 * Returns null when nothing is left, as the wire wants.
 */
export function responseHeadersFromRaw(rawHeaders: readonly string[], status: number): HeaderMap | null {
  const out: HeaderMap = {};
  let count = 0;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (RESPONSE_HOP_BY_HOP.has(lower) && !(status === 101 && (lower === 'connection' || lower === 'upgrade'))) continue;
    const canonical = canonicalHeaderName(name);
    (out[canonical] ??= []).push(rawHeaders[i + 1]!);
    count++;
  }
  return count === 0 ? null : out;
}
