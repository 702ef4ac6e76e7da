#!/usr/bin/env bash
# Builds the chart and GitOps test tools into a cache folder outside the checkout and reuses them
# when they are already there (like scripts/build-controlplane.sh):
#
#   helm     helm.sh/helm/v3/cmd/helm at $HELM_VERSION, with `go install` (no replace directives)
#   kstatus  tools/kstatus: upstream kstatus (sigs.k8s.io/cli-utils) + Flux-style CEL health checks
#   argolua  tools/argolua: gopher-lua, the Lua interpreter Argo CD embeds, run as Argo CD runs
#            resource health scripts
#
#   scripts/build-tools.sh [TOOL...]          # build (or reuse) and print one path per tool
#   scripts/build-tools.sh --path [TOOL...]   # print the paths without building (exit 3 if missing)
#
# Without TOOL, all three. The cache is $CALLSYNC_TOOLS_CACHE (default ~/.cache/callsync/tools);
# a Go tool's binary name carries a hash of its module files, so editing tools/<name> rebuilds it.
set -euo pipefail

HELM_VERSION=v3.22.0
# Kubernetes version helm $HELM_VERSION was built against (its go.mod: k8s.io/client-go v0.37.0).
HELM_K8S_MAJOR=1 HELM_K8S_MINOR=37
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${CALLSYNC_TOOLS_CACHE:-$HOME/.cache/callsync/tools}

only_print=false
if [ "${1:-}" = "--path" ]; then only_print=true; shift; fi
tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(helm kstatus argolua)

path_of() {
  case "$1" in
    helm) echo "$cache/helm-$HELM_VERSION-k8s$HELM_K8S_MAJOR.$HELM_K8S_MINOR/helm" ;;
    kstatus|argolua)
      local hash
      hash=$(cat "$root/tools/$1/go.mod" "$root/tools/$1/go.sum" "$root/tools/$1"/*.go | sha256sum | cut -c1-12)
      echo "$cache/$1-$hash/$1" ;;
    *) echo "unknown tool $1 (helm, kstatus or argolua)" >&2; return 2 ;;
  esac
}

build() {
  local name=$1 out=$2 dir start
  dir=$(dirname "$out")
  rm -rf "$dir.partial"; mkdir -p "$dir.partial"
  start=$(date +%s)
  echo "building $name into $dir (a few minutes cold on 2 cores)" >&2
  case "$name" in
    helm)
      # The ldflags are those of helm's own Makefile: without the Kubernetes version (from the
      # client-go helm $HELM_VERSION requires: v0.37 -> 1.37) helm assumes v1.20.
      local ver="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" pkg
      for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
        ver="$ver -X $pkg.k8sVersionMajor=$HELM_K8S_MAJOR -X $pkg.k8sVersionMinor=$HELM_K8S_MINOR"
      done
      # -p 2: two cores here; more only raises peak memory.
      CGO_ENABLED=0 GOBIN="$dir.partial" go install -p 2 -trimpath -ldflags "-s -w $ver" \
        "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" ;;
    *)
      (cd "$root/tools/$name" && CGO_ENABLED=0 go build -p 2 -trimpath -ldflags "-s -w" -o "$dir.partial/$name" .) ;;
  esac
  rm -rf "$dir"; mv "$dir.partial" "$dir"
  echo "built $name in $(( $(date +%s) - start )) s" >&2
}

status=0
for tool in "${tools[@]}"; do
  out=$(path_of "$tool")
  if [ ! -x "$out" ]; then
    if $only_print; then
      echo "missing $out: build it with scripts/build-tools.sh $tool (or make tools)" >&2
      status=3
    else
      build "$tool" "$out"
    fi
  fi
  echo "$out"
done
exit $status
