#!/usr/bin/env bash
# Installs prometheus and promtool for the monitoring tests (tests/prometheus_e2e.rs scrapes the
# controller with a real Prometheus; tests/prometheus_rules.rs runs `promtool test rules` on the
# chart's alerts) into a cache folder outside the checkout, and reuses them when they are there
# (like scripts/build-tools.sh):
#
#   scripts/build-prometheus.sh           # install (or reuse) and print the folder holding both
#   scripts/build-prometheus.sh --path    # print the folder without installing (exit 3 if missing)
#
# They come from Debian's `prometheus` package, unpacked with `apt-get download` + `dpkg-deb -x`:
# no service is installed or started, none of the package's web-UI dependencies are pulled in,
# and root is needed only to refresh apt's package lists when they are missing. The binaries
# need only libc. Cold cost: one 19 MB download and an unpack, a few seconds (docs/development.md).
# The cache is $CALLSYNC_PROMETHEUS_CACHE (default ~/.cache/callsync/prometheus).
set -euo pipefail

cache=${CALLSYNC_PROMETHEUS_CACHE:-$HOME/.cache/callsync/prometheus}
dir="$cache/debian"

if [ -x "$dir/prometheus" ] && [ -x "$dir/promtool" ]; then
  echo "$dir"
  exit 0
fi
if [ "${1:-}" = "--path" ]; then
  echo "missing $dir/prometheus: install it with scripts/build-prometheus.sh (or make tools)" >&2
  exit 3
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
echo "installing prometheus and promtool from Debian's prometheus package into $dir" >&2
download() { (cd "$work" && apt-get download prometheus >&2); }
if ! download; then
  # A fresh machine may have no package lists yet.
  if [ "$(id -u)" = 0 ]; then
    apt-get update >&2
  else
    echo "apt-get download prometheus failed; run 'apt-get update' as root first" >&2
    exit 1
  fi
  download
fi
dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
rm -rf "$dir.partial"; mkdir -p "$dir.partial"
cp "$work/root/usr/bin/prometheus" "$work/root/usr/bin/promtool" "$dir.partial/"
dpkg-deb -f "$work"/prometheus_*.deb Version > "$dir.partial/VERSION"
"$dir.partial/prometheus" --version >&2
rm -rf "$dir"; mv "$dir.partial" "$dir"
echo "installed prometheus $(cat "$dir/VERSION") in $(( $(date +%s) - start )) s" >&2
echo "$dir"
