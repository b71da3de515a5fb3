// The GeoIP fallback (CLUSTER.md §5 signal 3): one configured service asked about the caller, whose
// country code stands in for `region` when neither ip-intel nor the nodes gave one. Understands the
// answer shapes of the common free services (ipapi.co, ip-api.com, ipinfo.io).

import { fetchJson, isRecord, textField } from './lookup-http.js';

export interface GeoIp {
  /** Upper-case ISO country code. */
  readonly countryCode: string;
}

const COUNTRY_CODE = /^[A-Za-z]{2}$/;

export function parseGeoIp(body: unknown): GeoIp | undefined {
  if (!isRecord(body)) return undefined;
  // ip-api.com reports failures in-band.
  if (textField(body, 'status') === 'fail' || body['error'] === true) return undefined;
  for (const key of ['country_code', 'countryCode', 'country']) {
    const value = textField(body, key);
    if (value !== undefined && COUNTRY_CODE.test(value)) return { countryCode: value.toUpperCase() };
  }
  return undefined;
}

export async function lookupGeoIp(url: string, signal: AbortSignal): Promise<GeoIp | undefined> {
  return parseGeoIp(await fetchJson({ url, signal }));
}
