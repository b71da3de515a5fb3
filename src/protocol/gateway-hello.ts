// `gateway_hello` (PROTOCOL.md §15.1): whether the gateway wants yamux, and its yamux_config. All config keys
// are optional; non-positive or non-numeric values are ignored (the defaults of §18 apply).

export const DEFAULT_YAMUX_WINDOW_BYTES = 256 * 1024;
export const DEFAULT_YAMUX_KEEPALIVE_MS = 30_000;
export const DEFAULT_YAMUX_CONNECTION_TIMEOUT_MS = 30_000;

export interface GatewayHello {
  readonly useYamux: boolean;
  readonly maxStreamWindowBytes: number;
  readonly keepAliveIntervalMs: number;
  /** Write timeout of the session and dial timeout of a tunnel target. */
  readonly connectionTimeoutMs: number;
}

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

export function parseGatewayHello(payload: Readonly<Record<string, unknown>>): GatewayHello {
  const raw = payload['yamux_config'];
  const config = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const window = positive(config['max_stream_window_size']);
  const keepAlive = positive(config['keep_alive_interval_seconds']);
  const timeout = positive(config['connection_timeout_seconds']);
  return {
    useYamux: payload['use_yamux'] === true,
    maxStreamWindowBytes: window === undefined ? DEFAULT_YAMUX_WINDOW_BYTES : Math.floor(window),
    keepAliveIntervalMs: keepAlive === undefined ? DEFAULT_YAMUX_KEEPALIVE_MS : Math.round(keepAlive * 1000),
    connectionTimeoutMs: timeout === undefined ? DEFAULT_YAMUX_CONNECTION_TIMEOUT_MS : Math.round(timeout * 1000),
  };
}
