#!/usr/bin/env bash
# Runs the whole test suite: installs system dependencies, starts a local S3-compatible server
# (Ceph RGW on 127.0.0.1, see scripts/rgw.sh) for the remote tests, runs every workspace test,
# and stops the server.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
scripts/install-deps.sh
if [[ -x scripts/rgw.sh ]]; then
  scripts/rgw.sh install
  scripts/rgw.sh start
  trap 'scripts/rgw.sh stop || true' EXIT
  eval "$(scripts/rgw.sh env)"
fi
cargo test --workspace --all-targets --no-fail-fast
cargo test --workspace --doc
