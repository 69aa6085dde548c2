#!/usr/bin/env bash
# Long run of the crash harness (slugstore-cli/tests/crash.rs): SIGKILLs `slug snapshot`, `restore`,
# `checkout --activate`, `rollback`, `push`, `prune --keep-last N` and `gc` at random moments and checks
# the store, the deploy target and the remote after each kill, that a prune is all or nothing, and that
# `slug ls` lists slugs in the order they were made.
#
#   scripts/crash-soak.sh [ITERATIONS] [SEED]     (defaults: 400 steps, about 200 kills; time-based seed)
#
# Prints the kill counts, corrupt stores, lost slugs, broken releases, torn prunes and listings out of
# order; exits non-zero if any of them happened. Re-run with the printed seed to replay a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export SLUGSTORE_CRASH_ITERATIONS="${1:-400}"
export SLUGSTORE_CRASH_SEED="${2:-$(date +%s)}"
echo "crash soak: $SLUGSTORE_CRASH_ITERATIONS steps, seed $SLUGSTORE_CRASH_SEED"
cargo test -p slugstore-cli --test crash -- --nocapture 2>&1 | grep -E "crash harness|step [0-9]+|does not restore|restores different|does not pull|not whole|points at no release|not in the order|test result|panicked"
exit "${PIPESTATUS[0]}"
