// An HTTP upgrade request (WebSocket or SPDY) as the sandbox receives it from the server's `upgrade`
// event: the raw socket a handler may take over, and, for every answer that is not a switch of
// protocols, an ordinary HTTP/1.1 response written on that socket and followed by a close.

import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface UpgradeExchange {
  readonly request: IncomingMessage;
  readonly socket: Duplex;
  /** bytes the client sent after the request head (the first WebSocket frames, if any) */
  readonly head: Buffer;
  /** A response on the socket, for refusals and plain answers; the socket closes after it. */
  response(): ServerResponse;
  /** Writes raw bytes (a hand-made status line and headers) and closes, as Go's x/net/websocket refuses. */
  refuseRaw(text: string): void;
}

export function upgradeExchange(request: IncomingMessage, socket: Duplex, head: Buffer): UpgradeExchange {
  let response: ServerResponse | undefined;
  return {
    request,
    socket,
    head,
    response() {
      if (response !== undefined) return response;
      const created = new ServerResponse(request);
      // the connection cannot carry another request: the upgrade took it out of the HTTP parser
      created.shouldKeepAlive = false;
      created.assignSocket(socket as Socket);
      function responseOnFinish(): void {
        created.detachSocket(socket as Socket);
        socket.end();
      }
      created.once('finish', responseOnFinish);
      response = created;
      return created;
    },
    refuseRaw(text) {
      socket.end(text);
    },
  };
}
