// The registration-facts settings as load-config builds them: CI and SKIP_GEOIP, `off` URLs, the deadline.

import test from 'ava';
import { loadConfig } from '../../../../src/config/load-config.js';

const BASE_ENV = { PIPEOPS_API_URL: 'https://cp.example.test', PIPEOPS_TOKEN: 'tok', PIPEOPS_CLUSTER_NAME: 'edge' };
const noFiles = (path: string): string => {
  throw Object.assign(new Error(path), { code: 'ENOENT' });
};

function registrationOf(env: Record<string, string>) {
  return loadConfig({ env: { ...BASE_ENV, ...env }, argv: [], readFile: noFiles }).config.registration;
}

function problemOf(env: Record<string, string>): string {
  try {
    loadConfig({ env: { ...BASE_ENV, ...env }, argv: [], readFile: noFiles });
  } catch (error) {
    return (error as Error).message.split('\n').slice(1).join('\n');
  }
  return 'no problem';
}

test('CI=true skips GeoIP unless SKIP_GEOIP says otherwise', (t) => {
  t.false(registrationOf({})?.skipGeoip);
  t.true(registrationOf({ CI: 'true' })?.skipGeoip);
  t.true(registrationOf({ SKIP_GEOIP: 'true' })?.skipGeoip);
  t.false(registrationOf({ CI: 'true', SKIP_GEOIP: 'false' })?.skipGeoip);
});

test('lookup URLs: none unless configured; other schemes are refused', (t) => {
  t.like(registrationOf({}), { publicIpUrl: undefined, geoipUrl: undefined });
  t.like(registrationOf({ AGENT_GEOIP_URL: 'http://127.0.0.1:9000/json' }), { geoipUrl: 'http://127.0.0.1:9000/json' });
  t.is(problemOf({ AGENT_GEOIP_URL: 'ftp://geo.example' }), 'registration.geoip_url (AGENT_GEOIP_URL): must be an absolute http or https URL, got "ftp://geo.example"');
});

test('the facts deadline takes durations and stays under the registration deadline', (t) => {
  t.is(registrationOf({ AGENT_REGISTRATION_FACTS_TIMEOUT_MS: '2s' })?.factsTimeoutMs, 2_000);
  t.is(
    problemOf({ AGENT_REGISTRATION_FACTS_TIMEOUT_MS: '31s' }),
    'registration.facts_timeout (AGENT_REGISTRATION_FACTS_TIMEOUT_MS): must be a duration between 1 and 30000 ms, such as 30s, 1m30s or 30000, got "31s"',
  );
});

test('metadata probes stay off unless SKIP_METADATA=false', (t) => {
  t.true(registrationOf({})?.skipMetadata);
  t.false(registrationOf({ SKIP_METADATA: 'false' })?.skipMetadata);
});
