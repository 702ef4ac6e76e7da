#!/usr/bin/env bash
# Builds kube-apiserver, etcd, kubectl and kube-controller-manager (the test control plane's
# garbage collector and namespace controller) from the Go module proxy into a cache folder outside the
# checkout, keyed by Kubernetes version. Reuses the binaries when they are already there.
#
#   scripts/build-controlplane.sh          # build (or reuse) and print the bin folder
#
# The folder is $CALLSYNC_CONTROLPLANE_CACHE (default ~/.cache/callsync/controlplane)/v<version>/bin.
# The Go module in tools/controlplane pins the version (go.mod + go.sum are committed);
# scripts/regen-controlplane-gomod.sh regenerates it for another version.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
module="$root/tools/controlplane"
kv=$(sed -n 's/^[[:space:]]*k8s\.io\/kubernetes v\([0-9.]*\)$/\1/p' "$module/go.mod" | head -n1)
[ -n "$kv" ] || { echo "cannot read the k8s.io/kubernetes version from $module/go.mod" >&2; exit 1; }
etcd_v=$(sed -n 's/^[[:space:]]*go\.etcd\.io\/etcd\/server\/v3 v\([0-9.]*\)$/\1/p' "$module/go.mod" | head -n1)
cache=${CALLSYNC_CONTROLPLANE_CACHE:-$HOME/.cache/callsync/controlplane}
bin="$cache/v$kv/bin"
minor=${kv#1.}; minor=${minor%%.*}

# Each binary is built only when missing, so a cache from before a binary was added (the
# controller manager came later) gains it without rebuilding the others.
missing=()
for b in kube-apiserver kubectl etcd kube-controller-manager; do
  [ -x "$bin/$b" ] || missing+=("$b")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$bin"
start=$(date +%s)
cd "$module"
# Version strings: without them the server reports v0.0.0-master.
ver_flags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ver_flags="$ver_flags -X $pkg.gitVersion=v$kv -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
echo "building ${missing[*]} (Kubernetes v$kv, etcd v$etcd_v) into $bin (10-25 minutes cold for all four)" >&2
for b in "${missing[@]}"; do
  flags="-s -w"
  [ "$b" = etcd ] || flags="$flags $ver_flags"
  b_start=$(date +%s)
  # -p 2: two cores here; a higher parallelism only raises peak memory. Written under a
  # temporary name and renamed: a build cut short never leaves a binary that looks complete.
  CGO_ENABLED=0 go build -p 2 -trimpath -ldflags "$flags" -o "$bin/.$b.partial" "./cmd/$b"
  mv "$bin/.$b.partial" "$bin/$b"
  echo "built $b in $(( $(date +%s) - b_start )) s" >&2
done
echo "built in $(( $(date +%s) - start )) s" >&2
echo "$bin"
