// Rules of kubectl WebSocket sessions that need no I/O (PROTOCOL.md §13.2, §13.5, §10.3): path
// validation (the router applies it before any state exists) and the subprotocols offered upstream.

import { headerValues, type HeaderMap } from './headers.js';

const ALLOWED_ROOTS = ['/api', '/apis', '/version', '/healthz', '/readyz', '/livez', '/openapi'];

/** §13.2: after collapsing repeated `/`, a Kubernetes API path without `..` segments, `%`, `\`, CR, LF or NUL. */
export function isValidSessionPath(path: string): boolean {
  const collapsed = path.replace(/\/{2,}/g, '/');
  if (/[%\\\r\n\0]/.test(collapsed)) return false;
  if (collapsed.split('/').some((segment) => segment === '..')) return false;
  return ALLOWED_ROOTS.some((root) => collapsed === root || collapsed.startsWith(`${root}/`));
}

export function collapseSlashes(path: string): string {
  return path.replace(/\/{2,}/g, '/');
}

const EXEC_OFFER = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
const PORT_FORWARD_OFFER = ['SPDY/3.1+portforward.k8s.io', 'portforward.k8s.io'];

/**
 * §13.5: the control plane's subprotocols exactly (`protocol` first, then every Sec-WebSocket-Protocol
 * value, trimmed, blanks and duplicates removed); when it named none, the defaults for the path.
 * `isTransparent` is true when the control plane named any.
 */
export function subprotocolOffer(protocol: string, headers: HeaderMap, path: string): { offer: string[]; isTransparent: boolean } {
  const named: string[] = [];
  const add = (value: string): void => {
    const trimmed = value.trim();
    if (trimmed !== '' && !named.includes(trimmed)) named.push(trimmed);
  };
  add(protocol);
  for (const value of headerValues(headers, 'sec-websocket-protocol')) value.split(',').forEach(add);
  if (named.length > 0) return { offer: named, isTransparent: true };
  const segments = path.split('/');
  if (segments.includes('exec') || segments.includes('attach')) return { offer: [...EXEC_OFFER], isTransparent: false };
  if (segments.includes('portforward')) return { offer: [...PORT_FORWARD_OFFER], isTransparent: false };
  return { offer: [], isTransparent: false };
}

export const WsFrameType = { text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;
export type WsFrameType = (typeof WsFrameType)[keyof typeof WsFrameType];

const VALID_TYPES: ReadonlySet<number> = new Set([1, 2, 8, 9, 10]);

export function isWsFrameType(value: number): value is WsFrameType {
  return VALID_TYPES.has(value);
}

/**
 * §12.1: decoded relay data whose first byte is a valid type is framed; otherwise (or when empty) a valid
 * numeric `message_type` is prepended; otherwise it cannot be used.
 */
export function readRelayFrame(decoded: Uint8Array, messageType: unknown): { type: WsFrameType; payload: Uint8Array } | undefined {
  const first = decoded[0];
  if (first !== undefined && isWsFrameType(first)) return { type: first, payload: decoded.subarray(1) };
  if (typeof messageType === 'number' && isWsFrameType(messageType)) return { type: messageType, payload: decoded };
  return undefined;
}

/** `[type u8][payload]`, the §10.3 framing, as base64. */
export function encodeRelayFrame(type: WsFrameType, payload: Uint8Array): string {
  const framed = Buffer.allocUnsafe(payload.length + 1);
  framed[0] = type;
  framed.set(payload, 1);
  return framed.toString('base64');
}
