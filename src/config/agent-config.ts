// The validated, frozen configuration every part of the agent receives. Only load-config.ts builds it;
// nothing else reads environment variables or the config file.

import type { LogLevel } from '../log.js';
import type { KubeTarget } from '../kube/kube-target.js';
import type { TunnelEntry } from '../tunnel/discovery/tunnel-entry.js';

export const CompressionEngine = { zlib: 'zlib', fflate: 'fflate', off: 'off' } as const;
export type CompressionEngine = (typeof CompressionEngine)[keyof typeof CompressionEngine];

/** Where actors run when there are workers (docs/decisions.md, "Dispatch policy" and "Byte relays inline"). */
export const Dispatch = { auto: 'auto', workers: 'workers' } as const;
export type Dispatch = (typeof Dispatch)[keyof typeof Dispatch];

/** Where the agent keeps its state (CLUSTER.md §1); see docs/config.md "State" for the rule. */
export const StateBackend = { auto: 'auto', cluster: 'cluster', file: 'file', memory: 'memory' } as const;
export type StateBackend = (typeof StateBackend)[keyof typeof StateBackend];

export interface StateSettings {
  readonly backend: StateBackend;
  /** Explicit state namespace; else the service-account namespace, else podNamespace, else `pipeops-system`. */
  readonly namespace: string | undefined;
  readonly podNamespace: string | undefined;
  readonly configMapName: string;
  readonly secretName: string;
  /** Local JSON state file; a leading `~/` means the home directory. */
  readonly file: string;
}

/** Lookups for the `register` facts (CLUSTER.md §5, PROTOCOL.md §17.1). */
export interface RegistrationSettings {
  /** One deadline over every lookup; registration goes ahead with what arrived by then. */
  readonly factsTimeoutMs: number;
  /** Public-IP echo service; undefined means the primary interface IP. */
  readonly publicIpUrl: string | undefined;
  /** GeoIP service asked about the caller; undefined means no GeoIP lookup. No third party is asked by default. */
  readonly geoipUrl: string | undefined;
  /** SKIP_GEOIP, or CI when SKIP_GEOIP is not given. */
  readonly skipGeoip: boolean;
  /** Cloud metadata probes (169.254.169.254 and friends) are opt-in: skipped unless this is false. */
  readonly skipMetadata: boolean;
}

export interface ControlPlaneTls {
  /** PEM bundle trusted in addition to the system store. */
  readonly caFile: string | undefined;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
  readonly insecureSkipVerify: boolean;
}

export interface AgentConfig {
  readonly pipeops: {
    /** Control plane base URL (http, https, ws or wss). */
    readonly apiUrl: string;
    /** Agent token; empty only when tokenFile is set (then read from the file at every dial). */
    readonly token: string;
    readonly tokenFile: string | undefined;
    readonly tls: ControlPlaneTls;
  };
  readonly agent: {
    /** Fixed agent id, when configured; otherwise derived and persisted. */
    readonly id: string | undefined;
    readonly clusterName: string;
    /** Port of /health, /ready, /version, /metrics; 0 picks a free one. */
    readonly port: number;
    readonly bindAddress: string;
    /**
     * /ready answers 200 whenever the link is connecting, reconnecting or connected, for clusters whose
     * rollouts must not wait on the control plane; strict mode also needs a recent heartbeat.
     */
    readonly readyLenient: boolean;
    /** Actor threads; 0 runs actors inline on the main thread. */
    readonly workers: number;
    readonly tasksPerWorker: number;
    /** Actors waiting for a thread before new ones are refused. */
    readonly maxQueue: number;
    /** Session pool threads; undefined: half the workers, rounded up. */
    readonly sessionWorkers?: number | undefined;
    /** Long-lived streams per session thread; undefined: 4 × tasksPerWorker. */
    readonly sessionTasksPerWorker?: number | undefined;
    /** Loaded configs always carry it (default auto); absent in one built by hand: workers (resolve-config.ts). */
    readonly dispatch?: Dispatch;
    readonly compression: CompressionEngine;
    readonly enableIngressSync: boolean;
    readonly heartbeatIntervalMs: number;
    /** §7.7 drain limit: in-flight work may finish this long after the first shutdown signal. */
    readonly drainTimeoutMs: number;
    readonly labels: Readonly<Record<string, string>>;
  };
  readonly kubernetes: {
    /** Kubeconfig path; undefined means in-cluster service account. */
    readonly kubeconfig: string | undefined;
    /** Token handed to the control plane as `k8s_service_token`, when configured. */
    readonly serviceToken: string | undefined;
    /** Cluster CA bundle (base64 PEM) recorded as `cluster_cert_data`, when configured. */
    readonly caCertData?: string | undefined;
    /** Watches and followed logs over HTTP/2 when the API server offers h2 (`WorkerTuning.isKubeHttp2Enabled`); absent means on. */
    readonly http2?: boolean | undefined;
  };
  /** Absent in configs built by hand (tests, benches): then nothing is persisted. */
  readonly state?: StateSettings;
  /** Absent in configs built by hand: then only Kubernetes node facts are used, no HTTP lookups. */
  readonly registration?: RegistrationSettings;
  readonly tunnel: {
    /** §15: advertise `supports_yamux` and accept TCP/UDP tunnel streams; false ignores `gateway_hello`. */
    readonly enabled: boolean;
    /** Tunnel streams open at once; more are reset. Absent in configs built by hand: 1024. */
    readonly maxStreams?: number;
    /** A UDP tunnel stream ends after this long without a datagram. Absent in configs built by hand: 60 s. */
    readonly udpIdleTimeoutMs?: number;
    /** Inbound message cap in bytes (close 1009 above it). */
    readonly inboundCapBytes: number;
    /** Default deadline of a proxied HTTP request without timeout/deadline. */
    readonly requestTimeoutMs: number;
    readonly dropAcceptEncoding: boolean;
    /** Config-declared TCP/UDP tunnels (docs/tunnels.md), validated, ids resolved. */
    readonly tunnels: readonly TunnelEntry[];
  };
  readonly logging: {
    readonly level: LogLevel;
  };
}

/** Actor slots of a router lane and the actors that may wait for one (router/admission.ts). */
export interface LaneSlots {
  readonly slots: number;
  readonly maxQueue: number;
}

/**
 * An AgentConfig with the values its settings imply filled in (resolve-config.ts): what loadConfig returns
 * and what the agent's parts read.
 */
export interface ResolvedAgentConfig extends AgentConfig {
  readonly agent: AgentConfig['agent'] & {
    readonly dispatch: Dispatch;
    readonly sessionWorkers: number;
    readonly sessionTasksPerWorker: number;
    /** Short lane: HTTP relays; long lane: sessions, watches, follows (docs/decisions.md). */
    readonly lanes: { readonly short: LaneSlots; readonly long: LaneSlots };
    /** The HTTP port told to the control plane (`tunnel_port_config.agent_http`): `port`, or its default when 0. */
    readonly advertisedPort: number;
  };
  readonly tunnel: AgentConfig['tunnel'] & {
    readonly maxStreams: number;
    readonly udpIdleTimeoutMs: number;
  };
}

/** Protocol timings and bounds the actors apply; defaults are PROTOCOL.md §18's, tests shorten them. */
export interface WorkerTuning {
  /** Wait for a request-body frame (§9.14). */
  readonly binaryBodyTimeoutMs: number;
  /** Longest gap between request-body chunks (§9.15). */
  readonly bodyStreamGapMs: number;
  /** Decoded request-body bytes queued but not yet taken by the upstream socket (§9.15). */
  readonly bodyQueueBytes: number;
  /** Bytes a streaming response may have in flight before the router confirms the socket took them. */
  readonly streamCreditBytes: number;
  /** Largest upstream body a buffered response holds (§9.8 `response body too large`). */
  readonly maxBufferedBodyBytes: number;
  /**
   * Binary response frames for large bodies (§9.8). Off reproduces the legacy wire (JSON base64 only),
   * the baseline the wire benchmarks compare against.
   */
  readonly isBinaryResponseEnabled: boolean;
  /** Host name → IP address pairs resolved before DNS, like /etc/hosts (tests point service names at loopback). */
  readonly hostAliases: Readonly<Record<string, string>>;
  /** Frames an application relay queues towards its backend before it drops one with `backpressure` (§14.4). */
  readonly relayChannelCapacity: number;
  /** §14.5 backend keepalive of an application relay: ping interval, and the silence after which it ends. */
  readonly relayPingIntervalMs: number;
  readonly relayPongTimeoutMs: number;
  /** How often actors look at a mounted cluster CA file for rotation (a stat per request would be waste). */
  readonly caCheckIntervalMs: number;
  /**
   * Watches and followed logs go to the Kubernetes API over HTTP/2 when it offers h2 (ALPN), many streams
   * per connection as client-go does; HTTP/1.1 otherwise, and always for other calls.
   */
  readonly isKubeHttp2Enabled: boolean;
}

export const DEFAULT_WORKER_TUNING: WorkerTuning = Object.freeze({
  binaryBodyTimeoutMs: 30_000,
  bodyStreamGapMs: 60_000,
  bodyQueueBytes: 8 * 1024 * 1024,
  streamCreditBytes: 256 * 1024,
  maxBufferedBodyBytes: 48 * 1024 * 1024,
  isBinaryResponseEnabled: true,
  hostAliases: {},
  relayChannelCapacity: 100,
  relayPingIntervalMs: 30_000,
  relayPongTimeoutMs: 90_000,
  caCheckIntervalMs: 10_000,
  isKubeHttp2Enabled: true,
});

/** The cloneable subset a worker thread needs (passed through piscina workerData). */
export interface WorkerConfig {
  readonly logLevel: LogLevel;
  readonly kubeconfig: string | undefined;
  /** The Kubernetes API, resolved on the main thread; undefined when the agent has no Kubernetes access. */
  readonly kube: KubeTarget | undefined;
  readonly compression: CompressionEngine;
  readonly requestTimeoutMs: number;
  readonly dropAcceptEncoding: boolean;
  readonly tuning: WorkerTuning;
}

export function workerConfigOf(config: AgentConfig, tuning: Partial<WorkerTuning> = {}, kube?: KubeTarget): WorkerConfig {
  return {
    logLevel: config.logging.level,
    kubeconfig: config.kubernetes.kubeconfig,
    kube,
    compression: config.agent.compression,
    requestTimeoutMs: config.tunnel.requestTimeoutMs,
    dropAcceptEncoding: config.tunnel.dropAcceptEncoding,
    tuning: { ...DEFAULT_WORKER_TUNING, ...(config.kubernetes.http2 === undefined ? {} : { isKubeHttp2Enabled: config.kubernetes.http2 }), ...tuning },
  };
}
