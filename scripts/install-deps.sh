#!/usr/bin/env bash
# Installs the system packages slugstore needs on Debian/Ubuntu (skips what is already there).
#
#   scripts/install-deps.sh           build + test dependencies
#   scripts/install-deps.sh --bench   also the peer tools the benchmark suite compares against
#
# Build: RocksDB is linked from the system library (librocksdb-dev); its Rust bindings are generated
# with bindgen, which needs libclang. Tests: GNU tar, gzip and zstd are used to check our output; git
# for the deploys from git (a bare repository and a real `git push`); Chromium and chromedriver for the
# status page's tests in a real headless browser.
set -euo pipefail

pkgs=(build-essential pkg-config clang libclang-dev librocksdb-dev zstd gzip tar git chromium chromium-driver)
if [[ "${1:-}" == "--bench" ]]; then
  pkgs+=(ostree restic pigz rclone hyperfine time fonts-dejavu-core)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "installing: ${missing[*]}" >&2
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
