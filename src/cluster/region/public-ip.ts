// The `server_ip` of `register` (PROTOCOL.md §5.1): the public IP from an echo service when one is
// configured and answers, else the primary interface IP, else 0.0.0.0. Also says which addresses are
// worth asking ip-intel about: a private address tells it nothing.

import { BlockList, isIP } from 'node:net';
import os from 'node:os';
import { fetchText, isRecord, textField } from './lookup-http.js';

export const UNKNOWN_SERVER_IP = '0.0.0.0';

const NOT_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const) {
  NOT_PUBLIC.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link local
] as const) {
  NOT_PUBLIC.addSubnet(network, prefix, 'ipv6');
}

/** True for an address the internet could route to this host (private, loopback and link-local are not). */
export function isPublicIp(ip: string): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  return !NOT_PUBLIC.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/** The first non-internal IPv4 address of the host, else 0.0.0.0. */
export function primaryInterfaceIp(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return UNKNOWN_SERVER_IP;
}

/** An echo service's answer: the bare address as text, or JSON `{"ip": …}`. */
export function parsePublicIp(text: string): string | undefined {
  const trimmed = text.trim();
  if (isIP(trimmed) !== 0) return trimmed;
  try {
    const json: unknown = JSON.parse(trimmed);
    const ip = isRecord(json) ? textField(json, 'ip') : undefined;
    return ip !== undefined && isIP(ip) !== 0 ? ip : undefined;
  } catch {
    return undefined;
  }
}

export async function fetchPublicIp(url: string, signal: AbortSignal): Promise<string | undefined> {
  return parsePublicIp(await fetchText({ url, signal }));
}
