#!/usr/bin/env bash
# Installs the PipeOps agent into the cluster of the current kubectl context: the manifests of
# deploy/base, by default the control-plane access of deploy/components/control-plane-access, the token
# Secret and the settings ConfigMap generated from the inputs below, then (unless monitoring is switched
# off) kube-prometheus-stack, Loki and the Alloy log collector with Helm, at the versions pinned in
# deploy/monitoring/chart-versions.env. Safe to run again: a second run with the same inputs changes
# nothing. docs/install.md is the guide; CLUSTER.md §6 the contract.
#
# Two forms: from a checkout (`./scripts/install.sh`, reading deploy/ next to scripts/), or the released
# script, which carries the manifests of its own release and works piped: `curl -fsSL <url> | bash`.
# Everything runs inside main(), so bash has read the whole script before any command can touch stdin.
#
# Output: progress, messages and the closing summary go to stderr; kubectl's apply lines to stdout;
# --dry-run prints the manifests to stdout, so `install.sh --dry-run > agent.yaml` gives clean YAML.
set -euo pipefail
# Byte-wise character ranges in the validation patterns, whatever the caller's locale.
export LC_ALL=C

readonly PROG=install.sh
readonly EXIT_BAD_INPUT=2
readonly DEFAULT_API_URL=https://api.pipeops.io
readonly TOKEN_SECRET=pipeops-agent-token
readonly SETTINGS_CONFIGMAP=pipeops-agent-config
readonly CONTROL_PLANE_TOKEN_SECRET=pipeops-control-plane-token
readonly REDACTED='<redacted>'
# How long to wait for the token controller to fill the control plane's token before starting the agent.
readonly TOKEN_WAIT_SECONDS=60

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
Usage: install.sh [--dry-run] [--namespace NS] [--help]
       curl -fsSL <release url>/install.sh | bash -s -- [--dry-run] [--namespace NS]

Installs the PipeOps agent into the cluster of the current kubectl context.

Environment:
  PIPEOPS_TOKEN          agent token from the PipeOps dashboard (required; never pass it as an argument)
  PIPEOPS_CLUSTER_NAME   cluster name: 1-63 lowercase letters, digits and '-' (required)
  PIPEOPS_API_URL        control plane URL (default https://api.pipeops.io)
  CONTROL_PLANE_ACCESS   cluster-admin (default): PipeOps deploys and manages workloads through the
                         tunnel with its own ServiceAccount; none: least privilege, kubectl access with
                         your own credentials only (docs/install.md, "Control-plane access")
  ENABLE_GATEWAY_PROXY   true to turn on the gateway proxy / ingress route sync (default false)
  INSTALL_MONITORING     false to skip kube-prometheus-stack, Loki and Alloy (default true)
  DISABLE_MONITORING     true to skip them as well (either switch is enough)
  AGENT_WORKERS          agent worker threads, 0-64 (default 2, matching the 2-CPU limit)
  LOG_LEVEL              trace, debug, info, warn, error or silent (default info)

Options:
  --dry-run        print the manifests that would be applied (token redacted) and change nothing
  --namespace NS   install the agent into NS instead of pipeops-system
  -h, --help       show this help

Exit status: 0 on success, 2 on missing or invalid input, 1 on any other failure.
EOF
}

# Prints the documents of a kustomize rendering on stdin: the Deployment ($1 = deployment) or all the
# others ($1 = rest), so the agent can start after what it needs already exists.
pick_documents() {
  awk -v pick="$1" '
    function flush() {
      if (doc != "" && ((pick == "deployment") == (doc ~ /(^|\n)kind: Deployment\n/))) { printf "%s%s", sep, doc; sep = "---\n" }
      doc = ""
    }
    $0 == "---" { flush(); next }
    { doc = doc $0 "\n" }
    END { flush() }'
}

# The token controller fills a service-account-token Secret a moment after it is created. The agent reads
# it (as PIPEOPS_K8S_SERVICE_TOKEN) when it starts, so it should start after that. The value itself is
# only tested for presence, never printed.
wait_for_control_plane_token() {
  local waited
  for ((waited = 0; waited < TOKEN_WAIT_SECONDS; waited++)); do
    if [[ -n $(kubectl --namespace "$namespace" get secret "$CONTROL_PLANE_TOKEN_SECRET" -o 'jsonpath={.data.token}' 2>/dev/null) ]]; then
      return 0
    fi
    sleep 1
  done
  return 1
}

print_summary() {
  local image
  image=$(awk '$1 == "image:" { print $2; exit }' "$work/manifest.yaml")
  {
    printf '\n%s: installed into context "%s":\n' "$PROG" "$context"
    printf '  agent:                %s in namespace %s (Deployment, ServiceAccount, RBAC, Service, settings, token Secret)\n' "$image" "$namespace"
    if [[ $control_plane_access == none ]]; then
      printf '  control-plane access: none (CONTROL_PLANE_ACCESS=none): PipeOps relays kubectl with your own credentials only\n'
    else
      printf '  control-plane access: ServiceAccount pipeops-control-plane bound to cluster-admin, its token handed to PipeOps\n'
      printf '                        (CONTROL_PLANE_ACCESS=none leaves it out)\n'
    fi
    printf '  monitoring:           %s\n' "$monitoring_status"
    printf '  settings:             cluster %s, control plane %s, gateway proxy %s\n' "$cluster_name" "$api_url" "$([[ $gateway_proxy == true ]] && printf on || printf off)"
    printf '\nCheck it:\n'
    printf '  kubectl -n %s get pods\n' "$namespace"
    printf '  kubectl -n %s rollout status deployment/pipeops-agent\n' "$namespace"
    printf '  kubectl get --raw /api/v1/namespaces/%s/services/pipeops-agent:http/proxy/ready   # {"status":"ready",...} once connected\n' "$namespace"
    printf '  kubectl -n %s logs deployment/pipeops-agent\n' "$namespace"
    if [[ $is_token_late == true ]]; then
      printf '\nThe control-plane token was not filled in within %s s; once it is, restart the agent to hand it over:\n' "$TOKEN_WAIT_SECONDS"
      printf '  kubectl -n %s rollout restart deployment/pipeops-agent\n' "$namespace"
    fi
  } >&2
}

main() {
  # --- arguments ---------------------------------------------------------------------------------
  dry_run=false
  namespace=$DEFAULT_NAMESPACE
  while (($# > 0)); do
    if common_option "$@"; then
      shift "$consumed"
      continue
    fi
    case $1 in
      # Refuse anything token-like outright, without repeating its value: arguments are visible in `ps`
      # and shell history (docs/config.md, "Token handling").
      --token* | --*-token*) bad_usage "the token is never an argument: set PIPEOPS_TOKEN in the environment" ;;
      *) bad_usage "unknown argument: $1" ;;
    esac
    shift
  done

  # --- inputs ------------------------------------------------------------------------------------
  # Every problem is collected and reported together, each naming its variable, then exit 2. Values are
  # echoed back except the token's.
  local problems=() problem
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

  control_plane_access=$(printf '%s' "${CONTROL_PLANE_ACCESS:-cluster-admin}" | tr '[:upper:]' '[:lower:]')
  case $control_plane_access in
    cluster-admin | none) ;;
    *) problems+=("CONTROL_PLANE_ACCESS must be cluster-admin or none (got \"$CONTROL_PLANE_ACCESS\")") ;;
  esac

  gateway_proxy=false
  if [[ -n ${ENABLE_GATEWAY_PROXY:-} ]]; then
    gateway_proxy=$(parse_bool "$ENABLE_GATEWAY_PROXY")
    [[ -n $gateway_proxy ]] || problems+=("ENABLE_GATEWAY_PROXY must be true or false (got \"$ENABLE_GATEWAY_PROXY\")")
  fi

  # Two switches for one thing, because both spellings are in use; either one saying "skip" skips, and
  # two that contradict each other are a mistake worth stopping for.
  install_monitoring=true
  local install_switch=true disable_switch=false
  if [[ -n ${INSTALL_MONITORING:-} ]]; then
    install_switch=$(parse_bool "$INSTALL_MONITORING")
    [[ -n $install_switch ]] || problems+=("INSTALL_MONITORING must be true or false (got \"$INSTALL_MONITORING\")")
  fi
  if [[ -n ${DISABLE_MONITORING:-} ]]; then
    disable_switch=$(parse_bool "$DISABLE_MONITORING")
    [[ -n $disable_switch ]] || problems+=("DISABLE_MONITORING must be true or false (got \"$DISABLE_MONITORING\")")
  fi
  if [[ ${INSTALL_MONITORING:-} != '' && $install_switch == true && $disable_switch == true ]]; then
    problems+=("INSTALL_MONITORING=true and DISABLE_MONITORING=true contradict each other: set one of them")
  fi
  if [[ $install_switch == false || $disable_switch == true ]]; then install_monitoring=false; fi
  local skip_reason=INSTALL_MONITORING=false
  [[ $disable_switch == true ]] && skip_reason=DISABLE_MONITORING=true

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

  if ! is_namespace_name "$namespace"; then
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

  # --- tools and files ---------------------------------------------------------------------------
  require_kubectl
  make_workdir install
  find_deploy_dir "${BASH_SOURCE[0]:-}"
  [[ -f $deploy_dir/base/kustomization.yaml ]] || fail "missing $deploy_dir/base/kustomization.yaml"
  load_chart_versions

  # --- manifests ---------------------------------------------------------------------------------
  # Rendered with kustomize in a throwaway overlay over a copy of deploy/. The overlay moves the agent to
  # $namespace (keeping the monitoring Role in pipeops-monitoring), adds the control-plane access unless
  # CONTROL_PLANE_ACCESS=none, adds the token Secret, merges the settings into the base ConfigMap and
  # stamps a checksum of the settings on the pod template, so that a change of settings restarts the
  # agent and an unchanged run leaves the Deployment untouched.
  cp -R "$deploy_dir/base" "$work/base"
  mkdir -p "$work/components" "$work/install"
  cp -R "$deploy_dir/components/control-plane-access" "$work/components/control-plane-access"

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

  local settings=(
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
  local settings_checksum components=''
  settings_checksum=$(cat "$work/base/config.yaml" "$work/install/settings.yaml" | cksum | awk '{print $1}')
  [[ $control_plane_access == none ]] || components=$'components:\n- ../components/control-plane-access'

  cat >"$work/install/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../base
- token.yaml
$components
# Transformers run in this order, after everything in the base and the components.
transformers:
$(namespace_transformers "$namespace")
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

  kubectl kustomize "$work/install" >"$work/manifest.yaml" || fail "kubectl kustomize failed to render the manifests"

  # --- dry run -----------------------------------------------------------------------------------
  if $dry_run; then
    # The placeholder's base64 is the only secret-shaped value in the output; show it as <redacted>.
    local redacted_b64
    redacted_b64=$(printf '%s' "$REDACTED" | base64 | tr -d '\n')
    sed "s|^  token: $redacted_b64\$|  token: $REDACTED|" "$work/manifest.yaml"
    log "dry run: nothing was applied (namespace $namespace, context $(kubectl config current-context 2>/dev/null || printf 'none'))"
    if $install_monitoring; then
      log "dry run: the monitoring stack would be installed with:"
      is_embedded=false monitoring_commands >&2
    else
      log "dry run: $skip_reason, the monitoring stack would be skipped"
    fi
    exit 0
  fi

  # --- apply -------------------------------------------------------------------------------------
  context=$(kubectl config current-context 2>/dev/null) || fail "no current kubectl context: point KUBECONFIG or 'kubectl config use-context' at the target cluster"
  log "installing the PipeOps agent into context \"$context\", namespace $namespace"
  $gateway_proxy && log "ENABLE_GATEWAY_PROXY=true: the gateway proxy (ingress route sync) will be on"
  # Client-side apply: each object's last-applied configuration lets a later run detect that nothing
  # changed (`unchanged`) and lets an upgrade remove fields the new manifests no longer set. The
  # Deployment goes last, so that the agent starts with its Secrets and RBAC in place.
  pick_documents rest <"$work/manifest.yaml" >"$work/first.yaml"
  pick_documents deployment <"$work/manifest.yaml" >"$work/deployment.yaml"
  kubectl apply -f "$work/first.yaml" </dev/null || fail "kubectl apply failed; nothing else was changed after the error above"
  is_token_late=false
  if [[ $control_plane_access != none ]] && ! wait_for_control_plane_token; then
    log "the token controller has not filled secret/$CONTROL_PLANE_TOKEN_SECRET within $TOKEN_WAIT_SECONDS s; the agent falls back to its own token until restarted"
    is_token_late=true
  fi
  kubectl apply -f "$work/deployment.yaml" </dev/null || fail "kubectl apply failed for the Deployment; everything else is applied"

  if $install_monitoring; then
    install_monitoring_stack
  else
    log "$skip_reason: skipping the monitoring stack"
    monitoring_status="skipped ($skip_reason)"
  fi
  print_summary
}

main "$@"
