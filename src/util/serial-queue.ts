// Runs async steps one at a time, in the order they were queued, so calls reach the platform in the order the
// cluster changed. A step that throws is reported and the queue goes on; after stop() queued steps are skipped.

export class SerialQueue {
  readonly #onError: (error: unknown) => void;
  #tail: Promise<void> = Promise.resolve();
  #isStopped = false;

  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  get isStopped(): boolean {
    return this.#isStopped;
  }

  enqueue(task: () => Promise<void>): void {
    this.#tail = this.#tail.then(() => (this.#isStopped ? undefined : task())).catch((error: unknown) => this.#onError(error));
  }

  /** Resolves once the queue is empty, including steps queued by steps. */
  async settled(): Promise<void> {
    let current: Promise<void>;
    do {
      current = this.#tail;
      await current;
    } while (current !== this.#tail);
  }

  /** Resolves when the steps queued so far have ended (or been skipped); later steps are not waited for. */
  tail(): Promise<void> {
    return this.#tail;
  }

  /** Every step not yet started is skipped, and so is any queued later. */
  stop(): void {
    this.#isStopped = true;
  }
}
