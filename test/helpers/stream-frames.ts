// Counts the binary stream frames (docs/protocol.md extension) an agent sends to a local control plane, by
// kind, so end-to-end tests can tell which path carried their data.

import type { ControlPlane } from '../../src/local/control-plane/control-plane-server.js';
import { ControlPlaneEvent, type AgentBinaryEvent } from '../../src/local/control-plane/control-plane-server.js';
import { StreamFrameKind, readStreamFrameHeader } from '../../src/protocol/stream-frame.js';

export interface StreamFrameCounts {
  /** Raw and deflated streaming-response chunks. */
  chunks: number;
  deflatedChunks: number;
  wsData: number;
}

export function countStreamFrames(plane: ControlPlane): StreamFrameCounts {
  const counts: StreamFrameCounts = { chunks: 0, deflatedChunks: 0, wsData: 0 };
  plane.events.on(ControlPlaneEvent.agentBinary, (event: AgentBinaryEvent) => {
    const header = readStreamFrameHeader(event.data);
    if (header === undefined) return;
    if (header.kind === StreamFrameKind.chunk) counts.chunks++;
    else if (header.kind === StreamFrameKind.wsData) counts.wsData++;
    else counts.deflatedChunks++;
  });
  return counts;
}

/** Wire modes the stack runs in: the default (stream frames on) and legacy (PROTOCOL.md JSON only). */
export const StreamFramesPath = { extension: 'stream frames', legacy: 'legacy JSON' } as const;
export type StreamFramesPath = (typeof StreamFramesPath)[keyof typeof StreamFramesPath];
