// The tunnel actor (PROTOCOL.md §15.5): dials `<name>.<namespace>.svc.<cluster-domain>:<port>` over TCP or
// UDP within the connection timeout and copies bytes between the target and the router, which owns the
// yamux stream. Runs in the long lane's pool (workers/ws-session.ts dispatches here). It never holds more
// than the router let it: target bytes stop being read at zero credit, and stream bytes are reported
// consumed only once the target socket took them.

import type { TunnelStreamTask } from '../src/messages/tunnel-messages.js';
import { isTunnelInbound, type TunnelData, type TunnelErrorKind, type TunnelInbound, type TunnelOutbound } from '../src/messages/tunnel-messages.js';
import { ActorName, ownedCopy } from '../src/messages/actor-messages.js';
import type { ActorContext } from './lib/actor-context.js';
import { aliasLookup } from './lib/host-aliases.js';
import { detectClusterDomain } from './lib/service-target.js';
import { TcpTunnelTarget } from './lib/tcp-tunnel-target.js';
import { UdpTunnelTarget } from './lib/udp-tunnel-target.js';

/** What a target needs from its actor: the router's port, typed. */
export interface TunnelPeer {
  post(message: TunnelOutbound): void;
}

export interface TunnelTarget {
  /** Resolves when the target is finished, with the error kind when it failed. */
  run(initial: Uint8Array): Promise<TunnelErrorKind | undefined>;
  onInbound(message: TunnelInbound): void;
  readonly bytesToTarget: number;
  readonly bytesFromTarget: number;
}

export default async function tunnelStream(task: TunnelStreamTask, context: ActorContext): Promise<void> {
  const port = task.port;
  const logger = context.actorLogger(ActorName.tunnelStream);
  const peer: TunnelPeer = {
    post(message) {
      if (message.type === 'data') {
        const owned = message.data.byteOffset === 0 && message.data.byteLength === message.data.buffer.byteLength ? message.data : ownedCopy(message.data);
        const data: TunnelData = { type: 'data', data: owned };
        port.postMessage(data, [owned.buffer as ArrayBuffer]);
        return;
      }
      port.postMessage(message);
    },
  };
  const host = `${task.serviceName}.${task.serviceNamespace}.svc.${detectClusterDomain()}`;
  const lookup = aliasLookup(context.config.tuning.hostAliases);
  const target: TunnelTarget =
    task.protocol === 'udp'
      ? new UdpTunnelTarget({ host, port: task.servicePort, lookup, peer, connectTimeoutMs: task.connectTimeoutMs, idleTimeoutMs: task.udpIdleTimeoutMs, creditBytes: task.creditBytes })
      : new TcpTunnelTarget({ host, port: task.servicePort, lookup, peer, connectTimeoutMs: task.connectTimeoutMs, creditBytes: task.creditBytes });
  port.on('message', function portOnMessage(message: unknown) {
    if (isTunnelInbound(message)) target.onInbound(message);
  });
  // The router closes its end when the stream is gone (reset, socket lost): same as a cancel.
  port.on('close', function portOnClose() {
    target.onInbound({ type: 'cancel', reason: 'connection_lost' });
  });
  let error: TunnelErrorKind | undefined;
  try {
    error = await target.run(task.frame);
  } catch (thrown) {
    logger.error({ err: thrown, streamId: task.streamId }, 'tunnel target failed');
    error = 'target';
  }
  logger.debug({ streamId: task.streamId, error }, 'tunnel stream ended');
  peer.post({ type: 'done', bytesToTarget: target.bytesToTarget, bytesFromTarget: target.bytesFromTarget, error });
  port.close();
}
