// `cli.js demo` as a user runs it: a child process that prints `demo ready: KUBECONFIG=<path>`, serves
// kubectl through the whole local stack, and exits cleanly on SIGINT.

import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubectl } from '../helpers/kubectl.js';

const CLI = new URL('../../src/cli.js', import.meta.url);

test('demo prints the kubeconfig, kubectl works through it, SIGINT stops it with exit code 0', async (t) => {
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'demo-')), 'kubeconfig');
  const child = spawn(process.execPath, [CLI.pathname, 'demo', '--kubeconfig', kubeconfig], {
    env: { ...process.env, LOG_LEVEL: 'warn', AGENT_WORKERS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo not ready after 60 s; stderr: ${stderr}`)), 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /^demo ready: KUBECONFIG=(.+)$/m.exec(stdout);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exited.then((code) => reject(new Error(`demo exited with ${code}; stderr: ${stderr}`)));
  });
  t.is(ready, kubeconfig);
  const namespaces = await kubectl(['get', 'ns', '-o', 'name'], { kubeconfig: ready });
  t.is(namespaces.code, 0, namespaces.stderr);
  t.true(namespaces.stdout.includes('namespace/default'));
  const pods = await kubectl(['get', 'pods', '-n', 'default'], { kubeconfig: ready });
  t.regex(pods.stdout, /^demo\s+1\/1\s+Running/m);
  child.kill('SIGINT');
  t.is(await exited, 0);
  t.true(stdout.includes('demo stopped'));
});
