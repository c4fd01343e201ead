#!/usr/bin/env bash
# Three TAZCOM nodes on one machine, inside a private network namespace
# (loopback only: nothing reaches a real network). They find and greet each
# other over mDNS; after SECONDS_UP (default 6) the first one gets SIGTERM
# and the others report it removed; then all stop. Prints every node's JSON
# events, prefixed with the node number. Needs root, or unprivileged user
# namespaces (then it uses `unshare -rn`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --example node
bin=$PWD/target/debug/examples/node
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if [ "$(id -u)" = 0 ]; then ns=(unshare -n); else ns=(unshare -rn); fi
"${ns[@]}" bash -c '
  set -u
  bin=$1 dir=$2 up=${SECONDS_UP:-6}
  ip link set lo up
  pids=()
  for i in 1 2 3; do
    "$bin" --key "$dir/n$i.key" --interface lo --json 2>"$dir/n$i.log" | sed -u "s/^/n$i /" &
    pids+=($!)
    sleep 0.2
  done
  sleep "$up"
  pkill -TERM -f -- "--key $dir/n1.key" || true
  sleep 2
  pkill -TERM -f -- "--key $dir/n" || true
  wait
' bash "$bin" "$dir"
