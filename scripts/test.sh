#!/usr/bin/env bash
# Runs the whole test suite: installs system dependencies, starts a local S3-compatible server
# (Ceph RGW on 127.0.0.1, see scripts/rgw.sh) for the remote tests, runs every workspace test
# (each under a deadline), and stops the server.
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
# cargo-nextest runs each test in its own process under a deadline (.config/nextest.toml): a hung
# test is killed and named instead of holding the suite. Without nextest, cargo test under timeout(1).
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-targets --no-fail-fast
else
  echo "test.sh: cargo-nextest not found; running cargo test with a 60-minute limit" >&2
  timeout --kill-after=30 3600 cargo test --workspace --all-targets --no-fail-fast
fi
timeout --kill-after=30 1200 cargo test --workspace --doc
