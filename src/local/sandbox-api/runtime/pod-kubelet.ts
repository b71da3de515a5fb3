// The sandbox's kubelet for pods created through the API: it schedules a new pod onto the sandbox node,
// runs each container's command vector as a real process in the pod's directory (its output becomes the
// container log, read by `kubectl logs`), and writes the status a kubelet would: Running with the
// containers running, then each container's termination with its exit code, and the pod's phase once
// nothing will restart (Succeeded when every container exited 0, Failed otherwise). restartPolicy
// Always and OnFailure restart a container after the kubelet's back-off (10 s doubling to 5 min).
//
// A container without command and args has no process the sandbox can run (the image's entrypoint is
// unknown); it stays running, like a server, until the pod is deleted. Deleting the pod kills every
// process group of its containers (PodRuntime tells us).

import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Logger } from '../../../log.js';
import { CONTAINER_PATH } from '../streams/exec-session.js';
import { isJsonObject, objectAt, stringAt, type JsonObject } from '../store/json-value.js';
import { ChangeType, formatTimestamp, type ObjectStore, type StoreChange } from '../store/object-store.js';
import type { PodRuntime } from './pod-runtime.js';
import { startInteractiveContainer } from './interactive-container.js';
import { mapCommand } from './pod-sandbox-dir.js';
import { SEED_NODE_IP, SEED_NODE_NAME } from '../store/seed.js';

const PODS = { group: '', version: 'v1', resource: 'pods' } as const;
const BACKOFF_START_MS = 10_000;
const BACKOFF_MAX_MS = 300_000;
const CONDITION_TYPES = ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'] as const;

interface ContainerRun {
  readonly name: string;
  readonly argv: readonly string[];
  /** stdin: true in the spec: the process keeps stdin open for attach (on a terminal with tty: true) */
  readonly isInteractive: boolean;
  readonly isTty: boolean;
  restartCount: number;
  /** the running process: its group is killed with the pod, and `closed` settles when it is gone */
  process?: { readonly pid: number | undefined; readonly closed: Promise<void> } | undefined;
  timer?: NodeJS.Timeout | undefined;
  /** the last termination, once there is one */
  exitCode?: number;
}

interface PodRun {
  readonly namespace: string;
  readonly name: string;
  readonly restartPolicy: string;
  readonly containers: ContainerRun[];
  isGone: boolean;
}

/** The command vector a runtime would exec: command then args, or args alone when there is no command. */
function containerArgv(container: JsonObject): string[] {
  const list = (key: string): string[] => {
    const value = container[key];
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
  };
  return [...list('command'), ...list('args')];
}

function containerEnv(container: JsonObject): Record<string, string> {
  const env: Record<string, string> = {};
  const entries = container['env'];
  if (!Array.isArray(entries)) return env;
  for (const entry of entries) {
    if (!isJsonObject(entry)) continue;
    const name = stringAt(entry, 'name');
    const value = stringAt(entry, 'value');
    if (name !== undefined && value !== undefined) env[name] = value;
  }
  return env;
}

export class PodKubelet {
  readonly #store: ObjectStore;
  readonly #runtime: PodRuntime;
  readonly #logger: Logger;
  readonly #runs = new Map<string, PodRun>();
  readonly #unsubscribe: () => void;
  #nextPodIp = 100;

  constructor(store: ObjectStore, runtime: PodRuntime, logger: Logger) {
    this.#store = store;
    this.#runtime = runtime;
    this.#logger = logger.child({ component: 'sandbox-kubelet' });
    const kubeletOnChange = (change: StoreChange): void => {
      const { key } = change;
      if (change.type !== ChangeType.added || key.group !== '' || key.resource !== 'pods') return;
      // a pod the API created has no node yet; seeded pods come scheduled and running
      if (stringAt(objectAt(change.object, 'spec'), 'nodeName')) return;
      // not inside the store's own notification: the start writes the pod again
      queueMicrotask(() => void this.#start(key.namespace, key.name));
    };
    this.#unsubscribe = store.onChange(kubeletOnChange);
  }

  /** Stops watching the store and kills every container process. */
  async close(): Promise<void> {
    this.#unsubscribe();
    const runs = [...this.#runs.values()];
    this.#runs.clear();
    await Promise.all(runs.map((run) => this.#stop(run)));
  }

  async #start(namespace: string, name: string): Promise<void> {
    const pod = this.#store.get({ ...PODS, namespace, name });
    if (pod === undefined) return;
    const spec = objectAt(pod, 'spec') ?? {};
    const containers = Array.isArray(spec['containers']) ? spec['containers'].filter(isJsonObject) : [];
    const run: PodRun = {
      namespace,
      name,
      restartPolicy: stringAt(spec, 'restartPolicy') ?? 'Always',
      containers: containers.map((container) => ({
        name: stringAt(container, 'name') ?? '',
        argv: containerArgv(container),
        isInteractive: container['stdin'] === true,
        isTty: container['tty'] === true,
        restartCount: 0,
      })),
      isGone: false,
    };
    const key = `${namespace}/${name}`;
    this.#runs.set(key, run);
    // the pod's directory is removed only after its processes are gone
    this.#runtime.onGone(namespace, name, () => {
      this.#runs.delete(key);
      return this.#stop(run);
    });
    let dir: string;
    try {
      dir = await this.#runtime.sandboxDir(namespace, name);
    } catch {
      return;
    }
    if (run.isGone) return;
    this.#schedule(run);
    for (const [index, container] of run.containers.entries()) {
      const spec = containers[index] ?? {};
      if (container.argv.length > 0) this.#launch(run, container, dir, containerEnv(spec));
    }
  }

  /** Binds the pod to the sandbox node and reports every container running. */
  #schedule(run: PodRun): void {
    const now = formatTimestamp(this.#store.now());
    const podIp = `10.244.0.${this.#nextPodIp}`;
    this.#nextPodIp = this.#nextPodIp >= 250 ? 100 : this.#nextPodIp + 1;
    this.#update(run, (pod) => {
      const spec = objectAt(pod, 'spec') ?? {};
      spec['nodeName'] = SEED_NODE_NAME;
      pod['spec'] = spec;
      const status = objectAt(pod, 'status') ?? {};
      pod['status'] = {
        ...status,
        phase: 'Running',
        conditions: CONDITION_TYPES.map((type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: now })),
        hostIP: SEED_NODE_IP,
        hostIPs: [{ ip: SEED_NODE_IP }],
        podIP: podIp,
        podIPs: [{ ip: podIp }],
        startTime: now,
        containerStatuses: run.containers.map((container) => this.#containerStatus(run, pod, container, { running: { startedAt: now } }, {})),
      };
    });
  }

  #launch(run: PodRun, container: ContainerRun, dir: string, extraEnv: Record<string, string>): void {
    const log = this.#runtime.log(run.namespace, run.name, container.name);
    const mapped = mapCommand(container.argv, dir);
    const env = { PATH: CONTAINER_PATH, HOME: `${dir}/root`, HOSTNAME: run.name, ...extraEnv };
    const startedAt = formatTimestamp(this.#store.now());
    if (container.isInteractive) {
      const interactive = startInteractiveContainer({ file: mapped.file, args: mapped.args, dir, env, isTty: container.isTty, log });
      this.#runtime.setAttachTarget(run.namespace, run.name, container.name, interactive.target);
      const closed = interactive.ended.then(({ exitCode, didStart }) => {
        container.process = undefined;
        this.#runtime.setAttachTarget(run.namespace, run.name, container.name, undefined);
        if (run.isGone) return;
        container.exitCode = exitCode;
        this.#terminated(run, container, dir, extraEnv, this.#terminatedState(run, container, exitCode, didStart, startedAt));
      }).catch((error: unknown) => this.#logger.warn({ err: error, pod: run.name }, 'container status update failed'));
      container.process = { pid: interactive.pid, closed };
      return;
    }
    const child = spawn(mapped.file, [...mapped.args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    container.process = { pid: child.pid, closed: new Promise((resolve) => child.once('close', function containerOnStopped(): void {
      resolve();
    })) };
    // the runtime's log is line-based: a partial line waits for its end (or the process's end)
    const appendLines = (): ((chunk: Buffer | undefined) => void) => {
      let pending = '';
      return (chunk) => {
        if (chunk === undefined) {
          if (pending !== '') log.append(pending);
          pending = '';
          return;
        }
        pending += chunk.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) log.append(line);
      };
    };
    const stdoutLines = appendLines();
    const stderrLines = appendLines();
    const stdoutOnData = (chunk: Buffer): void => stdoutLines(chunk);
    const stderrOnData = (chunk: Buffer): void => stderrLines(chunk);
    child.stdout?.on('data', stdoutOnData);
    child.stderr?.on('data', stderrOnData);
    let startError: NodeJS.ErrnoException | undefined;
    const containerOnError = (error: NodeJS.ErrnoException): void => {
      startError ??= error;
    };
    child.on('error', containerOnError);
    const containerOnClose = (code: number | null, signal: NodeJS.Signals | null): void => {
      stdoutLines(undefined);
      stderrLines(undefined);
      container.process = undefined;
      if (run.isGone) return;
      const didStart = child.pid !== undefined && startError === undefined;
      const exitCode = didStart ? (code ?? 128 + (signal === null ? 0 : constants.signals[signal])) : 128;
      container.exitCode = exitCode;
      this.#terminated(run, container, dir, extraEnv, this.#terminatedState(run, container, exitCode, didStart, startedAt));
    };
    child.once('close', containerOnClose);
  }

  #terminatedState(run: PodRun, container: ContainerRun, exitCode: number, didStart: boolean, startedAt: string): JsonObject {
    return {
      exitCode,
      reason: !didStart ? 'StartError' : exitCode === 0 ? 'Completed' : 'Error',
      ...(didStart ? {} : { message: `failed to create containerd task: exec: "${container.argv[0] ?? ''}": executable file not found in $PATH: unknown` }),
      startedAt: didStart ? startedAt : '1970-01-01T00:00:00Z',
      finishedAt: formatTimestamp(this.#store.now()),
      containerID: `containerd://${run.name}-${container.name}-${container.restartCount}`,
    };
  }

  #terminated(run: PodRun, container: ContainerRun, dir: string, extraEnv: Record<string, string>, terminated: JsonObject): void {
    const exitCode = container.exitCode ?? 0;
    const restarts = run.restartPolicy === 'Always' || (run.restartPolicy === 'OnFailure' && exitCode !== 0);
    if (restarts) {
      const delay = Math.min(BACKOFF_START_MS * 2 ** container.restartCount, BACKOFF_MAX_MS);
      this.#setContainerState(run, container, { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${container.name} pod=${run.name}` } }, { terminated });
      container.timer = setTimeout(() => {
        container.timer = undefined;
        if (run.isGone) return;
        container.restartCount += 1;
        this.#setContainerState(run, container, { running: { startedAt: formatTimestamp(this.#store.now()) } }, { terminated });
        this.#launch(run, container, dir, extraEnv);
      }, delay);
      container.timer.unref();
      return;
    }
    this.#setContainerState(run, container, { terminated }, {});
    const isDone = run.containers.every((candidate) => candidate.argv.length > 0 && candidate.exitCode !== undefined && candidate.process === undefined && candidate.timer === undefined);
    if (!isDone) return;
    const hasSucceeded = run.containers.every((candidate) => candidate.exitCode === 0);
    const now = formatTimestamp(this.#store.now());
    this.#update(run, (pod) => {
      const status = objectAt(pod, 'status') ?? {};
      status['phase'] = hasSucceeded ? 'Succeeded' : 'Failed';
      status['conditions'] = CONDITION_TYPES.map((type) => {
        const isReadiness = type === 'Ready' || type === 'ContainersReady';
        const isSandboxUp = type === 'PodReadyToStartContainers';
        if (!isReadiness && !isSandboxUp) return { type, status: 'True', lastProbeTime: null, lastTransitionTime: now };
        return { type, status: 'False', lastProbeTime: null, lastTransitionTime: now, ...(isReadiness ? { reason: 'PodCompleted' } : {}) };
      });
      pod['status'] = status;
    });
  }

  #setContainerState(run: PodRun, container: ContainerRun, state: JsonObject, lastState: JsonObject): void {
    this.#update(run, (pod) => {
      const status = objectAt(pod, 'status') ?? {};
      const statuses = Array.isArray(status['containerStatuses']) ? status['containerStatuses'].filter(isJsonObject) : [];
      status['containerStatuses'] = statuses.map((entry) => (stringAt(entry, 'name') === container.name ? this.#containerStatus(run, pod, container, state, lastState) : entry));
      pod['status'] = status;
    });
  }

  #containerStatus(run: PodRun, pod: JsonObject, container: ContainerRun, state: JsonObject, lastState: JsonObject): JsonObject {
    const spec = objectAt(pod, 'spec') ?? {};
    const specs = Array.isArray(spec['containers']) ? spec['containers'].filter(isJsonObject) : [];
    const image = stringAt(specs.find((entry) => stringAt(entry, 'name') === container.name) ?? {}, 'image') ?? '';
    const isRunning = isJsonObject(state['running']);
    return {
      name: container.name,
      state,
      lastState,
      ready: isRunning,
      restartCount: container.restartCount,
      image,
      imageID: '',
      containerID: `containerd://${run.name}-${container.name}-${container.restartCount}`,
      started: isRunning,
    };
  }

  /** Rewrites the stored pod (it may have been changed by clients meanwhile); nothing when it is gone. */
  #update(run: PodRun, change: (pod: JsonObject) => void): void {
    if (run.isGone) return;
    const pod = this.#store.get({ ...PODS, namespace: run.namespace, name: run.name });
    if (pod === undefined) return;
    change(pod);
    this.#store.put(PODS, pod);
  }

  /** Kills every container's process group; resolves once their pipes have closed. */
  #stop(run: PodRun): Promise<void> {
    run.isGone = true;
    const closing: Promise<void>[] = [];
    for (const container of run.containers) {
      clearTimeout(container.timer);
      container.timer = undefined;
      const running = container.process;
      const pid = running?.pid;
      if (running === undefined || pid === undefined) continue;
      closing.push(running.closed);
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    return Promise.all(closing).then(() => undefined);
  }
}
