// The tunnel stream header (PROTOCOL.md §15.4): the first bytes of every stream the gateway opens, naming
// the in-cluster target. Pure bytes in, bytes out; shared by the agent (parse) and the local gateway (encode).
//
//   +------------+-------------+------------------+-----------------------------------------------+
//   | version u8 | protocol u8 | service_port u16 | name, namespace, tunnel_id: u16 length + UTF-8 |
//   +------------+-------------+------------------+-----------------------------------------------+

export const TUNNEL_HEADER_VERSION = 1;

export const TunnelProtocol = { tcp: 'tcp', udp: 'udp' } as const;
export type TunnelProtocol = (typeof TunnelProtocol)[keyof typeof TunnelProtocol];

const PROTOCOL_CODE: Readonly<Record<TunnelProtocol, number>> = { tcp: 1, udp: 2 };

export interface TunnelHeader {
  readonly protocol: TunnelProtocol;
  readonly servicePort: number;
  readonly serviceName: string;
  readonly serviceNamespace: string;
  readonly tunnelId: string;
}

/** Fixed part (version, protocol, port) plus three length prefixes. */
const MIN_HEADER_BYTES = 4 + 3 * 2;
/** Three strings of at most 65 535 bytes each: the longest header there can be. */
export const MAX_TUNNEL_HEADER_BYTES = 4 + 3 * (2 + 0xffff);

export const HeaderProblem = { truncated: 'truncated', version: 'unknown_version', protocol: 'unknown_protocol', utf8: 'invalid_utf8' } as const;
export type HeaderProblem = (typeof HeaderProblem)[keyof typeof HeaderProblem];

export type HeaderParse =
  | { readonly kind: 'header'; readonly header: TunnelHeader; readonly headerBytes: number }
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly problem: HeaderProblem };

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses a header at the start of `bytes`. `incomplete` means more bytes are needed; a stream that ends while
 * the header is incomplete has a truncated header. Unknown version or protocol is known after 2 bytes.
 */
export function parseTunnelHeader(bytes: Uint8Array): HeaderParse {
  if (bytes.length >= 1 && bytes[0] !== TUNNEL_HEADER_VERSION) return { kind: 'invalid', problem: HeaderProblem.version };
  if (bytes.length >= 2 && bytes[1] !== 1 && bytes[1] !== 2) return { kind: 'invalid', problem: HeaderProblem.protocol };
  if (bytes.length < MIN_HEADER_BYTES) return { kind: 'incomplete' };
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const servicePort = view.readUInt16BE(2);
  const strings: string[] = [];
  let offset = 4;
  for (let index = 0; index < 3; index++) {
    if (view.length < offset + 2) return { kind: 'incomplete' };
    const length = view.readUInt16BE(offset);
    offset += 2;
    if (view.length < offset + length) return { kind: 'incomplete' };
    try {
      strings.push(UTF8.decode(view.subarray(offset, offset + length)));
    } catch {
      return { kind: 'invalid', problem: HeaderProblem.utf8 };
    }
    offset += length;
  }
  const [serviceName, serviceNamespace, tunnelId] = strings as [string, string, string];
  const protocol = bytes[1] === 1 ? TunnelProtocol.tcp : TunnelProtocol.udp;
  return { kind: 'header', header: { protocol, servicePort, serviceName, serviceNamespace, tunnelId }, headerBytes: offset };
}

export function encodeTunnelHeader(header: TunnelHeader): Buffer {
  const parts = [header.serviceName, header.serviceNamespace, header.tunnelId].map((text) => Buffer.from(text, 'utf8'));
  for (const part of parts) if (part.length > 0xffff) throw new RangeError(`tunnel header string longer than 65535 bytes (${part.length})`);
  const fixed = Buffer.alloc(4);
  fixed[0] = TUNNEL_HEADER_VERSION;
  fixed[1] = PROTOCOL_CODE[header.protocol];
  fixed.writeUInt16BE(header.servicePort, 2);
  const pieces: Buffer[] = [fixed];
  for (const part of parts) {
    const length = Buffer.alloc(2);
    length.writeUInt16BE(part.length, 0);
    pieces.push(length, part);
  }
  return Buffer.concat(pieces);
}
