// A container whose spec asks for stdin (`kubectl run -it`): its process keeps stdin open for attach,
// and with `tty: true` runs on a pseudo-terminal as a runtime runs it, so a shell prints its prompt and
// echoes what is typed. Output goes to the container log (line by line, carriage returns dropped) and,
// byte for byte, to every attached client; attach writes stdin, closes it, and resizes the terminal.

import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import * as pty from '@lydell/node-pty';
import type { PodLogBuffer } from './pod-log-buffer.js';
import type { AttachTarget } from './pod-runtime.js';
import { resolveProgram } from '../streams/terminal-exec-session.js';

const END_OF_TRANSMISSION = Buffer.from([0x04]);

export interface InteractiveOptions {
  /** the program and its arguments, already mapped into the pod directory */
  readonly file: string;
  readonly args: readonly string[];
  readonly dir: string;
  readonly env: Record<string, string>;
  readonly isTty: boolean;
  readonly log: PodLogBuffer;
}

export interface InteractiveProcess {
  readonly pid: number | undefined;
  readonly target: AttachTarget;
  /** the exit code (128 + signal when killed); didStart false when the program could not be started */
  readonly ended: Promise<{ exitCode: number; didStart: boolean }>;
}

interface Subscriber {
  readonly onOutput: (stream: 1 | 2, chunk: Buffer) => void;
  readonly onEnd: () => void;
}

/** node-pty writes whatever it is given to the master's socket; a Buffer keeps input byte-exact. */
interface BinaryPty extends Omit<pty.IPty, 'write'> {
  write(data: Buffer): void;
}

function lineWriter(log: PodLogBuffer): (chunk: Buffer | undefined) => void {
  let pending = '';
  return (chunk) => {
    if (chunk === undefined) {
      if (pending !== '') log.append(pending);
      pending = '';
      return;
    }
    pending += chunk.toString('utf8').replace(/\r/g, '');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) log.append(line);
  };
}

export function startInteractiveContainer(options: InteractiveOptions): InteractiveProcess {
  const subscribers = new Set<Subscriber>();
  let hasEnded = false;
  const emit = (stream: 1 | 2, chunk: Buffer): void => {
    for (const subscriber of subscribers) subscriber.onOutput(stream, chunk);
  };
  const endAll = (): void => {
    hasEnded = true;
    for (const subscriber of [...subscribers]) subscriber.onEnd();
    subscribers.clear();
  };
  const subscribe = (onOutput: Subscriber['onOutput'], onEnd: () => void): (() => void) => {
    if (hasEnded) {
      queueMicrotask(onEnd);
      return () => undefined;
    }
    const subscriber = { onOutput, onEnd };
    subscribers.add(subscriber);
    return () => subscribers.delete(subscriber);
  };
  return options.isTty ? startOnTerminal(options, emit, endAll, subscribe) : startOnPipes(options, emit, endAll, subscribe);
}

function startOnTerminal(
  options: InteractiveOptions,
  emit: (stream: 1 | 2, chunk: Buffer) => void,
  endAll: () => void,
  subscribe: AttachTarget['subscribe'],
): InteractiveProcess {
  const program = resolveProgram(options.file, options.dir);
  if ('error' in program) {
    endAll();
    const target: AttachTarget = { isTty: true, write: () => undefined, endInput: () => undefined, resize: () => undefined, subscribe };
    return { pid: undefined, target, ended: Promise.resolve({ exitCode: 128, didStart: false }) };
  }
  const terminal = pty.spawn(program.path, [...options.args], { name: 'xterm', cols: 80, rows: 24, cwd: options.dir, env: { ...options.env, TERM: 'xterm' }, encoding: null }) as unknown as BinaryPty;
  const toLog = lineWriter(options.log);
  let isInputEnded = false;
  let hasExited = false;
  const containerOnData = (data: string | Buffer): void => {
    const chunk = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    toLog(chunk);
    emit(1, chunk);
  };
  terminal.onData(containerOnData);
  const ended = new Promise<{ exitCode: number; didStart: boolean }>((resolve) => {
    const containerOnExit = ({ exitCode, signal }: { exitCode: number; signal?: number }): void => {
      hasExited = true;
      toLog(undefined);
      endAll();
      resolve({ exitCode: signal !== undefined && signal > 0 ? 128 + signal : exitCode, didStart: true });
    };
    terminal.onExit(containerOnExit);
  });
  const target: AttachTarget = {
    isTty: true,
    write(data) {
      if (!isInputEnded && !hasExited) terminal.write(data);
    },
    endInput() {
      if (isInputEnded || hasExited) return;
      isInputEnded = true;
      terminal.write(END_OF_TRANSMISSION);
    },
    resize(width, height) {
      if (width > 0 && height > 0 && !hasExited) terminal.resize(width, height);
    },
    subscribe,
  };
  return { pid: terminal.pid, target, ended };
}

function startOnPipes(
  options: InteractiveOptions,
  emit: (stream: 1 | 2, chunk: Buffer) => void,
  endAll: () => void,
  subscribe: AttachTarget['subscribe'],
): InteractiveProcess {
  const child = spawn(options.file, [...options.args], { cwd: options.dir, env: options.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const stdoutLog = lineWriter(options.log);
  const stderrLog = lineWriter(options.log);
  const stdoutOnData = (chunk: Buffer): void => {
    stdoutLog(chunk);
    emit(1, chunk);
  };
  const stderrOnData = (chunk: Buffer): void => {
    stderrLog(chunk);
    emit(2, chunk);
  };
  const stdinOnError = (): void => undefined;
  child.stdout.on('data', stdoutOnData);
  child.stderr.on('data', stderrOnData);
  child.stdin.on('error', stdinOnError);
  let startError: Error | undefined;
  const containerOnError = (error: Error): void => {
    startError ??= error;
  };
  child.on('error', containerOnError);
  const ended = new Promise<{ exitCode: number; didStart: boolean }>((resolve) => {
    const containerOnClose = (code: number | null, signal: NodeJS.Signals | null): void => {
      stdoutLog(undefined);
      stderrLog(undefined);
      endAll();
      const didStart = child.pid !== undefined && startError === undefined;
      resolve({ exitCode: didStart ? (code ?? 128 + (signal === null ? 0 : constants.signals[signal])) : 128, didStart });
    };
    child.once('close', containerOnClose);
  });
  const target: AttachTarget = {
    isTty: false,
    write(data) {
      if (!child.stdin.writableEnded && !child.stdin.destroyed) child.stdin.write(data);
    },
    endInput() {
      if (!child.stdin.writableEnded) child.stdin.end();
    },
    resize: () => undefined,
    subscribe,
  };
  return { pid: child.pid, target, ended };
}
