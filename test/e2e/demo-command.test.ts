// `cli.js demo` as a user runs it: a child process that prints `demo ready: KUBECONFIG=<path>` and the
// agent's metrics URL, listens on loopback only, serves kubectl through the whole local stack, and exits
// cleanly on SIGINT.

import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { kubectl } from '../helpers/kubectl.js';

const CLI = new URL('../../src/cli.js', import.meta.url);

/** The local addresses (`ip:port`) of the TCP sockets process `pid` listens on (Linux /proc). */
async function listeningAddresses(pid: number): Promise<string[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match?.[1] !== undefined) inodes.add(match[1]);
  }
  const addresses: string[] = [];
  for (const table of ['tcp', 'tcp6']) {
    const text = await readFile(`/proc/${pid}/net/${table}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [, local = '', , state = '', , , , , , inode = ''] = fields;
      if (state !== '0A' || !inodes.has(inode)) continue;
      const [hexIp = '', hexPort = ''] = local.split(':');
      const port = Number.parseInt(hexPort, 16);
      // IPv4 is little-endian hex; an IPv6 listener is reported by its raw hex form
      const ip = hexIp.length === 8 ? [3, 2, 1, 0].map((i) => Number.parseInt(hexIp.slice(i * 2, i * 2 + 2), 16)).join('.') : hexIp;
      addresses.push(`${ip}:${port}`);
    }
  }
  return addresses;
}

test('demo prints the kubeconfig, kubectl works through it, SIGINT stops it with exit code 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'demo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'kubeconfig');
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
  // the agent's metrics are where the demo says, and every listener of the demo is on loopback
  const metricsUrl = /^agent metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)$/m.exec(stdout)?.[1];
  t.truthy(metricsUrl, stdout);
  const metrics = await fetch(metricsUrl ?? '');
  t.is(metrics.status, 200);
  t.regex(await metrics.text(), /^# HELP pipeops_agent_/m);
  // Host-routed HTTP reaches the demo's stand-in ingress controller through the control plane and the agent.
  const hostRouting = /^host routing: {2}curl -H 'Host: ([^']+)' (http:\/\/127\.0\.0\.1:\d+\/apps\/demo\/)$/m.exec(stdout);
  t.truthy(hostRouting, stdout);
  const routed = await new Promise<string>((resolve, reject) => {
    const request = httpRequest(hostRouting?.[2] ?? '', { headers: { Host: hostRouting?.[1] ?? '' } }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve(`${response.statusCode ?? 0} ${body}`));
    });
    request.on('error', reject);
    request.end();
  });
  t.is(routed, '200 {"served_by":"stand-in-ingress","host":"shop.demo.local","method":"GET","path":"/"}');
  // the demo's tunnels: a TCP line-echo and a UDP echo in the cluster, through the gateway's yamux streams
  const tcpPort = Number(/^tcp tunnel: {4}nc 127\.0\.0\.1 (\d+) /m.exec(stdout)?.[1]);
  const udpPort = Number(/^udp tunnel: {4}nc -u 127\.0\.0\.1 (\d+) /m.exec(stdout)?.[1]);
  t.true(tcpPort > 0 && udpPort > 0, stdout);
  const echoed = await new Promise<string>((resolve, reject) => {
    const socket = connect(tcpPort, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.end('hello\nworld\n');
  });
  t.is(echoed, 'echo: hello\necho: world\n');
  const datagram = await new Promise<string>((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => reject(new Error('no UDP echo within 10 s')), 10_000);
    socket.on('message', (message) => {
      clearTimeout(timer);
      socket.close();
      resolve(message.toString());
    });
    socket.send('ping', udpPort, '127.0.0.1');
  });
  t.is(datagram, 'ping');
  const listeners = await listeningAddresses(child.pid ?? 0);
  t.true(listeners.length >= 3, `the sandbox, the control plane and the agent listen: ${listeners.join(' ')}`);
  t.deepEqual(listeners.filter((address) => !address.startsWith('127.0.0.1:')), [], 'no listener outside loopback');
  child.kill('SIGINT');
  t.is(await exited, 0);
  t.true(stdout.includes('demo stopped'));
});

test('with TUNNEL_ENABLED=false the demo starts without waiting for tunnels and says they are off', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'demo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [CLI.pathname, 'demo', '--kubeconfig', join(dir, 'kubeconfig')], {
    env: { ...process.env, LOG_LEVEL: 'warn', AGENT_WORKERS: '0', TUNNEL_ENABLED: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let stdout = '';
  await new Promise<void>((resolve, reject) => {
    // well inside the 30 s the demo would wait for tunnel listeners that never come
    const timer = setTimeout(() => reject(new Error(`demo not ready after 25 s: ${stdout}`)), 25_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('demo ready:')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => reject(new Error(`demo exited with ${code}`)));
  });
  t.regex(stdout, /^tunnels: {7}off \(TUNNEL_ENABLED=false\)$/m);
  t.notRegex(stdout, /^tcp tunnel:/m);
  child.kill('SIGINT');
  t.is(await exited, 0);
});
