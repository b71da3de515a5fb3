// One `kubectl attach`: joins the container's main process as it runs. A container the sandbox runs
// interactively (stdin: true in its spec, `kubectl run -it`) is joined for real: its output byte for
// byte, stdin into the process, resizes onto its terminal. Otherwise every line the process writes from
// now on goes to the client's stdout (no history: attach is not logs), and stdin, when requested, is
// taken line by line and written back into the container's log, which is how the sandbox's simulated
// processes "echo" what they read. Ends with a Success status when the process or the container goes
// away, or when the client leaves.

import type { WebSocket } from 'ws';
import type { Logger } from '../../../log.js';
import { Channel, successStatus, type StreamProtocol } from './channel-protocol.js';
import { ChannelSocket } from './channel-socket.js';
import { readinessChannel, type StreamFlags } from './exec-session.js';
import type { LogLine, PodLogBuffer } from '../runtime/pod-log-buffer.js';
import type { AttachTarget } from '../runtime/pod-runtime.js';

export interface AttachSessionOptions {
  readonly flags: StreamFlags;
  readonly log: PodLogBuffer;
  /** the container's interactive process, when it has one */
  readonly target?: AttachTarget | undefined;
  readonly logger: Logger;
}

/** A line longer than this is written to the log as it stands rather than buffered without bound. */
const MAX_PENDING_STDIN = 64 * 1024;

export class AttachSession {
  readonly ended: Promise<void>;
  readonly #socket: ChannelSocket;
  readonly #options: AttachSessionOptions;
  #pendingStdin = '';
  #unsubscribe: () => void = () => undefined;

  constructor(ws: WebSocket, protocol: StreamProtocol, options: AttachSessionOptions) {
    this.#options = options;
    const { flags, log } = options;
    let closed!: () => void;
    this.ended = new Promise<void>((resolve) => (closed = resolve));
    const attachOnClosed = (): void => {
      this.#unsubscribe();
      closed();
    };
    const { target } = options;
    if (target !== undefined) {
      this.#socket = new ChannelSocket(ws, protocol, {
        onStdin: (data) => flags.stdin && target.write(data),
        // stdinOnce: the container's input ends with the attached client's
        onStdinEnd: () => flags.stdin && target.endInput(),
        onResize: (size) => target.resize(size.width, size.height),
        onClosed: attachOnClosed,
      }, options.logger);
      this.#socket.send(readinessChannel(flags));
      const processOnOutput = (stream: 1 | 2, chunk: Buffer): void => {
        if (stream === 1 && flags.stdout) this.#socket.send(Channel.stdout, chunk);
        else if (stream === 2 && flags.stderr) this.#socket.send(Channel.stderr, chunk);
      };
      const processOnEnd = (): void => this.#socket.finish(successStatus());
      this.#unsubscribe = target.subscribe(processOnOutput, processOnEnd);
      return;
    }
    this.#socket = new ChannelSocket(ws, protocol, {
      onStdin: (data) => this.#readStdin(data),
      onStdinEnd: () => this.#flushStdin(),
      onResize: (size) => options.logger.debug({ width: size.width, height: size.height }, 'attach terminal resized'),
      onClosed: attachOnClosed,
    }, options.logger);
    this.#socket.send(readinessChannel(flags));
    const attachOnLine = (line: LogLine): void => {
      if (!flags.stdout) return;
      this.#socket.send(Channel.stdout, flags.tty ? `${line.text}\r\n` : `${line.text}\n`);
    };
    const attachOnEnd = (): void => this.#socket.finish(successStatus());
    this.#unsubscribe = log.subscribe(attachOnLine, attachOnEnd);
  }

  /** Drops the connection now (sandbox closing). */
  async stop(): Promise<void> {
    this.#unsubscribe();
    this.#socket.terminate();
    await this.ended;
  }

  #readStdin(data: Buffer): void {
    if (!this.#options.flags.stdin) return;
    this.#pendingStdin += data.toString('utf8').replace(/\r\n?/g, '\n');
    const lines = this.#pendingStdin.split('\n');
    this.#pendingStdin = lines.pop() ?? '';
    for (const line of lines) this.#options.log.append(line);
    if (this.#pendingStdin.length > MAX_PENDING_STDIN) this.#flushStdin();
  }

  #flushStdin(): void {
    if (this.#pendingStdin !== '') this.#options.log.append(this.#pendingStdin);
    this.#pendingStdin = '';
  }
}
