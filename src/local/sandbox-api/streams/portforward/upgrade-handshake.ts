// The HTTP side of a port-forward upgrade, before any SPDY: which kind of upgrade kubectl asked for,
// the subprotocol negotiation, the refusals and the SPDY 101. The texts follow kube-apiserver's
// tunneling handler (apiserver/pkg/util/proxy/streamtunnel.go) and apimachinery's
// httpstream.Handshake and spdy.UpgradeResponse, so kubectl sees the same statuses and falls back the
// same way.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ApiStatusError } from '../../http/api-status.js';

/** what client-go prefixes to each SPDY protocol when it tunnels SPDY through a WebSocket */
export const TUNNELING_PREFIX = 'SPDY/3.1+';
export const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';
export const TUNNELED_PORT_FORWARD_PROTOCOL = `${TUNNELING_PREFIX}${PORT_FORWARD_PROTOCOL}`;
export const SPDY_UPGRADE = 'SPDY/3.1';

export type UpgradeKind = 'websocket' | 'spdy' | 'other';

function headerText(request: IncomingMessage, name: string): string {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

function commaList(text: string): string[] {
  return text.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

export function upgradeKind(request: IncomingMessage): UpgradeKind {
  const connection = headerText(request, 'connection').toLowerCase();
  const upgrade = headerText(request, 'upgrade').toLowerCase();
  if (!connection.includes('upgrade')) return 'other';
  if (upgrade === 'websocket') return 'websocket';
  if (upgrade.includes(SPDY_UPGRADE.toLowerCase())) return 'spdy';
  return 'other';
}

/** Every subprotocol a WebSocket upgrade offers, in the client's order. */
export function webSocketProtocols(request: IncomingMessage): string[] {
  return commaList(headerText(request, 'sec-websocket-protocol'));
}

/**
 * The SPDY protocols inside a WebSocket offer: Kubernetes subprotocols with the tunneling prefix,
 * prefix removed (streamtunnel.go's spdyProtocolsFromWebsocketProtocols).
 */
export function tunneledSpdyProtocols(request: IncomingMessage): string[] {
  return commaList(headerText(request, 'sec-websocket-protocol'))
    .filter((protocol) => protocol.startsWith(TUNNELING_PREFIX) && protocol.endsWith('.k8s.io'))
    .map((protocol) => protocol.slice(TUNNELING_PREFIX.length));
}

/** The X-Stream-Protocol-Version values of a plain SPDY upgrade. */
export function streamProtocols(request: IncomingMessage): string[] {
  return commaList(headerText(request, 'x-stream-protocol-version'));
}

/** The kubelet's Handshake refusal when the client offers no protocol it serves. */
export function handshakeRefusal(clientProtocols: readonly string[]): string {
  return `unable to upgrade: unable to negotiate protocol: client supports [${clientProtocols.join(' ')}], server accepts [${PORT_FORWARD_PROTOCOL}]`;
}

/** Where refusals go: the upgrade's HTTP response, written before the socket closes. */
export interface UpgradeRefuser {
  /** a metav1.Status answer, as the apiserver writes its own failures */
  status(error: ApiStatusError): void;
  /** Go's http.Error (text/plain, nosniff, trailing newline), as the tunneling handler and kubelet write */
  httpError(statusCode: number, text: string, headers?: Readonly<Record<string, string>>): void;
}

/** The 101 the kubelet's SPDY upgrader answers, passed through by the apiserver (Go sorts header names). */
export function writeSpdySwitch(socket: Duplex, protocol: string): void {
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Connection: Upgrade',
    `Date: ${new Date().toUTCString()}`,
    `Upgrade: ${SPDY_UPGRADE}`,
    `X-Stream-Protocol-Version: ${protocol}`,
  ];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}
