// The WebSocket session actor: one kubectl exec/attach/cp/port-forward stream (PROTOCOL.md §13). It runs
// in the session pool, apart from the HTTP relays, so long sessions never starve short requests.

import type { ActorTask } from '../src/messages/actor-messages.js';
import { parseEnvelope } from '../src/protocol/envelope.js';
import { readHeaderMap } from '../src/protocol/headers.js';
import { OutboundType } from '../src/protocol/message-types.js';
import { ActorContext, workerActorContext } from './lib/actor-context.js';
import { KubeSession } from './lib/kube-session.js';
import { RouterPort } from './lib/router-port.js';

import httpRelay from './http-relay.js';

export { ActorContext } from './lib/actor-context.js';

/**
 * The long lane's entry: kubectl sessions started by `proxy_websocket_start`, and `proxy_request`s that live
 * long (WebSocket upgrades, watches, `logs -f`), which run the HTTP relay actor here, apart from short requests.
 */
export default async function wsSession(task: ActorTask, context: ActorContext = workerActorContext()): Promise<void> {
  if (task.kind === 'http-relay') {
    await httpRelay(task, context);
    return;
  }
  const startedMs = Date.now();
  const port = new RouterPort(task.port, task.streamId);
  const envelope = parseEnvelope(task.frame);
  const payload = envelope?.payload ?? {};
  const text = (key: string): string => (typeof payload[key] === 'string' ? (payload[key] as string) : '');
  const kube = context.kubeUpstream();
  let outcome: 'ok' | 'upstream_error' | 'canceled' = 'upstream_error';
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
    const active = session;
    port.listen({
      onFrame: (data) => active.onFrame(data),
      onBody: () => undefined,
      onCredit: (bytes) => active.onCredit(bytes),
      onCancel: (reason) => active.cancel(reason),
    });
    context.logger.debug({ streamId: task.streamId }, 'session starting');
    outcome = await session.run();
  } finally {
    const stats = session?.stats;
    port.done(
      outcome,
      'none',
      Date.now() - startedMs,
      { sent: stats?.bytesIn ?? 0, received: stats?.bytesOut ?? 0 },
      undefined,
      { framesIn: stats?.framesIn ?? 0, framesOut: stats?.framesOut ?? 0, dropped: stats?.dropped ?? 0 },
      'ws-session',
    );
    port.close();
    context.logger.debug({ streamId: task.streamId, outcome }, 'session ended');
  }
}
