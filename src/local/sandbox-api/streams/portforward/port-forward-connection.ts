// One upgraded port-forward connection, shaped like the kubelet's httpStreamHandler
// (pkg/kubelet/cri/streaming/portforward/httpstream.go): every stream must carry a valid `port` and a
// `streamtype` of error or data (otherwise it is reset); streams are paired by `requestid` (or, for
// clients too old to send one, by stream id); a pair still missing a stream after the creation timeout
// gets "timed out waiting for streams" on its error stream; a complete pair starts a TcpRelay.

import { SpdyServerSession, type SessionHooks, type SessionTransport } from './spdy-session.js';
import type { SpdyStream } from './spdy-stream.js';
import { TcpRelay, type RelayCounters } from './tcp-relay.js';
import type { PodPortMap, PodRef, PodSandboxNames } from './pod-ports.js';

/** Live resources, shared by every connection of one sandbox (tests read them to prove cleanup). */
export interface LiveCounters extends RelayCounters {
  connections: number;
  pendingPairs: number;
  timers: number;
}

export interface ConnectionOptions {
  readonly pod: PodRef;
  readonly names: PodSandboxNames;
  readonly ports: PodPortMap;
  readonly counters: LiveCounters;
  /** the kubelet's stream creation timeout (30 s) */
  readonly streamCreationTimeoutMs: number;
  readonly closed: (connection: PortForwardConnection) => void;
}

interface StreamPair {
  readonly requestId: string;
  error?: SpdyStream;
  data?: SpdyStream;
  timer?: NodeJS.Timeout | undefined;
}

/** Why the kubelet's httpStreamReceived refuses a stream, or undefined when it is acceptable. */
export function streamProblem(stream: SpdyStream): string | undefined {
  const portText = stream.header('port');
  if (portText === undefined || portText === '') return '"port" header is required';
  const port = /^\d+$/.test(portText) ? Number(portText) : Number.NaN;
  if (!Number.isInteger(port) || port > 65_535) return `unable to parse "${portText}" as a port`;
  if (port < 1) return `port "${portText}" must be > 0`;
  const streamType = stream.header('streamtype');
  if (streamType === undefined || streamType === '') return '"streamtype" header is required';
  if (streamType !== 'error' && streamType !== 'data') return `invalid stream type "${streamType}"`;
  return undefined;
}

export class PortForwardConnection implements SessionHooks {
  readonly session: SpdyServerSession;
  readonly #options: ConnectionOptions;
  readonly #pending = new Map<string, StreamPair>();
  readonly #relays = new Set<TcpRelay>();

  constructor(transport: SessionTransport, options: ConnectionOptions) {
    this.#options = options;
    options.counters.connections += 1;
    this.session = new SpdyServerSession(transport, this);
  }

  stream(stream: SpdyStream): void {
    if (streamProblem(stream) !== undefined) {
      stream.reject();
      return;
    }
    stream.accept();
    const requestId = stream.header('requestid') ?? legacyRequestId(stream);
    let pair = this.#pending.get(requestId);
    if (pair === undefined) {
      pair = this.#openPair(requestId);
    }
    const streamType = stream.header('streamtype') === 'error' ? 'error' : 'data';
    if (pair[streamType] !== undefined) {
      writeOnError(pair, `error processing stream for request ${requestId}: ${streamType} stream already assigned`);
      stream.reset();
      return;
    }
    pair[streamType] = stream;
    if (pair.error !== undefined && pair.data !== undefined) this.#startRelay(pair, pair.error, pair.data);
  }

  closed(): void {
    for (const pair of this.#pending.values()) this.#dropPair(pair);
    for (const relay of this.#relays) relay.destroy();
    this.#options.counters.connections -= 1;
    this.#options.closed(this);
  }

  #openPair(requestId: string): StreamPair {
    const { counters, streamCreationTimeoutMs } = this.#options;
    const pair: StreamPair = { requestId };
    const pairOnCreationTimeout = (): void => {
      pair.timer = undefined;
      counters.timers -= 1;
      writeOnError(pair, `(conn=${this.#connectionLabel()}, request=${requestId}) timed out waiting for streams`);
      pair.error?.end();
      pair.data?.reset();
      this.#dropPair(pair);
    };
    pair.timer = setTimeout(pairOnCreationTimeout, streamCreationTimeoutMs);
    counters.timers += 1;
    counters.pendingPairs += 1;
    this.#pending.set(requestId, pair);
    return pair;
  }

  #dropPair(pair: StreamPair): void {
    if (this.#pending.get(pair.requestId) !== pair) return;
    this.#pending.delete(pair.requestId);
    this.#options.counters.pendingPairs -= 1;
    if (pair.timer !== undefined) {
      clearTimeout(pair.timer);
      pair.timer = undefined;
      this.#options.counters.timers -= 1;
    }
  }

  #startRelay(pair: StreamPair, error: SpdyStream, data: SpdyStream): void {
    this.#dropPair(pair);
    const { pod, names, ports, counters } = this.#options;
    const port = Number(data.header('port'));
    const relayDone = (): void => {
      this.#relays.delete(relay);
    };
    const relay = new TcpRelay({ data, error, port, localPort: ports.lookup(pod, port), names, counters, done: relayDone });
    this.#relays.add(relay);
    relay.start();
  }

  /** Go prints the connection pointer here; a stable stand-in is enough for a message. */
  #connectionLabel(): string {
    return `${this.#options.pod.namespace}/${this.#options.pod.name}`;
  }
}

/**
 * Old clients sent no requestid: the kubelet pairs an error stream with its own id and a data stream
 * with its id minus two, which is right whenever connections do not interleave.
 */
function legacyRequestId(stream: SpdyStream): string {
  return String(stream.header('streamtype') === 'error' ? stream.id : stream.id - 2);
}

function writeOnError(pair: StreamPair, message: string): void {
  pair.error?.write(Buffer.from(message));
}
