// The port-forward side of one sandbox: accepts upgrades of pods/<name>/portforward, keeps the
// pod-port map and the demo pod's HTTP server, and counts every live connection, stream, pair, timer
// and socket so tests can prove that all of them are released.
//
// kubectl >= 1.31 first asks for a WebSocket carrying SPDY ("tunneling", subprotocol
// SPDY/3.1+portforward.k8s.io) and, when that is refused with 400/403/404/500, retries with a plain
// SPDY upgrade (POST, Upgrade: SPDY/3.1). Both end in the same SPDY session. A WebSocket upgrade that
// offers no tunneling subprotocol is the plain channel protocol client libraries speak
// (channel-port-forward.ts), which kube-apiserver passes through to the kubelet. The `ws` library rejects
// that subprotocol (the `/` is not an RFC 7230 token character), so the offer is taken out of the
// request before ws sees it and the chosen protocol is written into the 101 through ws's 'headers'
// event.

import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from '../../../../log.js';
import { badRequest } from '../../http/api-status.js';
import { objectAt, stringAt, type JsonObject } from '../../store/json-value.js';
import { DEMO_CONTAINER_PORT, DEMO_POD_NAME, DEMO_POD_NAMESPACE } from '../../store/seed.js';
import { startDemoPodServer, type DemoPodServer } from './demo-pod-server.js';
import { ChannelPortForward, negotiateChannelProtocol, parsePorts } from './channel-port-forward.js';
import { PortForwardConnection, type LiveCounters } from './port-forward-connection.js';
import { PodPortMap, podSandboxNames, type PodRef } from './pod-ports.js';
import type { SessionTransport } from './spdy-session.js';
import * as handshake from './upgrade-handshake.js';

export interface PortForwardServiceOptions {
  /** start the demo pod's HTTP server and map default/demo:8080 to it (default true) */
  readonly demo?: boolean;
  /** the kubelet's stream creation timeout (default 30 s) */
  readonly streamCreationTimeoutMs?: number;
  readonly logger: Logger;
}

export interface PortForwardStats extends LiveCounters {
  /** SPDY streams not yet finished in both directions, over every connection */
  streams: number;
}

/** One port-forward upgrade, after the sandbox has authenticated it and found the pod. */
export interface PortForwardUpgrade {
  readonly request: IncomingMessage;
  readonly socket: Duplex;
  readonly head: Buffer;
  readonly pod: PodRef;
  /** the stored pod */
  readonly object: JsonObject;
  readonly refuse: handshake.UpgradeRefuser;
}

const DEFAULT_STREAM_CREATION_TIMEOUT_MS = 30_000;
const CLOSE_GRACE_MS = 1_000;
/** What x/net/websocket answers when none of the offered subprotocols is served (no body, no upgrade). */
const PROTOCOL_REFUSAL = 'HTTP/1.1 403 Forbidden\r\n\r\n';

interface LiveConnection {
  readonly connection: PortForwardConnection;
  readonly pod: PodRef;
  /** drops the transport at once, without a closing handshake */
  readonly terminate: () => void;
}

export class PortForwardService {
  readonly ports = new PodPortMap();
  readonly #options: PortForwardServiceOptions;
  readonly #counters: LiveCounters = { connections: 0, pendingPairs: 0, timers: 0, relays: 0, sockets: 0 };
  readonly #live = new Set<LiveConnection>();
  readonly #channelLive = new Map<ChannelPortForward, PodRef>();
  readonly #tunneled = new WeakSet<IncomingMessage>();
  readonly #wss: WebSocketServer;
  readonly #channelWss: WebSocketServer;
  readonly #ready: Promise<void>;
  #demo: DemoPodServer | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: PortForwardServiceOptions) {
    this.#options = options;
    this.#wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
    const tunneled = this.#tunneled;
    this.#wss.on('headers', function portForwardOnHeaders(headers: string[], request: IncomingMessage): void {
      if (tunneled.has(request)) headers.push(`Sec-WebSocket-Protocol: ${handshake.TUNNELED_PORT_FORWARD_PROTOCOL}`);
    });
    // the subprotocol is checked before the upgrade, so the first offered one that is served is the choice
    this.#channelWss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (offered: Set<string>) => negotiateChannelProtocol([...offered]) || false,
    });
    // upgrades wait for the demo pod's server; if it cannot listen they fail with a 500, and it is logged once
    this.#ready = options.demo === false ? Promise.resolve() : this.#startDemo();
    this.#ready.catch((error: unknown) => options.logger.error({ err: error }, 'demo pod server did not start'));
  }

  /** the local port of the demo pod's server, once it runs */
  get demoPort(): number | undefined {
    return this.#demo?.port;
  }

  stats(): PortForwardStats {
    let streams = 0;
    for (const { connection } of this.#live) streams += connection.session.streamCount;
    return { ...this.#counters, streams };
  }

  async upgrade(upgrade: PortForwardUpgrade): Promise<void> {
    await this.#ready;
    const { request, socket, head, pod, object, refuse } = upgrade;
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    // the apiserver's PortForwardLocation: a pod not yet scheduled has no kubelet to forward to
    if (!stringAt(objectAt(object, 'spec'), 'nodeName')) {
      refuse.status(badRequest(`pod ${pod.name} does not have a host assigned`));
      return;
    }
    const uid = stringAt(objectAt(object, 'metadata'), 'uid') ?? '';
    const kind = handshake.upgradeKind(request);
    if (kind === 'websocket') this.#acceptTunnel(upgrade, uid);
    else if (kind === 'spdy') this.#acceptSpdy(request, socket, head, pod, uid, refuse);
    else refuse.httpError(400, 'unable to upgrade: missing upgrade headers in request');
  }

  /** Ends the connections of one pod (it was deleted: its containers and their ports are gone). */
  podGone(pod: PodRef): void {
    for (const live of this.#live) {
      if (live.pod.namespace === pod.namespace && live.pod.name === pod.name) live.connection.session.shutdown();
    }
    for (const [forward, forwardPod] of this.#channelLive) {
      if (forwardPod.namespace === pod.namespace && forwardPod.name === pod.name) forward.shutdown();
    }
  }

  /** Resets every stream, says GOAWAY, closes every connection and the demo server. */
  close(): Promise<void> {
    this.#closing ??= this.#closeAll();
    return this.#closing;
  }

  async #startDemo(): Promise<void> {
    const demo = await startDemoPodServer();
    this.#demo = demo;
    this.ports.set({ namespace: DEMO_POD_NAMESPACE, name: DEMO_POD_NAME }, DEMO_CONTAINER_PORT, demo.port);
  }

  async #closeAll(): Promise<void> {
    await this.#ready.catch(() => undefined);
    for (const { connection } of [...this.#live]) connection.session.shutdown();
    for (const forward of [...this.#channelLive.keys()]) forward.shutdown();
    const deadline = Date.now() + CLOSE_GRACE_MS;
    while (this.#live.size + this.#channelLive.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    for (const { terminate } of this.#live) terminate();
    for (const forward of this.#channelLive.keys()) forward.terminate();
    this.#wss.close();
    this.#channelWss.close();
    await this.#demo?.close();
  }

  #acceptTunnel(upgrade: PortForwardUpgrade, uid: string): void {
    const { request, socket, head, pod, refuse } = upgrade;
    const offered = handshake.tunneledSpdyProtocols(request);
    if (offered.length === 0) {
      this.#acceptChannels(upgrade, uid);
      return;
    }
    if (!offered.includes(handshake.PORT_FORWARD_PROTOCOL)) {
      refuse.httpError(403, handshake.handshakeRefusal(offered), { 'X-Accepted-Stream-Protocol-Versions': handshake.PORT_FORWARD_PROTOCOL });
      return;
    }
    delete request.headers['sec-websocket-protocol'];
    this.#tunneled.add(request);
    this.#wss.handleUpgrade(request, socket, head, (ws: WebSocket) => this.#serveWebSocket(ws, pod, uid));
  }

  /** The kubelet's websocket port-forward, which the apiserver reaches for a WebSocket without SPDY tunneling. */
  #acceptChannels(upgrade: PortForwardUpgrade, uid: string): void {
    const { request, socket, head, pod, refuse } = upgrade;
    const parsed = parsePorts(new URL(request.url ?? '/', 'http://sandbox').searchParams);
    if ('error' in parsed) {
      refuse.httpError(400, parsed.error);
      return;
    }
    if (negotiateChannelProtocol(handshake.webSocketProtocols(request)) === undefined) {
      socket.end(PROTOCOL_REFUSAL);
      return;
    }
    this.#channelWss.handleUpgrade(request, socket, head, (ws: WebSocket) => {
      const protocol = negotiateChannelProtocol(handshake.webSocketProtocols(request)) ?? '';
      const forward: ChannelPortForward = new ChannelPortForward(ws, protocol, {
        pod,
        names: podSandboxNames(pod, uid),
        ports: parsed.ports,
        portMap: this.ports,
        counters: this.#counters,
        closed: () => this.#channelLive.delete(forward),
      });
      this.#channelLive.set(forward, pod);
      this.#options.logger.debug({ namespace: pod.namespace, pod: pod.name, ports: parsed.ports }, 'port-forward channel connection');
    });
  }

  #acceptSpdy(request: IncomingMessage, socket: Duplex, head: Buffer, pod: PodRef, uid: string, refuse: handshake.UpgradeRefuser): void {
    const offered = handshake.streamProtocols(request);
    if (!offered.includes(handshake.PORT_FORWARD_PROTOCOL)) {
      refuse.httpError(403, handshake.handshakeRefusal(offered), { 'X-Accepted-Stream-Protocol-Versions': handshake.PORT_FORWARD_PROTOCOL });
      return;
    }
    handshake.writeSpdySwitch(socket, handshake.PORT_FORWARD_PROTOCOL);
    this.#serveSpdySocket(socket, head, pod, uid);
  }

  #serveWebSocket(ws: WebSocket, pod: PodRef, uid: string): void {
    const transport: SessionTransport = {
      send: (bytes, flushed) => ws.send(bytes, { binary: true }, () => flushed()),
      pause: () => ws.pause(),
      resume: () => ws.resume(),
      close: () => ws.close(1000),
    };
    const connection = this.#connect(transport, pod, uid, () => ws.terminate());
    ws.on('message', function tunnelOnMessage(data: RawData, isBinary: boolean): void {
      // client-go's TunnelingConnection fails on anything but binary messages; so does its server side
      if (!isBinary) connection.session.close();
      else connection.session.receive(rawDataBuffer(data));
    });
    ws.once('close', function tunnelOnClose(): void {
      connection.session.close();
    });
    ws.on('error', function tunnelOnError(): void {
      connection.session.close();
    });
  }

  #serveSpdySocket(socket: Duplex, head: Buffer, pod: PodRef, uid: string): void {
    if (socket instanceof Socket) {
      socket.setNoDelay(true);
      socket.setTimeout(0);
    }
    const transport: SessionTransport = {
      send: (bytes, flushed) => socket.write(bytes, () => flushed()),
      pause: () => socket.pause(),
      resume: () => socket.resume(),
      close: () => socket.end(),
    };
    const connection = this.#connect(transport, pod, uid, () => socket.destroy());
    socket.on('data', function spdyOnData(chunk: Buffer): void {
      connection.session.receive(chunk);
    });
    socket.once('close', function spdyOnClose(): void {
      connection.session.close();
    });
    if (head.length > 0) connection.session.receive(head);
  }

  #connect(transport: SessionTransport, pod: PodRef, uid: string, terminate: () => void): PortForwardConnection {
    let entry: LiveConnection | undefined;
    const connectionClosed = (): void => {
      if (entry !== undefined) this.#live.delete(entry);
    };
    const connection = new PortForwardConnection(transport, {
      pod,
      names: podSandboxNames(pod, uid),
      ports: this.ports,
      counters: this.#counters,
      streamCreationTimeoutMs: this.#options.streamCreationTimeoutMs ?? DEFAULT_STREAM_CREATION_TIMEOUT_MS,
      closed: connectionClosed,
    });
    entry = { connection, pod, terminate };
    this.#live.add(entry);
    this.#options.logger.debug({ namespace: pod.namespace, pod: pod.name }, 'port-forward connection');
    return connection;
  }
}

function rawDataBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}
