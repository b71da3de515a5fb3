// The router↔actor channel for an actor that runs on the main thread: the same contract as a
// worker_threads MessageChannel (each message delivered asynchronously and in order, messages posted
// before a close still delivered, 'close' on both ends once either closes) without the native port, the
// structured clone and the event-loop round trip a MessagePort costs even within one thread (26 µs per
// request against 2 µs here, docs/performance.md). Messages are handed over as they are: the sender
// never touches what it posted (bytes are owned copies), so nothing needs cloning.

import { EventEmitter } from 'node:events';
import type { ActorPort } from '../messages/actor-messages.js';

class LocalPort extends EventEmitter implements ActorPort {
  peer: LocalPort | undefined;
  readonly #inbox: unknown[] = [];
  #isFlushScheduled = false;
  #isClosing = false;
  #isClosed = false;

  postMessage(message: unknown): void {
    const peer = this.peer;
    if (this.#isClosing || peer === undefined) return;
    peer.#receive(message);
  }

  /** Disables sending on both ends; what was already posted either way is delivered first, then 'close'. */
  close(): void {
    if (this.#isClosing) return;
    this.#isClosing = true;
    this.peer?.close();
    this.#scheduleFlush();
  }

  #receive(message: unknown): void {
    this.#inbox.push(message);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#isFlushScheduled) return;
    this.#isFlushScheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#isFlushScheduled = false;
    // One message per turn of the loop over the inbox, so a listener that posts back sees the same order
    // a MessagePort gives: everything queued here before anything it causes.
    for (let message = this.#inbox.shift(); message !== undefined; message = this.#inbox.shift()) this.emit('message', message);
    if (this.#isClosing && !this.#isClosed) {
      this.#isClosed = true;
      this.emit('close');
    }
  }
}

/** A connected pair: what one end posts, the other receives. */
export function localChannel(): { readonly port1: ActorPort; readonly port2: ActorPort } {
  const port1 = new LocalPort();
  const port2 = new LocalPort();
  port1.peer = port2;
  port2.peer = port1;
  return { port1, port2 };
}
