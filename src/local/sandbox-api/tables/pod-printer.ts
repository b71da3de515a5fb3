// The pod table of `kubectl get pods`, computed as kube-apiserver's printPod does: READY counts, the STATUS
// reason from init/container states, RESTARTS with the last restart's age, and the wide columns.

import { ageOf } from './human-duration.js';
import { numberAt, objectAt, objectsAt, stringAt, type JsonObject } from '../store/json-value.js';
import { AGE_COLUMN, NAME_COLUMN, kindPrinter, type KindPrinter } from './kind-table.js';

const FINISHED_CONDITIONS: Readonly<Record<string, JsonObject[]>> = {
  Succeeded: [{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }],
  Failed: [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }],
};

function terminatedReason(terminated: JsonObject, prefix: string): string {
  const reason = stringAt(terminated, 'reason') ?? '';
  if (reason !== '') return prefix + reason;
  const signal = numberAt(terminated, 'signal') ?? 0;
  return signal !== 0 ? `${prefix}Signal:${signal}` : `${prefix}ExitCode:${numberAt(terminated, 'exitCode') ?? 0}`;
}

function laterOf(current: string | undefined, candidate: string | undefined): string | undefined {
  if (candidate === undefined) return current;
  if (current === undefined) return candidate;
  return Date.parse(candidate) > Date.parse(current) ? candidate : current;
}

/** The cells printPod derives together from the container statuses: READY, STATUS and RESTARTS. */
interface PodSummary {
  readonly ready: string;
  readonly reason: string;
  readonly restarts: string;
}

function podSummary(pod: JsonObject, nowMs: number): PodSummary {
  const metadata = objectAt(pod, 'metadata');
  const spec = objectAt(pod, 'spec');
  const status = objectAt(pod, 'status');
  const phase = stringAt(status, 'phase') ?? '';
  let reason = stringAt(status, 'reason') || phase;
  const conditions = objectsAt(status, 'conditions');
  if (conditions.some((c) => c['type'] === 'PodScheduled' && c['reason'] === 'SchedulingGated')) reason = 'SchedulingGated';

  const initSpecs = new Map(objectsAt(spec, 'initContainers').map((c) => [stringAt(c, 'name') ?? '', c]));
  const isSidecar = (name: string): boolean => initSpecs.get(name)?.['restartPolicy'] === 'Always';
  const totalContainers = objectsAt(spec, 'containers').length + [...initSpecs.keys()].filter(isSidecar).length;
  let readyContainers = 0;
  let restarts = 0;
  let sidecarRestarts = 0;
  let lastRestart: string | undefined;
  let lastSidecarRestart: string | undefined;
  let initializing = false;

  const initStatuses = objectsAt(status, 'initContainerStatuses');
  for (const [index, container] of initStatuses.entries()) {
    const name = stringAt(container, 'name') ?? '';
    const count = numberAt(container, 'restartCount') ?? 0;
    const finishedAt = stringAt(objectAt(objectAt(container, 'lastState'), 'terminated'), 'finishedAt');
    restarts += count;
    lastRestart = laterOf(lastRestart, finishedAt);
    if (isSidecar(name)) {
      sidecarRestarts += count;
      lastSidecarRestart = laterOf(lastSidecarRestart, finishedAt);
    }
    const state = objectAt(container, 'state');
    const terminated = objectAt(state, 'terminated');
    const waiting = objectAt(state, 'waiting');
    if (terminated !== undefined && (numberAt(terminated, 'exitCode') ?? 0) === 0) continue;
    if (isSidecar(name) && container['started'] === true) {
      if (container['ready'] === true) readyContainers += 1;
      continue;
    }
    if (terminated !== undefined) reason = terminatedReason(terminated, 'Init:');
    else if (waiting !== undefined && (stringAt(waiting, 'reason') ?? '') !== '' && waiting['reason'] !== 'PodInitializing') {
      reason = `Init:${stringAt(waiting, 'reason') ?? ''}`;
    } else reason = `Init:${index}/${initSpecs.size}`;
    initializing = true;
    break;
  }

  const isInitialized = conditions.some((c) => c['type'] === 'Initialized' && c['status'] === 'True');
  if (!initializing || isInitialized) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    const statuses = objectsAt(status, 'containerStatuses');
    for (let i = statuses.length - 1; i >= 0; i -= 1) {
      const container = statuses[i] ?? {};
      restarts += numberAt(container, 'restartCount') ?? 0;
      lastRestart = laterOf(lastRestart, stringAt(objectAt(objectAt(container, 'lastState'), 'terminated'), 'finishedAt'));
      const state = objectAt(container, 'state');
      const waitingReason = stringAt(objectAt(state, 'waiting'), 'reason') ?? '';
      const terminated = objectAt(state, 'terminated');
      if (waitingReason !== '') reason = waitingReason;
      else if (terminated !== undefined) reason = terminatedReason(terminated, '');
      else if (container['ready'] === true && objectAt(state, 'running') !== undefined) {
        hasRunning = true;
        readyContainers += 1;
      }
    }
    if (reason === 'Completed' && hasRunning) {
      reason = conditions.some((c) => c['type'] === 'Ready' && c['status'] === 'True') ? 'Running' : 'NotReady';
    }
  }

  const deletionTimestamp = stringAt(metadata, 'deletionTimestamp');
  if (deletionTimestamp !== undefined && stringAt(status, 'reason') === 'NodeLost') reason = 'Unknown';
  else if (deletionTimestamp !== undefined && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating';

  return {
    ready: `${readyContainers}/${totalContainers}`,
    reason,
    restarts: restarts !== 0 && lastRestart !== undefined ? `${restarts} (${ageOf(lastRestart, nowMs)} ago)` : String(restarts),
  };
}

function readinessGates(pod: JsonObject): string {
  const gates = objectsAt(objectAt(pod, 'spec'), 'readinessGates');
  if (gates.length === 0) return '<none>';
  const conditions = objectsAt(objectAt(pod, 'status'), 'conditions');
  return `${gates.filter((gate) => conditions.find((c) => c['type'] === gate['conditionType'])?.['status'] === 'True').length}/${gates.length}`;
}

export const POD_PRINTER: KindPrinter = kindPrinter<PodSummary>({
  view: podSummary,
  conditions: (pod) => FINISHED_CONDITIONS[stringAt(objectAt(pod, 'status'), 'phase') ?? ''],
  columns: [
    NAME_COLUMN,
    { name: 'Ready', type: 'string', description: 'The aggregate readiness state of this pod for accepting traffic.', cell: (_pod, _nowMs, summary) => summary.ready },
    { name: 'Status', type: 'string', description: 'The aggregate status of the containers in this pod.', cell: (_pod, _nowMs, summary) => summary.reason },
    {
      name: 'Restarts',
      type: 'string',
      description: 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.',
      cell: (_pod, _nowMs, summary) => summary.restarts,
    },
    AGE_COLUMN,
    {
      name: 'IP',
      type: 'string',
      priority: 1,
      description: 'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.',
      cell: (pod) => {
        const status = objectAt(pod, 'status');
        return stringAt(objectsAt(status, 'podIPs')[0], 'ip') || stringAt(status, 'podIP') || '<none>';
      },
    },
    {
      name: 'Node',
      type: 'string',
      priority: 1,
      description:
        'NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename',
      cell: (pod) => stringAt(objectAt(pod, 'spec'), 'nodeName') || '<none>',
    },
    {
      name: 'Nominated Node',
      type: 'string',
      priority: 1,
      description:
        'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.',
      cell: (pod) => stringAt(objectAt(pod, 'status'), 'nominatedNodeName') || '<none>',
    },
    {
      name: 'Readiness Gates',
      type: 'string',
      priority: 1,
      description:
        'If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to "True" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates',
      cell: readinessGates,
    },
  ],
});
