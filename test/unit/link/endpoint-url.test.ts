import test from 'ava';
import { controllerUrl, gatewayUrl, isUsableEndpointUrl, loggableUrl } from '../../../src/link/endpoint-url.js';

test('C1: controller URL maps the scheme, replaces the path and keeps the query', (t) => {
  t.is(controllerUrl('https://api.example.net/some/base'), 'wss://api.example.net/api/v1/clusters/agent/ws');
  t.is(controllerUrl('wss://api.example.net'), 'wss://api.example.net/api/v1/clusters/agent/ws');
  t.is(controllerUrl('http://127.0.0.1:8080/x?region=eu&a=1'), 'ws://127.0.0.1:8080/api/v1/clusters/agent/ws?region=eu&a=1');
  t.is(controllerUrl('ws://h:1/'), 'ws://h:1/api/v1/clusters/agent/ws');
  t.throws(() => controllerUrl('ftp://h/'), { message: 'unsupported URL scheme "ftp:" (use http, https, ws or wss)' });
});

test('C3 C4: gateway URL keeps its path (empty → /ws), sets our keys and sorts the whole query', (t) => {
  const query = { agentVersion: '0.3.0', clusterUuid: '6b1f' };
  t.is(
    gatewayUrl('wss://gw.example.net', query),
    'wss://gw.example.net/ws?agent_version=0.3.0&cluster_uuid=6b1f&supports_binary=true&supports_response_streaming=true&supports_streaming=true&supports_websocket=true',
  );
  t.is(
    gatewayUrl('https://gw.example.net/tunnel?z=1&supports_binary=no&b=2', query),
    'wss://gw.example.net/tunnel?agent_version=0.3.0&b=2&cluster_uuid=6b1f&supports_binary=true&supports_response_streaming=true&supports_streaming=true&supports_websocket=true&z=1',
  );
  t.false(gatewayUrl('ws://g/', query).includes('supports_yamux'));
  t.false(gatewayUrl('ws://g/?supports_yamux=true', query).includes('supports_yamux'), 'a foreign supports_yamux is removed when the tunnel is off');
  t.is(
    gatewayUrl('wss://gw.example.net', { ...query, supportsYamux: true }),
    'wss://gw.example.net/ws?agent_version=0.3.0&cluster_uuid=6b1f&supports_binary=true&supports_response_streaming=true&supports_streaming=true&supports_websocket=true&supports_yamux=true',
  );
  t.false(gatewayUrl('ws://g/', query).includes('token'));
});

test('C94: only absolute ws, wss, http and https URLs with a host are usable; logged URLs lose query and fragment', (t) => {
  for (const usable of ['wss://gw.example.net/ws', 'ws://127.0.0.1:9/x?y=1', 'https://gw', 'http://gw:80/']) t.true(isUsableEndpointUrl(usable), usable);
  for (const invalid of ['gw.example.net/ws', '::::', '', 'ftp://gw/', 'wss://', 'file:///etc/passwd', 'ws://gw:99999/']) {
    t.false(isUsableEndpointUrl(invalid), invalid);
  }
  t.is(loggableUrl('gw.example.net/ws?token=abc#frag'), 'gw.example.net/ws');
  t.is(loggableUrl('x#a?b'), 'x');
  t.is(loggableUrl('y'.repeat(500)).length, 200);
});
