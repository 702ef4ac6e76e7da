#!/usr/bin/env bash
# Installs podman (Debian's package) for the image build (scripts/build-image.sh, tests/image.rs)
# when it is missing, and does nothing when `podman` is already on PATH:
#
#   scripts/install-podman.sh     # install (or reuse); prints podman's version
#
# Installing needs root (CI runs as root). Without root and without podman it says so and exits
# 1; tests/image.rs skips, with that reason printed, when not run as root. Cold cost: apt's
# download and install of podman and its dependencies, well under a minute (docs/development.md).
set -euo pipefail

if command -v podman > /dev/null 2>&1; then
  podman --version
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "podman is missing and installing it needs root: run 'apt-get install -y podman' as root" >&2
  exit 1
fi
start=$(date +%s)
echo "installing podman (apt-get install -y podman)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y podman >&2; then
  # A fresh machine may have no package lists yet.
  apt-get update >&2
  apt-get install -y podman >&2
fi
echo "installed podman in $(( $(date +%s) - start )) s" >&2
podman --version
