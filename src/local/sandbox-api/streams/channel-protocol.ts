// The remote-command channel protocol of exec and attach over WebSocket (`v5.channel.k8s.io`,
// `v4.channel.k8s.io`): subprotocol negotiation, the one-byte channel prefix of every binary message,
// v5's `[255, channel]` close signal, terminal-size messages, and the metav1.Status bodies written on
// the error channel, byte for byte as kube-apiserver and the container runtime write them.

import { encodeJson } from '../http/http-exchange.js';
import type { JsonObject } from '../store/json-value.js';

export const StreamProtocol = {
  v5: 'v5.channel.k8s.io',
  v4: 'v4.channel.k8s.io',
} as const;
export type StreamProtocol = (typeof StreamProtocol)[keyof typeof StreamProtocol];

/** Server preference does not matter: wsstream takes the first protocol in the client's order it supports. */
const SUPPORTED: readonly StreamProtocol[] = [StreamProtocol.v5, StreamProtocol.v4];

export const Channel = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4 } as const;
export type Channel = (typeof Channel)[keyof typeof Channel];
/** wsstream allocates five channels; anything above is ignored as a protocol error */
export const CHANNEL_COUNT = 5;
/** v5's first byte for "this side is done with the stream in the second byte" */
export const STREAM_CLOSE = 255;

/** The subprotocols of a Sec-WebSocket-Protocol header (one comma list or repeated headers), in client order. */
export function offeredProtocols(header: string | readonly string[] | undefined): string[] {
  const values = header === undefined ? [] : typeof header === 'string' ? [header] : header;
  return values.flatMap((value) => value.split(',')).map((token) => token.trim()).filter((token) => token !== '');
}

/** The first protocol the client offers that the sandbox speaks, or undefined (the upgrade is refused). */
export function negotiateProtocol(offered: readonly string[]): StreamProtocol | undefined {
  for (const protocol of offered) {
    const match = SUPPORTED.find((supported) => supported === protocol);
    if (match !== undefined) return match;
  }
  return undefined;
}

export type ClientFrame =
  | { readonly type: 'data'; readonly channel: number; readonly payload: Buffer }
  | { readonly type: 'close'; readonly channel: number }
  | { readonly type: 'ignored' }
  /** wsstream stops reading and closes the connection on these */
  | { readonly type: 'invalid'; readonly reason: string };

/** Reads one client message the way wsstream's Conn.handle does. */
export function parseClientFrame(message: Buffer, protocol: StreamProtocol): ClientFrame {
  if (message.length === 0) return { type: 'ignored' };
  const first = message[0] ?? 0;
  if (protocol === StreamProtocol.v5 && first === STREAM_CLOSE) {
    if (message.length !== 2) return { type: 'invalid', reason: `single channel byte should follow stream close signal, got ${message.length - 1} bytes` };
    const channel = message[1] ?? 0;
    if (channel >= CHANNEL_COUNT) return { type: 'invalid', reason: `close is targeted for a channel ${channel} that is not valid` };
    return { type: 'close', channel };
  }
  if (first >= CHANNEL_COUNT) return { type: 'ignored' };
  return { type: 'data', channel: first, payload: message.subarray(1) };
}

/** One server message: the channel byte, then the payload (an empty payload is a valid message). */
export function encodeFrame(channel: Channel, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const frame = Buffer.allocUnsafe(body.length + 1);
  frame[0] = channel;
  body.copy(frame, 1);
  return frame;
}

export interface TerminalSize {
  readonly width: number;
  readonly height: number;
}

/**
 * The sizes in one resize-channel payload. client-go json-encodes `{"Width":W,"Height":H}` per message;
 * the server side decodes a stream, so several objects in one payload are accepted too.
 */
export function parseTerminalSizes(payload: Buffer): TerminalSize[] {
  const sizes: TerminalSize[] = [];
  for (const text of payload.toString('utf8').split(/(?<=\})\s*(?=\{)/)) {
    if (text.trim() === '') continue;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null) continue;
      const width = 'Width' in parsed ? parsed.Width : undefined;
      const height = 'Height' in parsed ? parsed.Height : undefined;
      if (isUint16(width) && isUint16(height)) sizes.push({ width, height });
    } catch {
      // the apiserver's decoder stops at the first bad object; later sizes are lost there as here
      break;
    }
  }
  return sizes;
}

function isUint16(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffff;
}

/** json.Marshal(status.Status()): no kind/apiVersion, no trailing newline, HTML characters escaped. */
function statusBytes(status: JsonObject): Buffer {
  const encoded = encodeJson(status);
  return encoded.subarray(0, encoded.length - 1);
}

/** What both the stream translator and the runtime's server write when the command exited 0. */
export function successStatus(): Buffer {
  return statusBytes({ metadata: {}, status: 'Success' });
}

/** Go's %v of a []string: `[sh -c exit 3]`. */
function goStringSlice(values: readonly string[]): string {
  return `[${values.join(' ')}]`;
}

/**
 * NonZeroExitCode with an ExitCode cause. The message differs by path in a real cluster: a v4 client is
 * proxied straight to the runtime's streaming server, which wraps containerd's CodeExitError
 * ("error executing command [..], exit code N"); a v5 client talks to the apiserver's stream translator,
 * which wraps client-go's decoded error ("command terminated with exit code N").
 */
export function exitCodeStatus(protocol: StreamProtocol, command: readonly string[], exitCode: number): Buffer {
  const inner = protocol === StreamProtocol.v5
    ? `command terminated with exit code ${exitCode}`
    : `error executing command ${goStringSlice(command)}, exit code ${exitCode}`;
  return statusBytes({
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: ${inner}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  });
}

/**
 * apierrors.NewInternalError(err) as written on the error channel. On the v5 path the translator wraps
 * the runtime's already-wrapped error once more, so the prefix appears twice there, as in a real cluster.
 */
export function internalErrorStatus(protocol: StreamProtocol, runtimeMessage: string): Buffer {
  const once = `Internal error occurred: ${runtimeMessage}`;
  const cause = protocol === StreamProtocol.v5 ? once : runtimeMessage;
  return statusBytes({
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${cause}`,
    reason: 'InternalError',
    details: { causes: [{ message: cause }] },
    code: 500,
  });
}
