// One `kubectl exec`: a real child process for the command vector, spawned without a shell in the pod's
// sandbox directory with a minimal environment, wired to the channel socket. stdout/stderr become
// channel 1/2 frames (paused while the client is behind), channel 0 feeds stdin and v5's close of
// channel 0 ends it, resizes are recorded. When the process has exited and its pipes are drained, the
// exit status goes out on channel 3 and the connection closes normally.
//
// This is the session without a tty: the process runs on pipes. With tty=true the command runs on a
// pseudo-terminal instead (terminal-exec-session.ts).

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from '../../../log.js';
import { Channel, exitCodeStatus, internalErrorStatus, successStatus, type StreamProtocol, type TerminalSize } from './channel-protocol.js';
import { ChannelSocket } from './channel-socket.js';
import { mapCommand } from '../runtime/pod-sandbox-dir.js';

export interface StreamFlags {
  readonly stdin: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
  readonly tty: boolean;
}

export interface ExecSessionOptions {
  readonly command: readonly string[];
  readonly flags: StreamFlags;
  readonly podDir: string;
  readonly podName: string;
  readonly logger: Logger;
}

/** A container's default PATH; HOME is the image's /root inside the pod directory. */
export const CONTAINER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const MAX_RECORDED_SIZES = 100;
/** After a kill, how long a process outside the group may hold the output pipes before they are cut. */
const PIPE_RELEASE_MS = 2000;

type ExecChild = ChildProcessByStdio<Writable, Readable, Readable>;

/** The first writable channel gets an empty frame right after the upgrade (createWebSocketStreams does). */
export function readinessChannel(flags: StreamFlags): Channel {
  if (flags.stdout) return Channel.stdout;
  if (flags.stderr) return Channel.stderr;
  return Channel.error;
}

/** The runtime's wording when the program cannot be started (runc via containerd). */
export function startFailureMessage(program: string, error: NodeJS.ErrnoException): string {
  const reason = error.code === 'ENOENT'
    ? program.includes('/') ? `stat ${program}: no such file or directory` : 'executable file not found in $PATH'
    : error.code === 'EACCES' ? 'permission denied' : error.message;
  const execId = randomBytes(32).toString('hex');
  return `error executing command in container: failed to exec in container: failed to start exec "${execId}": OCI runtime exec failed: exec failed: unable to start container process: exec: "${program}": ${reason}: unknown`;
}

/** The error-channel Status for a process that ended with `code`, or was killed by `signal`. */
export function exitStatus(protocol: StreamProtocol, command: readonly string[], code: number | null, signal: NodeJS.Signals | number | null): Buffer {
  // a runtime reports a signalled process as 128 + signal number (137 for SIGKILL)
  const signalNumber = signal === null ? 0 : typeof signal === 'number' ? signal : constants.signals[signal];
  const exitCode = code ?? 128 + signalNumber;
  return exitCode === 0 ? successStatus() : exitCodeStatus(protocol, command, exitCode);
}

export class ExecSession {
  readonly terminalSizes: TerminalSize[] = [];
  /** the process has exited and its pipes are drained */
  readonly exited: Promise<void>;
  /** ...and the connection is closed too */
  readonly ended: Promise<void>;
  readonly #socket: ChannelSocket;
  readonly #child: ExecChild;
  readonly #options: ExecSessionOptions;
  #hasExited = false;

  constructor(ws: WebSocket, protocol: StreamProtocol, options: ExecSessionOptions) {
    this.#options = options;
    const { flags, logger } = options;
    let socketClosed!: () => void;
    const socketDone = new Promise<void>((resolve) => (socketClosed = resolve));
    const execOnClosed = (): void => {
      // a client that leaves takes its process with it, so nothing outlives the sandbox
      if (!this.#hasExited) {
        this.#killGroup('SIGKILL');
        this.#releasePipesLater();
      }
      socketClosed();
    };
    this.#socket = new ChannelSocket(ws, protocol, {
      onStdin: (data) => this.#writeStdin(data),
      onStdinEnd: () => this.#child.stdin.end(),
      onResize: (size) => this.#recordResize(size),
      onClosed: execOnClosed,
    }, logger);
    this.#socket.send(readinessChannel(flags));

    const mapped = mapCommand(options.command, options.podDir);
    const env: NodeJS.ProcessEnv = { PATH: CONTAINER_PATH, HOME: `${options.podDir}/root`, HOSTNAME: options.podName };
    // detached: the command leads its own process group, so a shell's children die with it
    this.#child = spawn(mapped.file, [...mapped.args], { cwd: options.podDir, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let startError: NodeJS.ErrnoException | undefined;
    const childDone = new Promise<void>((resolve) => {
      const childOnError = (error: NodeJS.ErrnoException): void => {
        startError ??= error;
      };
      const childOnClose = (code: number | null, signal: NodeJS.Signals | null): void => {
        this.#hasExited = true;
        const status = startError !== undefined && this.#child.pid === undefined
          ? internalErrorStatus(protocol, startFailureMessage(options.command[0] ?? '', startError))
          : exitStatus(protocol, options.command, code, signal);
        this.#socket.finish(status);
        resolve();
      };
      this.#child.on('error', childOnError);
      this.#child.once('close', childOnClose);
    });
    // EPIPE when the process exits without reading all of its input: not an error of the session
    function stdinOnError(error: Error): void {
      logger.debug({ err: error }, 'exec stdin closed early');
    }
    this.#child.stdin.on('error', stdinOnError);
    if (!flags.stdin) this.#child.stdin.end();
    this.#pipeOutput(this.#child.stdout, flags.stdout ? Channel.stdout : undefined);
    this.#pipeOutput(this.#child.stderr, flags.stderr ? Channel.stderr : undefined);
    this.exited = childDone;
    this.ended = Promise.all([childDone, socketDone]).then(() => undefined);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Kills the process group (the container went away); the exit status still goes to the client. */
  kill(): Promise<void> {
    if (!this.#hasExited) this.#killGroup('SIGKILL');
    this.#releasePipesLater();
    return this.exited;
  }

  /** Ends the session now: the process group is killed and the connection dropped. */
  async stop(): Promise<void> {
    if (!this.#hasExited) this.#killGroup('SIGKILL');
    this.#releasePipesLater();
    this.#socket.terminate();
    await this.ended;
  }

  /** A process that left the group (setsid) can keep the pipes open; 'close' must still come. */
  #releasePipesLater(): void {
    const child = this.#child;
    function releasePipes(): void {
      child.stdout.destroy();
      child.stderr.destroy();
      child.stdin.destroy();
    }
    const timer = setTimeout(releasePipes, PIPE_RELEASE_MS);
    timer.unref();
    void this.exited.then(() => clearTimeout(timer));
  }

  #pipeOutput(stream: Readable, channel: Channel | undefined): void {
    const streamOnData = (chunk: Buffer): void => {
      if (channel === undefined) return;
      if (this.#socket.send(channel, chunk)) return;
      stream.pause();
      this.#socket.whenDrained(function outputOnDrained() {
        stream.resume();
      });
    };
    stream.on('data', streamOnData);
  }

  #writeStdin(data: Buffer): void {
    const { flags } = this.#options;
    const stdin = this.#child.stdin;
    if (!flags.stdin || stdin.writableEnded || stdin.destroyed) return;
    if (data.length === 0 || stdin.write(data)) return;
    this.#socket.pauseInput();
    const stdinOnDrain = (): void => this.#socket.resumeInput();
    stdin.once('drain', stdinOnDrain);
  }

  #recordResize(size: TerminalSize): void {
    this.terminalSizes.push(size);
    if (this.terminalSizes.length > MAX_RECORDED_SIZES) this.terminalSizes.shift();
    this.#options.logger.debug({ width: size.width, height: size.height }, 'exec terminal resized');
  }

  #killGroup(signal: NodeJS.Signals): void {
    const { pid } = this.#child;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // the group is already gone
    }
  }
}
