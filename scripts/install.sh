#!/usr/bin/env bash
# Installs the PipeOps agent into the cluster of the current kubectl context: the manifests of
# deploy/base, the token Secret and the settings ConfigMap generated from the inputs below, then (unless
# INSTALL_MONITORING=false) kube-prometheus-stack and Loki with Helm. Safe to run again: a second run
# with the same inputs changes nothing. docs/install.md is the guide; CLUSTER.md §6 the contract.
#
# Output: progress and messages go to stderr; --dry-run prints the manifests to stdout, so
# `install.sh --dry-run > agent.yaml` gives clean YAML.
set -euo pipefail
# Byte-wise character ranges in the validation patterns, whatever the caller's locale.
export LC_ALL=C

readonly PROG=install.sh
readonly EXIT_BAD_INPUT=2
readonly DEFAULT_API_URL=https://api.pipeops.io
readonly DEFAULT_NAMESPACE=pipeops-system
readonly MONITORING_NAMESPACE=pipeops-monitoring
readonly TOKEN_SECRET=pipeops-agent-token
readonly SETTINGS_CONFIGMAP=pipeops-agent-config
readonly REDACTED='<redacted>'

usage() {
  cat <<'EOF'
Usage: install.sh [--dry-run] [--namespace NS] [--help]

Installs the PipeOps agent into the cluster of the current kubectl context.

Environment:
  PIPEOPS_TOKEN          agent token from the PipeOps dashboard (required; never pass it as an argument)
  PIPEOPS_CLUSTER_NAME   cluster name: 1-63 lowercase letters, digits and '-' (required)
  PIPEOPS_API_URL        control plane URL (default https://api.pipeops.io)
  ENABLE_GATEWAY_PROXY   true to turn on the gateway proxy / ingress route sync (default false)
  INSTALL_MONITORING     false to skip kube-prometheus-stack and Loki (default true)
  AGENT_WORKERS          agent worker threads, 0-64 (default 2, matching the 2-CPU limit)
  LOG_LEVEL              trace, debug, info, warn, error or silent (default info)

Options:
  --dry-run        print the manifests that would be applied (token redacted) and change nothing
  --namespace NS   install the agent into NS instead of pipeops-system
  -h, --help       show this help

Exit status: 0 on success, 2 on missing or invalid input, 1 on any other failure.
EOF
}

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }

fail() {
  log "$*"
  exit 1
}

bad_usage() {
  log "$*"
  log "run '$PROG --help' for usage"
  exit "$EXIT_BAD_INPUT"
}

# --- arguments ----------------------------------------------------------------------------------

dry_run=false
namespace=$DEFAULT_NAMESPACE
while (($# > 0)); do
  case $1 in
    --dry-run) dry_run=true ;;
    --namespace)
      (($# >= 2)) || bad_usage "--namespace needs a value"
      namespace=$2
      shift
      ;;
    --namespace=*) namespace=${1#--namespace=} ;;
    -h | --help)
      usage
      exit 0
      ;;
    # Refuse anything token-like outright, without repeating its value: arguments are visible in `ps`
    # and shell history (docs/config.md, "Token handling").
    --token* | --*-token*) bad_usage "the token is never an argument: set PIPEOPS_TOKEN in the environment" ;;
    *) bad_usage "unknown argument: $1" ;;
  esac
  shift
done

# --- inputs ---------------------------------------------------------------------------------------
# Every problem is collected and reported together, each naming its variable, then exit 2. Values are
# echoed back except the token's.

problems=()

# Prints true or false for the accepted spellings (docs/config.md, Formats), or nothing.
parse_bool() {
  case $(printf '%s' "$1" | tr '[:upper:]' '[:lower:]') in
    true | 1 | yes) printf 'true' ;;
    false | 0 | no) printf 'false' ;;
    *) ;;
  esac
}

token=${PIPEOPS_TOKEN:-}
if [[ -z $token ]]; then
  problems+=("PIPEOPS_TOKEN is required: set it to the agent token from the PipeOps dashboard")
elif [[ $token =~ [[:space:][:cntrl:]] ]]; then
  problems+=("PIPEOPS_TOKEN must not contain whitespace or control characters (value not shown)")
fi

cluster_name=${PIPEOPS_CLUSTER_NAME:-}
if [[ -z $cluster_name ]]; then
  problems+=("PIPEOPS_CLUSTER_NAME is required: 1-63 lowercase letters, digits and '-'")
elif ! [[ $cluster_name =~ ^[a-z0-9-]{1,63}$ ]]; then
  problems+=("PIPEOPS_CLUSTER_NAME must be 1-63 lowercase letters, digits and '-' (got \"$cluster_name\")")
fi

api_url=${PIPEOPS_API_URL:-$DEFAULT_API_URL}
# The agent checks the URL again; here only the shape, so a typo fails before anything is applied.
# No user:password@ part: credentials belong in the token.
if [[ $api_url == *@* ]]; then
  problems+=("PIPEOPS_API_URL must not contain user information (value not shown, it may hold a password)")
elif ! [[ $api_url =~ ^(https?|wss?)://[^/[:space:]]+(/[^[:space:]]*)?$ ]]; then
  problems+=("PIPEOPS_API_URL must be an http, https, ws or wss URL (got \"$api_url\")")
fi

gateway_proxy=false
if [[ -n ${ENABLE_GATEWAY_PROXY:-} ]]; then
  gateway_proxy=$(parse_bool "$ENABLE_GATEWAY_PROXY")
  [[ -n $gateway_proxy ]] || problems+=("ENABLE_GATEWAY_PROXY must be true or false (got \"$ENABLE_GATEWAY_PROXY\")")
fi

install_monitoring=true
if [[ -n ${INSTALL_MONITORING:-} ]]; then
  install_monitoring=$(parse_bool "$INSTALL_MONITORING")
  [[ -n $install_monitoring ]] || problems+=("INSTALL_MONITORING must be true or false (got \"$INSTALL_MONITORING\")")
fi

workers=${AGENT_WORKERS:-}
if [[ -n $workers ]] && ! { [[ $workers =~ ^[0-9]{1,2}$ ]] && ((10#$workers <= 64)); }; then
  problems+=("AGENT_WORKERS must be an integer from 0 to 64 (got \"$workers\")")
fi

log_level=${LOG_LEVEL:-}
if [[ -n $log_level ]]; then
  log_level=$(printf '%s' "$log_level" | tr '[:upper:]' '[:lower:]')
  case $log_level in
    trace | debug | info | warn | error | silent) ;;
    *) problems+=("LOG_LEVEL must be trace, debug, info, warn, error or silent (got \"$LOG_LEVEL\")") ;;
  esac
fi

if ! [[ $namespace =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]]; then
  problems+=("--namespace must be a DNS-1123 label: 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit (got \"$namespace\")")
elif [[ $namespace == "$MONITORING_NAMESPACE" ]]; then
  # The uninstaller keeps pipeops-monitoring (it holds the monitoring stack), so the agent must not
  # live there.
  problems+=("--namespace must not be $MONITORING_NAMESPACE, which is reserved for the monitoring stack")
fi

if ((${#problems[@]} > 0)); then
  log "invalid input (${#problems[@]} problem$( ((${#problems[@]} == 1)) || printf s)):"
  for problem in "${problems[@]}"; do printf '  %s\n' "$problem" >&2; done
  log "run '$PROG --help' for usage"
  exit "$EXIT_BAD_INPUT"
fi

# --- tools and files -------------------------------------------------------------------------------

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
deploy_dir=$(cd "$script_dir/../deploy" 2>/dev/null && pwd) || fail "cannot find deploy/ next to scripts/ (run install.sh from a checkout or a release archive)"
[[ -f $deploy_dir/base/kustomization.yaml ]] || fail "missing $deploy_dir/base/kustomization.yaml"
command -v kubectl >/dev/null 2>&1 || fail "kubectl not found on PATH: install kubectl 1.27 or newer (it has kustomize built in)"

# Private scratch space: the token file must never be readable by anyone else, and must not outlive
# the run, whatever way the run ends.
umask 077
work=$(mktemp -d "${TMPDIR:-/tmp}/pipeops-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- manifests --------------------------------------------------------------------------------------
# Rendered with kustomize in a throwaway overlay over a copy of deploy/base. The overlay moves the agent
# to $namespace (keeping the monitoring Role in pipeops-monitoring), adds the token Secret, merges the
# settings into the base ConfigMap and stamps a checksum of the settings on the pod template, so that a
# change of settings restarts the agent and an unchanged run leaves the Deployment untouched.

cp -R "$deploy_dir/base" "$work/base"
mkdir "$work/install"

# The token reaches kubectl as a file (mode 600 in a mode 700 directory), never as an argument. printf
# is a shell builtin, so the token does not appear in any process's command line either. A dry run
# never touches the real token at all: it renders a placeholder and prints it as <redacted>.
if $dry_run; then
  printf '%s' "$REDACTED" >"$work/token"
else
  printf '%s' "$token" >"$work/token"
fi
chmod 600 "$work/token"

# `kubectl create --dry-run=client` still prints `creationTimestamp: null`, which client-side apply
# would then try to patch away on every run; drop it so that a second run is `unchanged`.
drop_null_timestamp() { grep -v '^  creationTimestamp: null$' || true; }

kubectl create secret generic "$TOKEN_SECRET" --namespace "$namespace" \
  --from-file=token="$work/token" --dry-run=client -o yaml | drop_null_timestamp >"$work/install/token.yaml"
rm -f "$work/token"

settings=(
  --from-literal=PIPEOPS_API_URL="$api_url"
  --from-literal=PIPEOPS_CLUSTER_NAME="$cluster_name"
  # Written out even when false, so `kubectl get configmap` shows the state of the opt-in plainly.
  --from-literal=ENABLE_GATEWAY_PROXY="$gateway_proxy"
)
# Unset inputs leave the base defaults (AGENT_WORKERS 2, LOG_LEVEL info) in place.
[[ -z $workers ]] || settings+=(--from-literal=AGENT_WORKERS="$((10#$workers))")
[[ -z $log_level ]] || settings+=(--from-literal=LOG_LEVEL="$log_level")
kubectl create configmap "$SETTINGS_CONFIGMAP" --namespace "$namespace" "${settings[@]}" \
  --dry-run=client -o yaml | drop_null_timestamp >"$work/install/settings.yaml"

# cksum is POSIX, so this works on Linux and macOS alike; it detects changes, it is not a MAC.
settings_checksum=$(cat "$work/base/config.yaml" "$work/install/settings.yaml" | cksum | awk '{print $1}')

cat >"$work/install/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../base
- token.yaml
# Transformers run in this order, after everything in the base.
transformers:
# Every namespaced object, and the ServiceAccount subjects of the bindings, into the agent's namespace.
- |-
  apiVersion: builtin
  kind: NamespaceTransformer
  metadata:
    name: agent-namespace
    namespace: $namespace
  setRoleBindingSubjects: allServiceAccounts
# ...except the Role and RoleBinding that must stay next to the Grafana Secret they grant.
- |-
  apiVersion: builtin
  kind: PatchTransformer
  metadata:
    name: keep-monitoring-access
  target:
    labelSelector: app.kubernetes.io/component=monitoring-access
  patch: |-
    - op: replace
      path: /metadata/namespace
      value: $MONITORING_NAMESPACE
# The agent's Namespace object itself.
- |-
  apiVersion: builtin
  kind: PatchTransformer
  metadata:
    name: agent-namespace-object
  target:
    kind: Namespace
    name: $DEFAULT_NAMESPACE
  patch: |-
    - op: replace
      path: /metadata/name
      value: $namespace
# The settings, merged key by key over the base ConfigMap.
- |-
  apiVersion: builtin
  kind: PatchStrategicMergeTransformer
  metadata:
    name: settings
  paths:
  - settings.yaml
- |-
  apiVersion: builtin
  kind: PatchTransformer
  metadata:
    name: settings-checksum-and-labels
  patch: |-
    - op: add
      path: /spec/template/metadata/annotations
      value:
        pipeops.io/settings-checksum: "$settings_checksum"
  target:
    kind: Deployment
    name: pipeops-agent
- |-
  apiVersion: builtin
  kind: LabelTransformer
  metadata:
    name: token-labels
  labels:
    app.kubernetes.io/name: pipeops-agent
    app.kubernetes.io/part-of: pipeops
  fieldSpecs:
  - kind: Secret
    path: metadata/labels
    create: true
EOF

kubectl kustomize "$work/install" >"$work/manifest.yaml" || fail "kubectl kustomize failed to render $deploy_dir/base"

# --- monitoring commands ------------------------------------------------------------------------------

readonly KPS_VALUES=$deploy_dir/monitoring/kube-prometheus-stack-values.yaml
readonly LOKI_VALUES=$deploy_dir/monitoring/loki-values.yaml

monitoring_commands() {
  cat <<EOF
  helm repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update
  helm repo add grafana https://grafana.github.io/helm-charts --force-update
  helm repo update prometheus-community grafana
  helm upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack \\
    --namespace $MONITORING_NAMESPACE --create-namespace --values $KPS_VALUES
  helm upgrade --install loki grafana/loki \\
    --namespace $MONITORING_NAMESPACE --create-namespace --values $LOKI_VALUES
EOF
}

# Runs a command with a deadline when coreutils' timeout exists, so that a network that swallows
# packets cannot hang the installer.
with_deadline() {
  local seconds=$1
  shift
  if command -v timeout >/dev/null 2>&1; then timeout "$seconds" "$@"; else "$@"; fi
}

install_monitoring_stack() {
  if ! command -v helm >/dev/null 2>&1; then
    log "helm not found on PATH: the monitoring stack (kube-prometheus-stack and Loki) was not installed."
    log "the agent works without it; to add it later, install helm (https://helm.sh) and run:"
    monitoring_commands >&2
    return 0
  fi
  log "installing the monitoring stack into $MONITORING_NAMESPACE with helm"
  # Repository access is the network check: if the chart repositories cannot be reached, say so and
  # leave the exact commands, instead of failing an install whose agent part already succeeded.
  if ! with_deadline 60 helm repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update >&2 ||
    ! with_deadline 60 helm repo add grafana https://grafana.github.io/helm-charts --force-update >&2 ||
    ! with_deadline 120 helm repo update prometheus-community grafana >&2; then
    log "the Helm chart repositories are not reachable: the monitoring stack was not installed."
    log "the agent works without it; when the network allows, run:"
    monitoring_commands >&2
    return 0
  fi
  local failed=false
  with_deadline 900 helm upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack \
    --namespace "$MONITORING_NAMESPACE" --create-namespace --values "$KPS_VALUES" >&2 || failed=true
  with_deadline 900 helm upgrade --install loki grafana/loki \
    --namespace "$MONITORING_NAMESPACE" --create-namespace --values "$LOKI_VALUES" >&2 || failed=true
  if $failed; then
    log "helm could not install all of the monitoring stack (see above); the agent is installed. To retry:"
    monitoring_commands >&2
  fi
  return 0
}

# --- dry run ---------------------------------------------------------------------------------------------

if $dry_run; then
  # The placeholder's base64 is the only secret-shaped value in the output; show it as <redacted>.
  redacted_b64=$(printf '%s' "$REDACTED" | base64 | tr -d '\n')
  sed "s|^  token: $redacted_b64\$|  token: $REDACTED|" "$work/manifest.yaml"
  log "dry run: nothing was applied (namespace $namespace, context $(kubectl config current-context 2>/dev/null || printf 'none'))"
  if $install_monitoring; then
    log "dry run: the monitoring stack would be installed with:"
    monitoring_commands >&2
  else
    log "dry run: INSTALL_MONITORING=false, the monitoring stack would be skipped"
  fi
  exit 0
fi

# --- apply ---------------------------------------------------------------------------------------------------

context=$(kubectl config current-context 2>/dev/null) || fail "no current kubectl context: point KUBECONFIG or 'kubectl config use-context' at the target cluster"
log "installing the PipeOps agent into context \"$context\", namespace $namespace"
$gateway_proxy && log "ENABLE_GATEWAY_PROXY=true: the gateway proxy (ingress route sync) will be on"
# Client-side apply: each object's last-applied configuration lets a later run detect that nothing
# changed (`unchanged`) and lets an upgrade remove fields the new manifests no longer set.
kubectl apply -f "$work/manifest.yaml" || fail "kubectl apply failed; nothing else was changed after the error above"

if $install_monitoring; then
  install_monitoring_stack
else
  log "INSTALL_MONITORING=false: skipping the monitoring stack"
fi

log "done. Check the agent with:"
printf '  kubectl -n %s rollout status deployment/pipeops-agent\n  kubectl -n %s logs deployment/pipeops-agent\n' "$namespace" "$namespace" >&2
