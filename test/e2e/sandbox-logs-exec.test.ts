// The real kubectl against the sandbox API for pod logs, exec, cp and attach: it must not be able to
// tell the sandbox from a real apiserver. Each test runs its own sandbox on port 0; every sandbox is
// closed in teardown and leaves no session, child process or pod directory behind.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { startSandboxApi, type SandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import { KUBECTL, kubectl, type KubectlResult } from '../helpers/kubectl.js';

interface Sandbox {
  readonly api: SandboxApi;
  /** closes the sandbox and checks that nothing outlives it */
  closeAndCheck(t: ExecutionContext): Promise<void>;
  readonly dir: string;
  readonly env: Record<string, string>;
  run(args: readonly string[], input?: string | Buffer, env?: Record<string, string>): Promise<KubectlResult>;
}

/** Processes whose working directory is inside `dir` (Linux /proc): exec children left behind. */
async function processesIn(dir: string): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  const found: number[] = [];
  for (const pid of pids) {
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
    if (cwd === dir || cwd.startsWith(`${dir}/`)) found.push(Number(pid));
  }
  return found;
}

async function sandbox(t: ExecutionContext): Promise<Sandbox> {
  const api = await startSandboxApi({ port: 0 });
  const dir = await mkdtemp(join(tmpdir(), 'sandbox-logs-exec-'));
  const kubeconfig = join(dir, 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
  t.teardown(async () => {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });
  const env = { HOME: dir, KUBECONFIG: kubeconfig, PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
  const run = (args: readonly string[], input?: string | Buffer, extra?: Record<string, string>): Promise<KubectlResult> =>
    kubectl(args, { kubeconfig, env: { HOME: dir, ...extra }, ...(input === undefined ? {} : { input }) });
  const closeAndCheck = async (tc: ExecutionContext): Promise<void> => {
    const podDir = await api.pods.sandboxDir('default', 'demo').catch(() => undefined);
    await api.close();
    tc.is(api.activeStreamSessions(), 0, 'no session outlives close()');
    if (podDir === undefined) return;
    tc.false(existsSync(podDir), 'the pod directory is removed');
    tc.deepEqual(await processesIn(podDir), [], 'no exec child outlives close()');
  };
  return { api, dir, env, run, closeAndCheck };
}

/** A kubectl that keeps running (logs -f, attach) until the test stops it by its own pid. */
interface Running {
  readonly child: ChildProcessWithoutNullStreams;
  /** the exit code once kubectl has exited */
  readonly exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function startKubectl(t: ExecutionContext, box: Sandbox, args: readonly string[]): Running {
  const child = spawn(KUBECTL, [...args], { env: box.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code: number | null) => resolve(code)));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  t.teardown(stop);
  return {
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    stop,
    async waitFor(pattern, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(pattern)}; stdout=${JSON.stringify(out)} stderr=${JSON.stringify(err)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await delay(20);
}

test('logs prints the demo ticks; --tail and --timestamps select and stamp lines', async (t) => {
  const box = await sandbox(t);
  await delay(2200);
  const all = await box.run(['logs', 'demo']);
  t.is(all.code, 0);
  t.is(all.stderr, '');
  const lines = all.stdout.trimEnd().split('\n');
  t.true(lines.length >= 3);
  t.deepEqual(lines.slice(0, 2), ['1 demo tick', '2 demo tick']);
  for (const line of lines) t.regex(line, /^\d+ demo tick$/);

  const tail = await box.run(['logs', 'demo', '--tail=2']);
  t.is(tail.stdout.trimEnd().split('\n').length, 2);
  const stamped = await box.run(['logs', 'demo', '--tail=1', '--timestamps']);
  t.regex(stamped.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z \d+ demo tick\n$/);
  const limited = await box.run(['logs', 'demo', '--limit-bytes=4']);
  t.is(limited.stdout, '1 de');
  const missing = await box.run(['logs', 'nope']);
  t.is(missing.code, 1);
  t.is(missing.stderr, 'error: error from server (NotFound): pods "nope" not found in namespace "default"\n');
  await box.closeAndCheck(t);
});

test('logs -f streams new lines about once a second and ends when the pod is deleted', async (t) => {
  const box = await sandbox(t);
  const follow = startKubectl(t, box, ['logs', '-f', '--tail=0', '--timestamps', 'demo']);
  await follow.waitFor(/demo tick\n/);
  const linesAtFirstSight = follow.stdout().trimEnd().split('\n').length;
  await follow.waitFor(/(demo tick\n[^]*){3}/);
  // arrival times on a loaded machine say little; the server's stamps say when the lines were written
  t.true(linesAtFirstSight < 3, 'lines arrive as they are written, not in one batch');
  const lines = follow.stdout().trimEnd().split('\n').slice(0, 3);
  for (const line of lines) t.regex(line, /^\S+Z \d+ demo tick$/);
  const stamps = lines.map((line) => Date.parse(line.split(' ')[0] ?? ''));
  const gaps = stamps.slice(1).map((at, index) => at - (stamps[index] ?? at));
  for (const gap of gaps) t.true(gap > 500 && gap < 2000, `lines are written about every second (gap ${gap} ms)`);
  t.is(box.api.activeStreamSessions(), 1);
  t.is((await box.run(['delete', 'pod', 'demo', '--wait=false'])).code, 0);
  t.is(await follow.exited, 0, 'the follow ends cleanly with the pod');
  await box.closeAndCheck(t);
});

test('logs of a two-container pod: kubectl defaults to the first, -c picks one', async (t) => {
  const box = await sandbox(t);
  box.api.store.put({ group: '', version: 'v1', resource: 'pods' }, {
    metadata: { name: 'pair', namespace: 'default' },
    spec: { nodeName: 'sandbox-node-1', containers: [{ name: 'app', image: 'a' }, { name: 'sidecar', image: 'b' }] },
    status: { phase: 'Running' },
  });
  box.api.pods.log('default', 'pair', 'app').append('from app');
  box.api.pods.log('default', 'pair', 'sidecar').append('from sidecar');
  const sidecar = await box.run(['logs', 'pair', '-c', 'sidecar']);
  t.is(sidecar.stdout, 'from sidecar\n');
  const defaulted = await box.run(['logs', 'pair']);
  t.is(defaulted.stdout, 'from app\n');
  const wrong = await box.run(['logs', 'pair', '-c', 'nope']);
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /container nope is not valid for pod pair/);
  await box.closeAndCheck(t);
});

test('exec -i: stdin reaches cat and its EOF ends it (v5 close of stdin)', async (t) => {
  const box = await sandbox(t);
  const result = await box.run(['exec', '-i', 'demo', '--', 'cat'], 'hello\n');
  t.is(result.stdout, 'hello\n');
  t.is(result.stderr, '');
  t.is(result.code, 0);
  await box.closeAndCheck(t);
});

test('exec: stdout and stderr stay apart and the exit code comes through', async (t) => {
  const box = await sandbox(t);
  const result = await box.run(['exec', 'demo', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  t.is(result.stdout, 'out\n');
  t.is(result.stderr, 'err\ncommand terminated with exit code 3\n');
  t.is(result.code, 3);
  await box.closeAndCheck(t);
});

test('exec -t without a terminal runs without a tty; with a terminal output gets CRLF', async (t) => {
  const box = await sandbox(t);
  const plain = await box.run(['exec', '-t', 'demo', '--', 'echo', 'hi']);
  t.is(plain.stdout, 'hi\n');
  t.is(plain.code, 0);
  if (!existsSync('/usr/bin/script')) {
    t.log('util-linux script(1) is missing: tty case skipped');
    return box.closeAndCheck(t);
  }
  // script(1) gives kubectl a pseudo-terminal, so it asks for tty=true and sends resize messages
  const command = `${KUBECTL} exec -it demo -- sh -c 'echo hi; echo err >&2; exit 4'`;
  const child = spawn('/usr/bin/script', ['-qec', command, '/dev/null'], { env: { ...box.env, TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  // stdin stays open until the end: an EOF would reach the pod's terminal as input, and its echo (^@)
  // could land between the command's lines, as it would on a real cluster
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  child.stdin.end();
  t.regex(out, /hi\r\nerr\r\n/);
  t.regex(out, /command terminated with exit code 4/);
  t.is(code, 4);
  await box.closeAndCheck(t);
});

test('exec of a missing program or into a missing pod fails like a real cluster', async (t) => {
  const box = await sandbox(t);
  const missing = await box.run(['exec', 'demo', '--', 'no-such-program']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /^error: Internal error occurred: Internal error occurred: error executing command in container: .*exec: "no-such-program": executable file not found in \$PATH: unknown\n$/);
  const noPod = await box.run(['exec', 'nope', '--', 'true']);
  t.is(noPod.code, 1);
  t.regex(noPod.stderr, /pods "nope" not found/);
  await box.closeAndCheck(t);
});

test('exec over SPDY (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false) gets a clear 400', async (t) => {
  const box = await sandbox(t);
  const result = await box.run(['exec', 'demo', '--', 'echo', 'hi'], undefined, { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' });
  t.is(result.code, 1);
  t.is(result.stdout, '');
  t.is(
    result.stderr,
    'Error from server (BadRequest): the sandbox API serves exec and attach over WebSocket only (v5.channel.k8s.io or v4.channel.k8s.io); SPDY/3.1 upgrades are not supported\n',
  );
  await box.closeAndCheck(t);
});

test('cp of a 5 MB file into the pod and back is byte-identical', async (t) => {
  const box = await sandbox(t);
  const original = randomBytes(5 * 1024 * 1024);
  const source = join(box.dir, 'big.bin');
  await writeFile(source, original);
  const into = await box.run(['cp', source, 'default/demo:/tmp/big.bin']);
  t.is(into.code, 0, into.stderr);
  const podDir = await box.api.pods.sandboxDir('default', 'demo');
  t.is((await stat(join(podDir, 'tmp', 'big.bin'))).size, original.length);
  const listing = await box.run(['exec', 'demo', '--', 'ls', '/tmp']);
  t.is(listing.stdout, 'big.bin\n');
  const back = join(box.dir, 'back.bin');
  const out = await box.run(['cp', 'default/demo:/tmp/big.bin', back]);
  t.is(out.code, 0, out.stderr);
  t.true(original.equals(await readFile(back)));
  await box.closeAndCheck(t);
});

test('attach shows the demo pod ticking; attach -i echoes stdin into the log', async (t) => {
  const box = await sandbox(t);
  await delay(1500);
  const log = box.api.pods.log('default', 'demo', 'demo');
  const lastBefore = Number.parseInt(log.lines().at(-1)?.text ?? '0', 10);
  const attach = startKubectl(t, box, ['attach', 'demo']);
  await attach.waitFor(/\d+ demo tick\n\d+ demo tick\n/);
  const counters = attach.stdout().trimEnd().split('\n').map((line) => Number.parseInt(line, 10));
  t.true(counters.every((counter) => counter > lastBefore), 'attach shows new output, not history');
  await attach.stop();

  const interactive = startKubectl(t, box, ['attach', '-i', 'demo']);
  await delay(500);
  interactive.child.stdin.write('hello attach\n');
  await interactive.waitFor(/hello attach\n/);
  t.true(box.api.pods.log('default', 'demo', 'demo').lines().some((line) => line.text === 'hello attach'));
  await interactive.stop();
  await box.closeAndCheck(t);
});

// serial: it runs alone, so its time says how the sandbox copes, not how loaded the machine is
test.serial('50 concurrent exec sessions all complete with their own output', async (t) => {
  const box = await sandbox(t);
  const started = Date.now();
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, index) => box.run(['exec', 'demo', '--', 'sh', '-c', `echo session-${index}; echo e-${index} >&2`])),
  );
  results.forEach((result, index) => {
    t.is(result.code, 0, result.stderr);
    t.is(result.stdout, `session-${index}\n`);
    t.is(result.stderr, `e-${index}\n`);
  });
  t.log(`50 sessions in ${Date.now() - started} ms`);
  t.true(Date.now() - started < 60_000);
  await until(() => box.api.activeStreamSessions() === 0);
  t.is(box.api.activeStreamSessions(), 0);
  await box.closeAndCheck(t);
});
