#!/usr/bin/env bash
# The CLI edit benchmark (BENCHMARKS.md, "Scale: a ContactList edit through `callsync apply`"):
# a Callbot task of LISTS × PER_LIST contacts applied with the release binary against a
# `callsync simulate` process on 127.0.0.1, then EDIT contacts of one list replaced by EDIT new
# ones, applied twice from the same provider state in one run:
#   after  — the default: planned against the ledger (ledger-first planning);
#   before — `--full-listing`: every apply lists the whole task, as callsync did before.
# Prints one Markdown row per apply: provider calls (writes, reads), wall time, CPU
# (user+system), peak RSS and file system output (the kernel's count of 512-byte blocks the
# process wrote to storage, `ru_oublock`: mostly the state folder) of the `callsync apply`
# process (/usr/bin/time).
#
#   scripts/bench-cli-edit.sh                    # 40 × 5,000, edit 100, 5 requests/s
#   LISTS=200 RATE=1000 EDIT=2500 scripts/bench-cli-edit.sh
#   BEFORE=0 ...                                 # without the --full-listing row
#   AGAIN=1 ...                                  # also the edit undone, measured
#
# Everything (files, state, simulator log) stays under target/bench-cli-edit/; the simulator
# is stopped by its pid when the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."

LISTS=${LISTS:-40}
PER_LIST=${PER_LIST:-5000}
EDIT=${EDIT:-100}
RATE=${RATE:-5}
BIN=${BIN:-target/release/callsync}
WORK=target/bench-cli-edit
TOKEN=bench-cli-edit-admin

[ -x "$BIN" ] || cargo build --release --locked --bin callsync
rm -rf "$WORK" && mkdir -p "$WORK/files"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/sim.yaml" <<EOF
listen: 127.0.0.1:$PORT
adminToken: $TOKEN
accounts:
  - provider: callbot
    id: bench-uuid
    secret: bench-secret
    tasks: [{id: task-1, state: running}]
EOF
"$BIN" simulate -c "$WORK/sim.yaml" >"$WORK/simulator.log" 2>&1 &
SIM_PID=$!
trap 'kill "$SIM_PID" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/_sim/counters" >/dev/null && break
  sleep 0.1
done

# The files: provider, task, and LISTS ContactLists; `list-000` starts at index $1.
write_files() {
  python3 - "$WORK/files" "$PORT" "$LISTS" "$PER_LIST" "$RATE" "$1" <<'PY'
import sys
out, port, lists, per_list, rate, first = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
with open(f"{out}/objects.yaml", "w") as f:
    f.write(f"""apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: bench, labels: {{callsync.io/credentials: "true"}}}}
stringData:
  uuid: bench-uuid
  secretKey: bench-secret
---
apiVersion: callsync.io/v1alpha1
kind: CallProvider
metadata: {{name: provider, namespace: bench}}
spec:
  callbot:
    endpoint: http://127.0.0.1:{port}
    credentialsSecretRef: {{name: creds}}
    orderCallbackUrl: https://hooks.example.com/order
    callCallbackUrl: https://hooks.example.com/call
  insecure: true
  rateLimit: {{requestsPerSecond: {rate}, burst: {rate}}}
---
apiVersion: callsync.io/v1alpha1
kind: CallTask
metadata: {{name: task, namespace: bench}}
spec:
  providerRef: {{name: provider}}
  taskId: task-1
  resyncInterval: 1h
  contactLists: {{selector: {{matchLabels: {{campaign: bench}}}}}}
  policy: {{management: Full, maxDeletePercent: 100}}
""")
for l in range(lists):
    start = first if l == 0 else 0
    with open(f"{out}/list-{l:03}.yaml", "w") as f:
        f.write(f"apiVersion: callsync.io/v1alpha1\nkind: ContactList\n"
                f"metadata: {{name: list-{l:03}, namespace: bench, labels: {{campaign: bench}}}}\n"
                f"spec:\n  defaultRegion: CN\n  contacts:\n")
        for i in range(start, start + per_list):
            f.write(f"    - {{phone: '13{l:03}{i:06}', name: 'c{i}'}}\n")
PY
}

calls() {
  curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/_sim/counters" |
    python3 -c 'import json,sys
c = json.load(sys.stdin)
w = sum(v["calls"] for k, v in c.items() if k.endswith(("addBatchCall", "stopOrder")))
print(sum(v["calls"] for v in c.values()), w)'
}

# One measured apply: label, then extra flags.
apply() {
  local label=$1 log; shift
  log="$WORK/apply-$(echo "$label" | tr -c 'a-z0-9' '-').out"
  read -r total0 writes0 < <(calls)
  /usr/bin/time -f '%e %U %S %M %O' -o "$WORK/time" \
    "$BIN" apply -f "$WORK/files" --state "$WORK/state" "$@" >"$log" 2>&1 ||
    { cat "$log"; exit 1; }
  read -r total1 writes1 < <(calls)
  read -r wall user sys rss_kib blocks <"$WORK/time"
  local writes=$((writes1 - writes0)) reads=$((total1 - total0 - writes1 + writes0))
  printf '| %s | %d | %d | %.1f s | %.2f s | %d MiB | %.1f MiB |\n' "$label" "$writes" "$reads" \
    "$wall" "$(awk "BEGIN {print $user + $sys}")" "$((rss_kib / 1024))" \
    "$(awk "BEGIN {print $blocks * 512 / 1048576}")"
}

echo "| apply ($LISTS × $PER_LIST contacts, $RATE requests/s) | write calls | reads | wall | CPU | peak RSS | written |"
echo "|---|---:|---:|---:|---:|---:|---:|"
write_files 0
apply "first apply"
write_files "$EDIT"
apply "edit $EDIT out / $EDIT in (ledger-first)"
# AGAIN=1 measures a second edit: the first one undone (another EDIT out / EDIT in).
if [ "${AGAIN:-0}" = 1 ]; then
  write_files 0
  apply "edit undone: $EDIT out / $EDIT in (ledger-first)"
  write_files "$EDIT"
fi
# BEFORE=0 skips the --full-listing row (at 1M it takes about five minutes).
if [ "${BEFORE:-1}" = 1 ]; then
  write_files 0
  "$BIN" apply -f "$WORK/files" --state "$WORK/state" >"$WORK/revert.out" 2>&1
  write_files "$EDIT"
  apply "the same edit with --full-listing (before)" --full-listing
fi
