// A pod's stand-in filesystem: a directory under the OS temp dir that plays the container's "/", and the
// rewriting of an exec command's arguments so container paths land inside it. There is no chroot: the
// process runs on the host with the pod directory as its working directory.
//
// What is mapped (container path P, pod directory D):
//  - argv[0] is never rewritten: `/bin/sh`, `tar`, `cat` are the host's programs.
//  - shells (sh, bash, dash, ash, zsh, ksh, mksh, busybox): nothing is rewritten; a script's paths are
//    host paths, relative paths resolve against D.
//  - tar: the directory of `-C P`, `-CP`, `--directory P`, `--directory=P` becomes D+P; the archive of
//    `-f P` / `--file=P` (and `-T`/`-X`/`--files-from`/`--exclude-from`) becomes D+P ("-" stays); an
//    absolute member operand P becomes the relative name P without its leading "/", read from D, so
//    `tar cf - /tmp/x` archives `tmp/x` exactly as a container's tar does after "Removing leading `/'".
//  - any other command: every later argument that starts with "/" becomes D+P.
// D+P is D joined with P normalised as an absolute path, so `..` can never climb out of D.

import { mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, posix } from 'node:path';

export interface MappedCommand {
  readonly file: string;
  readonly args: readonly string[];
}

const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'zsh', 'ksh', 'mksh', 'busybox']);
/** Where a container image usually has directories that tools like `kubectl cp` expect to exist. */
const SKELETON_DIRS = ['tmp', 'root', 'home', 'etc', 'var/log'];

type TarValue = 'dir' | 'file' | 'other';
const TAR_SHORT_VALUES: Readonly<Record<string, TarValue>> = { C: 'dir', f: 'file', T: 'file', X: 'file', b: 'other', g: 'other', H: 'other', K: 'other', L: 'other', N: 'other', V: 'other', I: 'other' };
const TAR_LONG_VALUES: Readonly<Record<string, TarValue>> = {
  '--directory': 'dir',
  '--file': 'file',
  '--files-from': 'file',
  '--exclude-from': 'file',
  '--exclude': 'other',
  '--transform': 'other',
  '--xform': 'other',
  '--owner': 'other',
  '--group': 'other',
  '--mode': 'other',
  '--mtime': 'other',
  '--newer': 'other',
  '--format': 'other',
  '--blocking-factor': 'other',
  '--label': 'other',
  '--use-compress-program': 'other',
  '--strip-components': 'other',
};

/** The container path P as a path inside the pod directory. */
export function containerPath(podDir: string, path: string): string {
  const normalized = posix.normalize(path);
  return normalized === '/' ? podDir : `${podDir}${normalized.replace(/\/+$/, '')}`;
}

function mapTarValue(kind: TarValue, value: string, podDir: string): string {
  if (kind === 'other' || value === '-' || !value.startsWith('/')) return value;
  return containerPath(podDir, value);
}

function mapTarArguments(args: readonly string[], podDir: string): string[] {
  const out: string[] = [];
  const pending: TarValue[] = [];
  // -C changes where later member names are read from; absolute members must still come from D
  let currentDir = podDir;
  const emitValue = (kind: TarValue, value: string): void => {
    const mapped = mapTarValue(kind, value, podDir);
    if (kind === 'dir') currentDir = posix.resolve(currentDir, mapped);
    out.push(mapped);
  };
  let isOperandsOnly = false;
  args.forEach((arg, index) => {
    const kind = pending.shift();
    if (kind !== undefined) return emitValue(kind, arg);
    if (!isOperandsOnly && arg === '--') {
      isOperandsOnly = true;
      out.push(arg);
      return;
    }
    if (!isOperandsOnly && index === 0 && !arg.startsWith('-')) {
      // traditional bundled letters (`cf`, `xzf`): their values follow as separate arguments, in order
      for (const letter of arg) {
        const value = TAR_SHORT_VALUES[letter];
        if (value !== undefined) pending.push(value);
      }
      out.push(arg);
      return;
    }
    if (!isOperandsOnly && arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg : arg.slice(0, eq);
      const value = TAR_LONG_VALUES[name];
      if (value === undefined) out.push(arg);
      else if (eq < 0) {
        pending.push(value);
        out.push(arg);
      } else {
        const mapped = mapTarValue(value, arg.slice(eq + 1), podDir);
        if (value === 'dir') currentDir = posix.resolve(currentDir, mapped);
        out.push(`${name}=${mapped}`);
      }
      return;
    }
    if (!isOperandsOnly && arg.startsWith('-') && arg.length > 1) {
      out.push(mapShortBundle(arg, pending, podDir, (dir) => (currentDir = posix.resolve(currentDir, dir))));
      return;
    }
    if (!arg.startsWith('/')) {
      out.push(arg);
      return;
    }
    const member = posix.normalize(arg).replace(/^\/+/, '') || '.';
    if (currentDir === podDir) out.push(member);
    else out.push('-C', podDir, member, '-C', currentDir);
  });
  return out;
}

/** `-xmf`, `-C/tmp`, `-fC`: letters with a value take the rest of the bundle, or queue the next arguments. */
function mapShortBundle(arg: string, pending: TarValue[], podDir: string, onDir: (dir: string) => void): string {
  for (let index = 1; index < arg.length; index += 1) {
    const kind = TAR_SHORT_VALUES[arg[index] ?? ''];
    if (kind === undefined) continue;
    const inline = arg.slice(index + 1);
    if (inline === '') {
      pending.push(kind);
      continue;
    }
    const mapped = mapTarValue(kind, inline, podDir);
    if (kind === 'dir') onDir(mapped);
    return `${arg.slice(0, index + 1)}${mapped}`;
  }
  return arg;
}

/** The program and arguments to spawn for an exec `command` vector in a pod whose "/" is `podDir`. */
export function mapCommand(command: readonly string[], podDir: string): MappedCommand {
  const [file = '', ...args] = command;
  const program = basename(file);
  if (SHELLS.has(program)) return { file, args };
  if (program === 'tar') return { file, args: mapTarArguments(args, podDir) };
  return { file, args: args.map((arg) => (arg.startsWith('/') ? containerPath(podDir, arg) : arg)) };
}

/** Creates the directory for one pod, with the few directories and files a container image has. */
export async function createPodSandboxDir(namespace: string, podName: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `sandbox-pod-${namespace}-${podName}-`));
  await Promise.all(SKELETON_DIRS.map((path) => mkdir(join(dir, path), { recursive: true })));
  await writeFile(join(dir, 'etc', 'hostname'), `${podName}\n`);
  return dir;
}

/**
 * Kills every process whose working directory is inside `dir`, as every process of a stopped container
 * dies, including ones an exec left running in the background. Linux only (/proc); a process that
 * changed its directory out of the pod directory is not found.
 */
export async function killProcessesIn(dir: string): Promise<number> {
  const entries = await readdir('/proc').catch(() => [] as string[]);
  let killed = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => '');
    if (cwd !== dir && !cwd.startsWith(`${dir}/`)) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
      killed += 1;
    } catch {
      // exited meanwhile
    }
  }
  return killed;
}

/** Stops what still runs in the directory, then removes it. */
export async function removePodSandboxDir(dir: string): Promise<void> {
  await killProcessesIn(dir);
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}
