#!/usr/bin/env bash
# Starts a real etcd + kube-apiserver on 127.0.0.1 free ports, for tests and for people.
#
#   scripts/controlplane.sh start DIR [WATCH_PID]   # prints DIR/kubeconfig once /readyz answers ok
#   scripts/controlplane.sh stop DIR                # ends what `start` started, by pid
#   scripts/controlplane.sh restart-apiserver DIR   # stops kube-apiserver (TERM) and starts it
#                                                   # again: same port, certs, tokens and etcd
#
# With WATCH_PID, a watchdog ends both servers (and removes DIR) as soon as that process exits:
# the Rust test fixture passes its own pid, so nothing outlives a test binary, even one that panics.
#
# With CALLSYNC_CONTROLPLANE_GC=1, kube-controller-manager runs too, with only the garbage
# collector and the namespace controller: owner-reference cascades (foreground and background
# deletion) and namespace deletion then behave as on a real cluster. Opt-in, because without it
# an object whose owner does not exist (tests make such objects on purpose) is left alone.
# Binaries come from scripts/build-controlplane.sh (CALLSYNC_CONTROLPLANE_BIN overrides the folder).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { sed -n '2,10p' "$0" >&2; exit 2; }

stop() {
  local d=$1
  [ -f "$d/pids" ] || return 0
  # Newest first: the controller manager (if any), the apiserver, then etcd.
  for pid in $(tac "$d/pids"); do kill "$pid" 2>/dev/null || true; done
  for pid in $(cat "$d/pids"); do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -f "$d/pids"
  if [ -f "$d/watchdog.pid" ]; then kill "$(cat "$d/watchdog.pid")" 2>/dev/null || true; rm -f "$d/watchdog.pid"; fi
}

# The apiserver's command line, from the ports and files `start` left in DIR ($dir/ports).
start_apiserver() {
  local bin etcd_port api_port
  bin=$(cat "$dir/bin")
  read -r etcd_port _ api_port < "$dir/ports"
  local audit_args=()
  if [ -f "$dir/audit-log-path" ]; then
    audit_args=(--audit-policy-file="$dir/audit-policy.yaml"
      --audit-log-path="$(cat "$dir/audit-log-path")" --audit-log-format=json)
  fi
  "$bin/kube-apiserver" "${audit_args[@]}" --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" --cert-dir="$dir/certs" \
    --service-cluster-ip-range=10.0.0.0/24 \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$dir/sa.key" --service-account-signing-key-file="$dir/sa.key" \
    --token-auth-file="$dir/tokens.csv" --authorization-mode=RBAC \
    --disable-admission-plugins=ServiceAccount --allow-privileged=true --endpoint-reconciler-type=none \
    >> "$dir/apiserver.log" 2>&1 &
  echo $!
}

# The garbage collector and the namespace controller, nothing else (no leader election, no
# serving port: --secure-port=0). It talks to the apiserver with the admin kubeconfig.
start_controller_manager() {
  local bin
  bin=$(cat "$dir/bin")
  "$bin/kube-controller-manager" --kubeconfig="$dir/kubeconfig" \
    --controllers=garbage-collector-controller,namespace-controller \
    --leader-elect=false --secure-port=0 \
    >> "$dir/controller-manager.log" 2>&1 &
  echo $!
}

# Waits until /readyz answers ok with the admin token of DIR/tokens.csv.
wait_ready() {
  local api_port token
  read -r _ _ api_port < "$dir/ports"
  token=$(cut -d, -f1 "$dir/tokens.csv")
  for _ in $(seq 600); do
    if [ -s "$dir/certs/apiserver.crt" ] && \
       curl -fsS --cacert "$dir/certs/apiserver.crt" -H "Authorization: Bearer $token" \
         "https://127.0.0.1:$api_port/readyz" > /dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

case "$cmd" in
  stop) stop "$dir"; exit 0 ;;
  start) ;;
  restart-apiserver)
    # For tests of an apiserver outage: etcd keeps running (and its data), the apiserver comes
    # back on the same port with the same serving certificate, so clients' kubeconfigs stay valid.
    dir=$(cd "$dir" && pwd)
    old=$(sed -n 2p "$dir/pids")
    kill "$old" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$old" 2>/dev/null || true
    new=$(start_apiserver)
    sed -i "2s/.*/$new/" "$dir/pids"
    wait_ready || { echo "kube-apiserver not ready after restart; logs in $dir/apiserver.log" >&2; exit 1; }
    exit 0 ;;
  *) echo "unknown command $cmd (start, stop or restart-apiserver)" >&2; exit 2 ;;
esac
watch_pid=${3:-}

kv=$(sed -n 's/^[[:space:]]*k8s\.io\/kubernetes v\([0-9.]*\)$/\1/p' "$root/tools/controlplane/go.mod" | head -n1)
bin=${CALLSYNC_CONTROLPLANE_BIN:-${CALLSYNC_CONTROLPLANE_CACHE:-$HOME/.cache/callsync/controlplane}/v$kv/bin}
gc=${CALLSYNC_CONTROLPLANE_GC:-}
needed=(etcd kube-apiserver)
[ -n "$gc" ] && needed+=(kube-controller-manager)
for b in "${needed[@]}"; do
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
echo "$etcd_port $peer_port $api_port" > "$dir/ports"
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

# With CALLSYNC_TEST_LOG_DIR (set by `make test`), the apiserver keeps an audit log there of what
# a person could read that callsync writes: Events and status writes, request bodies only.
# Nothing about Secrets or ConfigMaps (their bodies hold credentials and contacts), nor spec
# writes (tests put phone numbers there on purpose). tests/log_scan.rs scans it after the suite.
if [ -n "${CALLSYNC_TEST_LOG_DIR:-}" ]; then
  mkdir -p "$CALLSYNC_TEST_LOG_DIR"
  cat > "$dir/audit-policy.yaml" <<'POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  resources:
  - group: ""
    resources: ["secrets", "configmaps"]
- level: Request
  verbs: ["create", "update", "patch"]
  resources:
  - group: ""
    resources: ["events"]
  - group: "events.k8s.io"
    resources: ["events"]
  - group: "callsync.io"
    resources: ["calltasks/status", "contactlists/status", "callproviders/status"]
- level: None
POLICY
  # Kept in the folder so that `restart-apiserver` starts it with the same audit log.
  echo "$CALLSYNC_TEST_LOG_DIR/audit-$(basename "$dir").log" > "$dir/audit-log-path"
fi

start_apiserver >> "$dir/pids"

if [ -n "$watch_pid" ]; then
  # setsid: the watchdog must not die with the caller's process group. It ends the servers by
  # pid (TERM, then KILL after 5 s) and removes DIR once WATCH_PID has exited.
  # A restarted apiserver (restart-apiserver) has a new pid, and the controller manager starts
  # later: both are read from DIR/pids at the end.
  setsid bash -c '
    while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
    now=$(sed -n "2,\$p" "$4/pids" 2>/dev/null)
    kill "$2" "$3" $now 2>/dev/null
    for _ in $(seq 50); do kill -0 "$2" 2>/dev/null || kill -0 "$3" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$2" "$3" $now 2>/dev/null
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
    if [ -n "$gc" ]; then
      start_controller_manager >> "$dir/pids"
    fi
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
