// The exec and attach subresources ("remote command" in Kubernetes): checks the request in the
// apiserver's order (pod, container, upgrade required), refuses SPDY with a clear 400 Status (the
// sandbox speaks only the WebSocket protocols), negotiates v5/v4.channel.k8s.io, upgrades with `ws`, and
// runs one session per connection until it ends or the sandbox closes.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { ApiStatusError, badRequest } from '../http/api-status.js';
import { StreamProtocol, negotiateProtocol, offeredProtocols } from './channel-protocol.js';
import { AttachSession } from './attach-session.js';
import { ExecSession, type StreamFlags } from './exec-session.js';
import { TerminalExecSession } from './terminal-exec-session.js';
import {
  chooseContainer,
  replyStatus,
  type PodStreamContext,
  type PodStreamHandler,
  type PodStreamTarget,
  type UpgradeExchange,
} from './pod-stream-handler.js';
import { queryFlag } from '../../query-bool.js';

type RemoteCommandKind = 'exec' | 'attach';

interface RemoteCommandRequest {
  readonly container: string;
  readonly flags: StreamFlags;
  /** exec only */
  readonly command: readonly string[];
}

interface Session {
  readonly ended: Promise<void>;
  stop(): Promise<void>;
}

/** What x/net/websocket answers when none of the offered subprotocols is served (no body, no upgrade). */
const PROTOCOL_REFUSAL = 'HTTP/1.1 403 Forbidden\r\n\r\n';

export const SPDY_REFUSAL_MESSAGE =
  `the sandbox API serves exec and attach over WebSocket only (${StreamProtocol.v5} or ${StreamProtocol.v4}); SPDY/3.1 upgrades are not supported`;

/** PodExecOptions / PodAttachOptions from the query, with the kubelet's stream rules. */
export function parseRemoteCommand(kind: RemoteCommandKind, target: PodStreamTarget): RemoteCommandRequest {
  const { query } = target;
  const choice = chooseContainer(target, query.get('container'));
  if ('error' in choice) throw badRequest(choice.error);
  const tty = queryFlag(query, 'tty');
  // remotecommand.NewOptions: with a tty, stderr is folded into stdout
  const flags: StreamFlags = { stdin: queryFlag(query, 'stdin'), stdout: queryFlag(query, 'stdout'), stderr: queryFlag(query, 'stderr') && !tty, tty };
  if (!flags.stdin && !flags.stdout && !flags.stderr) throw badRequest('you must specify at least 1 of stdin, stdout, stderr');
  const command = kind === 'exec' ? query.getAll('command') : [];
  if (kind === 'exec' && command.length === 0) throw badRequest('you must specify at least one command for the container');
  return { container: choice.container, flags, command };
}

function createRemoteCommandHandler(kind: RemoteCommandKind, context: PodStreamContext): PodStreamHandler {
  const logger = context.logger.child({ subresource: kind });
  const sessions = new Set<Session>();
  let isClosing = false;
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (offered: Set<string>) => negotiateProtocol([...offered]) ?? false,
  });

  function track(session: Session, untrack: () => void): void {
    sessions.add(session);
    void session.ended.finally(() => {
      sessions.delete(session);
      untrack();
    });
  }

  function startExec(ws: WebSocket, protocol: StreamProtocol, target: PodStreamTarget, parsed: RemoteCommandRequest, podDir: string): void {
    const options = { command: parsed.command, flags: parsed.flags, podDir, podName: target.name, logger };
    // a tty exec runs on a pseudo-terminal, as the runtime runs it; without a tty, on pipes
    const session = parsed.flags.tty ? new TerminalExecSession(ws, protocol, options) : new ExecSession(ws, protocol, options);
    // a deleted pod's processes are killed; their exit status (137) still reaches the client
    track(session, context.runtime.onGone(target.namespace, target.name, () => session.kill()));
  }

  function startAttach(ws: WebSocket, protocol: StreamProtocol, target: PodStreamTarget, parsed: RemoteCommandRequest): void {
    const log = context.runtime.log(target.namespace, target.name, parsed.container);
    const processTarget = context.runtime.attachTarget(target.namespace, target.name, parsed.container);
    track(new AttachSession(ws, protocol, { flags: parsed.flags, log, target: processTarget, logger }), () => undefined);
  }

  async function serveUpgrade(target: PodStreamTarget, exchange: UpgradeExchange): Promise<void> {
    const { request } = exchange;
    const parsed = parseRemoteCommand(kind, target);
    if ((request.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      replyStatus(request, exchange.response(), badRequest(SPDY_REFUSAL_MESSAGE));
      return;
    }
    const protocol = negotiateProtocol(offeredProtocols(request.headers['sec-websocket-protocol']));
    if (protocol === undefined) {
      exchange.refuseRaw(PROTOCOL_REFUSAL);
      return;
    }
    const podDir = kind === 'exec' ? await context.runtime.sandboxDir(target.namespace, target.name) : '';
    if (isClosing) {
      exchange.socket.destroy();
      return;
    }
    const selected: StreamProtocol = protocol;
    function upgradeOnConnection(ws: WebSocket): void {
      if (kind === 'exec') startExec(ws, selected, target, parsed, podDir);
      else startAttach(ws, selected, target, parsed);
    }
    wss.handleUpgrade(request, exchange.socket, exchange.head, upgradeOnConnection);
  }

  return {
    serveRequest(target: PodStreamTarget, request: IncomingMessage, response: ServerResponse) {
      try {
        parseRemoteCommand(kind, target);
        // the apiserver's upgrade-aware proxy for connect subresources
        throw badRequest('Upgrade request required');
      } catch (error) {
        if (!(error instanceof ApiStatusError)) throw error;
        replyStatus(request, response, error);
      }
    },
    async serveUpgrade(target, exchange) {
      try {
        await serveUpgrade(target, exchange);
      } catch (error) {
        if (!(error instanceof ApiStatusError)) throw error;
        replyStatus(exchange.request, exchange.response(), error);
      }
    },
    get activeSessions() {
      return sessions.size;
    },
    async close() {
      isClosing = true;
      await Promise.all([...sessions].map((session) => session.stop()));
      wss.close();
    },
  };
}

export function createExecHandler(context: PodStreamContext): PodStreamHandler {
  return createRemoteCommandHandler('exec', context);
}

export function createAttachHandler(context: PodStreamContext): PodStreamHandler {
  return createRemoteCommandHandler('attach', context);
}
