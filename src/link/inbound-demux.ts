// Inbound demultiplexing (PROTOCOL.md §4.3, §15.2, and the stream-frame extension), decided once per frame:
// control messages stay with the link, everything that belongs to a stream goes to the stream side (the
// router), and the stream side never hands anything back.
//
//   text ─► peek ─┬─ control type ───────────────────────► link (register replies, ping, error, hellos)
//                 └─ any other type ─────────────────────► streams.onEnvelope
//   binary ─┬─ yamux active ─────────────────────────────► connection.yamux
//           ├─ stream frame (opted in) ──────────────────► streams.onStreamFrame
//           └─ §4.3: (a) body of a pending body_binary ──► streams.takeRequestBody
//                    (b) JSON in binary ─────────────────► as text
//                    (c) unmatched body, (d) malformed ──► counted and dropped

import type { Logger } from 'pino';
import type { Connection } from './connection.js';
import { BinaryRoute, routeBinaryFrame } from './binary-demux.js';
import { peekEnvelope, type EnvelopePeek } from '../protocol/envelope-peek.js';
import { decodeRequestBodyFrame, type RequestBodyFrame } from '../protocol/binary-frame.js';
import { InboundType } from '../protocol/message-types.js';
import { StreamFramesMessage } from '../protocol/stream-frame.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';

/** The messages the link answers itself; every other type belongs to a stream (or is unknown, which the router answers). */
export const CONTROL_TYPES: ReadonlySet<string> = new Set([
  InboundType.registerSuccess,
  InboundType.registerInProgress,
  InboundType.heartbeatAck,
  InboundType.ping,
  InboundType.pong,
  InboundType.error,
  InboundType.gatewayHello,
  StreamFramesMessage.hello,
]);

/** What a session socket carries for streams; implemented by the router. */
export interface StreamSide {
  onSessionStart(connection: Connection): void;
  onSessionEnd(connection: Connection): void;
  /** A JSON message (text, or JSON in binary) whose type is not a control message. */
  onEnvelope(connection: Connection, peek: EnvelopePeek, data: Buffer): void;
  /** A binary stream frame on a socket that opted in to them (docs/protocol.md). */
  onStreamFrame(connection: Connection, data: Buffer): void;
  /** §4.3 (a): true when the frame is the body a `body_binary` request on this socket is waiting for. */
  takeRequestBody(connection: Connection, frame: RequestBodyFrame): boolean;
}

export interface InboundDemuxOptions {
  readonly onControl: (connection: Connection, peek: EnvelopePeek, data: Buffer) => void;
  readonly streams: StreamSide;
  readonly metrics: AgentMetrics;
  readonly logger: Logger;
}

function isJsonStart(data: Buffer): boolean {
  let index = 0;
  while (index < data.length && (data[index] === 0x20 || data[index] === 0x09 || data[index] === 0x0a || data[index] === 0x0d)) index++;
  return data[index] === 0x7b;
}

export class InboundDemux {
  readonly #options: InboundDemuxOptions;

  constructor(options: InboundDemuxOptions) {
    this.#options = options;
  }

  onFrame(connection: Connection, data: Buffer, isBinary: boolean): void {
    if (!isBinary) {
      const peek = peekEnvelope(data);
      if (peek === undefined) {
        this.#drop('inboundMalformed', data, 'malformed frame dropped');
        return;
      }
      this.#dispatch(connection, peek, data);
      return;
    }
    switch (routeBinaryFrame(connection, data)) {
      case BinaryRoute.yamux:
        // §4.3, §15.2: while yamux is active on this socket, every binary frame is yamux bytes, nothing else.
        connection.yamux?.receive(data);
        return;
      case BinaryRoute.streamFrame:
        this.#options.streams.onStreamFrame(connection, data);
        return;
      case BinaryRoute.classic:
        break;
    }
    const bodyFrame = decodeRequestBodyFrame(data);
    if (bodyFrame !== undefined && this.#options.streams.takeRequestBody(connection, bodyFrame)) return;
    const peek = isJsonStart(data) ? peekEnvelope(data) : undefined;
    if (peek !== undefined) this.#dispatch(connection, peek, data);
    else if (bodyFrame !== undefined) this.#drop('binaryBodyUnmatched', data, 'binary frame dropped');
    else this.#drop('binaryFrameMalformed', data, 'binary frame dropped');
  }

  #dispatch(connection: Connection, peek: EnvelopePeek, data: Buffer): void {
    if (CONTROL_TYPES.has(peek.type)) this.#options.onControl(connection, peek, data);
    else this.#options.streams.onEnvelope(connection, peek, data);
  }

  #drop(counter: 'inboundMalformed' | 'binaryBodyUnmatched' | 'binaryFrameMalformed', data: Buffer, why: string): void {
    this.#options.metrics.inc(counter);
    this.#options.logger.debug({ bytes: data.length }, why);
  }
}
