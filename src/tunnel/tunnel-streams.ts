// The agent's side of the gateway data path (PROTOCOL.md §15.2, §15.5) on the main thread: negotiates yamux
// on `gateway_hello`, accepts the streams the gateway opens, reads each stream's header, and runs one
// tunnel actor per stream in the long lane. The router owns the yamux stream; the actor owns the target
// socket (workers/tunnel-stream.ts). A tunnel stream owes no JSON reply: it ends with FIN or RST only.
//
//   gateway_hello ─► YamuxSession(client) bound to the Connection ─► (link sends gateway_hello_ack)
//   SYN ─► header (bounded by the window) ─┬─ invalid / truncated / over the limit ─► RST
//                                          └─ admit (long lane) ─► accept (ACK) ─► actor ⇄ stream (tunnel-messages.ts)

import type { Logger } from 'pino';
import type { Connection } from '../link/connection.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { parseGatewayHello, type GatewayHello } from '../protocol/gateway-hello.js';
import { parseTunnelHeader, type TunnelHeader } from '../protocol/tunnel-header.js';
import { CancelReason, ownedCopy, type ActorPort } from '../messages/actor-messages.js';
import { TunnelErrorKind, isTunnelOutbound, type TunnelInbound, type TunnelOutbound, type TunnelStreamTask } from '../messages/tunnel-messages.js';
import { YamuxRole, YamuxSession } from './yamux/yamux-session.js';
import { StreamEnd, type YamuxStream } from './yamux/yamux-stream.js';

export interface TunnelSettings {
  /** Tunnel streams that may be open at once on the agent; more are reset. */
  readonly maxStreams: number;
  /** A UDP stream ends after this long without a datagram either way. */
  readonly udpIdleTimeoutMs: number;
}

/** Bytes a tunnel actor may post before the router grants more: one yamux window. */
export const TUNNEL_CREDIT_BYTES = 256 * 1024;

export interface TunnelStreamsOptions {
  /** Writes yamux bytes as a binary frame on the connection; `onWritten` once the socket took them. */
  readonly send: (connection: Connection, bytes: Uint8Array, onWritten: () => void) => boolean;
  /** Runs the actor in the long lane; false when the lane refuses it (saturated or draining). */
  readonly admit: (task: TunnelStreamTask, onStart: () => void, onFailure: (error: unknown) => void) => { cancel(): void } | undefined;
  /** The channel to the actor, from the host that will run it (src/pool/actor-host.ts). */
  readonly createChannel: () => { readonly port1: ActorPort; readonly port2: ActorPort };
  readonly settings: TunnelSettings;
  readonly metrics: AgentMetrics;
  readonly logger: Logger;
  readonly clock: Clock;
}

const Phase = { header: 'header', waiting: 'waiting', running: 'running', lingering: 'lingering', done: 'done' } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

interface Bridge {
  readonly stream: YamuxStream;
  readonly session: YamuxSession;
  readonly hello: GatewayHello;
  phase: Phase;
  headerChunks: Buffer[];
  header: TunnelHeader | undefined;
  port: ActorPort | undefined;
  admission: { cancel(): void } | undefined;
  timer: TimerHandle | undefined;
  startedMs: number;
}

export class TunnelStreams {
  readonly #options: TunnelStreamsOptions;
  readonly #bridges = new Set<Bridge>();
  readonly #sessions = new Set<YamuxSession>();
  #isDraining = false;

  constructor(options: TunnelStreamsOptions) {
    this.#options = options;
  }

  /** Tunnel streams open (in any phase). */
  get activeStreams(): number {
    return this.#bridges.size;
  }

  /**
   * §15.2: creates the client session on `connection` for `gateway_hello {use_yamux:true}` and returns true, the
   * caller then sends the ack. False (no ack, JSON only) when yamux is not asked for, already active, or the
   * session cannot be created (a window below 256 KiB).
   */
  onGatewayHello(connection: Connection, payload: Readonly<Record<string, unknown>>): boolean {
    const hello = parseGatewayHello(payload);
    if (!hello.useYamux || connection.isYamuxActive) {
      this.#options.metrics.inc('yamuxSessions', { outcome: 'ignored' });
      return false;
    }
    let session: YamuxSession;
    try {
      session = new YamuxSession({
        role: YamuxRole.client,
        clock: this.#options.clock,
        maxStreamWindowBytes: hello.maxStreamWindowBytes,
        keepAliveIntervalMs: hello.keepAliveIntervalMs,
        writeTimeoutMs: hello.connectionTimeoutMs,
        transport: { write: (bytes, onWritten) => void this.#options.send(connection, bytes, () => onWritten?.()) },
        onStream: (stream) => this.#sessionOnStream(session, hello, stream),
        onClose: (error) => this.#sessionOnClose(session, error),
      });
    } catch (error) {
      this.#options.metrics.inc('yamuxSessions', { outcome: 'refused' });
      this.#options.logger.warn({ err: error }, 'yamux session refused; staying JSON-only');
      return false;
    }
    if (!connection.activateYamux(session)) {
      session.close();
      return false;
    }
    this.#sessions.add(session);
    if (this.#isDraining) session.goAway();
    this.#options.metrics.inc('yamuxSessions', { outcome: 'active' });
    this.#options.logger.info({ maxStreamWindowBytes: hello.maxStreamWindowBytes }, 'yamux session active');
    return true;
  }

  /** §7.7: no new streams from now on (go away); streams in progress go on until resetAll(). */
  beginDrain(): void {
    this.#isDraining = true;
    for (const session of this.#sessions) session.goAway();
  }

  /** Resets every stream (drain limit reached, shutdown). */
  resetAll(): void {
    for (const bridge of [...this.#bridges]) this.#reset(bridge, TunnelErrorKind.session);
  }

  #sessionOnStream(session: YamuxSession, hello: GatewayHello, stream: YamuxStream): void {
    if (this.#isDraining || this.#bridges.size >= this.#options.settings.maxStreams) {
      this.#options.metrics.inc('tunnelStreamErrors', { kind: TunnelErrorKind.refused });
      stream.reset();
      return;
    }
    const bridge: Bridge = {
      stream,
      session,
      hello,
      phase: Phase.header,
      headerChunks: [],
      header: undefined,
      port: undefined,
      admission: undefined,
      timer: undefined,
      startedMs: this.#options.clock.now(),
    };
    this.#bridges.add(bridge);
    // A gateway that never completes the header holds a stream and a window: give up after the connection timeout.
    bridge.timer = this.#options.clock.setTimer(hello.connectionTimeoutMs, () => {
      if (bridge.phase === Phase.header) this.#reset(bridge, TunnelErrorKind.header);
    });
    stream.onData = (chunk) => this.#streamOnData(bridge, chunk);
    stream.onEnd = () => this.#streamOnEnd(bridge);
    stream.onClose = (end) => this.#streamOnClose(bridge, end);
  }

  #sessionOnClose(session: YamuxSession, error: Error | undefined): void {
    this.#sessions.delete(session);
    if (error !== undefined) this.#options.logger.warn({ err: error }, 'yamux session ended');
  }

  #streamOnData(bridge: Bridge, chunk: Buffer): void {
    const protocol = bridge.header?.protocol;
    if (protocol !== undefined) this.#options.metrics.inc('tunnelBytes', { direction: 'in', protocol }, chunk.length);
    switch (bridge.phase) {
      case Phase.header:
        this.#readHeader(bridge, chunk);
        return;
      case Phase.waiting:
      case Phase.running:
        this.#post(bridge, { type: 'data', data: ownedCopy(chunk) });
        return;
      default:
        bridge.stream.consume(chunk.length); // the target is gone: late bytes are dropped, the window stays open
    }
  }

  #readHeader(bridge: Bridge, chunk: Buffer): void {
    bridge.headerChunks.push(chunk);
    const bytes = bridge.headerChunks.length === 1 ? chunk : Buffer.concat(bridge.headerChunks);
    const parsed = parseTunnelHeader(bytes);
    if (parsed.kind === 'incomplete') return;
    if (parsed.kind === 'invalid') {
      this.#options.logger.debug({ streamId: bridge.stream.id, problem: parsed.problem }, 'tunnel stream header refused');
      this.#reset(bridge, TunnelErrorKind.header);
      return;
    }
    bridge.headerChunks = [];
    bridge.timer?.cancel();
    bridge.timer = undefined;
    const header = parsed.header;
    bridge.header = header;
    bridge.stream.consume(parsed.headerBytes);
    const rest = bytes.subarray(parsed.headerBytes);
    this.#options.metrics.inc('tunnelBytes', { direction: 'in', protocol: header.protocol }, rest.length);
    this.#options.metrics.inc('tunnelStreamsOpened', { protocol: header.protocol });
    this.#setActiveGauge();
    const channel = this.#options.createChannel();
    bridge.port = channel.port1;
    channel.port1.on('message', (message: unknown) => {
      if (isTunnelOutbound(message)) this.#portOnMessage(bridge, message);
      else this.#options.logger.error({ streamId: bridge.stream.id }, 'tunnel actor sent a malformed message; dropped');
    });
    const task: TunnelStreamTask = {
      kind: 'tunnel-stream',
      streamId: `${header.protocol}/${bridge.stream.id}`,
      protocol: header.protocol,
      serviceName: header.serviceName,
      serviceNamespace: header.serviceNamespace,
      servicePort: header.servicePort,
      frame: ownedCopy(rest),
      port: channel.port2,
      connectTimeoutMs: bridge.hello.connectionTimeoutMs,
      udpIdleTimeoutMs: this.#options.settings.udpIdleTimeoutMs,
      creditBytes: TUNNEL_CREDIT_BYTES,
    };
    bridge.phase = Phase.waiting;
    const admission = this.#options.admit(
      task,
      () => this.#actorOnStart(bridge),
      (error) => this.#actorOnFailure(bridge, error),
    );
    if (admission === undefined) {
      channel.port2.close();
      this.#reset(bridge, TunnelErrorKind.refused);
      return;
    }
    bridge.admission = admission;
  }

  /** The actor has its slot: accept the stream (ACK; it leaves the accept backlog). */
  #actorOnStart(bridge: Bridge): void {
    if (bridge.phase !== Phase.waiting) return;
    bridge.phase = Phase.running;
    bridge.session.accept(bridge.stream);
  }

  #streamOnEnd(bridge: Bridge): void {
    if (bridge.phase === Phase.header) {
      this.#reset(bridge, TunnelErrorKind.header); // the stream ended inside its header: truncated
      return;
    }
    if (bridge.phase === Phase.waiting || bridge.phase === Phase.running) this.#post(bridge, { type: 'end' });
  }

  #streamOnClose(bridge: Bridge, end: StreamEnd): void {
    if (!this.#bridges.has(bridge)) return;
    if (end === StreamEnd.closed && (bridge.phase === Phase.running || bridge.phase === Phase.waiting)) return; // the actor ends on its own
    if (end !== StreamEnd.closed && bridge.phase !== Phase.lingering) {
      this.#options.metrics.inc('tunnelStreamErrors', { kind: end === StreamEnd.session ? TunnelErrorKind.session : TunnelErrorKind.protocol });
    }
    this.#finish(bridge, end === StreamEnd.session ? CancelReason.connectionLost : CancelReason.proxyCancel);
  }

  #portOnMessage(bridge: Bridge, message: TunnelOutbound): void {
    const stream = bridge.stream;
    switch (message.type) {
      case 'connected':
        return;
      case 'data': {
        const size = message.data.byteLength;
        const protocol = bridge.header?.protocol ?? 'tcp';
        this.#options.metrics.inc('tunnelBytes', { direction: 'out', protocol }, size);
        // Credit goes back only once the bytes left through the socket: a zero yamux send window stops the target read.
        stream.write(Buffer.from(message.data.buffer, message.data.byteOffset, size), () => this.#post(bridge, { type: 'credit', bytes: size }));
        return;
      }
      case 'consumed':
        stream.consume(message.bytes);
        return;
      case 'end':
        stream.end();
        return;
      case 'reset':
        this.#reset(bridge, message.kind);
        return;
      case 'done':
        this.#actorOnDone(bridge, message.error);
        return;
    }
  }

  /** The target is finished. A clean end leaves the stream to its FINs (queued data still goes out), bounded in time. */
  #actorOnDone(bridge: Bridge, error: TunnelErrorKind | undefined): void {
    if (!this.#bridges.has(bridge)) return;
    if (error !== undefined) {
      this.#reset(bridge, error);
      return;
    }
    if (bridge.stream.isClosed) {
      this.#finish(bridge, undefined);
      return;
    }
    bridge.stream.end();
    bridge.phase = Phase.lingering;
    this.#closePort(bridge);
    bridge.timer = this.#options.clock.setTimer(bridge.hello.connectionTimeoutMs, () => {
      this.#finish(bridge, undefined);
      bridge.stream.reset();
    });
  }

  #actorOnFailure(bridge: Bridge, error: unknown): void {
    this.#options.logger.error({ err: error, streamId: bridge.stream.id }, 'tunnel actor failed');
    this.#reset(bridge, TunnelErrorKind.target);
  }

  #reset(bridge: Bridge, kind: TunnelErrorKind): void {
    if (!this.#bridges.has(bridge)) return;
    this.#options.metrics.inc('tunnelStreamErrors', { kind });
    this.#finish(bridge, CancelReason.shutdown); // first: the reset's own onClose then finds nothing to count
    bridge.stream.reset();
  }

  /** Forgets the stream; tells a running actor to cancel. */
  #finish(bridge: Bridge, cancel: CancelReason | undefined): void {
    if (!this.#bridges.delete(bridge)) return;
    const wasActive = bridge.phase === Phase.running || bridge.phase === Phase.waiting;
    bridge.phase = Phase.done;
    bridge.timer?.cancel();
    bridge.admission?.cancel();
    if (wasActive && cancel !== undefined) this.#post(bridge, { type: 'cancel', reason: cancel });
    this.#closePort(bridge);
    const protocol = bridge.header?.protocol;
    if (protocol !== undefined) {
      this.#options.metrics.observe('tunnelStreamDuration', (this.#options.clock.now() - bridge.startedMs) / 1000, { protocol });
      this.#setActiveGauge();
    }
  }

  #closePort(bridge: Bridge): void {
    const port = bridge.port;
    bridge.port = undefined;
    port?.close();
  }

  #post(bridge: Bridge, message: TunnelInbound): void {
    const port = bridge.port;
    if (port === undefined) return;
    if (message.type === 'data') port.postMessage(message, [message.data.buffer as ArrayBuffer]);
    else port.postMessage(message);
  }

  #setActiveGauge(): void {
    const counts = { tcp: 0, udp: 0 };
    for (const bridge of this.#bridges) if (bridge.header !== undefined) counts[bridge.header.protocol]++;
    this.#options.metrics.set('tunnelStreamsActive', counts.tcp, { protocol: 'tcp' });
    this.#options.metrics.set('tunnelStreamsActive', counts.udp, { protocol: 'udp' });
  }
}
