// A session whose control plane stopped reading while the agent streams to it: the agent's outbound socket
// buffer holds data that cannot leave (PROTOCOL.md §9.11).

import type { Harness } from './agent-harness.js';
import { eventually } from './eventually.js';
import type { FakeSocket } from './fake-control-plane.js';

const CHUNK = Buffer.alloc(64 * 1024, 0x62);
const FLOOD_LIMIT_BYTES = 512 * 1024 * 1024;

/** An API server path that streams until the client goes away (bounded), honouring backpressure. */
export function floodUpstream(harness: Harness): void {
  harness.kube.handler = (_request, response) => {
    response.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    let written = 0;
    const pump = (): void => {
      while (written < FLOOD_LIMIT_BYTES && !response.destroyed) {
        written += CHUNK.length;
        if (!response.write(CHUNK)) {
          response.once('drain', pump);
          return;
        }
      }
      response.end();
    };
    response.on('close', () => (written = FLOOD_LIMIT_BYTES));
    pump();
  };
}

/** Registers, starts a streamed flood, stops reading, and waits until the agent's socket buffer holds data. */
export async function stalledSession(harness: Harness): Promise<FakeSocket> {
  floodUpstream(harness);
  const socket = await harness.plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  socket.send({ type: 'proxy_request', request_id: 'flood', payload: { path: '/api/v1/flood', supports_response_streaming: true } });
  await socket.next('proxy_response_header');
  socket.pause();
  await eventually(() => (harness.agent.link.sessionConnection?.bufferedAmount ?? 0) > 64 * 1024, 'outbound data queued in the agent', 30_000);
  return socket;
}
