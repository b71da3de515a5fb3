// Wire constants of PROTOCOL.md §18. Thread-neutral: imported by the router, the actors and the local
// control plane alike. Units are spelled out in every name.

export const CONTROLLER_PATH = '/api/v1/clusters/agent/ws';
export const GATEWAY_DEFAULT_PATH = '/ws';

export const HANDSHAKE_TIMEOUT_MS = 30_000;
export const PING_INTERVAL_MS = 10_000;
export const SILENCE_LIMIT_MS = 60_000;
export const SHUTDOWN_CLOSE_WAIT_MS = 5_000;

export const BACKOFF_INITIAL_MS = 500;
export const BACKOFF_MAX_MS = 60_000;
export const BACKOFF_JITTER = 0.25;

export const REGISTRATION_WAIT_MS = 30_000;
export const REGISTRATION_EXTEND_MS = 30_000;
export const REGISTRATION_MAX_WAIT_MS = 120_000;

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 30_000;
export const DEFAULT_INBOUND_CAP_BYTES = 64 * 1024 * 1024;

export const DEFAULT_HTTP_DEADLINE_MS = 2 * 60_000;
export const DEFAULT_RELAY_DEADLINE_MS = 24 * 60 * 60_000;

export const BINARY_RESPONSE_MIN_BYTES = 10_240;
export const COMPRESSION_MIN_BYTES = 1024;
export const MAX_BINARY_ID_BYTES = 65_535;

export const CLOSE_NORMAL = 1000;

/** Value of `protocol_fallback.agent_version`: a fixed string kept for compatibility, not the version. */
export const FALLBACK_AGENT_NAME = 'pipeops-k8-agent';
export const FALLBACK_MODE = 'legacy_proxy';
export const FALLBACK_PROTOCOL_VERSION = '1.0';
