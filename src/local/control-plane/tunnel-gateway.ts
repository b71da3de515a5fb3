// The local control plane as the gateway of PROTOCOL.md §15: on an agent socket that advertised
// `supports_yamux`, it sends `gateway_hello`, runs the yamux **server** session once the agent acks, and opens
// loopback listeners whose clients each get one yamux stream with the §15.4 header. Which tunnels exist
// (the registry of §17.3) is decided elsewhere; this file only exposes openTunnelListener().
//
//   TCP client ─► 127.0.0.1:PORT ─► session.open() + header ─► agent ─► <svc>.<ns>.svc:<port>
//   UDP client ─► 127.0.0.1:PORT ─► one stream per client address, one datagram per chunk

import { createServer, type Server, type Socket } from 'node:net';
import { createSocket, type RemoteInfo, type Socket as DgramSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import type { RawData } from 'ws';
import type { Logger } from '../../log.js';
import { systemClock } from '../../util/clock.js';
import { AgentError, ErrorCode } from '../../errors.js';
import { DEFAULT_YAMUX_WINDOW_BYTES } from '../../protocol/gateway-hello.js';
import { encodeTunnelHeader, type TunnelProtocol } from '../../protocol/tunnel-header.js';
import { YamuxRole, YamuxSession } from '../../tunnel/yamux/yamux-session.js';
import type { YamuxStream } from '../../tunnel/yamux/yamux-stream.js';
import type { AgentSession } from './agent-session.js';
import { rawDataBytes } from './ws-frame.js';

export interface TunnelListenerSpec {
  readonly protocol: TunnelProtocol;
  readonly tunnelId: string;
  readonly serviceName: string;
  readonly serviceNamespace: string;
  readonly servicePort: number;
}

export interface TunnelListener {
  readonly protocol: TunnelProtocol;
  /** The loopback port clients connect (TCP) or send (UDP) to. */
  readonly port: number;
  close(): Promise<void>;
}

export interface TunnelGatewayOptions {
  readonly maxStreamWindowBytes?: number;
  readonly keepAliveIntervalSeconds?: number;
  readonly connectionTimeoutSeconds?: number;
  /** A UDP client address without a datagram either way for this long loses its stream. */
  readonly udpIdleTimeoutMs?: number;
  /** How long to wait for gateway_hello_ack. */
  readonly ackTimeoutMs?: number;
}

/** Bytes a client may have written into a stream that the agent has not taken yet before its socket pauses. */
const CLIENT_QUEUE_BYTES = 256 * 1024;
const DEFAULT_UDP_IDLE_TIMEOUT_MS = 60_000;
const DEFAULT_ACK_TIMEOUT_MS = 10_000;

export class TunnelGateway {
  readonly session: YamuxSession;
  readonly #agent: AgentSession;
  readonly #logger: Logger;
  readonly #options: TunnelGatewayOptions;
  readonly #listeners = new Set<TunnelListener>();

  private constructor(agent: AgentSession, session: YamuxSession, options: TunnelGatewayOptions) {
    this.#agent = agent;
    this.session = session;
    this.#options = options;
    this.#logger = agent.logger.child({ part: 'tunnel-gateway' });
  }

  /**
   * Negotiates yamux on `agent` (§15.2): gateway_hello, then the server session once the ack arrives. Refused
   * for a socket that did not advertise supports_yamux, or when no ack comes (a Phase-1 agent stays silent).
   */
  static start(agent: AgentSession, options: TunnelGatewayOptions = {}): Promise<TunnelGateway> {
    if (!agent.supportsYamux) {
      return Promise.reject(new AgentError(ErrorCode.configInvalid, 'the agent socket did not advertise supports_yamux'));
    }
    const window = options.maxStreamWindowBytes ?? DEFAULT_YAMUX_WINDOW_BYTES;
    const socket = agent.socket;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.off('message', socketOnMessage);
        reject(new AgentError(ErrorCode.configInvalid, 'the agent did not acknowledge gateway_hello'));
      }, options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS);
      function socketOnMessage(data: RawData, isBinary: boolean): void {
        if (isBinary) return;
        const text = rawDataBytes(data).toString('utf8');
        if (!text.includes('gateway_hello_ack')) return;
        let type: unknown;
        try {
          type = (JSON.parse(text) as { type?: unknown }).type;
        } catch {
          return;
        }
        if (type !== 'gateway_hello_ack') return;
        clearTimeout(timer);
        socket.off('message', socketOnMessage);
        const session = new YamuxSession({
          role: YamuxRole.server,
          clock: systemClock,
          maxStreamWindowBytes: window,
          keepAliveIntervalMs: (options.keepAliveIntervalSeconds ?? 30) * 1000,
          writeTimeoutMs: (options.connectionTimeoutSeconds ?? 30) * 1000,
          transport: { write: (bytes, onWritten) => (agent.isOpen ? socket.send(bytes, { binary: true }, () => onWritten?.()) : undefined) },
          onStream: (stream) => stream.reset(), // the agent never opens streams
        });
        agent.yamuxSink = (bytes) => session.receive(bytes);
        const gateway = new TunnelGateway(agent, session, options);
        socket.once('close', () => gateway.#socketOnClose());
        resolve(gateway);
      }
      socket.on('message', socketOnMessage);
      agent.sendJson(
        'gateway_hello',
        {
          use_yamux: true,
          yamux_config: {
            max_stream_window_size: window,
            keep_alive_interval_seconds: options.keepAliveIntervalSeconds ?? 30,
            connection_timeout_seconds: options.connectionTimeoutSeconds ?? 30,
          },
        },
        undefined,
      );
    });
  }

  /** Opens a loopback listener on port 0 whose clients reach the named service through the agent. */
  async openTunnelListener(spec: TunnelListenerSpec): Promise<TunnelListener> {
    const header = encodeTunnelHeader(spec);
    const listener = spec.protocol === 'udp' ? await this.#openUdp(header) : await this.#openTcp(header);
    this.#listeners.add(listener);
    this.#logger.info({ tunnelId: spec.tunnelId, protocol: spec.protocol, port: listener.port }, 'tunnel listener open');
    return listener;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#listeners].map((listener) => listener.close()));
    this.session.close();
    this.#agent.yamuxSink = undefined;
  }

  #socketOnClose(): void {
    void this.close();
  }

  #openStream(header: Buffer): YamuxStream | undefined {
    if (this.session.isClosed) return undefined;
    try {
      const stream = this.session.open();
      stream.write(header);
      return stream;
    } catch (error) {
      this.#logger.debug({ err: error }, 'no tunnel stream');
      return undefined;
    }
  }

  async #openTcp(header: Buffer): Promise<TunnelListener> {
    const clients = new Set<Socket>();
    const server: Server = createServer({ allowHalfOpen: true }, (client) => {
      const stream = this.#openStream(header);
      if (stream === undefined) {
        client.destroy();
        return;
      }
      clients.add(client);
      bridgeTcp(client, stream);
      client.once('close', () => clients.delete(client));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as AddressInfo).port;
    return {
      protocol: 'tcp',
      port,
      close: closeOnce(
        () =>
          new Promise<void>((resolve) => {
            this.#listeners.forEach((listener) => (listener.port === port ? this.#listeners.delete(listener) : undefined));
            for (const client of clients) client.destroy();
            server.close(() => resolve());
          }),
      ),
    };
  }

  async #openUdp(header: Buffer): Promise<TunnelListener> {
    const socket: DgramSocket = createSocket('udp4');
    const byClient = new Map<string, { stream: YamuxStream; timer: NodeJS.Timeout }>();
    const idleMs = this.#options.udpIdleTimeoutMs ?? DEFAULT_UDP_IDLE_TIMEOUT_MS;
    const touch = (key: string): void => {
      const entry = byClient.get(key);
      if (entry === undefined) return;
      clearTimeout(entry.timer);
      entry.timer = setTimeout(() => entry.stream.end(), idleMs);
    };
    socket.on('error', (error) => this.#logger.debug({ err: error }, 'tunnel UDP listener error'));
    socket.on('message', (datagram: Buffer, remote: RemoteInfo) => {
      const key = `${remote.address}:${remote.port}`;
      let entry = byClient.get(key);
      if (entry === undefined) {
        const stream = this.#openStream(header);
        if (stream === undefined) return;
        entry = { stream, timer: setTimeout(() => stream.end(), idleMs) };
        byClient.set(key, entry);
        stream.onData = (chunk) => {
          touch(key);
          socket.send(chunk, remote.port, remote.address, () => stream.consume(chunk.length));
        };
        stream.onEnd = () => stream.end();
        stream.onClose = () => {
          clearTimeout(byClient.get(key)?.timer);
          byClient.delete(key);
        };
      }
      touch(key);
      entry.stream.write(datagram);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    const port = socket.address().port;
    return {
      protocol: 'udp',
      port,
      close: closeOnce(
        () =>
          new Promise<void>((resolve) => {
            for (const { stream, timer } of byClient.values()) {
              clearTimeout(timer);
              stream.reset();
            }
            socket.close(() => resolve());
          }),
      ),
    };
  }
}

/** A listener closes once, whoever asks first: its socket's end or the owner of its registration. */
function closeOnce(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => (closing ??= close());
}

/** Copies a TCP client and a stream both ways with half-close, pausing the client while the stream queue is full. */
function bridgeTcp(client: Socket, stream: YamuxStream): void {
  client.on('data', (chunk: Buffer) => {
    stream.write(chunk, () => {
      if (client.isPaused() && stream.queuedBytes < CLIENT_QUEUE_BYTES) client.resume();
    });
    if (stream.queuedBytes >= CLIENT_QUEUE_BYTES) client.pause();
  });
  client.on('end', () => stream.end());
  client.on('error', () => stream.reset());
  client.on('close', () => {
    if (!stream.isClosed) stream.reset();
  });
  stream.onData = (chunk) => {
    client.write(chunk, () => stream.consume(chunk.length));
  };
  stream.onEnd = () => client.end();
  stream.onClose = (end) => {
    if (end !== 'closed') client.destroy();
  };
}
