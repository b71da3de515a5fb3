// What an inbound binary frame is (PROTOCOL.md §4.3, plus the project's stream-frame extension), decided in
// one place: yamux bytes while yamux is active (§15.2); a stream frame when the control plane opted in on
// this socket and the frame starts with 00 00 <version>; otherwise the §4.3 order (request body, JSON in
// binary, unmatched body, malformed) that inbound-demux.ts applies next.

import { isStreamFrame } from '../protocol/stream-frame.js';

export const BinaryRoute = {
  yamux: 'yamux',
  streamFrame: 'stream-frame',
  /** §4.3 (a)–(d), yamux inactive. */
  classic: 'classic',
} as const;
export type BinaryRoute = (typeof BinaryRoute)[keyof typeof BinaryRoute];

export interface BinaryDemuxState {
  readonly isYamuxActive: boolean;
  readonly isStreamFramesActive: boolean;
}

export function routeBinaryFrame(state: BinaryDemuxState, data: Uint8Array): BinaryRoute {
  if (state.isYamuxActive) return BinaryRoute.yamux;
  // 00 00 is an empty request id, never a well-formed §10.1 frame, and never JSON: without the opt-in
  // such a frame still falls through to §4.3 (d), malformed.
  if (state.isStreamFramesActive && isStreamFrame(data)) return BinaryRoute.streamFrame;
  return BinaryRoute.classic;
}
