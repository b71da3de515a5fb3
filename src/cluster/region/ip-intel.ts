// The control plane's IP intelligence (PROTOCOL.md §17.1, CLUSTER.md §5 signal 2):
// `GET <base>/api/v1/public/ip-intel/<ip>`, no authentication, 4 s, failures ignored; and the mapping of
// its answer into `register` (`region`, `cloud_provider`, `metadata`).

import { fetchJson, isRecord, textField } from './lookup-http.js';

export const IP_INTEL_TIMEOUT_MS = 4_000;
const IP_INTEL_PATH = '/api/v1/public/ip-intel/';

const HTTP_SCHEME: Readonly<Record<string, string>> = { 'ws:': 'http:', 'wss:': 'https:', 'http:': 'http:', 'https:': 'https:' };

/** Base = API URL without its trailing `/`, path kept, ws→http and wss→https; the IP goes in unescaped (IPv6 too). */
export function ipIntelUrl(apiUrl: string, ip: string): string {
  const url = new URL(apiUrl);
  const scheme = HTTP_SCHEME[url.protocol];
  if (scheme === undefined) throw new TypeError(`unsupported URL scheme "${url.protocol}"`);
  const base = `${scheme}//${url.host}${url.pathname}`.replace(/\/+$/, '');
  return `${base}${IP_INTEL_PATH}${ip}`;
}

/** What ip-intel adds to `register`; every field optional, metadata keys only when supplied. */
export interface IpIntel {
  /** Upper-case ISO country code: the `region` of `register`. */
  readonly countryCode: string | undefined;
  /** Normalised, and undefined when the answer says nothing useful (the local value is kept then). */
  readonly cloudProvider: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
}

const BARE_METAL_NAMES: readonly string[] = ['onpremise', 'on-premise', 'on-premises', 'onpremises', 'baremetal', 'bare-metal'];
const UNINFORMATIVE: readonly string[] = ['', 'unknown', 'agent'];

/** `on-premise` and friends → `bare-metal`; `unknown`, `agent` or empty → undefined; else lower-case, `_` → `-`. */
export function normaliseCloudProvider(raw: string | undefined): string | undefined {
  const name = (raw ?? '').trim().toLowerCase().replace(/[_\s]+/g, '-');
  if (UNINFORMATIVE.includes(name)) return undefined;
  return BARE_METAL_NAMES.includes(name) ? 'bare-metal' : name;
}

/** `{"success":true,"data":{…}}` or the bare data object; undefined when nothing usable is in it. */
export function parseIpIntel(body: unknown): IpIntel | undefined {
  if (!isRecord(body)) return undefined;
  if (body['success'] === false) return undefined;
  const data = isRecord(body['data']) ? body['data'] : body;
  const countryCode = textField(data, 'country_code')?.toUpperCase();
  const metadata: Record<string, string> = {};
  const put = (key: string, value: string | undefined) => {
    if (value !== undefined) metadata[key] = value;
  };
  put('country_code', countryCode);
  put('region_name', textField(data, 'region'));
  put('country_name', textField(data, 'country'));
  put('network_org', textField(data, 'org'));
  put('network_asn', textField(data, 'asn'));
  put('ip_intel_method', textField(data, 'detection_method'));
  const cloudProvider = normaliseCloudProvider(textField(data, 'cloud_provider'));
  if (countryCode === undefined && cloudProvider === undefined && Object.keys(metadata).length === 0) return undefined;
  return { countryCode, cloudProvider, metadata };
}

export async function lookupIpIntel(apiUrl: string, ip: string, signal: AbortSignal): Promise<IpIntel | undefined> {
  return parseIpIntel(await fetchJson({ url: ipIntelUrl(apiUrl, ip), signal }));
}
