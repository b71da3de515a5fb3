// A control plane that stops reading while a stream floods (PROTOCOL.md §9.11 flow control, C57): the
// agent stops reading the upstream instead of buffering, other requests still go through, and the stream
// resumes intact. Memory is judged by the bytes the agent itself reports, never by time.

import test from 'ava';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { startHarness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';

const STREAM_BYTES = 64 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);
const CREDIT_BYTES = 256 * 1024;

function scrapeValue(port: number, series: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics' }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
          resolve(line === undefined ? Number.NaN : Number(line.slice(series.length + 1)));
        });
      })
      .on('error', reject);
  });
}

test('C57: while the control plane does not read, the stream stops reading upstream and memory stays bounded', async (t) => {
  const { agent, plane, kube } = await startHarness(t, { config: { workers: 1 } });
  let upstreamWritten = 0;
  let isUpstreamBlocked = false;
  kube.handler = (request, response) => {
    if (!request.url.startsWith('/api/v1/flood')) {
      response.writeHead(200, { 'Content-Type': 'text/plain' });
      response.end('other');
      return;
    }
    response.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    const pump = (): void => {
      while (upstreamWritten < STREAM_BYTES) {
        upstreamWritten += CHUNK.length;
        if (!response.write(CHUNK)) {
          isUpstreamBlocked = true;
          response.once('drain', () => {
            isUpstreamBlocked = false;
            pump();
          });
          return;
        }
      }
      response.end();
    };
    pump();
  };
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  const hash = createHash('sha256');
  let received = 0;
  socket.socket.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) return;
    const message = JSON.parse(data.toString('utf8')) as { type: string; request_id?: string; payload: { data?: string } };
    if (message.type === 'proxy_response_chunk' && message.request_id === 'flood') {
      const bytes = Buffer.from(message.payload.data!, 'base64');
      received += bytes.length;
      hash.update(bytes);
    }
  });
  socket.send({ type: 'proxy_request', request_id: 'flood', payload: { path: '/api/v1/flood', supports_response_streaming: true } });
  await socket.next('proxy_response_header');
  socket.pause();
  // the agent fills what the sockets can hold, then stops reading the API server
  let lastWritten = -1;
  let stableSince = Date.now();
  await eventually(
    () => {
      if (upstreamWritten !== lastWritten) {
        lastWritten = upstreamWritten;
        stableSince = Date.now();
      }
      return isUpstreamBlocked && Date.now() - stableSince > 1_000;
    },
    'the API server is pushed back and stays so',
    30_000,
  );
  const readSoFar = upstreamWritten;
  const outstanding = await scrapeValue(agent.httpPort, 'pipeops_agent_stream_outstanding_bytes');
  t.true(outstanding > 0 && outstanding <= CREDIT_BYTES + 400 * 1024, `outstanding ${outstanding}`);
  const buffered = await scrapeValue(agent.httpPort, 'pipeops_agent_link_buffered_bytes');
  t.true(buffered <= CREDIT_BYTES + 400 * 1024, `socket buffer ${buffered}`);
  t.true(readSoFar < STREAM_BYTES / 2, `the upstream stopped early (${readSoFar} of ${STREAM_BYTES})`);

  // another request is admitted and reaches the API server while the stream is stalled
  const before = kube.proxied().length;
  socket.send({ type: 'proxy_request', request_id: 'other', payload: { path: '/api/v1/other' } });
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  t.is(kube.proxied().length, before + 1);
  t.true(upstreamWritten <= readSoFar + 1024 * 1024, 'still stalled after 10 s');
  t.true((await scrapeValue(agent.httpPort, 'pipeops_agent_stream_outstanding_bytes')) <= CREDIT_BYTES + 400 * 1024);

  socket.resume();
  await socket.next('proxy_response', 30_000, (m) => m.request_id === 'other');
  await socket.next('proxy_response_end', 120_000);
  t.is(received, STREAM_BYTES);
  const expected = createHash('sha256');
  for (let sent = 0; sent < STREAM_BYTES; sent += CHUNK.length) expected.update(CHUNK);
  t.is(hash.digest('hex'), expected.digest('hex'));
  await eventually(() => agent.router.activeRequests === 0, 'stream finished');
  t.is(await scrapeValue(agent.httpPort, 'pipeops_agent_stream_outstanding_bytes'), 0);
});
