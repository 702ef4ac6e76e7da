#!/usr/bin/env bash
# Builds the callsync image here, without a registry or a base image: a static binary on
# `FROM scratch` (packaging/Containerfile), with podman (scripts/install-podman.sh installs it).
#
#   scripts/build-image.sh [--profile PROFILE] [--tag TAG]
#
# 1. `cargo build --profile PROFILE --target x86_64-unknown-linux-gnu --bin callsync` with
#    RUSTFLAGS="-C target-feature=+crt-static": a static-pie executable (with --target, the flags
#    do not reach build scripts and proc-macros). PROFILE defaults to release (what is
#    published); tests/image.rs uses image-test (Cargo.toml says why). Cargo rebuilds nothing
#    when nothing changed, so a second run takes seconds.
# 2. The commit and the build date are fixed before the build (CALLSYNC_GIT_COMMIT, else
#    `git rev-parse HEAD`; SOURCE_DATE_EPOCH, else the commit's time) so the binary embeds them
#    (build.rs), and the OCI labels are read back from the binary's `version -o json`: the labels
#    and `callsync version` cannot disagree.
# 3. A context folder ($CARGO_TARGET_DIR or target/, then image-context/PROFILE) with the binary,
#    the host's CA bundle and packaging/passwd, packaging/group, then `podman build`.
#
# Prints the image's tag on the last line of stdout (default localhost/callsync:VERSION).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
profile=release
tag=
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    *) echo "unknown argument $1 (--profile PROFILE, --tag TAG)" >&2; exit 2 ;;
  esac
done
target_triple=x86_64-unknown-linux-gnu
target_dir=${CARGO_TARGET_DIR:-$root/target}
ca_bundle=${CALLSYNC_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$ca_bundle" ] || { echo "no CA bundle at $ca_bundle (apt-get install ca-certificates)" >&2; exit 1; }
command -v podman > /dev/null || { echo "podman is missing: scripts/install-podman.sh" >&2; exit 1; }

cd "$root"
if [ -z "${CALLSYNC_GIT_COMMIT:-}" ]; then
  CALLSYNC_GIT_COMMIT=$(git rev-parse HEAD 2> /dev/null || echo unknown)
fi
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2> /dev/null || date +%s)
fi
export CALLSYNC_GIT_COMMIT SOURCE_DATE_EPOCH

# Run from a test (tests/image.rs), the environment holds the variables cargo sets for the test
# process. Some build scripts watch them (ring's reruns on CARGO_MANIFEST_DIR), so a build from
# a test and one from a shell would invalidate each other's cache: drop them.
for var in $(compgen -e | grep -E '^(CARGO_(MANIFEST_|PKG_|CRATE_|BIN_|PRIMARY_|TARGET_TMPDIR)|OUT_DIR$)' || true); do
  unset "$var"
done

start=$(date +%s)
echo "building the static binary (profile $profile, target $target_triple)" >&2
RUSTFLAGS="-C target-feature=+crt-static" cargo build --locked --profile "$profile" \
  --target "$target_triple" --bin callsync >&2
bin="$target_dir/$target_triple/$profile/callsync"
echo "binary built in $(( $(date +%s) - start )) s: $bin" >&2

info=$("$bin" version -o json)
field() { printf '%s' "$info" | sed -n "s/^ *\"$1\": *\"\([^\"]*\)\".*/\1/p"; }
version=$(field version)
revision=$(field gitCommit)
created=$(field buildDate)
[ -n "$version" ] && [ -n "$revision" ] && [ -n "$created" ] || {
  echo "cannot read version, gitCommit and buildDate from: $info" >&2; exit 1; }
tag=${tag:-localhost/callsync:$version}

context="$target_dir/image-context/$profile"
rm -rf "$context"; mkdir -p "$context"
install -m 0755 "$bin" "$context/callsync"
install -m 0644 "$ca_bundle" "$context/ca-certificates.crt"
install -m 0644 packaging/passwd packaging/group "$context/"
podman build --quiet -f packaging/Containerfile -t "$tag" \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" \
  --build-arg CREATED="$created" "$context" >&2
echo "built $tag (version $version, revision $revision) in $(( $(date +%s) - start )) s" >&2
echo "$tag"
