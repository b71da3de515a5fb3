#!/usr/bin/env bash
# Removes what scripts/install.sh put into the cluster of the current kubectl context: every object of
# deploy/base and of the control-plane access, the token Secret and (unless --keep-state) the state the agent stored. With --all, also
# the monitoring stack. Safe to run again: objects already gone are skipped.
#
# Namespaces are kept on purpose. The agent's namespace also holds other PipeOps components on PipeOps
# clusters (the ingress controller runs in pipeops-system, CLUSTER.md §4), and --namespace may have
# pointed install.sh at a namespace shared with other workloads; deleting a namespace deletes all of it.
# pipeops-monitoring goes only with --all, after the Helm releases in it.
set -euo pipefail
export LC_ALL=C

readonly PROG=uninstall.sh
readonly EXIT_BAD_INPUT=2

# @installer-common-begin
# From a checkout the shared helpers sit beside this script; scripts/build-installer.mjs inlines them here.
if [[ -z ${BASH_SOURCE[0]:-} || ! -f "$(dirname "${BASH_SOURCE[0]}")/lib/installer-common.sh" ]]; then
  printf '%s\n' "$PROG: this is the unreleased script: run it from a checkout, or use the released $PROG (docs/install.md)" >&2
  exit 1
fi
# shellcheck source=lib/installer-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/installer-common.sh"
# shellcheck source=lib/monitoring-stack.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/monitoring-stack.sh"
# @installer-common-end

usage() {
  cat <<'EOF'
Usage: uninstall.sh [--dry-run] [--namespace NS] [--all] [--keep-state] [--help]

Removes the PipeOps agent that install.sh installed in the cluster of the current kubectl context.

Options:
  --dry-run        list what would be deleted and change nothing
  --namespace NS   the namespace given to install.sh (default pipeops-system)
  --all            also uninstall the monitoring stack (kube-prometheus-stack, Loki, Alloy) and delete the
                   pipeops-monitoring namespace
  --keep-state     keep the agent's state (ConfigMap pipeops-agent-state, Secret pipeops-agent-secrets),
                   so that a later install resumes as the same cluster instead of registering anew
  -h, --help       show this help

The agent's namespace itself is kept; delete it with `kubectl delete namespace NS` if nothing else
lives there.

Exit status: 0 on success, 2 on invalid arguments, 1 on any other failure.
EOF
}

main() {
dry_run=false
remove_all=false
keep_state=false
namespace=$DEFAULT_NAMESPACE
while (($# > 0)); do
  if common_option "$@"; then
    shift "$consumed"
    continue
  fi
  case $1 in
    --all) remove_all=true ;;
    --keep-state) keep_state=true ;;
    *) bad_usage "unknown argument: $1" ;;
  esac
  shift
done

if ! is_namespace_name "$namespace" || [[ $namespace == "$MONITORING_NAMESPACE" ]]; then
  bad_usage "--namespace must be the DNS-1123 label given to install.sh, not $MONITORING_NAMESPACE (got \"$namespace\")"
fi

require_kubectl
make_workdir uninstall
find_deploy_dir "${BASH_SOURCE[0]:-}"
[[ -f $deploy_dir/base/kustomization.yaml ]] || fail "missing $deploy_dir/base/kustomization.yaml"

# The same rendering as install.sh (same namespace move, control-plane access included whether or not it
# was installed), minus the Namespace objects, so the list of objects to delete follows deploy/ by
# construction.
cp -R "$deploy_dir/base" "$work/base"
mkdir -p "$work/components" "$work/uninstall"
cp -R "$deploy_dir/components/control-plane-access" "$work/components/control-plane-access"
cat >"$work/uninstall/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../base
components:
- ../components/control-plane-access
transformers:
$(namespace_transformers "$namespace")
- |-
  apiVersion: builtin
  kind: PatchTransformer
  metadata:
    name: keep-namespaces
  target:
    kind: Namespace
  patch: |-
    \$patch: delete
    apiVersion: v1
    kind: Namespace
    metadata:
      name: any
EOF
kubectl kustomize "$work/uninstall" >"$work/manifest.yaml" || fail "kubectl kustomize failed to render $deploy_dir/base"

# Objects install.sh generated (the token Secret) and, unless kept, the ones the agent created at run
# time (CLUSTER.md §1). The state Secret holds a copy of a service-account token: leaving it behind
# after an uninstall would leave a credential nobody remembers.
extra=("secret/pipeops-agent-token")
$keep_state || extra+=("configmap/pipeops-agent-state" "secret/pipeops-agent-secrets")

if $dry_run; then
  log "dry run: nothing was deleted. Would delete (those that exist), in namespace $namespace and cluster-wide:"
  kubectl delete -f "$work/manifest.yaml" --ignore-not-found --dry-run=client
  kubectl delete --namespace "$namespace" "${extra[@]}" --ignore-not-found --dry-run=client
  if $remove_all; then
    log "dry run: --all would then run:"
    monitoring_uninstall_commands >&2
  fi
  exit 0
fi

context=$(kubectl config current-context 2>/dev/null) || fail "no current kubectl context"
log "removing the PipeOps agent from context \"$context\", namespace $namespace"
kubectl delete -f "$work/manifest.yaml" --ignore-not-found --wait=false || fail "kubectl delete failed (see above)"
kubectl delete --namespace "$namespace" "${extra[@]}" --ignore-not-found --wait=false || fail "kubectl delete failed (see above)"
$keep_state && log "--keep-state: kept configmap/pipeops-agent-state and secret/pipeops-agent-secrets in $namespace"

if $remove_all; then
  uninstall_monitoring_stack
else
  log "the monitoring stack in $MONITORING_NAMESPACE was left in place (use --all to remove it)"
fi
log "kept namespace $namespace; if nothing else lives there: kubectl delete namespace $namespace"
}

main "$@"
