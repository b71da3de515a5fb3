// The long lane's actor (router/admission.ts): long-lived streams, apart from the HTTP relays so that they
// never starve short requests. Three task kinds arrive here:
//   ws-session   one kubectl exec/attach/cp/port-forward stream started by proxy_websocket_start (§13)
//   http-relay   a long-lived proxy_request: a WebSocket upgrade (§13.8, §14), a watch or `logs -f`; it runs
//                the HTTP relay's code, which hands upgrades to the shared relay core and serves the rest as HTTP.
//   tunnel-stream one yamux stream of a TCP/UDP tunnel (§15.5), workers/tunnel-stream.ts

import { ActorName, type ActorTask, type WsSessionTask } from '../src/messages/actor-messages.js';
import { parseEnvelope } from '../src/protocol/envelope.js';
import { readHeaderMap } from '../src/protocol/headers.js';
import { OutboundType } from '../src/protocol/message-types.js';
import { ActorContext, workerActorContext } from './lib/actor-context.js';
import { KubeSession } from './lib/kube-session.js';
import { RouterPort } from './lib/router-port.js';
import type { RelayOutcome } from './lib/ws-relay.js';
import httpRelay from './http-relay.js';
import tunnelStream from './tunnel-stream.js';

export { ActorContext } from './lib/actor-context.js';

export default async function wsSession(task: ActorTask, context: ActorContext = workerActorContext()): Promise<void> {
  if (task.kind === 'http-relay') await httpRelay(task, context);
  else if (task.kind === 'tunnel-stream') await tunnelStream(task, context);
  else await runSession(task, context);
}

async function runSession(task: WsSessionTask, context: ActorContext): Promise<void> {
  const startedMs = Date.now();
  const logger = context.actorLogger(ActorName.wsSession);
  const port = new RouterPort(task.port, task.streamId, task.shouldUseStreamFrames === true);
  const envelope = parseEnvelope(task.frame);
  const payload = envelope?.payload ?? {};
  const text = (key: string): string => (typeof payload[key] === 'string' ? (payload[key] as string) : '');
  const kube = context.kubeUpstream();
  let outcome: RelayOutcome = 'upstream_error';
  let session: KubeSession | undefined;
  try {
    if (kube instanceof Error) {
      port.sendJson(OutboundType.proxyError, { request_id: task.streamId, error: 'kubernetes client not initialized' });
      port.sendJson(OutboundType.proxyWebsocketClose, { stream_id: task.streamId });
      return;
    }
    let query = text('query');
    if (query.startsWith('?')) query = query.slice(1);
    session = new KubeSession(
      { streamId: task.streamId, path: text('path'), query, protocol: text('protocol'), headers: readHeaderMap(payload['headers']) },
      port,
      kube,
      context.config.tuning.streamCreditBytes,
    );
    port.listen(session.listener());
    logger.debug({ streamId: task.streamId }, 'session starting');
    outcome = await session.run();
  } finally {
    const stats = session?.stats;
    port.done({
      outcome,
      mode: 'none',
      durationMs: Date.now() - startedMs,
      bytes: { sent: stats?.bytesIn ?? 0, received: stats?.bytesOut ?? 0 },
      session: { framesIn: stats?.framesIn ?? 0, framesOut: stats?.framesOut ?? 0, dropped: stats?.dropped ?? 0 },
      kind: 'ws-session',
    });
    port.close();
    logger.debug({ streamId: task.streamId, outcome }, 'session ended');
  }
}
