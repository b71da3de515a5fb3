// The metric catalog: every metric the agent exports, with type, labels and meaning. Thread-neutral, so
// actors name metrics from the same table; docs/metrics.md lists the same rows.

export const MetricType = { counter: 'counter', gauge: 'gauge', histogram: 'histogram' } as const;
export type MetricType = (typeof MetricType)[keyof typeof MetricType];

export interface MetricSpec {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
  readonly buckets?: readonly number[];
}

const DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export const METRICS = {
  connectionState: {
    name: 'pipeops_agent_connection_state',
    type: 'gauge',
    help: 'Control-plane connection state: 0 disconnected, 1 connecting, 2 connected, 3 reconnecting',
    labels: [],
  },
  connectionStateChanges: {
    name: 'pipeops_agent_connection_state_changes_total',
    type: 'counter',
    help: 'Transitions of the control-plane connection state, by the state entered',
    labels: ['state'],
  },
  reconnections: {
    name: 'pipeops_agent_websocket_reconnections_total',
    type: 'counter',
    help: 'Reconnect attempts after a lost or failed control-plane socket',
    labels: [],
  },
  heartbeatSuccess: {
    name: 'pipeops_agent_heartbeat_success_total',
    type: 'counter',
    help: 'Heartbeats written to the control-plane socket',
    labels: [],
  },
  heartbeatFailures: {
    name: 'pipeops_agent_heartbeat_failures_total',
    type: 'counter',
    help: 'Heartbeats that could not be written',
    labels: [],
  },
  heartbeatDuration: {
    name: 'pipeops_agent_heartbeat_duration_seconds',
    type: 'histogram',
    help: 'Time to gather and write one heartbeat',
    labels: [],
    buckets: DURATION_BUCKETS_SECONDS,
  },
  registrations: {
    name: 'pipeops_agent_registrations_total',
    type: 'counter',
    help: 'Registration attempts, by outcome',
    labels: ['outcome'],
  },
  inboundMalformed: {
    name: 'pipeops_agent_inbound_malformed_total',
    type: 'counter',
    help: 'Inbound frames that are not a JSON envelope with a string type (dropped)',
    labels: [],
  },
  unknownMessageType: {
    name: 'pipeops_agent_unknown_message_type_total',
    type: 'counter',
    help: 'Inbound messages of an unknown type, by type (at most 32 distinct values, then "other")',
    labels: ['type'],
  },
  binaryBodyUnmatched: {
    name: 'pipeops_agent_binary_body_unmatched_total',
    type: 'counter',
    help: 'Well-formed request-body frames naming no pending request (dropped)',
    labels: [],
  },
  binaryFrameMalformed: {
    name: 'pipeops_agent_binary_frame_malformed_total',
    type: 'counter',
    help: 'Binary frames that are neither JSON nor a well-formed request-body frame, nor, once negotiated, a well-formed stream frame (dropped)',
    labels: [],
  },
  requestChunkUnknown: {
    name: 'pipeops_agent_request_chunk_unknown_total',
    type: 'counter',
    help: 'Request-body chunks or ends for an unknown request (dropped)',
    labels: [],
  },
  wsDataUnknownStream: {
    name: 'pipeops_agent_ws_data_unknown_stream_total',
    type: 'counter',
    help: 'Relay data for an unknown stream, or undecodable relay data (dropped)',
    labels: [],
  },
  lateMessage: {
    name: 'pipeops_agent_late_message_total',
    type: 'counter',
    help: 'Messages for a request or stream that had already finished (ignored)',
    labels: [],
  },
  tunnelMessageDropped: {
    name: 'pipeops_agent_tunnel_message_dropped_total',
    type: 'counter',
    help: 'Legacy TCP/UDP tunnel messages dropped because legacy tunnels are not supported',
    labels: [],
  },
  tunnelStreamsActive: {
    name: 'pipeops_agent_tunnel_streams_active',
    type: 'gauge',
    help: 'Yamux tunnel streams in progress (header read, target dialled or being dialled), by protocol',
    labels: ['protocol'],
  },
  tunnelStreamsOpened: {
    name: 'pipeops_agent_tunnel_streams_total',
    type: 'counter',
    help: 'Yamux tunnel streams whose header named a target, by protocol',
    labels: ['protocol'],
  },
  tunnelBytes: {
    name: 'pipeops_agent_tunnel_bytes_total',
    type: 'counter',
    help: 'Tunnel stream bytes, by direction (in: from the gateway towards the target, out: back) and protocol',
    labels: ['direction', 'protocol'],
  },
  tunnelStreamErrors: {
    name: 'pipeops_agent_tunnel_stream_errors_total',
    type: 'counter',
    help: 'Tunnel streams reset, by kind: header, dial, target, refused, protocol, session',
    labels: ['kind'],
  },
  tunnelStreamDuration: {
    name: 'pipeops_agent_tunnel_stream_duration_seconds',
    type: 'histogram',
    help: 'Lifetime of a tunnel stream, from its header to its end, by protocol',
    labels: ['protocol'],
    buckets: [0.01, 0.1, 1, 10, 60, 300, 1800, 3600, 14400],
  },
  yamuxSessions: {
    name: 'pipeops_agent_yamux_sessions_total',
    type: 'counter',
    help: 'gateway_hello negotiations, by outcome: active (acknowledged), refused (no ack), ignored (use_yamux false, or yamux already active on the socket); with the tunnel disabled nothing is counted',
    labels: ['outcome'],
  },
  relayRequests: {
    name: 'pipeops_agent_relay_requests_total',
    type: 'counter',
    help: 'Proxied HTTP requests, by outcome and response mode',
    labels: ['outcome', 'mode'],
  },
  relayDuration: {
    name: 'pipeops_agent_relay_request_duration_seconds',
    type: 'histogram',
    help: 'Time from proxy_request to the last response message',
    labels: ['mode'],
    buckets: DURATION_BUCKETS_SECONDS,
  },
  admissionRefused: {
    name: 'pipeops_agent_admission_refused_total',
    type: 'counter',
    help: 'Requests refused before reaching an actor, by reason',
    labels: ['reason'],
  },
  poolThreads: {
    name: 'pipeops_agent_pool_threads',
    type: 'gauge',
    help: 'Worker threads running actors, read at scrape time (0 when actors run inline)',
    labels: ['pool'],
  },
  poolQueueSize: {
    name: 'pipeops_agent_pool_queue_size',
    type: 'gauge',
    help: 'Requests waiting for a free actor slot of the pool (admission queue), read at scrape time',
    labels: ['pool'],
  },
  poolActiveActors: {
    name: 'pipeops_agent_pool_active_actors',
    type: 'gauge',
    help: 'Actors started and not yet finished, read at scrape time',
    labels: ['pool'],
  },
  relayRequestsActive: {
    name: 'pipeops_agent_relay_requests_active',
    type: 'gauge',
    help: 'Requests the router holds (actor running, or body or stream pending) on the current socket, read at scrape time',
    labels: [],
  },
  sessionsActive: {
    name: 'pipeops_agent_websocket_sessions_active',
    type: 'gauge',
    help: 'kubectl WebSocket sessions (exec, attach, cp, port-forward) in progress, read at scrape time',
    labels: [],
  },
  sessionsStarted: {
    name: 'pipeops_agent_websocket_sessions_total',
    type: 'counter',
    help: 'kubectl WebSocket sessions started',
    labels: [],
  },
  sessionsEnded: {
    name: 'pipeops_agent_websocket_sessions_ended_total',
    type: 'counter',
    help: 'kubectl WebSocket sessions ended, by outcome',
    labels: ['outcome'],
  },
  sessionDuration: {
    name: 'pipeops_agent_websocket_session_duration_seconds',
    type: 'histogram',
    help: 'Lifetime of kubectl WebSocket sessions',
    labels: [],
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600],
  },
  sessionFrames: {
    name: 'pipeops_agent_websocket_session_frames_total',
    type: 'counter',
    help: 'Session frames relayed, by direction (to_cluster, to_control_plane)',
    labels: ['direction'],
  },
  sessionBytes: {
    name: 'pipeops_agent_websocket_session_bytes_total',
    type: 'counter',
    help: 'Session payload bytes relayed, by direction (to_cluster, to_control_plane)',
    labels: ['direction'],
  },
  linkBufferedBytes: {
    name: 'pipeops_agent_link_buffered_bytes',
    type: 'gauge',
    help: 'Bytes queued on the control-plane socket and not yet taken by the operating system, read at scrape time',
    labels: [],
  },
  streamOutstandingBytes: {
    name: 'pipeops_agent_stream_outstanding_bytes',
    type: 'gauge',
    help: 'Bytes streaming responses have sent that the socket has not confirmed yet (bounded by their credit), read at scrape time',
    labels: [],
  },
  controlPlaneBytes: {
    name: 'pipeops_agent_control_plane_bytes_total',
    type: 'counter',
    help: 'Bytes of WebSocket messages on the control-plane socket, by direction (in, out)',
    labels: ['direction'],
  },
  streamFrames: {
    name: 'pipeops_agent_stream_frames_total',
    type: 'counter',
    help: 'Binary stream frames (the negotiated extension) on the control-plane socket, by direction (in, out)',
    labels: ['direction'],
  },
  kubeApiBytes: {
    name: 'pipeops_agent_kube_api_bytes_total',
    type: 'counter',
    help: 'Body bytes exchanged with the Kubernetes API and services by the relays, by direction (sent, received)',
    labels: ['direction'],
  },
  binaryProtocolRequests: {
    name: 'agent_binary_protocol_requests_total',
    type: 'counter',
    help: 'Binary frames on the wire, by direction (request: request-body frames received, response: response frames sent)',
    labels: ['direction'],
  },
  compressionRatio: {
    name: 'agent_compression_ratio',
    type: 'histogram',
    help: 'Compressed size divided by raw size of each gzipped response body',
    labels: [],
    buckets: [0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1],
  },
  bandwidthSaved: {
    name: 'agent_bandwidth_saved_bytes',
    type: 'counter',
    help: 'Response body bytes not sent thanks to gzip (raw minus compressed)',
    labels: [],
  },
  compressionDecisions: {
    name: 'pipeops_agent_compression_decisions_total',
    type: 'counter',
    help: 'Buffered response bodies compressed or sent as they are, by outcome and the reason for skipping',
    labels: ['outcome', 'reason'],
  },
  actorTasks: {
    name: 'pipeops_agent_actor_tasks_total',
    type: 'counter',
    help: 'Actors finished, by kind and outcome',
    labels: ['kind', 'outcome'],
  },
  actorErrors: {
    name: 'pipeops_agent_actor_errors_total',
    type: 'counter',
    help: 'Actors that ended without reporting done (a worker died or the task was refused), by error code',
    labels: ['code'],
  },
  workerCrashes: {
    name: 'pipeops_agent_worker_crashes_total',
    type: 'counter',
    help: 'Actor tasks lost because their worker thread died, and worker threads that died outside any task',
    labels: [],
  },
  streamErrors: {
    name: 'pipeops_agent_stream_errors_total',
    type: 'counter',
    help: 'Requests and sessions that ended without success (refused, failed, timed out, canceled), by error code (docs/errors.md)',
    labels: ['code'],
  },
  unhandledErrors: {
    name: 'pipeops_agent_unhandled_errors_total',
    type: 'counter',
    help: 'Rejections and exceptions on the main thread that no code handled; logged, and the agent goes on',
    labels: ['kind'],
  },
  heapUsedBytes: {
    name: 'pipeops_agent_heap_used_bytes',
    type: 'gauge',
    help: 'V8 heap in use on the main thread (process.memoryUsage().heapUsed), read at scrape time',
    labels: [],
  },
  eventLoopDelaySeconds: {
    name: 'pipeops_agent_event_loop_delay_seconds',
    type: 'gauge',
    help: 'p99 delay of the main thread event loop since the previous scrape (perf_hooks.monitorEventLoopDelay, 10 ms resolution)',
    labels: [],
  },
  metricDeltasLost: {
    name: 'pipeops_agent_metric_deltas_lost_total',
    type: 'counter',
    help: 'Actors whose metric deltas never reached the main thread (their worker died before done)',
    labels: [],
  },
  tunnelsRegistered: {
    name: 'pipeops_agent_tunnels_registered',
    type: 'gauge',
    help: 'TCP/UDP tunnels the platform\'s tunnel registry accepted, as last told',
    labels: [],
  },
  tunnelRegistryCalls: {
    name: 'pipeops_agent_tunnel_registry_calls_total',
    type: 'counter',
    help: 'Tunnel registry calls (register, sync, delete), by kind of call and outcome (ok, rejected, failed)',
    labels: ['kind', 'outcome'],
  },
  tunnelRegistryRejections: {
    name: 'pipeops_agent_tunnel_registry_rejections_total',
    type: 'counter',
    help: 'Tunnels the platform refused, by the kind of call that carried them (sync answer, or a refused register)',
    labels: ['kind'],
  },
} as const satisfies Record<string, MetricSpec>;

/**
 * Names kept from the reference agent's dashboards, outside this project's naming rules (no prefix, or a
 * counter without `_total`). Renaming them would break existing dashboards.
 */
export const REFERENCE_AGENT_NAMES: ReadonlySet<string> = new Set([
  'agent_binary_protocol_requests_total',
  'agent_compression_ratio',
  'agent_bandwidth_saved_bytes',
]);

export type MetricKey = keyof typeof METRICS;

type KeyOfType<T extends MetricType> = { [K in MetricKey]: (typeof METRICS)[K]['type'] extends T ? K : never }[MetricKey];

export type CounterKey = KeyOfType<'counter'>;
/** Keys of the gauges, the only metrics whose value may be read at scrape time. */
export type GaugeKey = KeyOfType<'gauge'>;
export type HistogramKey = KeyOfType<'histogram'>;

/** The label set a metric's series need: exactly the names its catalog row declares. */
export type MetricLabels<K extends MetricKey> = { readonly [L in (typeof METRICS)[K]['labels'][number]]: string };

/**
 * A recording call's label argument followed by `Rest`: optional (and empty) for a metric without labels,
 * required and complete for one with labels, so a series can neither miss a label nor invent one.
 */
export type LabelArgs<K extends MetricKey, Rest extends unknown[]> = (typeof METRICS)[K]['labels'] extends readonly []
  ? [labels?: Readonly<Record<string, never>>, ...Rest]
  : [labels: MetricLabels<K>, ...Rest];
