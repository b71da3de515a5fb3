# Shared by scripts/install.sh and scripts/uninstall.sh: messages, the options both take, the scratch
# directory, where the manifests come from, and the kustomize transformers that move the agent to another
# namespace. Sourced from a checkout; scripts/build-installer.mjs copies it into the released scripts, which
# must work piped into bash with nothing beside them. Expects PROG, EXIT_BAD_INPUT and usage() to be set.

readonly DEFAULT_NAMESPACE=pipeops-system
readonly MONITORING_NAMESPACE=pipeops-monitoring

# @embedded-deploy-begin
# Filled in by scripts/build-installer.mjs with the manifests of the release.
EMBEDDED_RELEASE=
write_embedded_deploy() { return 1; }
# @embedded-deploy-end

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

# Prints true or false for the accepted spellings (docs/config.md, Formats), or nothing.
parse_bool() {
  case $(printf '%s' "$1" | tr '[:upper:]' '[:lower:]') in
    true | 1 | yes) printf 'true' ;;
    false | 0 | no) printf 'false' ;;
    *) ;;
  esac
}

is_namespace_name() { [[ $1 =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]]; }

# Reads one option both scripts take from the front of "$@": --dry-run sets dry_run=true, --namespace NS
# (or --namespace=NS) sets namespace, -h/--help prints usage and exits 0. Sets `consumed` to the number of
# arguments used; returns 1, using none, for an argument that is not one of them.
common_option() {
  consumed=1
  case $1 in
    --dry-run) dry_run=true ;;
    --namespace)
      (($# >= 2)) || bad_usage "--namespace needs a value"
      namespace=$2
      consumed=2
      ;;
    --namespace=*) namespace=${1#--namespace=} ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      consumed=0
      return 1
      ;;
  esac
}

# Runs a command with a deadline when coreutils' timeout exists, so that a network that swallows packets
# cannot hang the script.
with_deadline() {
  local seconds=$1
  shift
  if command -v timeout >/dev/null 2>&1; then timeout "$seconds" "$@"; else "$@"; fi
}

require_kubectl() {
  command -v kubectl >/dev/null 2>&1 || fail "kubectl not found on PATH: install kubectl 1.27 or newer (it has kustomize built in)"
}

# A private scratch directory in $work, removed however the script ends. The token file written there
# must never be readable by anyone else.
make_workdir() {
  umask 077
  work=$(mktemp -d "${TMPDIR:-/tmp}/pipeops-$1.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# Sets deploy_dir to the manifests this script installs: deploy/ of the checkout the script sits in, or,
# in a released script (which may arrive through a pipe, with no file and no directory of its own), the
# copy embedded in it at release time. $1 is the script's own path, empty when piped.
find_deploy_dir() {
  local script_path=$1 script_dir
  if [[ -n $script_path && -f $script_path ]]; then
    script_dir=$(cd "$(dirname "$script_path")" && pwd)
    if [[ -f $script_dir/../deploy/base/kustomization.yaml ]]; then
      deploy_dir=$(cd "$script_dir/../deploy" && pwd)
      is_embedded=false
      return 0
    fi
  fi
  if write_embedded_deploy "$work/deploy"; then
    deploy_dir=$work/deploy
    is_embedded=true
    return 0
  fi
  fail "no manifests: run $PROG from a checkout (it reads deploy/ next to scripts/), or use the released $PROG, which carries them (docs/install.md)"
}

# The kustomize transformers that move every namespaced object (and the ServiceAccount subjects of the
# bindings) into $1, except the Role and RoleBinding that must stay next to the Grafana Secret they grant.
# Printed as items of a `transformers:` list.
namespace_transformers() {
  cat <<TRANSFORMERS
- |-
  apiVersion: builtin
  kind: NamespaceTransformer
  metadata:
    name: agent-namespace
    namespace: $1
  setRoleBindingSubjects: allServiceAccounts
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
TRANSFORMERS
}
