// A stream frame an actor built just before its socket stopped using stream frames (yamux became active,
// docs/protocol.md extension): it leaves as the JSON message it stands for. Raw chunks and relay data are
// today's messages; a deflated chunk's bytes belong to the stream's deflate context, so they go as a
// `proxy_response_chunk` with `encoding:"deflate"`, which only a control plane that opted in ever sees.

import { encodeEnvelope, type JsonObject } from '../protocol/envelope.js';
import { OutboundType } from '../protocol/message-types.js';
import { StreamFrameKind, readStreamFrameHeader } from '../protocol/stream-frame.js';

/** The JSON envelope for `frame`, or undefined when it is not a well-formed stream frame. */
export function streamFrameAsJson(frame: Uint8Array, isAppRelay: boolean, nowMs: number): string | undefined {
  const header = readStreamFrameHeader(frame);
  if (header === undefined) return undefined;
  const payload = Buffer.from(frame.buffer, frame.byteOffset + header.payloadOffset, frame.byteLength - header.payloadOffset);
  const id = header.streamId;
  switch (header.kind) {
    case StreamFrameKind.chunk:
      return encodeEnvelope(OutboundType.proxyResponseChunk, { data: payload.toString('base64'), encoding: 'base64', size: payload.length }, id, nowMs);
    case StreamFrameKind.deflatedChunk:
    case StreamFrameKind.deflatedChunkStart: {
      const body: JsonObject = { data: payload.toString('base64'), encoding: 'deflate', size: payload.length };
      if (header.kind === StreamFrameKind.deflatedChunkStart) body['deflate_start'] = true;
      return encodeEnvelope(OutboundType.proxyResponseChunk, body, id, nowMs);
    }
    case StreamFrameKind.wsData: {
      const data = payload.toString('base64');
      const body: JsonObject = isAppRelay ? { request_id: id, stream_id: id, data, message_type: payload[0] ?? 0 } : { stream_id: id, data };
      return encodeEnvelope(OutboundType.proxyWebsocketData, body, id, nowMs);
    }
  }
}
