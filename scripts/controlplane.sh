#!/usr/bin/env bash
# Starts a real etcd + kube-apiserver on 127.0.0.1 free ports, for tests and for people.
#
#   scripts/controlplane.sh start DIR [WATCH_PID]   # prints DIR/kubeconfig once /readyz answers ok
#   scripts/controlplane.sh stop DIR                # ends what `start` started, by pid
#
# With WATCH_PID, a watchdog ends both servers (and removes DIR) as soon as that process exits:
# the Rust test fixture passes its own pid, so nothing outlives a test binary, even one that panics.
# Binaries come from scripts/build-controlplane.sh (CALLSYNC_CONTROLPLANE_BIN overrides the folder).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { sed -n '2,10p' "$0" >&2; exit 2; }

stop() {
  local d=$1
  [ -f "$d/pids" ] || return 0
  # Newest first: the apiserver, then etcd.
  for pid in $(tac "$d/pids"); do kill "$pid" 2>/dev/null || true; done
  for pid in $(cat "$d/pids"); do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -f "$d/pids"
  if [ -f "$d/watchdog.pid" ]; then kill "$(cat "$d/watchdog.pid")" 2>/dev/null || true; rm -f "$d/watchdog.pid"; fi
}

case "$cmd" in
  stop) stop "$dir"; exit 0 ;;
  start) ;;
  *) echo "unknown command $cmd (start or stop)" >&2; exit 2 ;;
esac
watch_pid=${3:-}

kv=$(sed -n 's/^[[:space:]]*k8s\.io\/kubernetes v\([0-9.]*\)$/\1/p' "$root/tools/controlplane/go.mod" | head -n1)
bin=${CALLSYNC_CONTROLPLANE_BIN:-${CALLSYNC_CONTROLPLANE_CACHE:-$HOME/.cache/callsync/controlplane}/v$kv/bin}
for b in etcd kube-apiserver; do
  [ -x "$bin/$b" ] || { echo "missing $bin/$b: build it with scripts/build-controlplane.sh (or make controlplane)" >&2; exit 3; }
done

mkdir -p "$dir/etcd" "$dir/certs"
echo "$bin" > "$dir/bin"
dir=$(cd "$dir" && pwd)
read -r etcd_port peer_port api_port < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
)
token="callsync-test-admin-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
echo "$token,admin,admin,\"system:masters\"" > "$dir/tokens.csv"
openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null

# The quota (default 2 GiB) is raised for the 1M-contact scale benchmark: its ledger Secrets
# are rewritten a few dozen times between the apiserver's compactions.
"$bin/etcd" --data-dir="$dir/etcd" --name=callsync-test \
  --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
  --listen-peer-urls="http://127.0.0.1:$peer_port" --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
  --initial-cluster="callsync-test=http://127.0.0.1:$peer_port" \
  --unsafe-no-fsync --log-level=warn --quota-backend-bytes=8589934592 > "$dir/etcd.log" 2>&1 &
echo $! > "$dir/pids"
# etcd's own endpoint (its /metrics: write volume of the scale benchmark).
echo "http://127.0.0.1:$etcd_port" > "$dir/etcd-url"

"$bin/kube-apiserver" --etcd-servers="http://127.0.0.1:$etcd_port" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" --cert-dir="$dir/certs" \
  --service-cluster-ip-range=10.0.0.0/24 \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$dir/sa.key" --service-account-signing-key-file="$dir/sa.key" \
  --token-auth-file="$dir/tokens.csv" --authorization-mode=RBAC \
  --disable-admission-plugins=ServiceAccount --allow-privileged=true --endpoint-reconciler-type=none \
  > "$dir/apiserver.log" 2>&1 &
echo $! >> "$dir/pids"

if [ -n "$watch_pid" ]; then
  # setsid: the watchdog must not die with the caller's process group. It ends the servers by
  # pid (TERM, then KILL after 5 s) and removes DIR once WATCH_PID has exited.
  setsid bash -c '
    while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
    kill "$2" "$3" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$2" 2>/dev/null || kill -0 "$3" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$2" "$3" 2>/dev/null
    rm -rf "$4"' watchdog "$watch_pid" $(cat "$dir/pids") "$dir" > /dev/null 2>&1 < /dev/null &
  echo $! > "$dir/watchdog.pid"
fi

# Ready when /readyz answers ok with the admin token (the serving cert appears first).
for _ in $(seq 600); do
  if [ -s "$dir/certs/apiserver.crt" ] && \
     curl -fsS --cacert "$dir/certs/apiserver.crt" -H "Authorization: Bearer $token" \
       "https://127.0.0.1:$api_port/readyz" > /dev/null 2>&1; then
    ca=$(base64 -w0 < "$dir/certs/apiserver.crt")
    cat > "$dir/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: callsync-test
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority-data: $ca
users:
- name: admin
  user:
    token: $token
contexts:
- name: callsync-test
  context: {cluster: callsync-test, user: admin}
current-context: callsync-test
KC
    echo "$dir/kubeconfig"
    exit 0
  fi
  for pid in $(head -n2 "$dir/pids"); do
    kill -0 "$pid" 2>/dev/null || { echo "control plane exited; logs in $dir/etcd.log and $dir/apiserver.log" >&2; tail -n 20 "$dir/apiserver.log" >&2; stop "$dir"; exit 1; }
  done
  sleep 0.2
done
echo "kube-apiserver not ready after 120 s; logs in $dir/apiserver.log" >&2
stop "$dir"
exit 1
