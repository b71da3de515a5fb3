// Turns the header map an agent answered with into the headers of the kubectl-side HTTP response:
// hop-by-hop headers dropped, Content-Length made to match the bytes actually sent.

import type { OutgoingHttpHeaders } from 'node:http';
import { REQUEST_HOP_BY_HOP, readHeaderMap } from '../../protocol/headers.js';


/** How the body reaches the client, which decides what happens to Content-Length. */
export type BodyLength =
  /** A fully decoded body of this many bytes: Content-Length is recomputed. */
  | { readonly kind: 'buffered'; readonly bytes: number }
  /** Chunks relayed as they come: the agent's Content-Length still describes them and is kept. */
  | { readonly kind: 'streamed' }
  /** No body may follow (HEAD, 204, 304): the agent's Content-Length is kept as the upstream sent it. */
  | { readonly kind: 'none' };

/**
 * Content-Encoding always passes through: transport gzip (§11) is signalled outside the headers and is
 * undone before this point, so an upstream Content-Encoding still describes the bytes sent.
 */
export function clientResponseHeaders(agentHeaders: unknown, body: BodyLength): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const nameByLower = new Map<string, string>();
  for (const [name, values] of Object.entries(readHeaderMap(agentHeaders))) {
    const lower = name.toLowerCase();
    if (REQUEST_HOP_BY_HOP.has(lower)) continue;
    if (lower === 'content-length' && body.kind === 'buffered') continue;
    const existing = nameByLower.get(lower);
    const key = existing ?? name;
    nameByLower.set(lower, key);
    if (lower === 'content-length') {
      // one value: several Content-Length lines would make the client reject the response
      if (values[0] !== undefined) out[key] = values[0];
      continue;
    }
    const previous = out[key];
    out[key] = [...(Array.isArray(previous) ? previous : []), ...values];
  }
  if (body.kind === 'buffered') out['Content-Length'] = body.bytes;
  return out;
}

/** True when the headers carry a Content-Encoding other than `identity`. */
export function hasContentEncoding(agentHeaders: unknown): boolean {
  for (const [name, values] of Object.entries(readHeaderMap(agentHeaders))) {
    if (name.toLowerCase() !== 'content-encoding') continue;
    if (values.some((value) => value.trim() !== '' && value.trim().toLowerCase() !== 'identity')) return true;
  }
  return false;
}
