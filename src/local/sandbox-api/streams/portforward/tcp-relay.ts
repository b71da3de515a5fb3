// One forwarded connection: a (data, error) stream pair joined to a TCP socket on the listener that
// stands in for the pod's port, as the kubelet's portForward + containerd's PortForward do it.
//
//   kubectl's local connection  <->  data stream  <->  TCP socket to 127.0.0.1:<stand-in port>
//                                    error stream:  one failure message, then FIN
//
// Half-closes travel both ways: FIN on the data stream ends the socket's write side, and the socket's
// end (the pod closed its side) becomes FIN on the data stream. kubectl answers that FIN by resetting
// the data stream and then waits for the error stream to end, so once the socket has closed the error
// stream always gets its FIN, carrying the failure message first when there is one.
// (containerd itself gives the other direction one second after the first finishes; the sandbox keeps
// plain TCP half-close semantics instead, which is what the forwarded application sees either way.)

import { connect, type Socket } from 'node:net';
import { connectionRefusedDetail, forwardingError, type PodSandboxNames } from './pod-ports.js';
import type { SpdyStream, StreamListener } from './spdy-stream.js';

export interface RelayCounters {
  sockets: number;
  relays: number;
}

export interface RelayOptions {
  readonly data: SpdyStream;
  readonly error: SpdyStream;
  /** the pod port kubectl asked for */
  readonly port: number;
  /** the 127.0.0.1 port standing in for it, or undefined when nothing listens there */
  readonly localPort: number | undefined;
  readonly names: PodSandboxNames;
  readonly counters: RelayCounters;
  /** runs once, after both streams are finished and the socket is gone */
  readonly done: () => void;
}

export class TcpRelay {
  readonly #options: RelayOptions;
  #socket: Socket | undefined;
  #connected = false;
  #failure: string | undefined;
  #finished = false;

  constructor(options: RelayOptions) {
    this.#options = options;
  }

  /** Connects to the stand-in port, or reports at once that nothing listens there. */
  start(): void {
    const options = this.#options;
    options.counters.relays += 1;
    options.error.listen(this.#errorStreamListener());
    if (options.localPort === undefined) {
      this.#finish(connectionRefusedDetail(options.names, options.port));
      return;
    }
    this.#open(options.localPort);
  }

  /** Tears the connection down at once (the tunnel went away). */
  destroy(): void {
    this.#socket?.destroy();
  }

  #open(localPort: number): void {
    const { data, counters } = this.#options;
    const socket = connect({ host: '127.0.0.1', port: localPort, allowHalfOpen: true });
    this.#socket = socket;
    counters.sockets += 1;
    data.listen(this.#dataStreamListener(socket));

    const relayOnConnect = (): void => {
      this.#connected = true;
    };
    const relayOnSocketData = (chunk: Buffer): void => {
      if (data.write(chunk)) return;
      socket.pause();
      data.whenWritable(() => socket.resume());
    };
    const relayOnSocketEnd = (): void => data.end();
    const relayOnSocketError = (error: NodeJS.ErrnoException): void => {
      // before connecting, every failure looks like containerd's failed dial; after, report the error
      this.#failure ??= this.#connected ? `failed to execute portforward for "${this.#options.names.sandboxId}" port ${this.#options.port}: ${error.message}` : connectionRefusedDetail(this.#options.names, this.#options.port);
    };
    const relayOnSocketClose = (): void => {
      counters.sockets -= 1;
      this.#finish(this.#failure);
    };
    socket.on('connect', relayOnConnect);
    socket.on('data', relayOnSocketData);
    socket.on('end', relayOnSocketEnd);
    socket.on('error', relayOnSocketError);
    socket.once('close', relayOnSocketClose);
  }

  #dataStreamListener(socket: Socket): StreamListener {
    const relay = this;
    return {
      data(chunk: Buffer): boolean {
        // bytes after the socket failed have nowhere to go; the failure message is on its way
        if (socket.destroyed) return true;
        if (socket.write(chunk)) return true;
        socket.once('drain', function relayOnSocketDrain(): void {
          relay.#options.data.resumeInbound();
        });
        return false;
      },
      end(): void {
        socket.end();
      },
      reset(): void {
        socket.destroy();
      },
    };
  }

  #errorStreamListener(): StreamListener {
    const relay = this;
    return {
      // kubectl writes nothing on the error stream and half-closes it at once
      data: () => true,
      end: () => undefined,
      reset(): void {
        relay.#socket?.destroy();
      },
    };
  }

  #finish(failure: string | undefined): void {
    if (this.#finished) return;
    this.#finished = true;
    const { data, error, names, port, counters, done } = this.#options;
    if (failure !== undefined) {
      // the kubelet writes the message, then closes the error stream before the data stream
      error.write(Buffer.from(forwardingError(names, port, failure)));
      error.end();
      data.end();
    } else {
      data.end();
      error.end();
    }
    counters.relays -= 1;
    done();
  }
}
