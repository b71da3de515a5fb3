// Where the Kubernetes API is and how to trust it, as plain data: resolved once on the main thread with
// the agent's own client (kubeconfig.ts, kube-endpoint.ts) and handed to the actor threads through their WorkerConfig,
// so no worker reads kubeconfig files or loads a Kubernetes client. Thread-neutral.

export interface KubeTarget {
  /** API server URL, e.g. https://10.0.0.1:443. */
  readonly server: string;
  /** PEM bundle to trust; undefined means the system store. */
  readonly ca: string | undefined;
  /** Re-read for every new upstream when set, so a rotated service-account CA takes effect. */
  readonly caFile: string | undefined;
  readonly rejectUnauthorized: boolean;
  readonly tlsServerName: string | undefined;
  /** The agent's own token, used only for sessions the control plane sent without Authorization (§13.4). */
  readonly agentToken: string | undefined;
  /** Re-read at use when set (a projected service-account token rotates). */
  readonly agentTokenFile: string | undefined;
}
