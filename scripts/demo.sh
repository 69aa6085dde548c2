#!/usr/bin/env bash
# The main job on the embedded default: snapshot a directory into a store in the working directory
# (.slugstore/), list the store, and restore the slug into ./restored. No server, no config.
#
#   scripts/demo.sh [DIR]     DIR defaults to this repository's example project
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$here/examples/shop}
"$here/scripts/install-deps.sh"
(cd "$here" && cargo build --release -q -p slugstore-cli)
slug="${CARGO_TARGET_DIR:-$here/target}/release/slug"
id=$("$slug" snapshot "$dir" --ref demo -m "demo snapshot")
"$slug" ls
rm -rf restored
"$slug" restore "$id" restored
"$slug" verify
echo "restored slug ${id:0:12} into ./restored"
