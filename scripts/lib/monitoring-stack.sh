# The monitoring stack of scripts/install.sh and scripts/uninstall.sh: which Helm releases, from which
# charts, at which pinned versions, and how to install or remove them. Sourced from a checkout; inlined
# into the released scripts by scripts/build-installer.mjs. Expects the helpers of installer-common.sh.

# Release, chart and the key of its version in chart-versions.env, in install order.
readonly MONITORING_RELEASES=(
  'kube-prometheus-stack prometheus-community/kube-prometheus-stack KUBE_PROMETHEUS_STACK_VERSION'
  'loki grafana/loki LOKI_VERSION'
  'alloy grafana/alloy ALLOY_VERSION'
)

# Reads the pinned monitoring chart versions from deploy/monitoring/chart-versions.env, the one place they
# are written down. Only KEY=VERSION lines with known keys are taken; the file is never sourced.
load_chart_versions() {
  local file=$deploy_dir/monitoring/chart-versions.env key value
  [[ -f $file ]] || fail "missing $file"
  while IFS='=' read -r key value; do
    case $key in
      KUBE_PROMETHEUS_STACK_VERSION) kps_version=$value ;;
      LOKI_VERSION) loki_version=$value ;;
      ALLOY_VERSION) alloy_version=$value ;;
      *) ;;
    esac
  done < <(grep -E '^[A-Z_]+=[0-9][0-9A-Za-z.+-]*$' "$file")
  [[ -n ${kps_version:-} && -n ${loki_version:-} && -n ${alloy_version:-} ]] ||
    fail "$file must set KUBE_PROMETHEUS_STACK_VERSION, LOKI_VERSION and ALLOY_VERSION"
}

monitoring_commands() {
  if $is_embedded; then
    cat <<EOF
  install helm (https://helm.sh), then run this installer again with the same inputs: the agent part
  changes nothing, and the monitoring stack is added.
EOF
    return 0
  fi
  cat <<EOF
  helm repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update
  helm repo add grafana https://grafana.github.io/helm-charts --force-update
  helm repo update prometheus-community grafana
  helm upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack --version $kps_version \\
    --namespace $MONITORING_NAMESPACE --create-namespace --values $deploy_dir/monitoring/kube-prometheus-stack-values.yaml
  helm upgrade --install loki grafana/loki --version $loki_version \\
    --namespace $MONITORING_NAMESPACE --create-namespace --values $deploy_dir/monitoring/loki-values.yaml
  helm upgrade --install alloy grafana/alloy --version $alloy_version \\
    --namespace $MONITORING_NAMESPACE --create-namespace --values $deploy_dir/monitoring/alloy-values.yaml
EOF
}

# Sets monitoring_status for the summary; never fails the install, whose agent part already succeeded.
install_monitoring_stack() {
  if ! command -v helm >/dev/null 2>&1; then
    log "helm not found on PATH: the monitoring stack (kube-prometheus-stack, Loki, Alloy) was not installed."
    log "the agent works without it; to add it later:"
    monitoring_commands >&2
    monitoring_status="not installed: helm not found on PATH (see above)"
    return 0
  fi
  log "installing the monitoring stack into $MONITORING_NAMESPACE with helm"
  # Repository access is the network check: if the chart repositories cannot be reached, say so and
  # leave the way to finish later.
  if ! with_deadline 60 helm repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update >&2 ||
    ! with_deadline 60 helm repo add grafana https://grafana.github.io/helm-charts --force-update >&2 ||
    ! with_deadline 120 helm repo update prometheus-community grafana >&2; then
    log "the Helm chart repositories are not reachable: the monitoring stack was not installed."
    log "the agent works without it; when the network allows:"
    monitoring_commands >&2
    monitoring_status="not installed: chart repositories not reachable (see above)"
    return 0
  fi
  local failed=false entry release chart key version values
  for entry in "${MONITORING_RELEASES[@]}"; do
    read -r release chart key <<<"$entry"
    case $key in
      KUBE_PROMETHEUS_STACK_VERSION) version=$kps_version ;;
      LOKI_VERSION) version=$loki_version ;;
      *) version=$alloy_version ;;
    esac
    values=$deploy_dir/monitoring/$release-values.yaml
    with_deadline 900 helm upgrade --install "$release" "$chart" --version "$version" \
      --namespace "$MONITORING_NAMESPACE" --create-namespace --values "$values" >&2 </dev/null || failed=true
  done
  if $failed; then
    log "helm could not install all of the monitoring stack (see above); the agent is installed. To retry:"
    monitoring_commands >&2
    monitoring_status="partly installed: helm failed (see above)"
  else
    monitoring_status="kube-prometheus-stack $kps_version, loki $loki_version and alloy $alloy_version in $MONITORING_NAMESPACE"
  fi
  return 0
}

monitoring_uninstall_commands() {
  local index release
  # Reverse install order: the collector first, the operator's stack last.
  for ((index = ${#MONITORING_RELEASES[@]} - 1; index >= 0; index--)); do
    release=${MONITORING_RELEASES[index]%% *}
    printf '  helm uninstall %s --namespace %s\n' "$release" "$MONITORING_NAMESPACE"
  done
  printf '  kubectl delete namespace %s --ignore-not-found\n' "$MONITORING_NAMESPACE"
}

uninstall_monitoring_stack() {
  if ! command -v helm >/dev/null 2>&1; then
    log "helm not found on PATH: the monitoring stack was left in place. To remove it, run:"
    monitoring_uninstall_commands >&2
    return 0
  fi
  log "uninstalling the monitoring stack from $MONITORING_NAMESPACE"
  local index release
  for ((index = ${#MONITORING_RELEASES[@]} - 1; index >= 0; index--)); do
    release=${MONITORING_RELEASES[index]%% *}
    # Missing releases are fine: the stack may never have been installed.
    helm uninstall "$release" --namespace "$MONITORING_NAMESPACE" >&2 </dev/null ||
      log "helm uninstall $release failed or there was no such release"
  done
  kubectl delete namespace "$MONITORING_NAMESPACE" --ignore-not-found --wait=false
  log "the Prometheus operator's CRDs (*.monitoring.coreos.com) stay installed: Helm never deletes CRDs"
}
