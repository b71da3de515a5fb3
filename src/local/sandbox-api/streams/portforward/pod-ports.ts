// Which real 127.0.0.1 listener stands in for a pod's port. The sandbox has no network namespaces, so
// port-forward to pod P, port N connects to whatever local port is registered for (P, N); a port with
// nothing registered behaves like a container port nothing listens on (connection refused).
//
// It also names the pod the way the kubelet's error messages do: through the CRI streaming server the
// "pod" in `error forwarding port ...` is the pod sandbox id (64 hex digits) and the uid is empty, and
// containerd names the sandbox's network namespace /var/run/netns/cni-<uuid>.

import { createHash } from 'node:crypto';

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
}

function podKey(pod: PodRef, port: number): string {
  return `${pod.namespace}/${pod.name}:${port}`;
}

export class PodPortMap {
  readonly #ports = new Map<string, number>();

  set(pod: PodRef, port: number, localPort: number): void {
    this.#ports.set(podKey(pod, port), localPort);
  }

  delete(pod: PodRef, port: number): void {
    this.#ports.delete(podKey(pod, port));
  }

  /** the 127.0.0.1 port behind `port` of `pod`, if any */
  lookup(pod: PodRef, port: number): number | undefined {
    return this.#ports.get(podKey(pod, port));
  }
}

/** How a forwarding failure names the pod: a stable sandbox id and network namespace per pod uid. */
export interface PodSandboxNames {
  readonly sandboxId: string;
  readonly netnsPath: string;
}

export function podSandboxNames(pod: PodRef, uid: string): PodSandboxNames {
  const digest = createHash('sha256').update(`${pod.namespace}/${pod.name}/${uid}`).digest('hex');
  const uuid = `${digest.slice(0, 8)}-${digest.slice(8, 12)}-${digest.slice(12, 16)}-${digest.slice(16, 20)}-${digest.slice(20, 32)}`;
  return { sandboxId: digest, netnsPath: `/var/run/netns/cni-${uuid}` };
}

/** containerd 1.7's text for a port nothing listens on inside the pod (IPv4 tried first, then IPv6). */
export function connectionRefusedDetail(names: PodSandboxNames, port: number): string {
  return (
    `failed to execute portforward in network namespace "${names.netnsPath}": ` +
    `failed to connect to localhost:${port} inside namespace "${names.sandboxId}", ` +
    `IPv4: dial tcp4 127.0.0.1:${port}: connect: connection refused IPv6 dial tcp6 [::1]:${port}: connect: connection refused `
  );
}

/** The kubelet's wrapper around any PortForward failure, written to the pair's error stream. */
export function forwardingError(names: PodSandboxNames, port: number, detail: string): string {
  return `error forwarding port ${port} to pod ${names.sandboxId}, uid : ${detail}`;
}
