// Refusing an HTTP upgrade on the raw socket (the request never reaches a ServerResponse), the way ws
// does it: a complete HTTP response, then the socket closes once it is flushed.

import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

export function refuseUpgrade(socket: Duplex, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  socket.once('finish', socket.destroy);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      `Connection: close\r\nContent-Type: ${contentType}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
