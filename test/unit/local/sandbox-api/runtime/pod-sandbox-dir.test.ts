// How an exec command's container paths are mapped into the pod's sandbox directory: simple commands,
// shells (never rewritten), and the tar forms kubectl cp uses in both directions.

import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { containerPath, createPodSandboxDir, mapCommand, removePodSandboxDir } from '../../../../../src/local/sandbox-api/runtime/pod-sandbox-dir.js';

const POD = '/tmp/sandbox-pod-default-demo-x';

test('container paths land under the pod directory and cannot climb out of it', (t) => {
  t.is(containerPath(POD, '/tmp/x'), `${POD}/tmp/x`);
  t.is(containerPath(POD, '/'), POD);
  t.is(containerPath(POD, '/tmp/'), `${POD}/tmp`);
  t.is(containerPath(POD, '/../../etc/passwd'), `${POD}/etc/passwd`);
  t.is(containerPath(POD, '//a/./b/../c'), `${POD}/a/c`);
});

test('simple commands: every later absolute argument is mapped, argv[0] never', (t) => {
  t.deepEqual(mapCommand(['test', '-d', '/tmp/dir'], POD), { file: 'test', args: ['-d', `${POD}/tmp/dir`] });
  t.deepEqual(mapCommand(['/bin/cat', '/etc/hostname', 'relative'], POD), { file: '/bin/cat', args: [`${POD}/etc/hostname`, 'relative'] });
  t.deepEqual(mapCommand(['echo', 'hi'], POD), { file: 'echo', args: ['hi'] });
});

test('shells are left alone: a script is opaque', (t) => {
  const command = ['sh', '-c', 'cat /etc/hostname; exit 3'];
  t.deepEqual(mapCommand(command, POD), { file: 'sh', args: command.slice(1) });
  t.deepEqual(mapCommand(['/bin/bash', '/script.sh'], POD), { file: '/bin/bash', args: ['/script.sh'] });
});

test('tar: kubectl cp into a pod extracts into the mapped -C directory', (t) => {
  t.deepEqual(mapCommand(['tar', '-xmf', '-', '-C', '/tmp'], POD).args, ['-xmf', '-', '-C', `${POD}/tmp`]);
  t.deepEqual(mapCommand(['tar', '--no-same-permissions', '--no-same-owner', '-xmf', '-', '-C', '/tmp/d'], POD).args, [
    '--no-same-permissions',
    '--no-same-owner',
    '-xmf',
    '-',
    '-C',
    `${POD}/tmp/d`,
  ]);
  t.deepEqual(mapCommand(['tar', '-xmf', '-'], POD).args, ['-xmf', '-']);
});

test('tar: kubectl cp out of a pod archives the member under its container name', (t) => {
  t.deepEqual(mapCommand(['tar', 'cf', '-', '/tmp/big.bin'], POD).args, ['cf', '-', 'tmp/big.bin']);
  t.deepEqual(mapCommand(['tar', 'cf', '-', '/'], POD).args, ['cf', '-', '.']);
});

test('tar: inline and long forms of -C and -f', (t) => {
  t.deepEqual(mapCommand(['tar', '-C/tmp', '-xf', '/tmp/a.tar'], POD).args, [`-C${POD}/tmp`, '-xf', `${POD}/tmp/a.tar`]);
  t.deepEqual(mapCommand(['tar', '--directory=/srv', '--file', '/a.tar', '-x'], POD).args, [`--directory=${POD}/srv`, '--file', `${POD}/a.tar`, '-x']);
  t.deepEqual(mapCommand(['tar', '-cf', '-', '--exclude', '/tmp/skip', 'rel'], POD).args, ['-cf', '-', '--exclude', '/tmp/skip', 'rel'], '--exclude takes a pattern, not a path');
});

test('tar: an absolute member after -C is still read from the pod root, and -C is restored', (t) => {
  t.deepEqual(mapCommand(['tar', '-cf', '-', '-C', '/data', 'a', '/etc/hostname', 'b'], POD).args, [
    '-cf',
    '-',
    '-C',
    `${POD}/data`,
    'a',
    '-C',
    POD,
    'etc/hostname',
    '-C',
    `${POD}/data`,
    'b',
  ]);
});

test('a pod directory has the skeleton a container image has, and is removed completely', async (t) => {
  const dir = await createPodSandboxDir('default', 'unit');
  t.true((await stat(join(dir, 'tmp'))).isDirectory());
  t.true((await stat(join(dir, 'etc', 'hostname'))).isFile());
  await removePodSandboxDir(dir);
  await t.throwsAsync(stat(dir));
});

test('removing a pod directory kills what still runs in it', async (t) => {
  const dir = await createPodSandboxDir('default', 'orphans');
  const orphan = spawn('sleep', ['30'], { cwd: dir, stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => orphan.once('exit', (_code, signal) => resolve(signal)));
  await new Promise((resolve) => setTimeout(resolve, 100));
  await removePodSandboxDir(dir);
  t.is(await exited, 'SIGKILL');
  await t.throwsAsync(stat(dir));
});
