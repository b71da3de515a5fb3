// One `kubectl exec -t`: the command runs on a pseudo-terminal, as a container runtime runs a tty exec,
// so the kernel's line discipline does what a terminal user expects: echo, line editing, CR→NL on input
// and NL→CRLF on output, job control, ^C as SIGINT to the foreground process group, and TIOCGWINSZ
// answering the client's size (resize messages on channel 4 are applied with TIOCSWINSZ). The pty is
// @lydell/node-pty (node-pty with its prebuilt binaries published on the npm registry): see
// docs/decisions.md.
//
// The process starts once the client's first terminal size has arrived (kubectl sends it right after
// the upgrade), so a command that asks for its size at once gets the client's, not a default; a client
// that sends none gets the default after a short wait. stdin that comes earlier is held until then.

import { accessSync, constants as fsConstants } from 'node:fs';
import { delimiter, join } from 'node:path';
import * as pty from '@lydell/node-pty';
import type { WebSocket } from 'ws';
import { Channel, internalErrorStatus, type StreamProtocol, type TerminalSize } from './channel-protocol.js';
import { ChannelSocket } from './channel-socket.js';
import { CONTAINER_PATH, exitStatus, readinessChannel, startFailureMessage, type ExecSessionOptions } from './exec-session.js';
import { mapCommand } from '../runtime/pod-sandbox-dir.js';

/** How long a tty exec waits for the client's first size before it starts at the default size. */
const FIRST_SIZE_WAIT_MS = 250;
const DEFAULT_SIZE: TerminalSize = { width: 80, height: 24 };
const MAX_RECORDED_SIZES = 100;
/** What a terminal sends for end-of-file (VEOF): a v5 close of stdin ends a reader's input like ^D. */
const END_OF_TRANSMISSION = Buffer.from([0x04]);

/** node-pty writes whatever it is given to the master's socket; a Buffer keeps input byte-exact. */
interface BinaryPty extends Omit<pty.IPty, 'write'> {
  write(data: Buffer): void;
}

/** The program as the runtime's exec would find it, or undefined when it cannot be started. */
export function resolveProgram(file: string, cwd: string): { path: string } | { error: NodeJS.ErrnoException } {
  const candidates = file.includes('/') ? [file.startsWith('/') ? file : join(cwd, file)] : CONTAINER_PATH.split(delimiter).map((dir) => join(dir, file));
  let lastError: NodeJS.ErrnoException | undefined;
  for (const candidate of candidates) {
    try {
      accessSync(candidate, fsConstants.X_OK);
      return { path: candidate };
    } catch (error) {
      lastError = error as NodeJS.ErrnoException;
      if (lastError.code === 'EACCES') return { error: lastError };
    }
  }
  const error: NodeJS.ErrnoException = lastError ?? new Error(`${file}: not found`);
  error.code = error.code === 'EACCES' ? 'EACCES' : 'ENOENT';
  return { error };
}

export class TerminalExecSession {
  readonly terminalSizes: TerminalSize[] = [];
  /** the process has exited and the terminal's output is drained */
  readonly exited: Promise<void>;
  /** ...and the connection is closed too */
  readonly ended: Promise<void>;
  readonly #socket: ChannelSocket;
  readonly #options: ExecSessionOptions;
  readonly #protocol: StreamProtocol;
  #terminal: BinaryPty | undefined;
  #heldInput: Buffer[] = [];
  #isInputEnded = false;
  #hasStarted = false;
  #hasExited = false;
  #startTimer: NodeJS.Timeout | undefined;
  #exitedResolve!: () => void;

  constructor(ws: WebSocket, protocol: StreamProtocol, options: ExecSessionOptions) {
    this.#options = options;
    this.#protocol = protocol;
    this.exited = new Promise<void>((resolve) => (this.#exitedResolve = resolve));
    let socketClosed!: () => void;
    const socketDone = new Promise<void>((resolve) => (socketClosed = resolve));
    const terminalOnClosed = (): void => {
      // a client that leaves takes its process with it, so nothing outlives the sandbox
      this.#abandon();
      socketClosed();
    };
    this.#socket = new ChannelSocket(ws, protocol, {
      onStdin: (data) => this.#writeInput(data),
      onStdinEnd: () => this.#endInput(),
      onResize: (size) => this.#resize(size),
      onClosed: terminalOnClosed,
    }, options.logger);
    this.#socket.send(readinessChannel(options.flags));
    this.#startTimer = setTimeout(() => this.#start(DEFAULT_SIZE), FIRST_SIZE_WAIT_MS);
    this.ended = Promise.all([this.exited, socketDone]).then(() => undefined);
  }

  get pid(): number | undefined {
    return this.#terminal?.pid;
  }

  /** Kills the process group (the container went away); the exit status still goes to the client. */
  kill(): Promise<void> {
    if (!this.#hasStarted) {
      // the container went away before the process started: it ends as a killed one would
      this.#hasStarted = true;
      this.#hasExited = true;
      clearTimeout(this.#startTimer);
      this.#finish(exitStatus(this.#protocol, this.#options.command, null, 'SIGKILL'));
    }
    this.#killGroup('SIGKILL');
    return this.exited;
  }

  /** Ends the session now: the process group is killed and the connection dropped. */
  async stop(): Promise<void> {
    this.#abandon();
    this.#socket.terminate();
    await this.ended;
  }

  #start(size: TerminalSize): void {
    if (this.#hasStarted) return;
    this.#hasStarted = true;
    clearTimeout(this.#startTimer);
    const options = this.#options;
    const mapped = mapCommand(options.command, options.podDir);
    const program = resolveProgram(mapped.file, options.podDir);
    if ('error' in program) {
      this.#hasExited = true;
      this.#finish(internalErrorStatus(this.#protocol, startFailureMessage(options.command[0] ?? '', program.error)));
      return;
    }
    const env = { PATH: CONTAINER_PATH, HOME: `${options.podDir}/root`, HOSTNAME: options.podName, TERM: 'xterm' };
    // encoding null: output arrives as Buffers, byte-exact, whatever the program writes
    const terminal = pty.spawn(program.path, [...mapped.args], { name: 'xterm', cols: size.width, rows: size.height, cwd: options.podDir, env, encoding: null }) as unknown as BinaryPty;
    this.#terminal = terminal;
    const terminalOnData = (data: string | Buffer): void => this.#forwardOutput(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    // node-pty reports the exit after the master has reached EOF, so all output has been forwarded
    const terminalOnExit = ({ exitCode, signal }: { exitCode: number; signal?: number }): void => {
      this.#hasExited = true;
      this.#finish(exitStatus(this.#protocol, options.command, signal !== undefined && signal > 0 ? null : exitCode, signal ?? null));
    };
    terminal.onData(terminalOnData);
    terminal.onExit(terminalOnExit);
    for (const chunk of this.#heldInput) terminal.write(chunk);
    this.#heldInput = [];
    if (this.#isInputEnded) terminal.write(END_OF_TRANSMISSION);
  }

  #finish(status: Buffer): void {
    this.#socket.finish(status);
    this.#exitedResolve();
  }

  #forwardOutput(data: Buffer): void {
    if (!this.#options.flags.stdout || this.#socket.send(Channel.stdout, data)) return;
    const terminal = this.#terminal;
    terminal?.pause();
    this.#socket.whenDrained(function terminalOnDrained() {
      terminal?.resume();
    });
  }

  #writeInput(data: Buffer): void {
    if (!this.#options.flags.stdin || this.#isInputEnded || this.#hasExited) return;
    if (this.#terminal === undefined) this.#heldInput.push(data);
    else this.#terminal.write(data);
  }

  #endInput(): void {
    if (!this.#options.flags.stdin || this.#isInputEnded) return;
    this.#isInputEnded = true;
    if (this.#terminal !== undefined && !this.#hasExited) this.#terminal.write(END_OF_TRANSMISSION);
  }

  #resize(size: TerminalSize): void {
    this.terminalSizes.push(size);
    if (this.terminalSizes.length > MAX_RECORDED_SIZES) this.terminalSizes.shift();
    this.#options.logger.debug({ width: size.width, height: size.height }, 'exec terminal resized');
    // the kernel takes no 0-column or 0-row window; the runtime leaves the size as it was then
    if (size.width === 0 || size.height === 0) return;
    if (!this.#hasStarted) this.#start(size);
    else if (this.#terminal !== undefined && !this.#hasExited) this.#terminal.resize(size.width, size.height);
  }

  /** The client is gone or the sandbox closes: nothing may keep running, and the session must end. */
  #abandon(): void {
    if (!this.#hasStarted) {
      this.#hasStarted = true;
      clearTimeout(this.#startTimer);
      this.#exitedResolve();
      return;
    }
    if (this.#hasExited) return;
    this.#killGroup('SIGKILL');
  }

  #killGroup(signal: NodeJS.Signals): void {
    const pid = this.#terminal?.pid;
    if (pid === undefined || this.#hasExited) return;
    try {
      // the pty's process leads its own session and process group
      process.kill(-pid, signal);
    } catch {
      // the group is already gone
    }
  }
}
