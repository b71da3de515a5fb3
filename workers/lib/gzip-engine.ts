// Transport compression behind one small interface (PROTOCOL.md §11): node:zlib (default, measured ~5x
// faster on API-server JSON here), fflate, or off. Synchronous on purpose: it runs inside an actor's
// worker thread, and fflate's async API would start yet another worker per call.

import { gzipSync as zlibGzipSync, constants as zlibConstants } from 'node:zlib';
import { gzipSync as fflateGzipSync } from 'fflate';
import type { CompressionEngine } from '../../src/config/agent-config.js';

export interface GzipEngine {
  readonly name: CompressionEngine;
  /** RFC 1952 single member, default level, no file name; undefined when the engine is off. */
  gzip(body: Uint8Array): Uint8Array | undefined;
}

const zlibEngine: GzipEngine = {
  name: 'zlib',
  gzip: (body) => zlibGzipSync(body, { level: zlibConstants.Z_DEFAULT_COMPRESSION }),
};

const fflateEngine: GzipEngine = {
  name: 'fflate',
  gzip: (body) => fflateGzipSync(body, { level: 6 }),
};

const offEngine: GzipEngine = {
  name: 'off',
  gzip: () => undefined,
};

export function gzipEngine(name: CompressionEngine): GzipEngine {
  if (name === 'zlib') return zlibEngine;
  if (name === 'fflate') return fflateEngine;
  return offEngine;
}
