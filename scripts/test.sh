#!/usr/bin/env bash
# Runs the workspace test suite inside a private network namespace whose only
# interface is loopback, so mDNS and TCP test traffic can never reach a real
# network. Builds (and fetches) first, outside, since the namespace has no
# network. As root it uses `unshare -n`; otherwise `unshare -rn` (an
# unprivileged user namespace). Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --no-run --quiet "$@"

if [ "$(id -u)" = 0 ]; then ns=(unshare -n); else ns=(unshare -rn); fi
exec "${ns[@]}" sh -c '
  set -e
  ip link set lo up
  ip link set lo multicast on
  # Let multicast sockets that do not pick an interface leave through lo.
  ip route add 224.0.0.0/4 dev lo 2>/dev/null || true
  cargo test --workspace --offline "$@"
  # An independent peer written from docs/wire.md alone (Python) against
  # the node example: the session spec, byte for byte. Needs the Python
  # `cryptography` package (.ci/run installs it).
  if python3 -c "import cryptography" 2>/dev/null; then
    python3 scripts/interop/session_peer.py --spawn "${CARGO_TARGET_DIR:-target}/debug/examples/node"
  else
    echo "interop check skipped: python3 with the cryptography package not found"
  fi
' sh "$@"
