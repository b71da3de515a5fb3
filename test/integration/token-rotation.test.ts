// PIPEOPS_TOKEN_FILE is read at every dial (CLUSTER.md §2, DESIGN.md §4): a token rotated while the agent
// is connected is the one the next handshake presents, asserted on the control plane side. The second
// case rotates the way the kubelet updates a Secret volume: an atomic swap of the `..data` symlink.

import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startHarness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';

test('a token file rewritten while connected: the reconnect after a dropped socket carries the new token', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'token-rotation-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'token-one\n');
  const { plane, clock } = await startHarness(t, { config: { tokenFile } });
  const first = await plane.nextSocket();
  t.is(first.handshake.headers.authorization, 'Bearer token-one');
  await first.acceptRegistration({ cluster_id: 'c-rot' });
  await first.next('heartbeat');

  writeFileSync(join(dir, 'token.tmp'), 'token-two\n');
  renameSync(join(dir, 'token.tmp'), tokenFile);
  first.close(1001);
  await first.closed;
  await eventually(() => clock.pendingDelays().includes(500), 'reconnect scheduled');
  clock.advance(500);

  const second = await plane.nextSocket();
  t.is(second.handshake.headers.authorization, 'Bearer token-two');
  const heartbeat = await second.next('heartbeat');
  t.is(heartbeat.payload['cluster_id'], 'c-rot');
  t.is(second.messages.all.filter((message) => message.type === 'register').length, 0, 'same session identity, no new register');
});

test('a Secret volume swap (..data symlink) while on the gateway: the gateway redial carries the new token', async (t) => {
  const mount = mkdtempSync(join(tmpdir(), 'token-volume-'));
  const writeVersion = (name: string, token: string) => {
    mkdirSync(join(mount, name));
    writeFileSync(join(mount, name, 'token'), token);
  };
  writeVersion('..2026_01_02_03_04_05.1', 'volume-token-one');
  symlinkSync('..2026_01_02_03_04_05.1', join(mount, '..data'));
  symlinkSync(join('..data', 'token'), join(mount, 'token'));
  const { plane, clock } = await startHarness(t, { config: { tokenFile: join(mount, 'token') } });
  const controller = await plane.nextSocket();
  t.is(controller.handshake.headers.authorization, 'Bearer volume-token-one');
  await controller.acceptRegistration({ cluster_id: 'c-gw', gateway_ws_url: `${plane.url.replace('http', 'ws')}/ws` });
  const gateway = await plane.nextSocket();
  t.is(gateway.handshake.path, '/ws');
  t.is(gateway.handshake.headers.authorization, 'Bearer volume-token-one');
  await gateway.next('heartbeat');

  writeVersion('..2026_01_02_04_00_00.2', 'volume-token-two');
  symlinkSync('..2026_01_02_04_00_00.2', join(mount, '..data_tmp'));
  renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
  gateway.close(1001);
  await gateway.closed;
  await eventually(() => clock.pendingDelays().includes(500), 'reconnect scheduled');
  clock.advance(500);

  const again = await plane.nextSocket();
  t.is(again.handshake.path, '/ws');
  t.is(again.handshake.headers.authorization, 'Bearer volume-token-two');
  await again.next('heartbeat');
});
