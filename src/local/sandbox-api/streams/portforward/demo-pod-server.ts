// The process behind the seeded `demo` pod's containerPort: a small HTTP server on 127.0.0.1:0 that
// port-forward connects to. `GET /` answers a short text, `GET /bytes?n=N` streams N deterministic
// bytes (so a download through the tunnel can be checked byte for byte without storing it), and
// `POST /echo` streams the request body back (the upload direction).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export const DEMO_GREETING = 'hello from the sandbox demo pod\n';
/** /bytes refuses more than this, so a typo cannot stream for ever */
export const DEMO_MAX_BYTES = 1024 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;

/** Byte `index` of every /bytes body: a multiplicative hash, so a reordered or dropped chunk shows. */
export function demoByteAt(index: number): number {
  return Math.imul(index + 1, 0x9e37_79b1) >>> 24;
}

/** `length` bytes of the /bytes body starting at `offset`. */
export function demoBytes(offset: number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let index = 0; index < length; index += 1) bytes[index] = demoByteAt(offset + index);
  return bytes;
}

function streamBytes(response: ServerResponse, total: number): void {
  let sent = 0;
  const writeMore = (): void => {
    while (sent < total) {
      const chunk = demoBytes(sent, Math.min(CHUNK_BYTES, total - sent));
      sent += chunk.length;
      if (!response.write(chunk)) {
        response.once('drain', writeMore);
        return;
      }
    }
    response.end();
  };
  writeMore();
}

function demoOnRequest(request: IncomingMessage, response: ServerResponse): void {
  const url = new URL(request.url ?? '/', 'http://demo.invalid');
  if (request.method === 'GET' && url.pathname === '/') {
    response.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(DEMO_GREETING) });
    response.end(DEMO_GREETING);
    return;
  }
  if (request.method === 'GET' && url.pathname === '/bytes') {
    const total = Number(url.searchParams.get('n') ?? '');
    if (!Number.isInteger(total) || total < 0 || total > DEMO_MAX_BYTES) {
      response.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' });
      response.end(`n must be an integer from 0 to ${DEMO_MAX_BYTES}\n`);
      return;
    }
    response.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': total });
    streamBytes(response, total);
    return;
  }
  if (request.method === 'POST' && url.pathname === '/echo') {
    response.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    request.pipe(response);
    return;
  }
  request.resume();
  response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
  response.end('404 page not found\n');
}

export interface DemoPodServer {
  /** the 127.0.0.1 port it listens on */
  readonly port: number;
  close(): Promise<void>;
}

export async function startDemoPodServer(): Promise<DemoPodServer> {
  const server: Server = createServer(demoOnRequest);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // the sandbox closes it; unref'd so a sandbox nobody closed cannot keep the process alive through it
  server.unref();
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
