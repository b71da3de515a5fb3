// The pool's failure paths: a worker that dies outside any task is reported, never thrown at the process
// (C93), and the pool replaces it; piscina's own queue-full rejection maps to AGENT_ERR_POOL_SATURATED.

import test from 'ava';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { createActorHost } from '../../../src/pool/actor-host.js';
import { mapPoolError } from '../../../src/pool/dispatch.js';
import { workerConfigOf } from '../../../src/config/agent-config.js';
import { ErrorCode } from '../../../src/errors.js';
import { testConfig } from '../../helpers/agent-config.js';
import type { ActorTask } from '../../../src/messages/actor-messages.js';

function task(requestId: string): ActorTask {
  const { port2 } = new MessageChannel();
  return { kind: 'http-relay', requestId, frame: new Uint8Array(2), port: port2 };
}

test('a worker that throws outside any task is reported to onFault; the process and the pool go on', async (t) => {
  const faults: Error[] = [];
  const host = await createActorHost({
    workers: 1,
    tasksPerWorker: 1,
    maxQueue: 4,
    workerConfig: workerConfigOf(testConfig({ apiUrl: 'http://127.0.0.1:1' })),
    workerFile: new URL('../../helpers/fault-worker.js', import.meta.url),
    onFault: (error) => faults.push(error),
  });
  t.teardown(() => host.close());
  await host.run(task('throw-later'));
  for (let i = 0; i < 200 && faults.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  t.is(faults.length, 1);
  t.regex(faults[0]!.message, /thrown outside any task/);
  await host.run(task('after'));
  t.is(host.threads, 1, 'a replacement thread serves');
});

test('pinned to the installed piscina: its queue-full rejection maps to AGENT_ERR_POOL_SATURATED', async (t) => {
  const pool = new Piscina({
    filename: new URL('../../helpers/fault-worker.js', import.meta.url).href,
    minThreads: 1,
    maxThreads: 1,
    concurrentTasksPerWorker: 1,
    maxQueue: 1,
    atomics: 'disabled',
  });
  t.teardown(() => pool.close({ force: true }));
  const runs = [0, 1, 2, 3].map((i) => {
    const { port2 } = new MessageChannel();
    return pool.run({ kind: 'http-relay', requestId: `r${i}`, frame: new Uint8Array(0), port: port2 }, { transferList: [port2] });
  });
  const results = await Promise.allSettled(runs);
  const rejected = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
  t.true(rejected.length > 0, 'the queue overflowed');
  for (const result of rejected) {
    const mapped = mapPoolError(result.reason);
    t.is(mapped.code, ErrorCode.poolSaturated);
    t.is(mapped.message, 'too many concurrent requests');
  }
  t.is(mapPoolError(new Error('worker exited with code: 1')).code, ErrorCode.actorFailed);
});

test('a lazy pool holds no thread until its first task, then starts all of them at once', async (t) => {
  const host = await createActorHost({
    workers: 2,
    tasksPerWorker: 4,
    maxQueue: 4,
    workerConfig: workerConfigOf(testConfig({ apiUrl: 'http://127.0.0.1:1' })),
    workerFile: new URL('../../helpers/fault-worker.js', import.meta.url),
    isLazy: true,
  });
  t.teardown(() => host.close());
  t.is(host.threads, 0, 'an idle agent holds no worker isolate');
  t.deepEqual(host.workerThreads, []);
  await host.run(task('first'));
  t.is(host.threads, 2, 'both threads serve, so the balancer can spread tasks');
});

test('an eager pool starts its threads with the host', async (t) => {
  const host = await createActorHost({
    workers: 2,
    tasksPerWorker: 4,
    maxQueue: 4,
    workerConfig: workerConfigOf(testConfig({ apiUrl: 'http://127.0.0.1:1' })),
    workerFile: new URL('../../helpers/fault-worker.js', import.meta.url),
  });
  t.teardown(() => host.close());
  t.is(host.threads, 2);
});
