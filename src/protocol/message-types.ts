// The message catalogue of PROTOCOL.md §8: which inbound types exist and who handles them.

/** Types the control plane may send (§8.1), aliases included. */
export const InboundType = {
  registerSuccess: 'register_success',
  registerInProgress: 'register_in_progress',
  heartbeatAck: 'heartbeat_ack',
  ping: 'ping',
  pong: 'pong',
  error: 'error',
  gatewayHello: 'gateway_hello',
  proxyRequest: 'proxy_request',
  proxyRequestChunk: 'proxy_request_chunk',
  proxyRequestStreamEnd: 'proxy_request_stream_end',
  proxyCancel: 'proxy_cancel',
  proxyStreamData: 'proxy_stream_data',
  proxyWebsocketStart: 'proxy_websocket_start',
  proxyWebsocketData: 'proxy_websocket_data',
  proxyWebsocketClose: 'proxy_websocket_close',
  wsStart: 'ws_start',
  wsData: 'ws_data',
  wsClose: 'ws_close',
  tcpTunnelStart: 'tcp_tunnel_start',
  tcpTunnelData: 'tcp_tunnel_data',
  tcpTunnelClose: 'tcp_tunnel_close',
  udpTunnelData: 'udp_tunnel_data',
} as const;
export type InboundType = (typeof InboundType)[keyof typeof InboundType];

const INBOUND_TYPES: ReadonlySet<string> = new Set(Object.values(InboundType));

export function isKnownInboundType(type: string): type is InboundType {
  return INBOUND_TYPES.has(type);
}

/** Types the agent sends (§8.2). */
export const OutboundType = {
  register: 'register',
  heartbeat: 'heartbeat',
  pong: 'pong',
  gatewayHelloAck: 'gateway_hello_ack',
  proxyResponse: 'proxy_response',
  proxyError: 'proxy_error',
  proxyResponseHeader: 'proxy_response_header',
  proxyResponseChunk: 'proxy_response_chunk',
  proxyResponseEnd: 'proxy_response_end',
  proxyResponseAbort: 'proxy_response_abort',
  proxyWebsocketData: 'proxy_websocket_data',
  proxyWebsocketClose: 'proxy_websocket_close',
  backpressure: 'backpressure',
  protocolFallback: 'protocol_fallback',
  tcpTunnelClose: 'tcp_tunnel_close',
} as const;
export type OutboundType = (typeof OutboundType)[keyof typeof OutboundType];

/** `protocol_fallback.supported_types`, exactly and in this order (§8.3). */
export const SUPPORTED_TYPES: readonly string[] = Object.freeze([
  InboundType.registerSuccess,
  InboundType.registerInProgress,
  InboundType.heartbeatAck,
  InboundType.pong,
  InboundType.ping,
  InboundType.proxyRequest,
  InboundType.proxyRequestChunk,
  InboundType.proxyRequestStreamEnd,
  InboundType.proxyCancel,
  InboundType.proxyStreamData,
  InboundType.proxyWebsocketStart,
  InboundType.proxyWebsocketData,
  InboundType.proxyWebsocketClose,
  InboundType.wsStart,
  InboundType.wsData,
  InboundType.wsClose,
  InboundType.error,
]);

/** Features advertised in `register` (§5.1): exactly these six, all true. */
export const REGISTER_FEATURES = Object.freeze({
  supports_streaming: true,
  supports_binary_protocol: true,
  supports_compression: true,
  supports_websocket_proxy: true,
  supports_gateway: true,
  supports_response_streaming: true,
});
