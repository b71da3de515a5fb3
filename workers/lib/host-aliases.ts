// Host aliases resolved before DNS, like /etc/hosts: lets a test point `web.apps.svc.cluster.local` at a
// loopback server without touching the system resolver. Empty in production.

import { lookup as dnsLookup } from 'node:dns';
import type { LookupFunction } from 'node:net';

export function aliasLookup(aliases: Readonly<Record<string, string>>): LookupFunction | undefined {
  if (Object.keys(aliases).length === 0) return undefined;
  const aliased: LookupFunction = (hostname, options, callback) => {
    const address = aliases[hostname];
    if (address === undefined) {
      dnsLookup(hostname, options, callback);
      return;
    }
    const family = address.includes(':') ? 6 : 4;
    if (options.all === true) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
  return aliased;
}
