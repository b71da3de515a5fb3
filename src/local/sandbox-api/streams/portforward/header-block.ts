// The SPDY/3 name/value header block, uncompressed (header-zlib.ts compresses it). SPDY/3 uses 32-bit
// counts and lengths where SPDY/2 used 16-bit ones:
//
//   +------------------------------------+
//   | number of name/value pairs (32)    |
//   +------------------------------------+
//   | length of name (32)                |
//   +------------------------------------+
//   | name (lowercase)          ...      |
//   +------------------------------------+
//   | length of value (32)               |
//   +------------------------------------+
//   | value (NUL-separated list)  ...    |
//   +------------------------------------+
//   | ...more pairs                      |
//
// kubectl's port-forward streams carry three headers: streamtype (error or data), port and requestid.

import { SpdyProtocolError, words } from './spdy-framer.js';

/** Header names and their values, names lowercase; the order is the order written. */
export type HeaderList = ReadonlyArray<readonly [name: string, values: readonly string[]]>;

/** The uncompressed name/value block. */
export function encodeHeaderBlock(headers: HeaderList): Buffer {
  const parts: Buffer[] = [words(headers.length)];
  for (const [name, values] of headers) {
    const nameBytes = Buffer.from(name.toLowerCase(), 'utf8');
    const valueBytes = Buffer.from(values.join('\0'), 'utf8');
    parts.push(words(nameBytes.length), nameBytes, words(valueBytes.length), valueBytes);
  }
  return Buffer.concat(parts);
}

/** Parses an uncompressed name/value block; repeated names accumulate their values. */
export function decodeHeaderBlock(block: Buffer): Map<string, string[]> {
  let offset = 0;
  const take = (length: number, what: string): Buffer => {
    if (length > block.length - offset) throw new SpdyProtocolError(`header block truncated in ${what}`);
    const bytes = block.subarray(offset, offset + length);
    offset += length;
    return bytes;
  };
  const count = take(4, 'the pair count').readUInt32BE(0);
  const headers = new Map<string, string[]>();
  for (let index = 0; index < count; index += 1) {
    const name = take(take(4, 'a name length').readUInt32BE(0), 'a name').toString('utf8').toLowerCase();
    const value = take(take(4, 'a value length').readUInt32BE(0), 'a value').toString('utf8');
    headers.set(name, [...(headers.get(name) ?? []), ...value.split('\0')]);
  }
  if (offset !== block.length) throw new SpdyProtocolError(`header block has ${block.length - offset} trailing bytes`);
  return headers;
}
