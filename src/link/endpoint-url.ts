// URLs of the two control-plane sockets (PROTOCOL.md §3.1, §3.2). The token never goes into a URL.

import { CONTROLLER_PATH, GATEWAY_DEFAULT_PATH } from '../protocol/constants.js';

const WS_SCHEME: Readonly<Record<string, string>> = { 'https:': 'wss:', 'wss:': 'wss:', 'http:': 'ws:', 'ws:': 'ws:' };

function withWsScheme(raw: string): URL {
  const url = new URL(raw);
  const scheme = WS_SCHEME[url.protocol];
  if (scheme === undefined) throw new TypeError(`unsupported URL scheme "${url.protocol}" (use http, https, ws or wss)`);
  // URL refuses protocol changes between special and non-special schemes only; ws/wss/http/https are all special.
  url.protocol = scheme;
  return url;
}

/**
 * A usable control-plane URL (§5.4): absolute, with a ws, wss, http or https scheme and a host. Anything else
 * (`gw.example.net/ws`, `::::`, `ftp://…`) is refused before it reaches a dial.
 */
export function isUsableEndpointUrl(raw: string): boolean {
  if (!URL.canParse(raw)) return false;
  const url = new URL(raw);
  return WS_SCHEME[url.protocol] !== undefined && url.hostname !== '';
}

/** A URL as it may be logged: without query string or fragment (they may carry credentials), bounded in length. */
export function loggableUrl(raw: string): string {
  const cut = raw.search(/[?#]/);
  return (cut < 0 ? raw : raw.slice(0, cut)).slice(0, 200);
}

/** Controller socket: scheme mapped, path replaced, the base URL's query kept unchanged. */
export function controllerUrl(apiUrl: string): string {
  const url = withWsScheme(apiUrl);
  url.pathname = CONTROLLER_PATH;
  url.hash = '';
  return url.toString();
}

export interface GatewayQuery {
  readonly agentVersion: string;
  readonly clusterUuid: string;
  /** `supports_yamux=true` is sent only when the tunnel is enabled (§3.2); otherwise the key is absent. */
  readonly supportsYamux?: boolean;
}

/** Gateway socket: path kept (empty → /ws), our keys set, whole query form-encoded with keys sorted. */
export function gatewayUrl(raw: string, query: GatewayQuery): string {
  const url = withWsScheme(raw);
  if (url.pathname === '' || url.pathname === '/') url.pathname = GATEWAY_DEFAULT_PATH;
  url.hash = '';
  const params = new URLSearchParams(url.search);
  const ours: Record<string, string> = {
    agent_version: query.agentVersion,
    cluster_uuid: query.clusterUuid,
    supports_binary: 'true',
    supports_response_streaming: 'true',
    supports_streaming: 'true',
    supports_websocket: 'true',
  };
  if (query.supportsYamux === true) ours['supports_yamux'] = 'true';
  else params.delete('supports_yamux');
  for (const [key, value] of Object.entries(ours)) params.set(key, value);
  const entries = [...params.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  url.search = new URLSearchParams(entries).toString();
  return url.toString();
}
