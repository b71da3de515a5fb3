// The HTTP lookups' pure parts (PROTOCOL.md §17.1 mapping, GeoIP and echo answers, public-address rule)
// and the combining rule of region/detection.ts, case by case.

import test from 'ava';
import { ipIntelUrl, normaliseCloudProvider, parseIpIntel } from '../../../../src/cluster/region/ip-intel.js';
import { parseGeoIp } from '../../../../src/cluster/region/geoip.js';
import { isPublicIp, parsePublicIp } from '../../../../src/cluster/region/public-ip.js';
import { combineSignals } from '../../../../src/cluster/region/detection.js';
import { NO_HINTS } from '../../../../src/cluster/region/node-hints.js';

test('ip-intel URL: trailing slash removed, path kept, ws→http, wss→https, IPv6 unescaped', (t) => {
  t.is(ipIntelUrl('https://api.pipeops.sh/', '197.253.58.228'), 'https://api.pipeops.sh/api/v1/public/ip-intel/197.253.58.228');
  t.is(ipIntelUrl('ws://localhost:8080', '10.0.0.1'), 'http://localhost:8080/api/v1/public/ip-intel/10.0.0.1');
  t.is(ipIntelUrl('wss://example.com/control/', '2001:db8::1'), 'https://example.com/control/api/v1/public/ip-intel/2001:db8::1');
});

test('ip-intel mapping: wrapped answer, every metadata key of §17.1', (t) => {
  const intel = parseIpIntel({
    success: true,
    data: {
      ip: '197.253.58.228',
      country_code: 'ng',
      country: 'Nigeria',
      region: 'Lagos',
      city: 'Lagos',
      asn: 'AS37148',
      org: 'Globacom',
      isp: 'Globacom',
      cloud_provider: 'on-premise',
      detection_method: 'asn',
    },
  });
  t.deepEqual(intel, {
    countryCode: 'NG',
    cloudProvider: 'bare-metal',
    metadata: {
      country_code: 'NG',
      region_name: 'Lagos',
      country_name: 'Nigeria',
      network_org: 'Globacom',
      network_asn: 'AS37148',
      ip_intel_method: 'asn',
    },
  });
});

test('ip-intel mapping: bare answer; an uninformative provider keeps the local value; empty data is no answer', (t) => {
  t.deepEqual(parseIpIntel({ country_code: 'DE', cloud_provider: 'unknown' }), {
    countryCode: 'DE',
    cloudProvider: undefined,
    metadata: { country_code: 'DE' },
  });
  t.is(parseIpIntel({ success: true, data: {} }), undefined);
  t.is(parseIpIntel({ success: false, data: { country_code: 'DE' } }), undefined);
  t.is(parseIpIntel('nope'), undefined);
});

test('cloud provider normalisation', (t) => {
  const cases: Record<string, string | undefined> = {
    onpremise: 'bare-metal',
    'on-premise': 'bare-metal',
    'on-premises': 'bare-metal',
    baremetal: 'bare-metal',
    '  Azure  ': 'azure',
    GOOGLE_CLOUD: 'google-cloud',
    unknown: undefined,
    agent: undefined,
    '': undefined,
  };
  for (const [input, expected] of Object.entries(cases)) t.is(normaliseCloudProvider(input), expected, input);
});

test('GeoIP answers of ipapi.co, ip-api.com and ipinfo.io; in-band failures', (t) => {
  t.deepEqual(parseGeoIp({ ip: '198.51.100.7', country_code: 'gh', country_name: 'Ghana' }), { countryCode: 'GH' });
  t.deepEqual(parseGeoIp({ status: 'success', countryCode: 'KE' }), { countryCode: 'KE' });
  t.deepEqual(parseGeoIp({ ip: '198.51.100.7', country: 'ZA' }), { countryCode: 'ZA' });
  t.is(parseGeoIp({ status: 'fail', message: 'reserved range' }), undefined);
  t.is(parseGeoIp({ error: true, reason: 'RateLimited' }), undefined);
  t.is(parseGeoIp({ country: 'South Africa' }), undefined);
});

test('public IP: echo answers as text or JSON; only routable addresses are public', (t) => {
  t.is(parsePublicIp('198.51.100.23\n'), '198.51.100.23');
  t.is(parsePublicIp('{"ip":"2001:db8::5"}'), '2001:db8::5');
  t.is(parsePublicIp('<html>captive portal</html>'), undefined);
  for (const ip of ['10.1.2.3', '172.20.0.1', '192.168.1.1', '127.0.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fd00::1', 'fe80::1']) {
    t.false(isPublicIp(ip), ip);
  }
  for (const ip of ['198.51.100.23', '8.8.8.8', '2606:4700::1111']) t.true(isPublicIp(ip), ip);
});

const NOTHING = { nodes: NO_HINTS, metadata: undefined, publicIp: undefined, ipIntel: undefined, geoIp: undefined };

test('combining: defaults, then each signal in its rank', (t) => {
  t.deepEqual(combineSignals(NOTHING, '10.0.0.5'), { serverIp: '10.0.0.5', region: 'unknown-country', cloudProvider: 'agent', metadata: {} });
  const geo = { countryCode: 'GH' };
  t.is(combineSignals({ ...NOTHING, geoIp: geo }, '').region, 'GH');
  const aws = { cloudProvider: 'aws', region: 'eu-west-1', isLocalHint: false };
  t.deepEqual(combineSignals({ ...NOTHING, nodes: aws, geoIp: geo }, ''), { serverIp: '', region: 'eu-west-1', cloudProvider: 'aws', metadata: {} });
  const intel = { countryCode: 'IE', cloudProvider: 'hetzner', metadata: { country_code: 'IE' } };
  // ip-intel's country code is the region (PROTOCOL.md §5.1); the node's providerID stays the provider.
  t.deepEqual(combineSignals({ ...NOTHING, nodes: aws, ipIntel: intel, publicIp: '198.51.100.1' }, ''), {
    serverIp: '198.51.100.1',
    region: 'IE',
    cloudProvider: 'aws',
    metadata: { country_code: 'IE' },
  });
  const kind = { cloudProvider: 'on-premises', region: 'local-dev', isLocalHint: true };
  t.deepEqual(combineSignals({ ...NOTHING, nodes: kind }, ''), { serverIp: '', region: 'local-dev', cloudProvider: 'on-premises', metadata: {} });
  // ip-intel outranks a distribution's guess for the provider too.
  t.is(combineSignals({ ...NOTHING, nodes: kind, ipIntel: { ...intel, cloudProvider: 'bare-metal' } }, '').cloudProvider, 'bare-metal');
  t.is(combineSignals({ ...NOTHING, nodes: kind, ipIntel: { ...intel, cloudProvider: undefined } }, '').cloudProvider, 'on-premises');
  const metadata = { cloudProvider: 'gcp', region: 'us-central1' };
  t.deepEqual(combineSignals({ ...NOTHING, nodes: kind, metadata }, ''), { serverIp: '', region: 'us-central1', cloudProvider: 'gcp', metadata: {} });
});
