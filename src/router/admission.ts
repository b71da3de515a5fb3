// Admission (§9.4, C96): two lanes of actor slots, so that long-lived streams (watches, `logs -f`,
// kubectl sessions, application relays) can never keep short requests from starting. Each lane starts at
// most `slots` actors at once; more wait in a bounded FIFO, each until its deadline, which runs from the
// request's arrival. The pools never queue work themselves: what waits, waits here, where it can be
// timed out, cancelled and counted.
//
//   offer ─► free slot? ─► start ─► (actor ends) ─► release ─► next waiting ticket starts
//              └─ no ─► queue (≤ maxQueue, else refused) ─► deadline ─► expire (the caller replies)

import type { Clock, TimerHandle } from '../util/clock.js';
import { timerDelayMs } from '../protocol/request-deadline.js';

export const Lane = { short: 'short', long: 'long' } as const;
export type Lane = (typeof Lane)[keyof typeof Lane];

export interface LaneLimits {
  /** Actors of this lane that may run at once. */
  readonly slots: number;
  /** Requests that may wait for a slot before new ones are refused. */
  readonly maxQueue: number;
}

export interface AdmissionJob {
  /** Starts the actor; the slot is held until the returned promise settles. */
  readonly start: () => Promise<void>;
  /** Absolute time after which a waiting job is given up; undefined waits as long as it takes. */
  readonly deadlineMs: number | undefined;
  /** Called, instead of `start`, when the job is still waiting at its deadline. */
  readonly onExpire: () => void;
}

export interface Ticket {
  readonly lane: Lane;
  /** True while the job waits for a slot. */
  readonly isWaiting: boolean;
}

class QueuedTicket implements Ticket {
  readonly lane: Lane;
  readonly job: AdmissionJob;
  isWaiting = false;
  timer: TimerHandle | undefined;
  constructor(lane: Lane, job: AdmissionJob) {
    this.lane = lane;
    this.job = job;
  }
}

class LaneState {
  readonly limits: LaneLimits;
  running = 0;
  readonly waiting: QueuedTicket[] = [];
  waitingHead = 0;
  /** Tickets in `waiting` that still wait (withdrawn and expired ones stay in the array until passed). */
  waitingCount = 0;
  constructor(limits: LaneLimits) {
    this.limits = limits;
  }
}

/** How often a closed gate is looked at again while work waits behind it (real time, like flow control). */
const GATE_POLL_MS = 20;

export class Admission {
  readonly #lanes: Record<Lane, LaneState>;
  readonly #clock: Clock;
  /** C99: false while the control-plane socket's outbound buffer is above the high-water mark. */
  readonly #isGateOpen: () => boolean;
  #gateTimer: NodeJS.Timeout | undefined;
  /** Jobs started and not yet settled, so a shutdown can wait for them. */
  readonly #running = new Set<Promise<void>>();

  constructor(limits: Readonly<Record<Lane, LaneLimits>>, clock: Clock, isGateOpen: () => boolean = () => true) {
    this.#lanes = { short: new LaneState(limits.short), long: new LaneState(limits.long) };
    this.#clock = clock;
    this.#isGateOpen = isGateOpen;
  }

  /** Starts the job now or queues it; undefined when the lane's queue is full (the caller refuses it). */
  offer(lane: Lane, job: AdmissionJob): Ticket | undefined {
    const state = this.#lanes[lane];
    const ticket = new QueuedTicket(lane, job);
    if (state.running < state.limits.slots && state.waitingCount === 0 && this.#isGateOpen()) {
      this.#start(state, ticket);
      return ticket;
    }
    if (state.waitingCount >= state.limits.maxQueue) return undefined;
    ticket.isWaiting = true;
    state.waiting.push(ticket);
    state.waitingCount++;
    if (job.deadlineMs !== undefined) {
      ticket.timer = this.#clock.setTimer(timerDelayMs(job.deadlineMs - this.#clock.now()), () => this.#expire(ticket));
    }
    if (state.running < state.limits.slots) this.#watchGate();
    return ticket;
  }

  /** Takes a waiting job out of the queue (cancel, socket loss); a running one is unaffected. */
  withdraw(ticket: Ticket): void {
    if (!(ticket instanceof QueuedTicket) || !ticket.isWaiting) return;
    this.#unqueue(ticket);
  }

  running(lane: Lane): number {
    return this.#lanes[lane].running;
  }

  waiting(lane: Lane): number {
    return this.#lanes[lane].waitingCount;
  }

  slots(lane: Lane): number {
    return this.#lanes[lane].limits.slots;
  }

  /** Settles once every started job has settled. */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  /** While the gate is closed, waiting work is looked at again every few milliseconds. */
  #watchGate(): void {
    this.#gateTimer ??= setTimeout(() => {
      this.#gateTimer = undefined;
      for (const state of Object.values(this.#lanes)) this.#startWaiting(state);
    }, GATE_POLL_MS);
  }

  /** Stops the gate poll (shutdown). */
  close(): void {
    clearTimeout(this.#gateTimer);
    this.#gateTimer = undefined;
  }

  #expire(ticket: QueuedTicket): void {
    if (!ticket.isWaiting) return;
    this.#unqueue(ticket);
    ticket.job.onExpire();
  }

  #unqueue(ticket: QueuedTicket): void {
    ticket.isWaiting = false;
    ticket.timer?.cancel();
    this.#lanes[ticket.lane].waitingCount--;
  }

  #start(state: LaneState, ticket: QueuedTicket): void {
    if (ticket.isWaiting) this.#unqueue(ticket);
    state.running++;
    let running: Promise<void>;
    try {
      running = ticket.job.start();
    } catch (error) {
      running = Promise.reject(error);
    }
    const settled: Promise<void> = running.then(
      (): void => this.#release(state, settled),
      (): void => this.#release(state, settled),
    );
    this.#running.add(settled);
  }

  #release(state: LaneState, settled: Promise<void>): void {
    this.#running.delete(settled);
    state.running--;
    this.#startWaiting(state);
  }

  /** Starts waiting jobs while the lane has free slots and the outbound gate is open. */
  #startWaiting(state: LaneState): void {
    if (!this.#isGateOpen()) {
      if (state.waitingCount > 0) this.#watchGate();
      return;
    }
    while (state.running < state.limits.slots && state.waitingHead < state.waiting.length) {
      const next = state.waiting[state.waitingHead++]!;
      if (next.isWaiting) this.#start(state, next);
    }
    if (state.waitingHead > 1024 && state.waitingHead * 2 > state.waiting.length) {
      state.waiting.splice(0, state.waitingHead);
      state.waitingHead = 0;
    }
  }
}
