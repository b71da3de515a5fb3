// The router's admission lanes (§9.4, C96) on their own: slots per lane, a bounded FIFO behind them,
// deadlines on a simulated clock, withdrawal, and the outbound gate (C99).

import test, { type ExecutionContext } from 'ava';
import { Admission, Lane, type AdmissionJob, type LaneLimits } from '../../../src/router/admission.js';
import { SimulatedClock } from '../../helpers/simulated-clock.js';
import { eventually } from '../../helpers/eventually.js';

const LIMITS: Readonly<Record<Lane, LaneLimits>> = { short: { slots: 2, maxQueue: 2 }, long: { slots: 1, maxQueue: 1 } };

/** A job the test ends by hand; records whether it started or expired. */
class Job implements AdmissionJob {
  readonly deadlineMs: number | undefined;
  hasStarted = false;
  hasExpired = false;
  #finish: (() => void) | undefined;
  #fail: ((error: Error) => void) | undefined;

  constructor(deadlineMs?: number) {
    this.deadlineMs = deadlineMs;
  }

  readonly start = (): Promise<void> => {
    this.hasStarted = true;
    return new Promise<void>((resolve, reject) => {
      this.#finish = resolve;
      this.#fail = reject;
    });
  };

  readonly onExpire = (): void => {
    this.hasExpired = true;
  };

  finish(): void {
    this.#finish?.();
  }

  fail(): void {
    this.#fail?.(new Error('actor failed'));
  }
}

/** Lets the promise reactions of a settled job (its release) run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function admission(t: ExecutionContext, isGateOpen?: () => boolean): { admission: Admission; clock: SimulatedClock } {
  const clock = new SimulatedClock();
  const gate = new Admission(LIMITS, clock, isGateOpen);
  t.teardown(() => gate.close());
  return { admission: gate, clock };
}

test('a lane starts at most its slots; the next jobs wait in arrival order and start as slots free', async (t) => {
  const { admission: lanes } = admission(t);
  const jobs = [new Job(), new Job(), new Job(), new Job()];
  const tickets = jobs.map((job) => lanes.offer(Lane.short, job));
  t.deepEqual(jobs.map((job) => job.hasStarted), [true, true, false, false]);
  t.deepEqual(tickets.map((ticket) => ticket?.isWaiting), [false, false, true, true]);
  t.is(lanes.running(Lane.short), 2);
  t.is(lanes.waiting(Lane.short), 2);
  jobs[1]!.finish();
  await turn();
  t.deepEqual(jobs.map((job) => job.hasStarted), [true, true, true, false]);
  t.false(tickets[2]!.isWaiting);
  t.is(lanes.running(Lane.short), 2);
  t.is(lanes.waiting(Lane.short), 1);
  // a failing actor frees its slot too
  jobs[0]!.fail();
  await turn();
  t.true(jobs[3]!.hasStarted);
  t.is(lanes.waiting(Lane.short), 0);
});

test('the lanes are independent: a full long lane does not hold back short requests', (t) => {
  const { admission: lanes } = admission(t);
  const watch = new Job();
  const follower = new Job();
  lanes.offer(Lane.long, watch);
  lanes.offer(Lane.long, follower);
  t.true(watch.hasStarted);
  t.false(follower.hasStarted);
  const get = new Job();
  lanes.offer(Lane.short, get);
  t.true(get.hasStarted);
  t.is(lanes.running(Lane.long), 1);
  t.is(lanes.running(Lane.short), 1);
  t.is(lanes.slots(Lane.long), 1);
});

test('a full queue refuses the offer (undefined) and starts nothing', (t) => {
  const { admission: lanes } = admission(t);
  lanes.offer(Lane.long, new Job());
  t.truthy(lanes.offer(Lane.long, new Job()));
  const refused = new Job();
  t.is(lanes.offer(Lane.long, refused), undefined);
  t.false(refused.hasStarted);
  t.is(lanes.waiting(Lane.long), 1);
});

test('a job still waiting at its deadline expires instead of starting, and leaves the queue', async (t) => {
  const { admission: lanes, clock } = admission(t);
  const running = new Job();
  lanes.offer(Lane.long, running);
  const late = new Job(clock.now() + 1000);
  const ticket = lanes.offer(Lane.long, late)!;
  clock.advance(999);
  t.false(late.hasExpired);
  clock.advance(1);
  t.true(late.hasExpired);
  t.false(ticket.isWaiting);
  t.is(lanes.waiting(Lane.long), 0);
  // the freed slot does not start the expired job, and the queue has room again
  running.finish();
  await turn();
  t.false(late.hasStarted);
  t.is(lanes.running(Lane.long), 0);
});

test('a job that starts before its deadline has its timer cancelled and never expires', async (t) => {
  const { admission: lanes, clock } = admission(t);
  const running = new Job();
  lanes.offer(Lane.long, running);
  const next = new Job(clock.now() + 1000);
  lanes.offer(Lane.long, next);
  t.is(clock.pendingTimers, 1);
  running.finish();
  await turn();
  t.true(next.hasStarted);
  t.is(clock.pendingTimers, 0);
  clock.advance(5000);
  t.false(next.hasExpired);
});

test('a withdrawn job never starts nor expires, and frees its place in the queue', async (t) => {
  const { admission: lanes, clock } = admission(t);
  const running = new Job();
  lanes.offer(Lane.long, running);
  const cancelled = new Job(clock.now() + 1000);
  const ticket = lanes.offer(Lane.long, cancelled)!;
  lanes.withdraw(ticket);
  t.false(ticket.isWaiting);
  t.is(lanes.waiting(Lane.long), 0);
  const after = new Job();
  t.truthy(lanes.offer(Lane.long, after));
  clock.advance(2000);
  t.false(cancelled.hasExpired);
  running.finish();
  await turn();
  t.false(cancelled.hasStarted);
  t.true(after.hasStarted);
  // withdrawing a running job changes nothing
  lanes.withdraw(ticket);
  t.is(lanes.running(Lane.long), 1);
});

test('a new job queues behind waiting ones even when a slot is free at that moment (FIFO)', (t) => {
  let isOpen = false;
  const { admission: lanes } = admission(t, () => isOpen);
  const first = new Job();
  lanes.offer(Lane.short, first);
  t.false(first.hasStarted);
  isOpen = true;
  const second = new Job();
  lanes.offer(Lane.short, second);
  t.false(second.hasStarted, 'a slot is free but an earlier job waits');
  t.is(lanes.waiting(Lane.short), 2);
});

test('while the outbound gate is closed nothing starts; once it opens, waiting jobs start (C99)', async (t) => {
  let isOpen = false;
  const { admission: lanes } = admission(t, () => isOpen);
  const jobs = [new Job(), new Job()];
  for (const job of jobs) lanes.offer(Lane.short, job);
  t.is(lanes.running(Lane.short), 0);
  t.is(lanes.waiting(Lane.short), 2);
  isOpen = true;
  await eventually(() => jobs.every((job) => job.hasStarted), 'the waiting jobs start once the gate opens');
  t.is(lanes.running(Lane.short), 2);
});

test('settled() waits for every started job, including one whose start throws', async (t) => {
  const { admission: lanes } = admission(t);
  const job = new Job();
  lanes.offer(Lane.short, job);
  lanes.offer(Lane.short, {
    start: () => {
      throw new Error('start failed');
    },
    deadlineMs: undefined,
    onExpire: () => undefined,
  });
  await turn();
  t.is(lanes.running(Lane.short), 1, 'the throwing start released its slot');
  let isSettled = false;
  const settled = lanes.settled().then(() => (isSettled = true));
  await turn();
  t.false(isSettled);
  job.finish();
  await settled;
  t.true(isSettled);
  t.is(lanes.running(Lane.short), 0);
});
