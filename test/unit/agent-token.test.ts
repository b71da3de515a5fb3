// The agent token provider the link and the gateway route calls share: the token file is read at every call
// (a mounted token rotates), trimmed; without one, the configured token.

import test from 'ava';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentTokenProvider } from '../../src/agent.js';
import { testConfig } from '../helpers/agent-config.js';

test('with a token file, each call reads the file again, so a rotated token is used from the next call on', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-token-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'token-one\n');
  const token = agentTokenProvider(testConfig({ apiUrl: 'http://127.0.0.1:1', token: '', tokenFile }));
  t.is(token(), 'token-one');
  writeFileSync(join(dir, 'token.tmp'), '  token-two\n');
  renameSync(join(dir, 'token.tmp'), tokenFile);
  t.is(token(), 'token-two');
});

test('without a token file, the configured token', (t) => {
  const token = agentTokenProvider(testConfig({ apiUrl: 'http://127.0.0.1:1', token: 'configured-token' }));
  t.is(token(), 'configured-token');
});
